/**
 * The daemon's I/O — clock, ids, timers, outbound fetch, child processes and the logger — built once where the
 * daemon starts (node/server/node-agent.ts) and passed whole to the parts, so no layer picks its own default.
 * A part takes the slice it uses (`Pick<DaemonIo, "now" | …>`); tests build that slice with fakes.
 */
import { type ChildProcess, type SpawnOptions, spawn as nodeSpawn } from "node:child_process";
import { randomUUID as nodeRandomUUID } from "node:crypto";
import type { Logger } from "pino";

export interface DaemonIo {
  /** Milliseconds since the epoch. */
  readonly now: () => number;
  /** A fresh id (run ids, delivery ids for calls that bring none). */
  readonly randomUUID: () => string;
  /** Schedules `fn` after `ms`; the timer never keeps the process alive on its own. */
  readonly setTimer: (fn: () => void, ms: number) => unknown;
  /** Cancels a timer from `setTimer`. */
  readonly clearTimer: (handle: unknown) => void;
  /** Outbound fetch: model providers, the edge's operator API. */
  readonly fetch: typeof fetch;
  /** Starts a child process (command runtimes, resolvers). */
  readonly spawn: (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;
  /** Structured log lines (metadata only, never a body or a credential). */
  readonly logger: Logger;
}

/** Production I/O: the real clock, node:crypto ids, unref'd timers, the global fetch, node:child_process spawn. */
export function productionDaemonIo(logger: Logger): DaemonIo {
  return {
    now: () => Date.now(),
    randomUUID: () => nodeRandomUUID(),
    setTimer: (fn, ms) => setTimeout(fn, ms).unref(),
    clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
    fetch: (input, init) => fetch(input, init),
    spawn: (command, args, options) => nodeSpawn(command, args, options),
    logger,
  };
}
