/**
 * The memory-aware run scheduler: a p-queue-like queue whose admission rule is memory (reserved GiB against a
 * budget, and the host's measured available memory), with priorities, per-session serialization, per-agent and
 * global concurrency caps, exclusive heavy runs, per-run timeouts and an EASY-backfilling head-of-line policy.
 *
 * CONTRACT (stable; the dispatcher and runtimes code against it):
 * - `createScheduler(options)` validates options once (TypeError naming the option) and returns a `Scheduler`.
 * - `submit(task)` throws a TypeError only for a malformed task or an id already queued or running; it answers `{ accepted: true, done }` or
 *   `{ accepted: false, code: "ERR_QUEUE_FULL" | "ERR_SCHEDULER_CLOSED" | "ERR_OVER_BUDGET", retryAfterSeconds }`.
 *   `done` never rejects: it resolves with a `RunOutcome` whose `status` is one of
 *   "ok" | "error" | "timeout" | "memory_limit" | "cancelled".
 * - `task.run({ signal, runId })` is called at most once. The scheduler aborts `signal` on timeout, `cancel(id)`
 *   and `close()`; the runtime must then stop (kill its children) and settle. Memory stays reserved until `run`
 *   settles, so a runtime that ignores its signal keeps its reservation (and `done` waits) — that is a runtime bug.
 * - A runtime reports "the run exceeded its hard memory limit" by rejecting with an error whose `code` is
 *   `ERR_MEMORY_LIMIT` (e.g. `MemoryLimitError`, node/runtimes/runtime-types.ts) → status "memory_limit". Any other rejection → "error"
 *   with the error's `code` (or "ERR_RUN_FAILED"). A rejection after the timeout fired → "timeout"; after a
 *   cancel → "cancelled".
 * - Events (closed set, see `SchedulerEvents`): "queued", "started", "finished", "blocked", "idle".
 *   Listeners run synchronously; a throwing listener is ignored (it must not break scheduling).
 * - `state()` is a cheap snapshot for `/metrics` and the admin API. `onIdle()` resolves when nothing is queued
 *   or running. `close()` refuses new tasks, cancels queued ones, aborts running ones and resolves when idle.
 *
 * ADMISSION (docs/dispatch.md, "Memory-aware scheduling"; all figures in GiB): a run with `memoryGb > 0` starts only if
 *   reservedGb + memoryGb ≤ budgetGb  AND  measured availableGb − (GiB started since that sample) ≥ memoryGb + headroomGb.
 * A reading is reused for `probeTtlMs`; a local run that finds it older waits for a new one (a reading is decided
 * on at least once when it arrives, however slow the probe), and until the first one, or while the probe fails, no
 * local run starts. Runs with `memoryGb === 0` (hosted models) reserve nothing and skip both memory checks.
 * Runs with `memoryGb > exclusiveAboveGb` (strictly above) run alone among local runs ("one heavy run at a time");
 * hosted runs may run beside them, since they use no local model memory.
 *
 * ORDER: "high" (heartbeats, `now` wakes) before "normal" (bulk hook runs), FIFO within a priority. A session
 * never has two runs at once and its runs start in submission order (even a later "high" task of the same
 * session waits for its earlier "normal" one). Tasks held back by session or caps do not block others.
 *
 * HEAD OF LINE (starvation policy = EASY backfilling): the first task in order that is blocked by memory
 * becomes the head and holds a reservation in time. From the deadlines of running local runs
 * (start + timeoutMs; a run without a timeout has none) the scheduler computes the shadow time S at which the
 * head is sure to fit, and the GiB left over at S after the head starts ("extra"). Another local run may start
 * meanwhile only if it will have ended by S (its own timeout bounds it) or fits in "extra" — so backfill can
 * never delay the head, and the head starts no later than S (plus the time runtimes take to stop on abort). If
 * the head is blocked by the probe (memory used outside clawgate), no local run backfills: it would take the
 * memory the head waits for.
 *
 * COST: a decision looks at no more than `maxScan` local and `maxScan` hosted entries per priority (local and
 * hosted runs queue apart, merged in submission order), so it stays cheap with thousands queued. Runs are
 * launched and events emitted after the decision, so listeners and runs may call back into the scheduler.
 *
 * FILES: this one holds the decision (admission, order, head of line) and the run lifecycle; scheduler-types.ts the
 * public types and errors, scheduler-options.ts option validation, scheduler-queue.ts the queued entries and their
 * lists, backfill-window.ts the shadow-time computation, probe-readings.ts the probe cache, scheduler-events.ts
 * the listeners.
 */
import { backfillWindow } from "./backfill-window.ts";
import { createProbeReadings } from "./probe-readings.ts";
import { createSchedulerEmitter } from "./scheduler-events.ts";
import { resolveSchedulerOptions } from "./scheduler-options.ts";
import { type AgentCounters, type Entry, NO_TIMER, type TaskList, abortReason, abortedOutcome, createEntry, emptyList, errorOutcome, pushList, unlink, validateTask } from "./scheduler-queue.ts";
import type { AgentState, BlockedReason, RunOutcome, RunStatus, RunTask, Scheduler, SchedulerOptions, SchedulerState, SubmitResult } from "./scheduler-types.ts";

export * from "./scheduler-types.ts";

export function createScheduler(options: SchedulerOptions): Scheduler {
  const { budgetGb, exclusiveAboveGb, headroomGb, maxQueue, maxConcurrent, probeTtlMs, maxScan, probe, now, setTimer, clearTimer, agentCap } = resolveSchedulerOptions(options);

  // Local (memoryGb > 0) and hosted runs queue apart, so a long line of runs waiting for memory never hides a
  // hosted run from the bounded scan.
  const highLocal: TaskList = emptyList();
  const highHosted: TaskList = emptyList();
  const normalLocal: TaskList = emptyList();
  const normalHosted: TaskList = emptyList();
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
  const { emit, on, off } = createSchedulerEmitter();
  const finishedCounts: Record<RunStatus, number> = { ok: 0, error: 0, timeout: 0, memory_limit: 0, cancelled: 0 };
  let idleWaiters: (() => void)[] = [];

  let reservedGb = 0;
  let localRunning = 0;
  let exclusiveRunning = 0;
  let countedQueue = 0; // queued tasks that count against maxQueue
  let closed = false;

  // Probe readings. A reading's `sampleSeq` is the start sequence at the time the probe was *requested*: runs
  // started after it are not visible in the sample yet, so their estimates are subtracted (`unseenGb`).
  let unseenGb = 0;
  let startSeq = 0;
  const readings = createProbeReadings({
    probe,
    probeTtlMs,
    now,
    setTimer,
    clearTimer,
    startSeq: () => startSeq,
    onReading() {
      unseenGb = 0;
      for (const r of running) if (r.startSeq > readings.sampleSeq) unseenGb += r.info.memoryGb;
      pump();
    },
    onRetry: () => pump(),
  });

  let blocked: { id: string; reason: BlockedReason } | null = null;
  let decisions = 0;
  let decisionSeconds = 0;
  let avgRunMs = 30_000;

  function agentOf(agentId: string): AgentCounters {
    let a = agents.get(agentId);
    if (a === undefined) {
      a = { queued: 0, running: 0, reservedGb: 0 };
      agents.set(agentId, a);
    }
    return a;
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
    if (task.memoryGb > budgetGb) return { accepted: false, code: "ERR_OVER_BUDGET", retryAfterSeconds: 0 };
    if (byId.has(task.id)) throw new TypeError(`task id "${task.id}" is already queued or running`);
    if (task.coalesceKey !== undefined) {
      const existing = coalesced.get(task.coalesceKey);
      if (existing !== undefined) return { accepted: true, coalesced: true, done: existing.done as Promise<RunOutcome<R>> };
    } else if (countedQueue >= maxQueue) {
      return { accepted: false, code: "ERR_QUEUE_FULL", retryAfterSeconds: retryAfterSeconds() };
    }
    const cap = agentCap(task.agentId);
    let sessionQueue = sessionQueues.get(task.sessionKey);
    if (sessionQueue === undefined) {
      sessionQueue = [];
      sessionQueues.set(task.sessionKey, sessionQueue);
    }
    const e = createEntry(task as RunTask<unknown>, { exclusiveAboveGb, queuedAt: now(), seq: ++submitSeq, sessionQueue, agent: agentOf(task.agentId), agentCap: cap });
    byId.set(task.id, e);
    pushList(task.priority === "high" ? (e.local ? highLocal : highHosted) : e.local ? normalLocal : normalHosted, e);
    sessionQueue.push(e);
    if (task.coalesceKey !== undefined) coalesced.set(task.coalesceKey, e);
    else countedQueue++;
    e.agent.queued++;
    emit("queued", { ...e.info, queuedAt: e.queuedAt });
    pump();
    return { accepted: true, coalesced: false, done: e.done as Promise<RunOutcome<R>> };
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
            [shadow, extraGb, extraSlots] = backfillWindow(e, t, reason, { running, budgetGb, reservedGb, maxConcurrent });
          }
        }
      }
    }
    if (needProbe && !readings.fresh(t)) readings.refresh();
    // Memory used outside clawgate only shows in a new reading: look again after one TTL.
    if (headReason === "probe") readings.scheduleRetry();
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
    const sample = readings.sample;
    if (sample === null) return "probe-stale";
    if (!readings.fresh(t) && !readings.isNew) {
      // Wait for a current reading: an old one (the queue may have been idle for hours) predates any memory taken
      // outside clawgate since, so deciding on it would admit a run into memory pressure it cannot see.
      readings.refresh();
      return "probe";
    }
    if (sample.availableGb - unseenGb < e.info.memoryGb + headroomGb) return "probe";
    return null;
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
      if (e.startSeq > readings.sampleSeq) unseenGb += e.info.memoryGb;
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
      if (e.startSeq > readings.sampleSeq) unseenGb -= e.info.memoryGb;
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
      availableGb: readings.sample?.availableGb ?? null,
      totalGb: readings.sample?.totalGb ?? null,
      perAgent,
      blocked,
      exclusiveRunning: exclusiveRunning > 0,
      probeFailures: readings.failures,
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
    readings.close();
    for (const list of allLists) while (list.head !== null) cancelQueued(list.head);
    for (const e of running) abortEntry(e, "ERR_RUN_CANCELLED");
    checkIdle();
    await onIdle();
  }

  return { submit, cancel, on, off, onIdle, state, close };
}
