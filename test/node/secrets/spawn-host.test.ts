/** The spawn host runs resolvers out of the agent's process, and never outlives the agent — even after kill -9. */
import { mkdtemp, readFile, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSpawnHost } from "../../../node/secrets/spawn-host.ts";
import { readAdminToken } from "../../../node/state/admin-token.ts";
import { installFakeResolver } from "../../helpers/fake-resolver.ts";
import { pollUntil, startNodeProcess } from "../../helpers/node-process.ts";
import { procState } from "../../helpers/process-tree.ts";

let dir: string;
let command: string;

beforeAll(async () => {
  dir = await realpath(await mkdtemp(join(tmpdir(), "clawgate-host-")));
  command = await installFakeResolver(dir, 0o700);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The direct children of a process (Linux /proc). */
const childPids = async (pid: number) =>
  (await readFile(`/proc/${pid}/task/${pid}/children`, "utf8")).trim().split(/\s+/).filter(Boolean).map(Number);

const spec = (args: string[], timeoutMs = 5_000) => ({
  command,
  args,
  cwd: join(dir, "bin"),
  env: {},
  input: JSON.stringify({ protocolVersion: 1, provider: "vault", ids: ["a", "b"] }),
  timeoutMs,
  noOutputTimeoutMs: 5_000,
  maxOutputBytes: 65_536,
});

describe("spawn host", () => {
  it("runs resolvers in a separate process and reports limits the same way", async () => {
    const host = await startSpawnHost();
    try {
      expect(host.pid()).not.toBe(process.pid);
      const ok = await host.runner(spec(["echo"]));
      expect(ok).toEqual({ ok: true, stdout: JSON.stringify({ protocolVersion: 1, values: { a: "v:a", b: "v:b" } }) });
      const slow = await host.runner(spec(["late"], 200));
      expect(slow).toEqual({ ok: false, code: "ERR_SECRET_EXEC_TIMEOUT", message: "timed out after 200 ms" });
    } finally {
      await host.close();
    }
    expect(await host.runner(spec(["echo"]))).toMatchObject({ ok: false, code: "ERR_SECRET_EXEC_SPAWN" });
  });

  it("runs resolvers at a lower CPU priority than the agent", async () => {
    const host = await startSpawnHost();
    try {
      const outcome = await host.runner({ ...spec([]), command: "/bin/sh", args: ["-c", "cut -d' ' -f19 /proc/self/stat"] });
      expect(outcome).toEqual({ ok: true, stdout: "10\n" });
    } finally {
      await host.close();
    }
  });

  it("starts with the agent's first reload, not before, and exits with the agent, even when it is killed with SIGKILL", async () => {
    const configPath = join(dir, "openclaw.json");
    await writeFile(configPath, JSON.stringify({ secrets: { providers: { vault: { source: "exec", command, args: ["echo"] } } }, hooks: { token: { source: "exec", provider: "vault", id: "hooks/token" } } }));
    const agent = await startNodeProcess(["--config", configPath, "--port", "0", "--state-dir", join(dir, "state")], {
      env: { CLAWGATE_ALLOW_ROOT: "1" },
    });
    // The helper starts lazily: an idle agent is one process; the first reload starts it.
    expect(agent.output().stdout).not.toMatch(/"spawnHostPid"/);
    const helpers = async () => {
      const commands = await Promise.all((await childPids(agent.child.pid!)).map((pid) => readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")));
      return commands.filter((c) => c.includes("spawn-host-main"));
    };
    expect(await helpers()).toEqual([]);
    const token = await readAdminToken(join(dir, "state"));
    const reload = await fetch(`${agent.url}/_clawgate/admin/secrets/reload`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
    expect(reload.status).toBe(200);
    const hostPid = Number(/"spawnHostPid":(\d+)/.exec(agent.output().stdout)?.[1]);
    expect(hostPid).toBeGreaterThan(0);
    expect(await childPids(agent.child.pid!)).toContain(hostPid);
    expect(await helpers()).toHaveLength(1);
    expect(await procState(hostPid)).toBeDefined();
    expect(await agent.stop("SIGKILL")).toBe("SIGKILL");
    await pollUntil(async () => ((await procState(hostPid)) === undefined ? true : undefined), 5_000, "the spawn host to exit");
  });
});
