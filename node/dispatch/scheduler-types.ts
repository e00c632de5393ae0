/** The scheduler's public types (tasks, outcomes, events, state, options) and the errors runtimes throw to it; the contract is in scheduler.ts. */
import type { DaemonIo } from "../io/daemon-io.ts";
import type { MemoryProbe } from "./memory-probe.ts";

/** What a runtime throws when a run exceeds its hard memory limit (a runtime error: it lives with the runtime types). */
export { MemoryLimitError } from "../runtimes/runtime-types.ts";

export type RunPriority = "high" | "normal";
export type RunStatus = "ok" | "error" | "timeout" | "memory_limit" | "cancelled";
export type BlockedReason = "memory" | "probe" | "exclusive" | "session" | "agent_cap" | "global_cap";

export interface RunContext {
  /** Aborted on timeout, cancel and close; its `reason` says which. */
  readonly signal: AbortSignal;
  readonly runId: string;
}

export interface RunTask<R = unknown> {
  /** Unique among queued and running tasks; used as the run id. */
  readonly id: string;
  readonly agentId: string;
  readonly sessionKey: string;
  readonly priority: RunPriority;
  /** The run's memory estimate in GiB (model-memory.ts); 0 for hosted models. */
  readonly memoryGb: number;
  /** Aborts the signal after this long; the run then ends "timeout". Also bounds backfilling (see above). */
  readonly timeoutMs?: number;
  /**
   * Tasks with the same key coalesce while queued: a second submit returns the first one's `done`
   * (`coalesced: true`). Coalescing tasks do not count against `maxQueue` — wake events are never dropped,
   * and there is at most one queued per key.
   */
  readonly coalesceKey?: string;
  readonly run: (ctx: RunContext) => Promise<R>;
}

export interface RunOutcome<R = unknown> {
  readonly id: string;
  readonly agentId: string;
  readonly sessionKey: string;
  readonly status: RunStatus;
  /** The run's resolved value when status is "ok". */
  readonly result?: R;
  /** Stable error code for every status but "ok" (ERR_RUN_TIMEOUT, ERR_MEMORY_LIMIT, ERR_RUN_CANCELLED, …). */
  readonly errorCode?: string;
  /** The error message (runtimes must keep secrets out of it). */
  readonly errorMessage?: string;
  readonly memoryGb: number;
  /** `now()` readings (ms). `startedAt` is absent when the task was cancelled while queued. */
  readonly queuedAt: number;
  readonly startedAt?: number;
  readonly finishedAt: number;
}

export type SubmitResult<R = unknown> =
  | { readonly accepted: true; readonly coalesced: boolean; readonly done: Promise<RunOutcome<R>> }
  | { readonly accepted: false; readonly code: SubmitRefusal; readonly retryAfterSeconds: number };

/**
 * ERR_QUEUE_FULL: retry after `retryAfterSeconds` (→ 503 + Retry-After). ERR_SCHEDULER_CLOSED: shutting down.
 * ERR_OVER_BUDGET: the run's estimate is above the whole budget, so it could never start; retrying does not
 * help (`retryAfterSeconds` is 0) — the operator must raise the budget or pick a smaller model.
 */
export type SubmitRefusal = "ERR_QUEUE_FULL" | "ERR_SCHEDULER_CLOSED" | "ERR_OVER_BUDGET";

export interface TaskInfo {
  readonly id: string;
  readonly agentId: string;
  readonly sessionKey: string;
  readonly priority: RunPriority;
  readonly memoryGb: number;
}

/** The closed set of events and their payloads. */
export interface SchedulerEvents {
  queued: TaskInfo & { readonly queuedAt: number };
  started: TaskInfo & { readonly startedAt: number; readonly waitedMs: number };
  finished: RunOutcome;
  /** Emitted when the head of the queue becomes blocked, or its reason changes (not on every decision). */
  blocked: TaskInfo & { readonly reason: BlockedReason };
  idle: Record<string, never>;
}
export type SchedulerEventName = keyof SchedulerEvents;

export interface AgentState {
  readonly queued: number;
  readonly running: number;
  readonly reservedGb: number;
}

export interface SchedulerState {
  readonly queued: number;
  readonly queuedHigh: number;
  readonly running: number;
  readonly reservedGb: number;
  readonly budgetGb: number;
  /** Last probe reading (null before the first one). */
  readonly availableGb: number | null;
  readonly totalGb: number | null;
  readonly perAgent: Readonly<Record<string, AgentState>>;
  /** Why the first waiting task is not running, or null. */
  readonly blocked: { readonly id: string; readonly reason: BlockedReason } | null;
  readonly exclusiveRunning: boolean;
  /** Memory probe readings that failed in a row (0 after a good one); local runs wait while it fails. */
  readonly probeFailures: number;
  /** Counters since creation, for /metrics. */
  readonly decisions: number;
  readonly decisionSecondsTotal: number;
  readonly finished: Readonly<Record<RunStatus, number>>;
  readonly closed: boolean;
}

export interface SchedulerOptions {
  /** Memory the scheduler may reserve in total (GiB). */
  readonly budgetGb: number;
  /** Runs with memoryGb strictly above this (GiB) run alone among local runs. Default: Infinity (never exclusive). */
  readonly exclusiveAboveGb?: number;
  /** Measured available memory must exceed a run's estimate by this much (GiB). Default 1 GiB. */
  readonly headroomGb?: number;
  /** Queued tasks (not counting running ones and coalescing ones) before submit answers ERR_QUEUE_FULL. */
  readonly maxQueue: number;
  /** Global cap on concurrently running tasks. */
  readonly maxConcurrent: number;
  /** Per-agent caps; missing agents get `maxConcurrent`. */
  readonly perAgentMaxConcurrent?: Readonly<Record<string, number>> | ((agentId: string) => number);
  readonly memoryProbe: MemoryProbe;
  /** How long a probe reading is reused. Default 1000 ms. */
  readonly probeTtlMs?: number;
  /** How many queued tasks one decision looks at beyond the head (bounds decision time). Default 256. */
  readonly maxScan?: number;
  /** Clock (ms) and timers. */
  readonly io: Pick<DaemonIo, "now" | "setTimer" | "clearTimer">;
}

export interface Scheduler {
  submit<R>(task: RunTask<R>): SubmitResult<R>;
  /** Cancels a queued task (ends "cancelled" at once) or aborts a running one. False when unknown. */
  cancel(id: string): boolean;
  on<E extends SchedulerEventName>(event: E, listener: (payload: SchedulerEvents[E]) => void): () => void;
  off<E extends SchedulerEventName>(event: E, listener: (payload: SchedulerEvents[E]) => void): void;
  onIdle(): Promise<void>;
  state(): SchedulerState;
  close(): Promise<void>;
}

/** The `reason` of the signal aborted by a timeout / cancel / close. */
export class RunAbortedError extends Error {
  readonly code: "ERR_RUN_TIMEOUT" | "ERR_RUN_CANCELLED";
  constructor(code: "ERR_RUN_TIMEOUT" | "ERR_RUN_CANCELLED", message: string) {
    super(message);
    this.name = code === "ERR_RUN_TIMEOUT" ? "TimeoutError" : "AbortError";
    this.code = code;
  }
}
