/**
 * The `command` runtime: runs a program (no shell) in its own process group with the message on stdin and an
 * allowlisted environment; stdout (capped) is the reply. The tree's memory is sampled from the spawn on (every
 * period, on each reply chunk, and once more when the leader exits for what it left running): the peak goes to
 * model-memory learning, and crossing the run's hard limit SIGKILLs the group (status `memory_limit`).
 */
import { type TreeRssSampler, defaultTreeRssSampler } from "./process-tree-rss.ts";
import type { DaemonIo } from "../io/daemon-io.ts";
import { type AgentRuntime, type RuntimeRequest, type RuntimeResult, MemoryLimitError, RuntimeError } from "./runtime-types.ts";

const GIB = 1024 ** 3;

/** Variables every run sees besides the allowlist: nothing secret, only where to find things. */
const BASE_ENV = ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER"];

export interface CommandRuntimeOptions {
  /** Absolute path of the program (no shell, no PATH lookup surprises). */
  readonly command: string;
  readonly args?: readonly string[];
  readonly cwd?: string;
  /** Names of variables passed through from the agent's environment (besides PATH, HOME, LANG, …). */
  readonly envAllowlist?: readonly string[];
  /** Fixed extra variables (e.g. a credential resolved from the snapshot), read per run. */
  readonly extraEnv?: () => Readonly<Record<string, string>>;
  /** stdout beyond this ends the run with ERR_OUTPUT_TOO_LARGE. Default 1 MiB. */
  readonly maxOutputBytes?: number;
  /** Memory sampling period. Default 50 ms (one reading of a one-process tree costs tens of µs on Linux). */
  readonly sampleIntervalMs?: number;
  /** The model this command serves runs on this host (default true): the scheduler reserves its estimate. */
  readonly local?: boolean;
  readonly env?: NodeJS.ProcessEnv;
  /** Starts the command's process. */
  readonly io: Pick<DaemonIo, "spawn">;
  readonly sampleTreeRss?: TreeRssSampler;
}

export function createCommandRuntime(options: CommandRuntimeOptions): AgentRuntime {
  if (typeof options.command !== "string" || !options.command.startsWith("/")) throw new TypeError("command must be an absolute path");
  const args = [...(options.args ?? [])];
  if (!args.every((a) => typeof a === "string")) throw new TypeError("args must be strings");
  const maxOutputBytes = options.maxOutputBytes ?? 1024 * 1024;
  if (!Number.isInteger(maxOutputBytes) || maxOutputBytes < 1) throw new TypeError("maxOutputBytes must be a positive integer");
  const sampleIntervalMs = options.sampleIntervalMs ?? 50;
  if (!(sampleIntervalMs >= 10)) throw new TypeError("sampleIntervalMs must be at least 10");
  const parentEnv = options.env ?? process.env;
  const allow = [...BASE_ENV, ...(options.envAllowlist ?? [])];
  const { spawn } = options.io;
  const sample = options.sampleTreeRss ?? defaultTreeRssSampler();

  return {
    type: "command",
    local: options.local ?? true,
    run(req: RuntimeRequest): Promise<RuntimeResult> {
      if (req.signal.aborted) return Promise.reject(req.signal.reason);
      const env: Record<string, string> = {};
      for (const name of allow) {
        const v = parentEnv[name];
        if (v !== undefined) env[name] = v;
      }
      Object.assign(env, options.extraEnv?.() ?? {}, {
        CLAWGATE_RUN_ID: req.runId,
        CLAWGATE_AGENT_ID: req.agentId,
        CLAWGATE_SESSION_KEY: req.sessionKey,
        CLAWGATE_MODEL: req.model,
        ...(req.thinking ? { CLAWGATE_THINKING: req.thinking } : {}),
      });
      return new Promise<RuntimeResult>((resolve, reject) => {
        // detached: the child leads its own process group, so one kill(-pgid) reaches everything it started.
        const child = spawn(options.command, args, { cwd: options.cwd, env, stdio: ["pipe", "pipe", "pipe"], detached: true, shell: false });
        const chunks: Buffer[] = [];
        let outBytes = 0;
        let peakBytes = 0;
        let failure: unknown;
        let settled = false;
        let sampling: Promise<void> | undefined;
        let lastSampleAt = 0;
        const readTree = child.pid !== undefined ? sample(child.pid) : undefined;
        const limitBytes = req.memoryLimitGb !== undefined && Number.isFinite(req.memoryLimitGb) ? req.memoryLimitGb * GIB : Infinity;

        const killGroup = () => {
          if (child.pid === undefined) return;
          try {
            process.kill(-child.pid, "SIGKILL");
          } catch {
            try {
              child.kill("SIGKILL");
            } catch {
              // already gone
            }
          }
        };
        const fail = (error: unknown) => {
          failure ??= error;
          killGroup();
        };
        const onAbort = () => fail(req.signal.reason);
        req.signal.addEventListener("abort", onAbort, { once: true });

        const takeSample = (): Promise<void> => {
          if (sampling || readTree === undefined || settled) return sampling ?? Promise.resolve();
          lastSampleAt = performance.now();
          sampling = (async () => {
            try {
              const bytes = await readTree();
              if (bytes > peakBytes) peakBytes = bytes;
              if (bytes > limitBytes && !settled) fail(new MemoryLimitError(req.memoryLimitGb!, bytes / GIB));
            } catch {
              // a failed sample is not a failed run
            } finally {
              sampling = undefined;
            }
          })();
          return sampling;
        };
        // No reading at the spawn itself: the program has only just been exec'd, and that near-zero reading would
        // become the peak of a run that ends before the next one.
        const timer = setInterval(() => void takeSample(), sampleIntervalMs);

        child.stdout!.on("data", (chunk: Buffer) => {
          // A reply usually comes once the work (and its peak) is done, maybe just before the exit: read now.
          if (performance.now() - lastSampleAt >= 5) void takeSample();
          outBytes += chunk.length;
          if (outBytes > maxOutputBytes) {
            fail(new RuntimeError("ERR_OUTPUT_TOO_LARGE", `command output exceeded maxOutputBytes (${maxOutputBytes})`));
            return;
          }
          chunks.push(chunk);
        });
        // stderr is drained (a full pipe would block the child) but never reported: it may echo secrets.
        child.stderr!.resume();
        child.stdin!.on("error", () => {
          // the child may exit without reading its input: that is its business, the exit code tells
        });
        child.stdin!.end(req.message);

        child.once("error", (error) => {
          fail(new RuntimeError("ERR_COMMAND_SPAWN", `could not start the command (${(error as { code?: string }).code ?? "error"})`));
          finish(null, null);
        });
        // A grandchild that keeps stdout open would hold "close" forever: the leader's exit ends the group, once
        // what the leader left running has been read.
        let lastSample: Promise<void> = Promise.resolve();
        child.once("exit", () => {
          clearInterval(timer);
          lastSample = (sampling ?? Promise.resolve()).then(takeSample).finally(killGroup);
        });
        child.once("close", (code, signal) => void lastSample.then(() => finish(code, signal)));

        function finish(code: number | null, signal: NodeJS.Signals | null) {
          if (settled) return;
          settled = true;
          clearInterval(timer);
          req.signal.removeEventListener("abort", onAbort);
          // Children that outlived the leader would keep memory and pipes: the group goes with the run.
          killGroup();
          const peakMemoryGb = peakBytes / GIB;
          if (failure !== undefined) {
            if (failure instanceof MemoryLimitError || failure instanceof RuntimeError) Object.assign(failure, { peakMemoryGb });
            return reject(failure);
          }
          if (code !== 0) {
            return reject(new RuntimeError("ERR_COMMAND_FAILED", signal ? `command ended by ${signal}` : `command exited with code ${code}`));
          }
          resolve({ reply: Buffer.concat(chunks).toString("utf8").trimEnd(), peakMemoryGb });
        }
      });
    },
  };
}
