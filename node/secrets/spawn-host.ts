/**
 * Client of the spawn host: an ExecRunner that hands each resolver run to a long-lived helper process. The agent
 * starts it lazily, at the first resolver run after start (a reload), so an idle agent is one process.
 */
import { type ChildProcess, fork } from "node:child_process";
import { getCompileCacheDir } from "node:module";
import { fileURLToPath } from "node:url";
import type { ExecOutcome, ExecRunner, ExecSpec } from "./exec-runner.ts";

// The built package (dist/node/) runs spawn-host.js beside this bundle; a checkout runs the sources.
const HOST_MAIN = fileURLToPath(new URL(import.meta.url.endsWith(".ts") ? "./spawn-host-main.ts" : "./spawn-host.js", import.meta.url));

export interface SpawnHost {
  readonly runner: ExecRunner;
  /** The helper's pid (changes if it had to be restarted). */
  pid(): number | undefined;
  close(): Promise<void>;
}

type Reply = { id: number; outcome: ExecOutcome } | { ready: true };

export interface SpawnHostOptions {
  /** Launch the helper at the first run instead of now (then `pid()` is undefined until that run). */
  readonly lazy?: boolean;
  /** Told each time a helper process is ready (its first launch and any restart). */
  readonly onLaunch?: (pid: number) => void;
}

/** Start the helper (unless `lazy`) and wait until it is ready; it is restarted on the next run if it ever dies. */
export async function startSpawnHost(options: SpawnHostOptions = {}): Promise<SpawnHost> {
  let child: ChildProcess | undefined;
  let nextId = 1;
  let closed = false;
  const pending = new Map<number, (outcome: ExecOutcome) => void>();

  const launch = () =>
    new Promise<ChildProcess>((resolve, reject) => {
      // No inherited environment: every resolver gets its env from its spec, nothing leaks through the host.
      // The one exception: the agent's private compile cache, so the helper boots without re-stripping its TS.
      const cacheDir = getCompileCacheDir();
      const env = cacheDir ? { NODE_COMPILE_CACHE: cacheDir } : {};
      const proc = fork(HOST_MAIN, [], { stdio: ["ignore", "ignore", "inherit", "ipc"], env, execArgv: [] });
      proc.on("message", (reply: Reply) => {
        if ("ready" in reply) {
          options.onLaunch?.(proc.pid!);
          return resolve(proc);
        }
        pending.get(reply.id)?.(reply.outcome);
        pending.delete(reply.id);
      });
      proc.once("error", reject);
      proc.once("exit", () => {
        if (child === proc) child = undefined;
        for (const [id, settle] of pending) {
          settle({ ok: false, code: "ERR_SECRET_EXEC_SPAWN", message: "the spawn host exited during the run" });
          pending.delete(id);
        }
        reject(new Error("spawn host exited before it was ready"));
      });
    });

  if (!options.lazy) child = await launch();
  /** One launch at a time: runs that arrive while the helper boots wait for the same process. */
  let launching: Promise<ChildProcess> | undefined;

  return {
    pid: () => child?.pid,
    async runner(spec: ExecSpec): Promise<ExecOutcome> {
      if (closed) return { ok: false, code: "ERR_SECRET_EXEC_SPAWN", message: "the spawn host is closed" };
      try {
        if (!child) {
          launching ??= launch().finally(() => (launching = undefined));
          child = await launching;
        }
      } catch {
        return { ok: false, code: "ERR_SECRET_EXEC_SPAWN", message: "the spawn host could not be started" };
      }
      const id = nextId++;
      return new Promise((resolve) => {
        pending.set(id, resolve);
        child!.send({ id, spec });
      });
    },
    async close() {
      closed = true;
      // A helper still booting is waited for, so it is stopped too rather than left behind.
      const proc = child ?? (await launching?.catch(() => undefined));
      if (!proc || proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once("exit", r));
      proc.disconnect();
      await exited;
    },
  };
}
