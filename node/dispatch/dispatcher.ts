/**
 * The dispatcher: consumes the intake journal (pending deliveries at start — they survived a restart — and each
 * new one as it is accepted), turns wake/agent deliveries into scheduler tasks sized by the model's memory
 * estimate, runs them on the agent's runtime with the session's history, records every run in the run log and
 * only then settles the journal delivery (`done`, or `dead` with a reason after bounded retries). A restart
 * settles a delivery whose run already finished instead of running it again, and retries (visibly, as a new
 * attempt) one whose run was cut off. This file is the façade: the delivery's front door (disposition, then an
 * agent run or a wake), heartbeat timing, replay, health and graceful stop; the parts live in
 * delivery-disposition.ts, agent-runs.ts, heartbeat-runs.ts and run-records.ts, and share dispatch-context.ts.
 */
import type { ThinkingLevel } from "../config/agents-schema.ts";
import type { DaemonIo } from "../io/daemon-io.ts";
import type { JournalEntry } from "../intake/intake-journal.ts";
import type { SecretsEvent } from "../secrets/secrets-reloader.ts";
import { mainSessionKey } from "../sessions/session-store.ts";
import { createAgentRuns } from "./agent-runs.ts";
import { runCount, dispositionOf } from "./delivery-disposition.ts";
import { type DispatchParts, createDispatchContext } from "./dispatch-context.ts";
import { createHeartbeatRuns } from "./heartbeat-runs.ts";
import { createHeartbeatTiming } from "./heartbeat.ts";

export type { DispatcherLogger } from "./dispatch-context.ts";

/** Failed memory probe readings in a row (about one per `probeIntervalMs`) before /readyz reports it: one is a blip. */
const PROBE_FAILURES_NOT_READY = 3;

export interface DispatcherOptions extends DispatchParts {
  /** Queued agent runs before `admit` refuses (the hook answers 503 + Retry-After). */
  readonly maxQueue: number;
  readonly maxThinking?: ThinkingLevel | undefined;
  /** Runs per delivery before it is given up (`dead`). Default 3. */
  readonly maxAttempts?: number;
  /** First delay before retrying a failed run; doubles per attempt. Default 5 s. */
  readonly retryDelayMs?: number;
  /** A pending delivery older than its due time + this, with the scheduler idle, means "dispatch stalled". Default 120 s. */
  readonly stallAfterMs?: number;
  /** How often the journal is swept for pending deliveries the dispatcher does not hold (held back by a full queue, missed). Default 30 s. */
  readonly sweepIntervalMs?: number;
  /**
   * False when the config has no `agents` section: the node is then an intake only — deliveries stay pending
   * in the journal (listed by the admin API) until agents are configured and the node restarts. Default true.
   */
  readonly enabled?: boolean;
  /** Session turns fed to a run. Default 50. */
  readonly historyMessages?: number;
  /** Clock (ms), timers and run ids. */
  readonly io: Pick<DaemonIo, "now" | "setTimer" | "clearTimer" | "randomUUID">;
}

export interface DispatchHealth {
  readonly ok: boolean;
  readonly problem?: string;
  readonly oldestPendingAgeMs: number | null;
}

export interface Dispatcher {
  /** Picks up pending deliveries (restart) and starts heartbeats. */
  start(): void;
  /** For the hook intake: refuse a new agent run while the queue is full. */
  admit(kind: "wake" | "agent"): { readonly ok: true } | { readonly ok: false; readonly retryAfterSeconds: number };
  /** For the hook intake: a delivery was just journaled. */
  onAccepted(delivery: JournalEntry): void;
  /** SECRETS_RELOADER_DEGRADED/RECOVERED become system events of the default agent's main session. */
  onSecretsEvent(event: SecretsEvent): void;
  /**
   * An operator's replay of a dead delivery (docs/cli.md, `clawgate intake replay`): a `replayed` marker goes to the run log first, then
   * the journal revives it (dead → pending) and it takes the normal path with a fresh set of attempts. Crash-safe
   * in either gap: marker without revive leaves it dead (replaying again only adds a marker); revived but not yet
   * run, the next start or sweep runs it once. Anything but a dead delivery is refused.
   */
  replay(deliveryId: string, by?: string): ReplayResult;
  health(): DispatchHealth;
  /** Deliveries held (queued, running or waiting for a retry). */
  held(): number;
  /**
   * Graceful stop: refuse new work, cancel queued runs, let running ones finish for up to `graceMs`, then abort
   * them. Whatever did not finish stays pending in the journal for the next start.
   */
  close(graceMs?: number): Promise<void>;
}

export type ReplayResult =
  | { readonly ok: true; readonly deliveryId: string }
  | { readonly ok: false; readonly code: "ERR_DELIVERY_NOT_FOUND" | "ERR_DELIVERY_NOT_DEAD"; readonly message: string };

export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const { journal, scheduler, runLog, events, agents, logger } = options;
  const maxAttempts = options.maxAttempts ?? 3;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new TypeError("maxAttempts must be a positive integer");
  if (!Number.isInteger(options.maxQueue) || options.maxQueue < 1) throw new TypeError("maxQueue must be a positive integer");
  const sweepIntervalMs = options.sweepIntervalMs ?? 30_000;
  const stallAfterMs = options.stallAfterMs ?? 120_000;
  const { now, setTimer, clearTimer, randomUUID } = options.io;
  const ctx = createDispatchContext({
    journal,
    scheduler,
    modelMemory: options.modelMemory,
    runLog,
    sessions: options.sessions,
    events,
    agents,
    logger,
    maxThinking: options.maxThinking,
    maxAttempts,
    retryDelayMs: options.retryDelayMs ?? 5_000,
    stallAfterMs,
    historyMessages: options.historyMessages ?? 50,
    now,
    setTimer,
    randomUUID,
  });
  const { held, backlog, queuedIds, heartbeats, guard } = ctx;
  const agentRuns = createAgentRuns(ctx, (delivery) => handle(delivery));
  const heartbeatRuns = createHeartbeatRuns(ctx);
  scheduler.on("started", (info) => queuedIds.delete(info.id));
  let started = false;
  let sweepTimer: unknown;

  // ---------------------------------------------------------------- intake

  function handle(delivery: JournalEntry): void {
    if (ctx.closing || held.has(delivery.deliveryId) || events.hasDelivery(delivery.deliveryId)) return;
    if (delivery.kind !== "agent" && delivery.kind !== "wake") {
      return ctx.giveUpDelivery(delivery, "agent", { code: "ERR_UNKNOWN_KIND", message: `deliveries of kind "${delivery.kind}" cannot be dispatched` });
    }
    const d = dispositionOf(runLog, delivery.deliveryId, maxAttempts, now);
    if ("settle" in d) {
      logger.info({ deliveryId: delivery.deliveryId, state: d.settle }, "delivery already ran; settled from the run log");
      ctx.settle(delivery.deliveryId, d.settle);
      return;
    }
    if (delivery.kind === "agent") agentRuns.run(delivery, d.attempt, d.failedRuns);
    else heartbeatRuns.wake(delivery, d.failedRuns);
  }

  function sweep(): void {
    sweepTimer = undefined;
    if (ctx.closing) return;
    try {
      for (const d of journal.pending(1000)) guard(() => handle(d), "dispatching a pending delivery failed");
    } catch (error) {
      logger.error({ err: error }, "journal sweep failed");
    }
    sweepTimer = setTimer(sweep, sweepIntervalMs);
  }

  return {
    start() {
      if (started || options.enabled === false) return;
      started = true;
      for (const agent of agents.agents.values()) {
        const main = mainSessionKey(agent.id);
        const timing = createHeartbeatTiming({
          agentId: agent.id,
          everyMs: agent.heartbeat.everyMs,
          activeHours: agent.heartbeat.activeHours,
          maxEventDelayMs: agent.heartbeat.maxEventDelayMs,
          oldestEventAt: () => events.oldestAt(main),
          run: (trigger) => guard(() => heartbeatRuns.run(agent, trigger), "starting a heartbeat failed"),
          skipped: (reason) =>
            guard(() => runLog.write({ id: randomUUID(), kind: "heartbeat", agentId: agent.id, sessionKey: main, status: "skipped", skipReason: reason, deliveryIds: [], attempt: 1, trigger: "interval", finishedAt: now() }), "recording a skipped heartbeat failed"),
          now,
          setTimer,
          clearTimer,
        });
        heartbeats.set(agent.id, timing);
      }
      for (const timing of heartbeats.values()) timing.start();
      sweep();
    },
    admit(kind) {
      if (ctx.closing) return { ok: false, retryAfterSeconds: 30 };
      if (kind === "wake") return { ok: true }; // wakes are never refused: they coalesce into one heartbeat
      const st = scheduler.state();
      const queuedAgentRuns = st.queued - st.queuedHigh + backlog.size;
      if (queuedAgentRuns < options.maxQueue) return { ok: true };
      const perSlot = 30;
      return { ok: false, retryAfterSeconds: Math.min(3600, Math.max(1, Math.ceil((queuedAgentRuns / Math.max(1, st.running || 1)) * perSlot))) };
    },
    onAccepted(delivery) {
      if (!started) return; // start() picks it up from the journal
      try {
        handle(delivery);
      } catch (error) {
        // It is journaled: the sweep tries again.
        logger.error({ err: error, deliveryId: delivery.deliveryId }, "dispatching a delivery failed; the sweep retries it");
      }
    },
    onSecretsEvent(event) {
      if (options.enabled === false) return;
      const main = mainSessionKey(agents.defaultAgentId);
      events.enqueue(main, { text: `${event.type}: ${event.message}`, at: event.at.getTime() });
      heartbeats.get(agents.defaultAgentId)?.noteEvent();
    },
    replay(deliveryId, by = "admin-api") {
      const delivery = journal.get(deliveryId);
      if (!delivery) return { ok: false, code: "ERR_DELIVERY_NOT_FOUND", message: "delivery not found" };
      if (delivery.state !== "dead") return { ok: false, code: "ERR_DELIVERY_NOT_DEAD", message: "delivery is not dead" };
      let agentId = agents.defaultAgentId;
      try {
        const requested = (JSON.parse(delivery.payload) as { agentId?: unknown }).agentId;
        if (typeof requested === "string" && requested !== "") agentId = requested;
      } catch {
        // an unreadable payload is given up again by the normal path, visibly
      }
      // Marker first, revive second: a revived delivery without its marker would be settled dead at once again.
      runLog.write({
        id: `replay-${randomUUID()}`,
        kind: "replay",
        agentId,
        sessionKey: "",
        status: "replayed",
        deliveryIds: [deliveryId],
        attempt: runCount(runLog.forDelivery(deliveryId)),
        finishedAt: now(),
        replayedBy: by,
      });
      if (!journal.revive(deliveryId)) return { ok: false, code: "ERR_DELIVERY_NOT_DEAD", message: "delivery is not dead" };
      logger.info({ deliveryId, by }, "dead delivery replayed");
      // Not started (intake-only node) or stopping: it waits pending in the journal for the next start.
      if (started && !ctx.closing) guard(() => handle({ ...delivery, state: "pending" }), "dispatching a replayed delivery failed; the sweep retries it");
      return { ok: true, deliveryId };
    },
    health() {
      if (options.enabled === false) return { ok: true, oldestPendingAgeMs: null };
      let oldest: JournalEntry | undefined;
      let pending: JournalEntry[];
      try {
        pending = journal.pending(100);
      } catch {
        return { ok: false, problem: "intake journal unavailable", oldestPendingAgeMs: null };
      }
      oldest = pending[0];
      const t = now();
      const oldestPendingAgeMs = oldest ? t - oldest.receivedAt : null;
      const st = scheduler.state();
      // Waiting for memory is progress; waiting on a probe that keeps failing is not: no local run can start.
      if (st.probeFailures >= PROBE_FAILURES_NOT_READY) return { ok: false, problem: "memory probe failing", oldestPendingAgeMs };
      // A busy or memory-blocked scheduler is progressing (or waiting for memory, which /metrics shows).
      if (st.running > 0 || st.queued > 0) return { ok: true, oldestPendingAgeMs };
      for (const d of pending) {
        const dueBy = held.get(d.deliveryId)?.dueBy ?? d.receivedAt + stallAfterMs;
        if (t > dueBy) return { ok: false, problem: "dispatch stalled", oldestPendingAgeMs };
      }
      return { ok: true, oldestPendingAgeMs };
    },
    held: () => held.size,
    async close(graceMs = 10_000) {
      if (ctx.closing) return;
      ctx.closing = true;
      if (sweepTimer !== undefined) clearTimer(sweepTimer);
      for (const timing of heartbeats.values()) timing.stop();
      for (const handle of ctx.pendingTimers) clearTimer(handle);
      ctx.pendingTimers.clear();
      for (const id of [...queuedIds]) scheduler.cancel(id);
      queuedIds.clear();
      const st = scheduler.state();
      if (st.running > 0) {
        let timer: unknown;
        await Promise.race([
          // Queued runs are not started any more: only the running ones get the grace period.
          (async () => {
            await scheduler.onIdle();
          })(),
          new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
        ]);
        clearTimeout(timer as ReturnType<typeof setTimeout>);
      }
      await scheduler.close();
      await Promise.allSettled([...ctx.inFlight]);
      runLog.close();
    },
  };
}

