/**
 * Starts the two servers the differential suite compares on one `openclaw.json`: the real OpenClaw gateway
 * (`openclaw gateway run`, HOME/state/config in a temp dir) and clawgate's node agent (`clawgate node start`), each on
 * its own loopback port, each stopped by its own process id.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type NodeProcess, pollUntil, startNodeProcess } from "../../helpers/node-process.ts";
import { openClawEntry } from "./openclaw-install.ts";

export interface Gateway {
  readonly name: "openclaw" | "clawgate";
  readonly url: string;
  readonly port: number;
  output(): string;
  stop(): Promise<void>;
}

/** A free loopback port (listen on 0, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });

/** A temp dir (0700) holding `openclaw.json`; both servers read this same file. */
export async function writeSharedConfig(config: Record<string, unknown>): Promise<{ dir: string; configPath: string }> {
  const dir = await mkdtemp(join(tmpdir(), "clawgate-compat-"));
  await chmod(dir, 0o700);
  const configPath = join(dir, "openclaw.json");
  await writeFile(configPath, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  return { dir, configPath };
}

/**
 * The real gateway, in the foreground as an operator runs it. Channels, the Gmail watcher and the browser control
 * server stay off (nothing here to reach), and its update check is off in the config. TMPDIR stays the system's:
 * pointed at a fresh folder, 2026.2.26 waits before listening until a signal arrives (its log goes to /tmp/openclaw).
 */
export async function startOpenClaw(root: string, dir: string, configPath: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<Gateway> {
  const port = await freePort();
  const home = join(dir, "openclaw-home");
  const state = join(dir, "openclaw-state");
  for (const d of [home, state]) await mkdir(d, { recursive: true, mode: 0o700 });
  const child: ChildProcess = spawn(process.execPath, [openClawEntry(root), "gateway", "run", "--port", String(port)], {
    cwd: dir,
    env: {
      PATH: process.env["PATH"] ?? "",
      HOME: home,
      OPENCLAW_STATE_DIR: state,
      OPENCLAW_CONFIG_PATH: configPath,
      OPENCLAW_SKIP_CHANNELS: "1",
      OPENCLAW_SKIP_GMAIL_WATCHER: "1",
      OPENCLAW_SKIP_BROWSER_CONTROL_SERVER: "1",
      NO_COLOR: "1",
      ...extraEnv,
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (output += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (output += d));
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once("exit", () => ((exited = true), resolve())));
  const stop = async () => {
    // Its own process group (detached): the gateway and anything it started, by this id only.
    if (!exited && child.pid) process.kill(-child.pid, "SIGTERM");
    const timer = setTimeout(() => !exited && child.pid && process.kill(-child.pid, "SIGKILL"), 5_000);
    await exit;
    clearTimeout(timer);
  };
  try {
    await pollUntil(async () => {
      if (exited) throw new Error(`openclaw gateway exited before listening:\n${output.slice(-3000)}`);
      return output.includes("listening on") && (await accepts(port));
    }, 120_000, "the openclaw gateway to listen");
  } catch (error) {
    const early = exited;
    await stop();
    throw early ? error : new Error(`${(error as Error).message}; its output:\n${output.slice(-3000)}`);
  }
  return { name: "openclaw", url: `http://127.0.0.1:${port}`, port, output: () => output, stop };
}

/** clawgate's node agent on the same config, its state dir beside it. */
export async function startClawgate(dir: string, configPath: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<Gateway> {
  const stateDir = join(dir, "clawgate-state");
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  await chmod(stateDir, 0o700);
  const agent: NodeProcess = await startNodeProcess(["--config", configPath, "--state-dir", stateDir, "--port", "0"], {
    env: { CLAWGATE_ALLOW_ROOT: "1", ...extraEnv },
    timeoutMs: 30_000,
  });
  return {
    name: "clawgate",
    url: agent.url,
    port: Number(new URL(agent.url).port),
    output: () => `${agent.output().stdout}${agent.output().stderr}`,
    stop: async () => void (await agent.stop()),
  };
}

export const removeDir = (dir: string) => rm(dir, { recursive: true, force: true });
