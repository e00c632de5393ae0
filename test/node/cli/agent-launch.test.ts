/** `clawgate node start` execs itself as the agent bundle (same pid, compile cache on), or says why it runs from sources. */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { AGENT_BUNDLE_DIR } from "../../../node/cli/agent-bundle.ts";
import { launchAgentBundle } from "../../../node/cli/agent-launch.ts";
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
  await launchAgentBundle({
    argv: ["node", "start", "--port", "0"],
    cacheDir: "/cache/dir",
    env: { PATH: "/bin", CLAWGATE_ALLOW_ROOT: "1" },
    execPath: "/opt/node",
    execArgv: ["--import", "x.mjs"],
    execve,
    ensureBundle: bundle("/cache/dir/clawgate-agent/agent-0123456789abcdef.mjs"),
  });
  expect(calls).toEqual([
    {
      file: "/opt/node",
      args: ["/opt/node", "--import", "x.mjs", "/cache/dir/clawgate-agent/agent-0123456789abcdef.mjs", "node", "start", "--port", "0"],
      env: { PATH: "/bin", CLAWGATE_ALLOW_ROOT: "1", NODE_COMPILE_CACHE: "/cache/dir" },
    },
  ]);
});

it("runs from sources: silently when turned off, with a one-line reason when the bundle or execve is missing", async () => {
  const { calls, execve } = recorder();
  const base = { argv: ["node", "start"], execve, ensureBundle: bundle("/b.mjs") };
  expect(await launchAgentBundle({ ...base, cacheDir: "/c", env: { CLAWGATE_AGENT_BUNDLE: "0" } })).toEqual({});
  expect(await launchAgentBundle({ ...base, cacheDir: undefined, env: {} })).toEqual({});
  expect(await launchAgentBundle({ ...base, cacheDir: "/c", env: {}, execve: undefined })).toEqual({
    reason: `process.execve is not available in Node ${process.version} (needs ≥ 22.15 on Linux or macOS)`,
  });
  const failing = async () => {
    throw new Error("esbuild is not installed (npm ci installs it)\nmore detail");
  };
  expect(await launchAgentBundle({ ...base, cacheDir: "/c", env: {}, ensureBundle: failing })).toEqual({
    reason: "esbuild is not installed (npm ci installs it)",
  });
  const refusing = (): void => {
    throw Object.assign(new Error("ENOENT: no such file"), { code: "ENOENT" });
  };
  expect(await launchAgentBundle({ ...base, cacheDir: "/c", env: {}, execve: refusing })).toEqual({
    reason: "could not exec the agent bundle: ENOENT: no such file",
  });
  expect(calls).toEqual([]);
});

it("a real `clawgate node start` becomes the bundle in the same process, builds it into the private cache, and serves", async () => {
  const configPath = await writeNodeConfig(dir, { hooks: "hook-token-launch-0123456789" }, { hooks: { enabled: true, token: { source: "file", provider: "f", id: "/hooks" } } });
  const cache = join(dir, "xdg-cache");
  agent = await startNodeProcess(["--config", configPath, "--port", "0", "--state-dir", join(dir, "state")], {
    env: { CLAWGATE_ALLOW_ROOT: "1", XDG_CACHE_HOME: cache, NODE_COMPILE_CACHE: "", CLAWGATE_AGENT_BUNDLE: "" },
    timeoutMs: 30_000,
  });
  const pid = agent.child.pid!;
  // execve kept the pid the supervisor (here: the test) started; the process now runs the bundle.
  const cmdline = (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0");
  const cacheDir = join(cache, "clawgate", "compile-cache");
  expect(cmdline[1]).toMatch(new RegExp(`^${join(cacheDir, AGENT_BUNDLE_DIR)}/agent-[0-9a-f]{16}\\.mjs$`));
  expect(cmdline.slice(2, 4)).toEqual(["node", "start"]);
  expect((await readFile(`/proc/${pid}/environ`, "utf8")).split("\0")).toContain(`NODE_COMPILE_CACHE=${cacheDir}`);
  expect((await fetch(`${agent.url}/healthz`)).status).toBe(200);
  expect(agent.output().stderr).toBe("");
  expect(await agent.stop()).toBe(0);
  agent = undefined;
});
