/**
 * The scheduler's queued entries: one per task (its queue links, session line, agent counters and running state),
 * the per-priority linked lists they wait in, task validation, and the outcome a timed-out, cancelled or failed
 * run ends with.
 */
import type { RunOutcome, RunTask, TaskInfo } from "./scheduler-types.ts";
import { RunAbortedError } from "./scheduler-types.ts";

export interface Entry {
  readonly task: RunTask<unknown>;
  readonly info: TaskInfo;
  readonly local: boolean;
  readonly exclusive: boolean;
  readonly queuedAt: number;
  /** Submission order, to merge the local and hosted lists of one priority. */
  readonly seq: number;
  /** This session's queued entries (shared array; the first one is the only one that may start). */
  readonly sessionQueue: Entry[];
  readonly agent: AgentCounters;
  readonly agentCap: number;
  resolve: (o: RunOutcome<unknown>) => void;
  done: Promise<RunOutcome<unknown>>;
  // queue links (per priority list)
  prev: Entry | null;
  next: Entry | null;
  list: TaskList | null;
  // running state
  startedAt: number;
  deadline: number;
  startSeq: number;
  controller: AbortController | null;
  timer: unknown;
  abortCode: "ERR_RUN_TIMEOUT" | "ERR_RUN_CANCELLED" | null;
}

export interface TaskList {
  head: Entry | null;
  tail: Entry | null;
  size: number;
}

export interface AgentCounters {
  queued: number;
  running: number;
  reservedGb: number;
}

/** The `timer` of an entry with no timeout timer. */
export const NO_TIMER: unknown = undefined;

/** A new queued entry for `task` (validated); its `done` resolves with the run's outcome. */
export function createEntry(
  task: RunTask<unknown>,
  at: { readonly exclusiveAboveGb: number; readonly queuedAt: number; readonly seq: number; readonly sessionQueue: Entry[]; readonly agent: AgentCounters; readonly agentCap: number },
): Entry {
  let resolve!: (o: RunOutcome<unknown>) => void;
  const done = new Promise<RunOutcome<unknown>>((r) => (resolve = r));
  const info: TaskInfo = { id: task.id, agentId: task.agentId, sessionKey: task.sessionKey, priority: task.priority, memoryGb: task.memoryGb };
  return {
    task,
    info,
    local: task.memoryGb > 0,
    exclusive: task.memoryGb > 0 && task.memoryGb > at.exclusiveAboveGb,
    queuedAt: at.queuedAt,
    seq: at.seq,
    sessionQueue: at.sessionQueue,
    agent: at.agent,
    agentCap: at.agentCap,
    resolve,
    done,
    prev: null,
    next: null,
    list: null,
    startedAt: 0,
    deadline: Infinity,
    startSeq: 0,
    controller: null,
    timer: NO_TIMER,
    abortCode: null,
  };
}

export const emptyList = (): TaskList => ({ head: null, tail: null, size: 0 });

/** Appends `e` to `list` (and records which list holds it). */
export function pushList(list: TaskList, e: Entry): void {
  e.list = list;
  e.prev = list.tail;
  e.next = null;
  if (list.tail) list.tail.next = e;
  else list.head = e;
  list.tail = e;
  list.size++;
}

/** Removes `e` from the list holding it, if any. */
export function unlink(e: Entry): void {
  const list = e.list;
  if (list === null) return;
  if (e.prev) e.prev.next = e.next;
  else list.head = e.next;
  if (e.next) e.next.prev = e.prev;
  else list.tail = e.prev;
  e.prev = e.next = null;
  e.list = null;
  list.size--;
}

/** The outcome of a run whose signal was aborted: by its timeout, or by cancel / close. */
export function abortedOutcome(e: Entry): Partial<RunOutcome> {
  return e.abortCode === "ERR_RUN_TIMEOUT"
    ? { status: "timeout", errorCode: "ERR_RUN_TIMEOUT", errorMessage: `run timed out after ${e.task.timeoutMs} ms` }
    : { status: "cancelled", errorCode: "ERR_RUN_CANCELLED", errorMessage: "run cancelled" };
}

/** The outcome of a run that rejected: `memory_limit` for ERR_MEMORY_LIMIT, else `error` with the error's code. */
export function errorOutcome(err: unknown): Partial<RunOutcome> {
  const code = typeof err === "object" && err !== null && typeof (err as { code?: unknown }).code === "string" ? (err as { code: string }).code : "ERR_RUN_FAILED";
  const message = err instanceof Error ? err.message : String(err);
  return { status: code === "ERR_MEMORY_LIMIT" ? "memory_limit" : "error", errorCode: code, errorMessage: message };
}

/** The `reason` an aborted run's signal carries. */
export function abortReason(e: Entry): RunAbortedError {
  return e.abortCode === "ERR_RUN_TIMEOUT" ? new RunAbortedError("ERR_RUN_TIMEOUT", `run timed out after ${e.task.timeoutMs} ms`) : new RunAbortedError("ERR_RUN_CANCELLED", "run cancelled");
}

/** Throws a TypeError naming the field of a malformed task. */
export function validateTask(task: RunTask<unknown>): void {
  if (typeof task !== "object" || task === null) throw new TypeError("task must be an object");
  if (typeof task.id !== "string" || task.id === "") throw new TypeError("task.id must be a non-empty string");
  if (typeof task.agentId !== "string" || task.agentId === "") throw new TypeError("task.agentId must be a non-empty string");
  if (typeof task.sessionKey !== "string" || task.sessionKey === "") throw new TypeError("task.sessionKey must be a non-empty string");
  if (task.priority !== "high" && task.priority !== "normal") throw new TypeError('task.priority must be "high" or "normal"');
  if (typeof task.memoryGb !== "number" || !Number.isFinite(task.memoryGb) || task.memoryGb < 0) throw new TypeError("task.memoryGb must be a finite number ≥ 0");
  if (task.timeoutMs !== undefined && (typeof task.timeoutMs !== "number" || !(task.timeoutMs > 0) || !Number.isFinite(task.timeoutMs)))
    throw new TypeError("task.timeoutMs must be a positive finite number");
  if (typeof task.run !== "function") throw new TypeError("task.run must be a function");
}
