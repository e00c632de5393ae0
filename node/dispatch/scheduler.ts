/**
 * The memory-aware run scheduler: a p-queue-like queue whose admission rule is memory (reserved GB against a
 * budget, and the host's measured available memory), with priorities, per-session serialization, per-agent and
 * global concurrency caps, exclusive heavy runs, per-run timeouts and an EASY-backfilling head-of-line policy.
 *
 * CONTRACT (stable; the dispatcher and runtimes code against it):
 * - `createScheduler(options)` validates options once (TypeError naming the option) and returns a `Scheduler`.
 * - `submit(task)` throws a TypeError only for a malformed task or an id already queued or running; it answers `{ accepted: true, done }` or
 *   `{ accepted: false, code: "ERR_QUEUE_FULL" | "ERR_SCHEDULER_CLOSED" | "ERR_EXCEEDS_BUDGET", retryAfterSeconds }`.
 *   `done` never rejects: it resolves with a `RunOutcome` whose `status` is one of
 *   "ok" | "error" | "timeout" | "memory_limit" | "cancelled".
 * - `task.run({ signal, runId })` is called at most once. The scheduler aborts `signal` on timeout, `cancel(id)`
 *   and `close()`; the runtime must then stop (kill its children) and settle. Memory stays reserved until `run`
 *   settles, so a runtime that ignores its signal keeps its reservation (and `done` waits) — that is a runtime bug.
 * - A runtime reports "the run exceeded its hard memory limit" by rejecting with an error whose `code` is
 *   `ERR_MEMORY_LIMIT` (e.g. `MemoryLimitError` below) → status "memory_limit". Any other rejection → "error"
 *   with the error's `code` (or "ERR_RUN_FAILED"). A rejection after the timeout fired → "timeout"; after a
 *   cancel → "cancelled".
 * - Events (closed set, see `SchedulerEvents`): "queued", "started", "finished", "blocked", "idle".
 *   Listeners run synchronously; a throwing listener is ignored (it must not break scheduling).
 * - `state()` is a cheap snapshot for `/metrics` and the admin API. `onIdle()` resolves when nothing is queued
 *   or running. `close()` refuses new tasks, cancels queued ones, aborts running ones and resolves when idle.
 *
 * ADMISSION (docs/dispatch.md, "Memory-aware scheduling"): a run with `memoryGb > 0` starts only if
 *   reservedGb + memoryGb ≤ budgetGb  AND  measured availableGb − (GB started since that sample) ≥ memoryGb + headroomGb.
 * A reading is reused for `probeTtlMs`; a local run that finds it older waits for a new one (a reading is decided
 * on at least once when it arrives, however slow the probe), and until the first one, or while the probe fails, no
 * local run starts. Runs with `memoryGb === 0` (hosted models) reserve nothing and skip both memory checks.
 * Runs with `memoryGb ≥ exclusiveAboveGb` run alone among local runs ("one heavy run at a time");
 * hosted runs may run beside them, since they use no local model memory.
 *
 * ORDER: "high" (heartbeats, `now` wakes) before "normal" (bulk hook runs), FIFO within a priority. A session
 * never has two runs at once and its runs start in submission order (even a later "high" task of the same
 * session waits for its earlier "normal" one). Tasks held back by session or caps do not block others.
 *
 * HEAD OF LINE (starvation policy = EASY backfilling): the first task in order that is blocked by memory
 * becomes the head and holds a reservation in time. From the deadlines of running local runs
 * (start + timeoutMs; a run without a timeout has none) the scheduler computes the shadow time S at which the
 * head is sure to fit, and the GB left over at S after the head starts ("extra"). Another local run may start
 * meanwhile only if it will have ended by S (its own timeout bounds it) or fits in "extra" — so backfill can
 * never delay the head, and the head starts no later than S (plus the time runtimes take to stop on abort). If
 * the head is blocked by the probe (memory used outside clawgate), no local run backfills: it would take the
 * memory the head waits for.
 *
 * COST: a decision looks at no more than `maxScan` local and `maxScan` hosted entries per priority (local and
 * hosted runs queue apart, merged in submission order), so it stays cheap with thousands queued. Runs are
 * launched and events emitted after the decision, so listeners and runs may call back into the scheduler.
 */
import type { MemoryProbe, MemorySample } from "./memory-probe.ts";

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
  /** The run's memory estimate in GB (model-memory.ts); 0 for hosted models. */
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
 * ERR_EXCEEDS_BUDGET: the run's estimate is above the whole budget, so it could never start; retrying does not
 * help (`retryAfterSeconds` is 0) — the operator must raise the budget or pick a smaller model.
 */
export type SubmitRefusal = "ERR_QUEUE_FULL" | "ERR_SCHEDULER_CLOSED" | "ERR_EXCEEDS_BUDGET";

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
  /** Memory the scheduler may reserve in total (GB). */
  readonly budgetGb: number;
  /** Runs with memoryGb ≥ this run alone among local runs. Default: Infinity (never exclusive). */
  readonly exclusiveAboveGb?: number;
  /** Measured available memory must exceed a run's estimate by this much. Default 1 GB. */
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
  /** Clock in ms. Default `Date.now`. */
  readonly now?: () => number;
  readonly setTimer?: (fn: () => void, ms: number) => unknown;
  readonly clearTimer?: (handle: unknown) => void;
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

/** What a runtime throws when a run exceeds its hard memory limit; the run ends "memory_limit". */
export class MemoryLimitError extends Error {
  readonly code = "ERR_MEMORY_LIMIT";
  readonly limitGb: number;
  readonly peakGb: number;
  constructor(limitGb: number, peakGb: number) {
    super(`run exceeded its memory limit of ${limitGb.toFixed(1)} GB (peak ${peakGb.toFixed(1)} GB)`);
    this.name = "MemoryLimitError";
    this.limitGb = limitGb;
    this.peakGb = peakGb;
  }
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

interface Entry {
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

interface TaskList {
  head: Entry | null;
  tail: Entry | null;
  size: number;
}

interface AgentCounters {
  queued: number;
  running: number;
  reservedGb: number;
}

const NO_TIMER: unknown = undefined;

export function createScheduler(options: SchedulerOptions): Scheduler {
  const budgetGb = positiveNumber(options.budgetGb, "budgetGb", true);
  const exclusiveAboveGb = options.exclusiveAboveGb === undefined ? Infinity : positiveNumber(options.exclusiveAboveGb, "exclusiveAboveGb", false);
  const headroomGb = options.headroomGb === undefined ? 1 : nonNegative(options.headroomGb, "headroomGb");
  const maxQueue = positiveInt(options.maxQueue, "maxQueue");
  const maxConcurrent = positiveInt(options.maxConcurrent, "maxConcurrent");
  const probeTtlMs = options.probeTtlMs === undefined ? 1000 : nonNegative(options.probeTtlMs, "probeTtlMs");
  const maxScan = options.maxScan === undefined ? 256 : positiveInt(options.maxScan, "maxScan");
  if (typeof options.memoryProbe !== "function") throw new TypeError("memoryProbe must be a function returning a Promise<MemorySample>");
  const probe = options.memoryProbe;
  const now = options.now ?? Date.now;
  if (typeof now !== "function") throw new TypeError("now must be a function");
  const setTimer = options.setTimer ?? ((fn: () => void, ms: number) => setTimeout(fn, ms));
  const clearTimer = options.clearTimer ?? ((h: unknown) => clearTimeout(h as ReturnType<typeof setTimeout>));
  const capOption = options.perAgentMaxConcurrent;
  const agentCapCache = new Map<string, number>();
  const agentCap = (agentId: string): number => {
    let cap = agentCapCache.get(agentId);
    if (cap === undefined) {
      const raw = typeof capOption === "function" ? capOption(agentId) : capOption?.[agentId];
      cap = raw === undefined ? maxConcurrent : raw;
      if (!Number.isInteger(cap) || cap < 1) throw new TypeError(`perAgentMaxConcurrent for agent "${agentId}" must be a positive integer`);
      agentCapCache.set(agentId, cap);
    }
    return cap;
  };
  if (capOption !== undefined && typeof capOption !== "function") {
    if (typeof capOption !== "object" || capOption === null) throw new TypeError("perAgentMaxConcurrent must be an object or a function");
    for (const id of Object.keys(capOption)) agentCap(id);
  }

  // Local (memoryGb > 0) and hosted runs queue apart, so a long line of runs waiting for memory never hides a
  // hosted run from the bounded scan.
  const highLocal: TaskList = { head: null, tail: null, size: 0 };
  const highHosted: TaskList = { head: null, tail: null, size: 0 };
  const normalLocal: TaskList = { head: null, tail: null, size: 0 };
  const normalHosted: TaskList = { head: null, tail: null, size: 0 };
  const allLists = [highLocal, highHosted, normalLocal, normalHosted];
  const queuedCount = () => highLocal.size + highHosted.size + normalLocal.size + normalHosted.size;
  let submitSeq = 0;
  const byId = new Map<string, Entry>();
  const coalesced = new Map<string, Entry>();
  const running = new Set<Entry>();
  const runningSessions = new Set<string>();
  /** Per session: queued entries in submission order (the first one is the only one that may start). */
  const sessionQueues = new Map<string, Entry[]>();
  const agents = new Map<string, AgentCounters>();
  const listeners: { [E in SchedulerEventName]: Set<(p: SchedulerEvents[E]) => void> } = {
    queued: new Set(),
    started: new Set(),
    finished: new Set(),
    blocked: new Set(),
    idle: new Set(),
  };
  const finishedCounts: Record<RunStatus, number> = { ok: 0, error: 0, timeout: 0, memory_limit: 0, cancelled: 0 };
  let idleWaiters: (() => void)[] = [];

  let reservedGb = 0;
  let localRunning = 0;
  let exclusiveRunning = 0;
  let countedQueue = 0; // queued tasks that count against maxQueue
  let closed = false;

  // Probe cache. `sampleSeq` is the start sequence at the time the probe was *requested*: runs started after it
  // are not visible in the sample yet, so their estimates are subtracted (`unseenGb`).
  let sample: MemorySample | null = null;
  let sampleAt = -Infinity;
  let sampleSeq = 0;
  let unseenGb = 0;
  let probing = false;
  /** True while the decisions a just-arrived reading triggers run: they may use it even if the probe took longer than the TTL. */
  let sampleNew = false;
  let probeFailures = 0;
  let probeRetryTimer: unknown = NO_TIMER;
  let startSeq = 0;

  let blocked: { id: string; reason: BlockedReason } | null = null;
  let decisions = 0;
  let decisionSeconds = 0;
  let avgRunMs = 30_000;

  function emit<E extends SchedulerEventName>(event: E, payload: SchedulerEvents[E]): void {
    for (const fn of listeners[event]) {
      try {
        fn(payload);
      } catch {
        // A listener must not break scheduling.
      }
    }
  }

  function agentOf(agentId: string): AgentCounters {
    let a = agents.get(agentId);
    if (a === undefined) {
      a = { queued: 0, running: 0, reservedGb: 0 };
      agents.set(agentId, a);
    }
    return a;
  }

  function pushList(list: TaskList, e: Entry): void {
    e.list = list;
    e.prev = list.tail;
    e.next = null;
    if (list.tail) list.tail.next = e;
    else list.head = e;
    list.tail = e;
    list.size++;
  }

  function unlink(e: Entry): void {
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

  /** Removes a queued entry from every queued-side index. */
  function dequeue(e: Entry): void {
    unlink(e);
    const sq = e.sessionQueue;
    {
      // Almost always the first element (a session starts in order); cancel may remove any.
      const i = sq[0] === e ? 0 : sq.indexOf(e);
      if (i >= 0) sq.splice(i, 1);
      if (sq.length === 0) sessionQueues.delete(e.info.sessionKey);
    }
    if (e.task.coalesceKey !== undefined) {
      if (coalesced.get(e.task.coalesceKey) === e) coalesced.delete(e.task.coalesceKey);
    } else countedQueue--;
    e.agent.queued--;
  }

  function retryAfterSeconds(): number {
    const queued = queuedCount();
    const est = Math.ceil(((queued / maxConcurrent) * avgRunMs) / 1000);
    return Math.min(3600, Math.max(1, est));
  }

  function submit<R>(task: RunTask<R>): SubmitResult<R> {
    validateTask(task);
    if (closed) return { accepted: false, code: "ERR_SCHEDULER_CLOSED", retryAfterSeconds: 60 };
    if (task.memoryGb > budgetGb) return { accepted: false, code: "ERR_EXCEEDS_BUDGET", retryAfterSeconds: 0 };
    if (byId.has(task.id)) throw new TypeError(`task id "${task.id}" is already queued or running`);
    if (task.coalesceKey !== undefined) {
      const existing = coalesced.get(task.coalesceKey);
      if (existing !== undefined) return { accepted: true, coalesced: true, done: existing.done as Promise<RunOutcome<R>> };
    } else if (countedQueue >= maxQueue) {
      return { accepted: false, code: "ERR_QUEUE_FULL", retryAfterSeconds: retryAfterSeconds() };
    }
    let resolve!: (o: RunOutcome<unknown>) => void;
    const done = new Promise<RunOutcome<unknown>>((r) => (resolve = r));
    const info: TaskInfo = { id: task.id, agentId: task.agentId, sessionKey: task.sessionKey, priority: task.priority, memoryGb: task.memoryGb };
    const cap = agentCap(task.agentId);
    let sessionQueue = sessionQueues.get(task.sessionKey);
    if (sessionQueue === undefined) {
      sessionQueue = [];
      sessionQueues.set(task.sessionKey, sessionQueue);
    }
    const e: Entry = {
      task: task as RunTask<unknown>,
      info,
      local: task.memoryGb > 0,
      exclusive: task.memoryGb > 0 && task.memoryGb >= exclusiveAboveGb,
      queuedAt: now(),
      seq: ++submitSeq,
      sessionQueue,
      agent: agentOf(task.agentId),
      agentCap: cap,
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
    byId.set(task.id, e);
    pushList(task.priority === "high" ? (e.local ? highLocal : highHosted) : e.local ? normalLocal : normalHosted, e);
    sessionQueue.push(e);
    if (task.coalesceKey !== undefined) coalesced.set(task.coalesceKey, e);
    else countedQueue++;
    e.agent.queued++;
    emit("queued", { ...info, queuedAt: e.queuedAt });
    pump();
    return { accepted: true, coalesced: false, done: done as Promise<RunOutcome<R>> };
  }

  function sampleFresh(t: number): boolean {
    return sample !== null && t - sampleAt <= probeTtlMs;
  }

  function refreshProbe(): void {
    if (probing || closed) return;
    probing = true;
    const requestedSeq = startSeq;
    const requestedAt = now();
    let p: Promise<MemorySample>;
    try {
      p = probe();
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (s) => {
        probing = false;
        if (!(Number.isFinite(s.availableGb) && Number.isFinite(s.totalGb))) throw new TypeError("memory probe returned a non-finite sample");
        sample = s;
        probeFailures = 0;
        sampleAt = requestedAt;
        sampleSeq = requestedSeq;
        unseenGb = 0;
        for (const r of running) if (r.startSeq > sampleSeq) unseenGb += r.info.memoryGb;
        sampleNew = true;
        try {
          pump();
        } finally {
          sampleNew = false;
        }
      },
      () => {
        probing = false;
        probeFailures++;
        // Try again after one TTL; until a reading arrives, local runs wait (fail closed: blocked "probe").
        scheduleProbeRetry();
      },
    ).catch(() => {
      probing = false;
      probeFailures++;
      scheduleProbeRetry();
    });
  }

  function scheduleProbeRetry(): void {
    if (probeRetryTimer !== NO_TIMER || closed) return;
    probeRetryTimer = setTimer(() => {
      probeRetryTimer = NO_TIMER;
      sampleAt = -Infinity;
      pump();
    }, Math.max(probeTtlMs, 50));
  }

  /**
   * The decision function: starts every task that may start now. Cost is bounded by `maxScan` local and
   * `maxScan` hosted entries per priority, plus one sort of the running local runs when a head is blocked by
   * memory. Runs are launched (and events emitted) after the decision, so a listener or a run that submits or
   * cancels never changes the queue under it.
   */
  let pumping = false;
  let repump = false;
  const launches: Entry[] = [];
  function pump(): void {
    if (pumping) {
      repump = true;
      return;
    }
    pumping = true;
    try {
      do {
        repump = false;
        const t0 = performance.now();
        const changed = decide();
        decisionSeconds += (performance.now() - t0) / 1000;
        while (launches.length > 0) launch(launches.shift()!);
        if (changed !== null) {
          const b = byId.get(changed.id);
          if (b !== undefined && !running.has(b)) emit("blocked", { ...b.info, reason: changed.reason });
        }
      } while (repump);
    } finally {
      pumping = false;
    }
  }

  /** Returns the new blocked state when it changed (for the "blocked" event), else null. */
  function decide(): { id: string; reason: BlockedReason } | null {
    if (queuedCount() === 0) return null;
    decisions++;
    const t = now();
    let needProbe = false;
    let head: Entry | null = null;
    let headReason: BlockedReason | null = null;
    let firstId: string | null = null;
    let firstReason: BlockedReason | null = null;
    // Backfill window once a head is known.
    let shadow = Infinity;
    let extraGb = 0;
    let extraSlots = 0;

    for (let p = 0; p < 2 && firstReason !== "global_cap"; p++) {
      // Local and hosted runs of one priority, merged in submission order.
      let l = p === 0 ? highLocal.head : normalLocal.head;
      let h = p === 0 ? highHosted.head : normalHosted.head;
      let localScanned = 0;
      let hostedScanned = 0;
      while (l !== null || h !== null) {
        if (running.size >= maxConcurrent) {
          if (firstId === null) {
            firstId = (l !== null && (h === null || l.seq < h.seq) ? l : h)!.info.id;
            firstReason = "global_cap";
          }
          break;
        }
        let e: Entry;
        if (l !== null && (h === null || l.seq < h.seq)) {
          e = l;
          l = ++localScanned >= maxScan ? null : l.next;
        } else {
          e = h!;
          h = ++hostedScanned >= maxScan ? null : h!.next;
        }
        const reason = admit(e, t);
        if (reason === null) {
          if (head !== null && e.local) {
            // Backfill: must end by the shadow time, or fit in what the head leaves over at that time.
            const bound = e.task.timeoutMs === undefined ? Infinity : t + e.task.timeoutMs;
            if (bound <= shadow) start(e, t);
            else if (headReason !== "probe" && e.info.memoryGb <= extraGb && extraSlots > 0 && !e.exclusive) {
              extraGb -= e.info.memoryGb;
              extraSlots--;
              start(e, t);
            }
          } else start(e, t);
        } else if (reason === "probe-stale") {
          needProbe = true;
        } else {
          if (firstId === null) {
            firstId = e.info.id;
            firstReason = reason;
          }
          if (head === null && (reason === "memory" || reason === "exclusive" || reason === "probe")) {
            head = e;
            headReason = reason;
            [shadow, extraGb, extraSlots] = shadowOf(e, t, reason);
          }
        }
      }
    }
    if (needProbe && !sampleFresh(t)) refreshProbe();
    // Memory used outside clawgate only shows in a new reading: look again after one TTL.
    if (headReason === "probe") scheduleProbeRetry();
    if (firstId === null) {
      blocked = null;
      return null;
    }
    if (blocked !== null && blocked.id === firstId && blocked.reason === firstReason) return null;
    blocked = { id: firstId, reason: firstReason! };
    return blocked;
  }

  /** Why `e` cannot start now (null = it can). "probe-stale" = a local run needs a probe reading first. */
  function admit(e: Entry, t: number): BlockedReason | "probe-stale" | null {
    // Cheapest checks first: most entries a long queue holds back are held back by memory.
    if (e.local) {
      if (exclusiveRunning > 0 || (e.exclusive && localRunning > 0)) return "exclusive";
      if (reservedGb + e.info.memoryGb > budgetGb + 1e-9) return "memory";
    }
    if (runningSessions.has(e.info.sessionKey) || e.sessionQueue[0] !== e) return "session";
    if (e.agent.running >= e.agentCap) return "agent_cap";
    if (!e.local) return null;
    if (sample === null) return "probe-stale";
    if (!sampleFresh(t) && !sampleNew) {
      // Wait for a current reading: an old one (the queue may have been idle for hours) predates any memory taken
      // outside clawgate since, so deciding on it would admit a run into memory pressure it cannot see.
      refreshProbe();
      return "probe";
    }
    if (sample.availableGb - unseenGb < e.info.memoryGb + headroomGb) return "probe";
    return null;
  }

  /** [shadow time, GB left over for backfill at that time, run slots left over]. */
  function shadowOf(head: Entry, t: number, reason: BlockedReason): [number, number, number] {
    if (reason === "probe") return [t, 0, 0];
    const locals: Entry[] = [];
    for (const r of running) if (r.local) locals.push(r);
    locals.sort((a, b) => a.deadline - b.deadline);
    let free = budgetGb - reservedGb;
    let slots = maxConcurrent - running.size;
    let s = t;
    let i = 0;
    if (head.exclusive) {
      // Alone among local runs: every local run must have ended.
      for (; i < locals.length; i++) {
        free += locals[i]!.info.memoryGb;
        slots++;
        s = locals[i]!.deadline;
      }
      return [s, 0, 0];
    }
    while (free + 1e-9 < head.info.memoryGb && i < locals.length) {
      free += locals[i]!.info.memoryGb;
      slots++;
      s = locals[i]!.deadline;
      i++;
    }
    if (free + 1e-9 < head.info.memoryGb) return [Infinity, 0, 0];
    return [s, free - head.info.memoryGb, Math.max(0, slots - 1)];
  }

  /** Books a run as started (inside the decision); `launch` then calls it. */
  function start(e: Entry, t: number): void {
    dequeue(e);
    const a = e.agent;
    a.running++;
    runningSessions.add(e.info.sessionKey);
    running.add(e);
    if (e.local) {
      reservedGb += e.info.memoryGb;
      a.reservedGb += e.info.memoryGb;
      localRunning++;
      if (e.exclusive) exclusiveRunning++;
      e.startSeq = ++startSeq;
      if (e.startSeq > sampleSeq) unseenGb += e.info.memoryGb;
    }
    e.startedAt = t;
    if (e.task.timeoutMs !== undefined) e.deadline = t + e.task.timeoutMs;
    launches.push(e);
  }

  function launch(e: Entry): void {
    const controller = new AbortController();
    e.controller = controller;
    const timeoutMs = e.task.timeoutMs;
    if (timeoutMs !== undefined) e.timer = setTimer(() => abortEntry(e, "ERR_RUN_TIMEOUT"), timeoutMs);
    emit("started", { ...e.info, startedAt: e.startedAt, waitedMs: e.startedAt - e.queuedAt });
    let p: Promise<unknown>;
    if (e.abortCode !== null) {
      // Cancelled by a listener between the decision and its launch: never call it.
      controller.abort(abortReason(e));
      p = Promise.reject(abortReason(e));
    } else {
      try {
        p = Promise.resolve(e.task.run({ signal: controller.signal, runId: e.info.id }));
      } catch (err) {
        p = Promise.reject(err);
      }
    }
    p.then(
      (result) => finish(e, e.abortCode === null ? { status: "ok", result } : abortedOutcome(e)),
      (err: unknown) => finish(e, e.abortCode !== null ? abortedOutcome(e) : errorOutcome(err)),
    );
  }

  function abortedOutcome(e: Entry): Partial<RunOutcome> {
    return e.abortCode === "ERR_RUN_TIMEOUT"
      ? { status: "timeout", errorCode: "ERR_RUN_TIMEOUT", errorMessage: `run timed out after ${e.task.timeoutMs} ms` }
      : { status: "cancelled", errorCode: "ERR_RUN_CANCELLED", errorMessage: "run cancelled" };
  }

  function errorOutcome(err: unknown): Partial<RunOutcome> {
    const code = typeof err === "object" && err !== null && typeof (err as { code?: unknown }).code === "string" ? (err as { code: string }).code : "ERR_RUN_FAILED";
    const message = err instanceof Error ? err.message : String(err);
    return { status: code === "ERR_MEMORY_LIMIT" ? "memory_limit" : "error", errorCode: code, errorMessage: message };
  }

  function abortReason(e: Entry): RunAbortedError {
    return e.abortCode === "ERR_RUN_TIMEOUT" ? new RunAbortedError("ERR_RUN_TIMEOUT", `run timed out after ${e.task.timeoutMs} ms`) : new RunAbortedError("ERR_RUN_CANCELLED", "run cancelled");
  }

  function abortEntry(e: Entry, code: "ERR_RUN_TIMEOUT" | "ERR_RUN_CANCELLED"): void {
    if (e.abortCode !== null) return;
    e.abortCode = code;
    e.controller?.abort(abortReason(e));
  }

  function finish(e: Entry, partial: Partial<RunOutcome>): void {
    if (!running.delete(e)) return;
    if (e.timer !== NO_TIMER) clearTimer(e.timer);
    const t = now();
    const a = e.agent;
    a.running--;
    runningSessions.delete(e.info.sessionKey);
    if (e.local) {
      reservedGb -= e.info.memoryGb;
      if (reservedGb < 1e-9) reservedGb = 0;
      a.reservedGb -= e.info.memoryGb;
      localRunning--;
      if (e.exclusive) exclusiveRunning--;
      if (e.startSeq > sampleSeq) unseenGb -= e.info.memoryGb;
      if (unseenGb < 1e-9) unseenGb = 0;
      // The memory it freed is credited by the next reading (at most probeTtlMs away), not now: the process may
      // still be exiting, and a probe per finished run would cost a vm_stat spawn each on macOS.
    }
    byId.delete(e.info.id);
    avgRunMs = avgRunMs * 0.9 + (t - e.startedAt) * 0.1;
    const outcome: RunOutcome = {
      id: e.info.id,
      agentId: e.info.agentId,
      sessionKey: e.info.sessionKey,
      memoryGb: e.info.memoryGb,
      queuedAt: e.queuedAt,
      startedAt: e.startedAt,
      finishedAt: t,
      status: "ok",
      ...partial,
    };
    finishedCounts[outcome.status]++;
    emit("finished", outcome);
    e.resolve(outcome);
    pump();
    checkIdle();
  }

  function cancelQueued(e: Entry): void {
    dequeue(e);
    byId.delete(e.info.id);
    const outcome: RunOutcome = {
      id: e.info.id,
      agentId: e.info.agentId,
      sessionKey: e.info.sessionKey,
      memoryGb: e.info.memoryGb,
      queuedAt: e.queuedAt,
      finishedAt: now(),
      status: "cancelled",
      errorCode: "ERR_RUN_CANCELLED",
      errorMessage: "run cancelled before it started",
    };
    finishedCounts.cancelled++;
    emit("finished", outcome);
    e.resolve(outcome);
  }

  function cancel(id: string): boolean {
    const e = byId.get(id);
    if (e === undefined) return false;
    if (running.has(e)) abortEntry(e, "ERR_RUN_CANCELLED");
    else {
      cancelQueued(e);
      pump(); // a session or head slot may have opened
      checkIdle();
    }
    return true;
  }

  function isIdle(): boolean {
    return running.size === 0 && queuedCount() === 0;
  }

  function checkIdle(): void {
    if (!isIdle()) return;
    blocked = null;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const w of waiters) w();
    emit("idle", {});
  }

  function state(): SchedulerState {
    const perAgent: Record<string, AgentState> = {};
    for (const [id, a] of agents) if (a.queued > 0 || a.running > 0) perAgent[id] = { queued: a.queued, running: a.running, reservedGb: a.reservedGb };
    return {
      queued: queuedCount(),
      queuedHigh: highLocal.size + highHosted.size,
      running: running.size,
      reservedGb,
      budgetGb,
      availableGb: sample?.availableGb ?? null,
      totalGb: sample?.totalGb ?? null,
      perAgent,
      blocked,
      exclusiveRunning: exclusiveRunning > 0,
      probeFailures,
      decisions,
      decisionSecondsTotal: decisionSeconds,
      finished: { ...finishedCounts },
      closed,
    };
  }

  function onIdle(): Promise<void> {
    if (isIdle()) return Promise.resolve();
    return new Promise((r) => idleWaiters.push(r));
  }

  async function close(): Promise<void> {
    closed = true;
    if (probeRetryTimer !== NO_TIMER) {
      clearTimer(probeRetryTimer);
      probeRetryTimer = NO_TIMER;
    }
    for (const list of allLists) while (list.head !== null) cancelQueued(list.head);
    for (const e of running) abortEntry(e, "ERR_RUN_CANCELLED");
    checkIdle();
    await onIdle();
  }

  function on<E extends SchedulerEventName>(event: E, listener: (payload: SchedulerEvents[E]) => void): () => void {
    const set = listeners[event] as Set<(p: SchedulerEvents[E]) => void> | undefined;
    if (set === undefined) throw new TypeError(`unknown scheduler event "${String(event)}"`);
    set.add(listener);
    return () => set.delete(listener);
  }

  function off<E extends SchedulerEventName>(event: E, listener: (payload: SchedulerEvents[E]) => void): void {
    (listeners[event] as Set<(p: SchedulerEvents[E]) => void> | undefined)?.delete(listener);
  }

  return { submit, cancel, on, off, onIdle, state, close };
}

function validateTask(task: RunTask<unknown>): void {
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

function positiveNumber(v: unknown, name: string, finite: boolean): number {
  if (typeof v !== "number" || !(v > 0) || (finite && !Number.isFinite(v))) throw new TypeError(`${name} must be a positive number`);
  return v;
}

function nonNegative(v: unknown, name: string): number {
  if (typeof v !== "number" || !(v >= 0) || !Number.isFinite(v)) throw new TypeError(`${name} must be a finite number ≥ 0`);
  return v;
}

function positiveInt(v: unknown, name: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw new TypeError(`${name} must be a positive integer`);
  return v;
}
