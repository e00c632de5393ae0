/** The command runtime with real child processes: stdin/stdout, env allowlist, output cap, memory limit, abort, process groups. */
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { RunAbortedError } from "../../../node/dispatch/scheduler.ts";
import { MemoryLimitError } from "../../../node/runtimes/runtime-types.ts";
import { createCommandRuntime } from "../../../node/runtimes/command-runtime.ts";
import { linuxTreeRss, parsePsRows, treeMembers } from "../../../node/runtimes/process-tree-rss.ts";
import type { RuntimeRequest } from "../../../node/runtimes/runtime-types.ts";
import { pollUntil } from "../../helpers/node-process.ts";
import { hasProc, procState } from "../../helpers/process-tree.ts";
import { realIo } from "../../helpers/daemon-io.ts";

const FAKE = fileURLToPath(new URL("../../fixtures/runtimes/fake-agent.mjs", import.meta.url));
const runtime = (mode: string, over: Partial<Parameters<typeof createCommandRuntime>[0]> = {}) =>
  createCommandRuntime({ io: realIo, command: process.execPath, args: [FAKE, mode], env: { ...process.env, ALLOWED_VAR: "yes", SECRET_VAR: "sk-parent-secret" }, ...over });

const request = (over: Partial<RuntimeRequest> = {}): RuntimeRequest => ({
  runId: "r1",
  agentId: "main",
  sessionKey: "agent:main:hook:abc",
  model: "local/fake",
  history: [],
  message: "hi there",
  signal: new AbortController().signal,
  ...over,
});

const alive = async (pid: number) => {
  const state = await procState(pid);
  return state !== undefined && state !== "Z";
};

describe("command runtime", () => {
  it("feeds the message on stdin, returns stdout, passes only allowlisted env", async () => {
    const out = await runtime("echo", { envAllowlist: ["ALLOWED_VAR"], extraEnv: () => ({ CLAWGATE_API_KEY: "from-snapshot" }) }).run(request());
    const [first, envLine] = out.reply.split("\n");
    expect(first).toBe("reply to: hi there");
    expect(JSON.parse(envLine!)).toEqual({
      CLAWGATE_SESSION_KEY: "agent:main:hook:abc",
      CLAWGATE_MODEL: "local/fake",
      ALLOWED_VAR: "yes",
      SECRET_VAR: null,
      CLAWGATE_API_KEY: "from-snapshot",
    });
    expect(out.peakMemoryGb).toBeGreaterThanOrEqual(0);
  });

  it("fails with the exit code, never with the child's stderr", async () => {
    const error = await runtime("fail").run(request()).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "ERR_COMMAND_FAILED", message: "command exited with code 3" });
    expect(String((error as Error).message)).not.toContain("sk-");
  });

  it("caps stdout", async () => {
    await expect(runtime("flood", { maxOutputBytes: 1024 }).run(request())).rejects.toMatchObject({ code: "ERR_OUTPUT_TOO_LARGE" });
  });

  it("kills a run that grows past its hard memory limit (memory_limit) and reports the peak", async (ctx) => {
    if (!(await hasProc())) ctx.skip("no /proc on this host: process-tree RSS is sampled with ps there");
    const error = await runtime("hog", { sampleIntervalMs: 20 }).run(request({ memoryLimitGb: 0.25 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MemoryLimitError);
    expect((error as MemoryLimitError).code).toBe("ERR_MEMORY_LIMIT");
    expect((error as { peakMemoryGb: number }).peakMemoryGb).toBeGreaterThan(0.25);
  });

  it("on abort kills the whole process group (grandchild included) and rejects with the signal's reason", async (ctx) => {
    if (!(await hasProc())) ctx.skip("no /proc on this host to find the grandchild");
    const controller = new AbortController();
    const chunks: number[] = [];
    let grandchild = 0;
    const rt = runtime("sleep", {
      // Observe the spawned tree through the sampler hook: the grandchild's pid is in the child's group.
      sampleTreeRss: (pid) => {
        chunks.push(pid);
        return linuxTreeRss(pid);
      },
      sampleIntervalMs: 20,
    });
    const running = rt.run(request({ signal: controller.signal }));
    const leader = await pollUntil(() => chunks[0], 5_000, "the child to start");
    grandchild = await pollUntil(async () => {
      const { readdir, readFile } = await import("node:fs/promises");
      for (const name of await readdir("/proc")) {
        if (!/^\d+$/.test(name) || Number(name) === leader) continue;
        const stat = await readFile(`/proc/${name}/stat`, "utf8").catch(() => "");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        if (Number(fields[2]) === leader) return Number(name);
      }
      return undefined;
    }, 5_000, "the grandchild to start");
    const reason = new RunAbortedError("ERR_RUN_TIMEOUT", "timed out");
    controller.abort(reason);
    await expect(running).rejects.toBe(reason);
    await pollUntil(async () => !(await alive(grandchild)) && !(await alive(leader)), 5_000, "the process group to die");
  });

  it("refuses a relative command path", () => {
    expect(() => createCommandRuntime({ io: realIo, command: "node" })).toThrow(/command must be an absolute path/);
  });
});

describe("process tree RSS", () => {
  it("counts the group and descendants that left it, nothing else", () => {
    const rows = parsePsRows(" 10 1 10 1000\n 11 10 10 2000\n 12 11 12 4000\n 13 1 13 8000\n");
    expect(treeMembers(rows, 10).map((r) => r.pid).sort()).toEqual([10, 11, 12]);
    expect(treeMembers(rows, 10).reduce((s, r) => s + r.rss, 0)).toBe(7000 * 1024);
  });
});
