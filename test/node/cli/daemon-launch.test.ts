/** `clawgate node start` execs itself as the daemon bundle (same pid, compile cache on), or says why it runs from sources. */
import { mkdir, mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { DAEMON_BUNDLE_DIR } from "../../../node/cli/daemon-bundle.ts";
import { launchDaemonBundle } from "../../../node/cli/daemon-launch.ts";
import { writeNodeConfig } from "../../helpers/node-config.ts";
import { type NodeProcess, startNodeProcess } from "../../helpers/node-process.ts";

let dir: string;
let agent: NodeProcess | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "clawgate-launch-"));
});
afterEach(async () => {
  await agent?.stop("SIGKILL");
  agent = undefined;
  await rm(dir, { recursive: true, force: true });
});

interface Exec {
  file: string;
  args: readonly string[];
  env: NodeJS.ProcessEnv;
}

function recorder(): { calls: Exec[]; execve: (file: string, args: readonly string[], env: NodeJS.ProcessEnv) => void } {
  const calls: Exec[] = [];
  return { calls, execve: (file, args, env) => void calls.push({ file, args, env }) };
}

const bundle = (path: string) => async () => ({ path, built: false });

it("execs node with the caller's node options, the bundle and the same arguments, compile cache on", async () => {
  const { calls, execve } = recorder();
  await launchDaemonBundle({
    argv: ["node", "start", "--port", "0"],
    cacheDir: "/cache/dir",
    env: { PATH: "/bin", CLAWGATE_ALLOW_ROOT: "1" },
    execPath: "/opt/node",
    execArgv: ["--import", "x.mjs"],
    execve,
    ensureBundle: bundle("/cache/dir/clawgate-daemon/daemon-0123456789abcdef.mjs"),
  });
  expect(calls).toEqual([
    {
      file: "/opt/node",
      args: ["/opt/node", "--import", "x.mjs", "/cache/dir/clawgate-daemon/daemon-0123456789abcdef.mjs", "node", "start", "--port", "0"],
      env: { PATH: "/bin", CLAWGATE_ALLOW_ROOT: "1", NODE_COMPILE_CACHE: "/cache/dir" },
    },
  ]);
});

it("runs from sources: silently when turned off, with a one-line reason when the bundle or execve is missing", async () => {
  const { calls, execve } = recorder();
  const base = { argv: ["node", "start"], execve, ensureBundle: bundle("/b.mjs") };
  expect(await launchDaemonBundle({ ...base, cacheDir: "/c", env: { CLAWGATE_DAEMON_BUNDLE: "0" } })).toEqual({});
  expect(await launchDaemonBundle({ ...base, cacheDir: undefined, env: {} })).toEqual({});
  expect(await launchDaemonBundle({ ...base, cacheDir: "/c", env: {}, execve: undefined })).toEqual({
    reason: `process.execve is not available in Node ${process.version} (needs ≥ 22.15 on Linux or macOS)`,
  });
  const failing = async () => {
    throw new Error("esbuild is not installed (npm ci installs it)\nmore detail");
  };
  expect(await launchDaemonBundle({ ...base, cacheDir: "/c", env: {}, ensureBundle: failing })).toEqual({
    reason: "esbuild is not installed (npm ci installs it)",
  });
  const refusing = (): void => {
    throw Object.assign(new Error("ENOENT: no such file"), { code: "ENOENT" });
  };
  expect(await launchDaemonBundle({ ...base, cacheDir: "/c", env: {}, execve: refusing })).toEqual({
    reason: "could not exec the daemon bundle: ENOENT: no such file",
  });
  expect(calls).toEqual([]);
});

/** The children of `pid` (any of its threads) that have exited and are not reaped: `Z` in /proc/<child>/stat. */
async function zombieChildren(pid: number): Promise<string[]> {
  const zombies: string[] = [];
  for (const task of await readdir(`/proc/${pid}/task`)) {
    const children = (await readFile(`/proc/${pid}/task/${task}/children`, "utf8").catch(() => "")).split(" ").filter(Boolean);
    for (const child of children) {
      const stat = await readFile(`/proc/${child}/stat`, "utf8").catch(() => "");
      // "<pid> (<comm>) <state> …": the comm may hold spaces, so read after the last ")".
      if (stat.slice(stat.lastIndexOf(")") + 2)[0] === "Z") zombies.push(stat.slice(stat.indexOf("("), stat.lastIndexOf(")") + 1));
    }
  }
  return zombies;
}

async function startAgent(env: NodeJS.ProcessEnv): Promise<{ pid: number; cmdline: string[]; environ: string[] }> {
  const configPath = await writeNodeConfig(dir, { hooks: "hook-token-launch-0123456789" }, { hooks: { enabled: true, token: { source: "file", provider: "f", id: "/hooks" } } });
  agent = await startNodeProcess(["--config", configPath, "--port", "0", "--state-dir", join(dir, "state")], {
    env: { CLAWGATE_ALLOW_ROOT: "1", XDG_CACHE_HOME: join(dir, "xdg-cache"), NODE_COMPILE_CACHE: "", CLAWGATE_DAEMON_BUNDLE: "", CLAWGATE_COMPILE_CACHE: "", ...env },
    timeoutMs: 30_000,
  });
  const pid = agent.child.pid!;
  expect((await fetch(`${agent.url}/healthz`)).status).toBe(200);
  return {
    pid,
    cmdline: (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0"),
    environ: (await readFile(`/proc/${pid}/environ`, "utf8")).split("\0"),
  };
}

it.each([
  ["the private cache (default)", {}, () => join(dir, "xdg-cache", "clawgate", "compile-cache")],
  ["the operator's NODE_COMPILE_CACHE (as the systemd unit sets it)", { NODE_COMPILE_CACHE: "<state>" }, () => join(dir, "state", "compile-cache")],
])("a real `clawgate node start` becomes the bundle in the same process, built into %s, and serves", async (_name, env, expectedCacheDir) => {
  // As installed: the state dir exists, 0700 (under systemd, UMask=0077 keeps what Node creates in it private too).
  await mkdir(join(dir, "state"), { mode: 0o700 });
  const resolved = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.replace("<state>", join(dir, "state", "compile-cache"))]));
  const { pid, cmdline, environ } = await startAgent(resolved);
  // The build's esbuild service was stopped and reaped before the exec: no child of the daemon is left defunct.
  expect(await zombieChildren(pid)).toEqual([]);
  // execve kept the pid the supervisor (here: the test) started; the process now runs the bundle.
  const cacheDir = expectedCacheDir();
  expect(cmdline[1]).toMatch(new RegExp(`^${join(cacheDir, DAEMON_BUNDLE_DIR)}/[0-9a-f]{16}/daemon-[0-9a-f]{16}\\.mjs$`));
  expect(cmdline.slice(2, 4)).toEqual(["node", "start"]);
  expect(environ).toContain(`NODE_COMPILE_CACHE=${cacheDir}`);
  expect(agent!.output().stderr).toBe("");
  expect(await agent!.stop()).toBe(0);
  agent = undefined;
});

it("with the compile cache turned off, the agent runs from its sources in the started process, silently", async () => {
  const { cmdline } = await startAgent({ CLAWGATE_COMPILE_CACHE: "0" });
  expect(cmdline[1]).toMatch(/node\/cli\/bin\.ts$/);
  expect(agent!.output().stderr).toBe("");
});
