/** The exec provider against real child processes: batching, isolation, limits, protocol errors, and no process left behind. */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { chmod, mkdtemp, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createExecProvider } from "../../../node/secrets/exec-provider.ts";
import { ExecProviderSchema } from "../../../node/config/provider-config.ts";
import { hasProc, pidsWithMarker, procState } from "../../helpers/process-tree.ts";
import { installFakeResolver } from "../../helpers/fake-resolver.ts";
import { pollUntil } from "../../helpers/node-process.ts";

const limits = { maxRefsPerProvider: 512, maxBatchBytes: 262_144 };
let dir: string;
let command: string;

beforeAll(async () => {
  dir = await realpath(await mkdtemp(join(tmpdir(), "clawgate-exec-")));
  command = await installFakeResolver(dir, 0o755);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function provider(args: string[], extra: Record<string, unknown> = {}, options: Parameters<typeof createExecProvider>[3] = {}) {
  const config = ExecProviderSchema.parse({ source: "exec", command, args, ...extra });
  return createExecProvider("vault", config, limits, options);
}

function countingSpawn() {
  const children: ChildProcess[] = [];
  const fn = ((...args: Parameters<typeof spawn>) => {
    const child = spawn(...args);
    children.push(child);
    return child;
  }) as typeof spawn;
  return { fn, children };
}

describe("batching and protocol", () => {
  it("resolves every id of a pass in ONE invocation, deduplicated", async () => {
    const counter = countingSpawn();
    const ids = Array.from({ length: 40 }, (_, i) => `svc/key${i}`);
    const result = await provider(["echo"], {}, { spawn: counter.fn }).resolve([...ids, ...ids]);
    expect(counter.children).toHaveLength(1);
    expect(result.values.size).toBe(40);
    expect(result.values.get("svc/key7")).toBe("v:svc/key7");
  });

  it("sends the documented request on stdin", async () => {
    const result = await provider(["request"]).resolve(["a/b"]);
    expect(JSON.parse(result.values.get("a/b")!)).toEqual({ protocolVersion: 1, provider: "vault", ids: ["a/b"] });
  });

  it("maps per-id errors and missing ids", async () => {
    const errs = await provider(["errors"]).resolve(["good", "bad1"]);
    expect(errs.values.get("good")).toBe("v:good");
    expect(errs.errors.get("bad1")).toMatchObject({ code: "ERR_SECRET_EXEC_ID_ERROR", message: 'exec provider "vault": id "bad1": no such secret bad1' });
    const missing = await provider(["missing"]).resolve(["one", "two"]);
    expect(missing.values.get("one")).toBe("first-only");
    expect(missing.errors.get("two")?.message).toBe('exec provider "vault": response missing id "two"');
  });

  it.each([
    ["empty", "resolver printed nothing"],
    ["badversion", "response protocolVersion must be 1"],
    ["plain", "response is not a JSON object"],
  ])("refuses a %s response", async (mode, message) => {
    const result = await provider([mode]).resolve(["x", "y"]);
    expect(result.errors.get("x")?.message).toBe(`exec provider "vault": ${message}`);
    expect(result.errors.get("y")?.code).toBe("ERR_SECRET_EXEC_PROTOCOL");
  });

  it("takes plain stdout as the value with jsonOnly: false and a single id", async () => {
    const result = await provider(["plain"], { jsonOnly: false }).resolve(["value"]);
    expect(result.values.get("value")).toBe("plain-secret-value");
  });

  it("reports a non-zero exit without echoing stderr", async () => {
    const result = await provider(["exit3"]).resolve(["x"]);
    expect(result.errors.get("x")).toMatchObject({ code: "ERR_SECRET_EXEC_EXIT", message: 'exec provider "vault": resolver exited with code 3' });
    expect(result.errors.get("x")?.message).not.toContain("boom-stderr-secret");
  });

  it("survives a resolver that exits without reading stdin", async () => {
    const big = Array.from({ length: 500 }, (_, i) => `k${i}/${"x".repeat(200)}`);
    const result = await provider(["nostdin"], {}, {}).resolve(big.slice(0, 400));
    expect([...result.errors.values()][0]?.message).toBe('exec provider "vault": resolver printed nothing');
  });
});

describe("isolation", () => {
  it("gives the child only passEnv and env, and runs it in the command's folder", async () => {
    const p = provider(["env"], { passEnv: ["KEEP_ME", "ABSENT"], env: { EXTRA: "1" } }, { env: { KEEP_ME: "k", PATH: "/usr/bin", SECRET_OTHER: "s" } });
    const keys = (await p.resolve(["x"])).values.get("x")!.split(",");
    // The kernel/sh may add PWD/SHLVL/_ after exec; nothing from our environment beyond the allowlist.
    expect(keys).toContain("KEEP_ME");
    expect(keys).toContain("EXTRA");
    expect(keys).not.toContain("PATH");
    expect(keys).not.toContain("SECRET_OTHER");
    expect(keys.filter((k) => !["PWD", "SHLVL", "_"].includes(k)).sort()).toEqual(["EXTRA", "KEEP_ME"]);
    expect((await provider(["cwd"]).resolve(["x"])).values.get("x")).toBe(join(dir, "bin"));
  });
});

describe("limits", () => {
  it("refuses more ids than maxRefsPerProvider and a request over maxBatchBytes, without spawning", async () => {
    const counter = countingSpawn();
    const config = ExecProviderSchema.parse({ source: "exec", command, args: ["echo"] });
    const few = createExecProvider("vault", config, { maxRefsPerProvider: 2, maxBatchBytes: 262_144 }, { spawn: counter.fn });
    expect((await few.resolve(["a", "b", "c"])).errors.get("a")?.message).toBe('exec provider "vault": 3 ids exceed maxRefsPerProvider (2)');
    const small = createExecProvider("vault", config, { maxRefsPerProvider: 512, maxBatchBytes: 64 }, { spawn: counter.fn });
    expect((await small.resolve(["a".repeat(80)])).errors.values().next().value?.code).toBe("ERR_SECRET_EXEC_BATCH_LIMIT");
    expect(counter.children).toHaveLength(0);
  });

  it("kills on timeoutMs", async () => {
    const result = await provider(["late"], { timeoutMs: 300, noOutputTimeoutMs: 5_000 }).resolve(["x"]);
    expect(result.errors.get("x")).toMatchObject({ code: "ERR_SECRET_EXEC_TIMEOUT", message: 'exec provider "vault": timed out after 300 ms' });
  });

  it("kills on noOutputTimeoutMs when nothing is printed", async () => {
    const result = await provider(["silent"], { timeoutMs: 5_000, noOutputTimeoutMs: 200 }).resolve(["x"]);
    expect(result.errors.get("x")?.code).toBe("ERR_SECRET_EXEC_NO_OUTPUT_TIMEOUT");
  });

  it("kills when stdout and stderr together exceed maxOutputBytes", async () => {
    // 600 + 600 bytes: each stream alone is under 1,000, together they are over.
    const result = await provider(["flood"], { maxOutputBytes: 1_000, timeoutMs: 5_000 }).resolve(["x"]);
    expect(result.errors.get("x")?.message).toBe('exec provider "vault": stdout+stderr exceeded maxOutputBytes (1000)');
  });
});

describe("no process left behind", async () => {
  const proc = await hasProc();
  if (!proc) console.warn("skipping process-tree checks: /proc is not available on this system");

  it.skipIf(!proc)("kills the resolver and its grandchild on timeout; neither lingers nor turns zombie", async () => {
    const marker = `clawgate-test-${randomUUID()}`;
    const counter = countingSpawn();
    // Killed by the total timeout, which leaves ample time for the grandchild to exist first.
    const config = ExecProviderSchema.parse({
      source: "exec",
      command,
      args: ["grandchild", marker],
      timeoutMs: 4_000,
      noOutputTimeoutMs: 10_000,
    });
    const timed = createExecProvider("vault", config, limits, { spawn: counter.fn });
    const pending = timed.resolve(["x"]);
    const pids = await pollUntil(async () => {
      const found = await pidsWithMarker(marker);
      return found.length >= 2 ? found : undefined;
    }, 10_000, "resolver and grandchild to start");
    const result = await pending;
    expect(result.errors.get("x")?.code).toBe("ERR_SECRET_EXEC_TIMEOUT");
    const childPid = counter.children[0]!.pid!;
    expect(pids).toContain(childPid);
    for (const pid of pids) {
      await pollUntil(async () => (await procState(pid)) === undefined || undefined, 5_000, `pid ${pid} to be gone (state ${await procState(pid)})`);
    }
  });

  it.skipIf(!proc)("after a successful pass, kills what the resolver left running", async () => {
    const marker = `clawgate-test-${randomUUID()}`;
    const result = await provider(["leave-behind", marker]).resolve(["x"]);
    expect(result.values.get("x")).toBe("v:x");
    await pollUntil(async () => ((await pidsWithMarker(marker)).length === 0 ? true : undefined), 5_000, "left-behind process to be killed");
  });
});

describe("command checks", () => {
  it("refuses a relative command and a group-writable one", async () => {
    const rel = createExecProvider("vault", ExecProviderSchema.parse({ source: "exec", command: "bin/resolver" }), limits);
    expect((await rel.resolve(["x"])).errors.get("x")?.message).toBe("secrets.providers.vault.command must be an absolute path: bin/resolver");
    const gw = join(dir, "bin", "gw-resolver");
    await writeFile(gw, "#!/bin/sh\n");
    await chmod(gw, 0o775);
    const p = createExecProvider("vault", ExecProviderSchema.parse({ source: "exec", command: gw }), limits);
    expect((await p.resolve(["x"])).errors.get("x")).toMatchObject({
      code: "ERR_SECRET_EXEC_PERMS",
      message: `secrets.providers.vault.command permissions are too open: ${gw}`,
    });
  });

  it("refuses a symlink unless allowSymlinkCommand, then requires the target inside trustedDirs", async () => {
    const link = join(dir, "link-resolver");
    await symlink(command, link).catch(() => {});
    const make = (extra: Record<string, unknown>) =>
      createExecProvider("vault", ExecProviderSchema.parse({ source: "exec", command: link, args: ["echo"], ...extra }), limits);
    expect((await make({}).resolve(["x"])).errors.get("x")?.message).toBe(`secrets.providers.vault.command is a symlink: ${link}`);
    expect((await make({ allowSymlinkCommand: true }).resolve(["x"])).values.get("x")).toBe("v:x");
    expect((await make({ allowSymlinkCommand: true, trustedDirs: [join(dir, "bin")] }).resolve(["x"])).values.get("x")).toBe("v:x");
    expect((await make({ allowSymlinkCommand: true, trustedDirs: ["/opt/homebrew"] }).resolve(["x"])).errors.get("x")?.message).toBe(
      `secrets.providers.vault.command is outside trustedDirs: ${command}`,
    );
  });
});
