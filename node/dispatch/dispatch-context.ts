/**
 * The state and steps the dispatcher's parts (agent runs, heartbeat runs, the façade) share: the deliveries this
 * process holds, its timers and in-flight completions, settling a journal delivery, and recording a delivery
 * given up before any run of it started.
 */
import type { ThinkingLevel } from "../config/agents-schema.ts";
import type { JournalEntry, IntakeJournal } from "../intake/intake-journal.ts";
import type { SessionStore } from "../sessions/session-store.ts";
import type { SystemEventQueues } from "../sessions/system-events.ts";
import type { AgentTable } from "./agent-table.ts";
import { attemptRunId, runCount } from "./delivery-disposition.ts";
import type { HeartbeatTiming } from "./heartbeat.ts";
import type { ModelMemory } from "./model-memory.ts";
import type { RunLog, RunRecord } from "./run-log.ts";
import { type GiveUp, givenUpRecord } from "./run-records.ts";
import type { Scheduler } from "./scheduler.ts";

export interface DispatcherLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** What a give-up before start knows of the run that was asked for (the agent, model, session and queue time). */
export type AskedRun = Partial<Pick<RunRecord, "agentId" | "sessionKey" | "model" | "queuedAt" | "trigger" | "memoryEstimateGb" | "memoryLimitGb">>;

/** The parts a dispatcher works with, given whole by its owner (the dispatch service). */
export interface DispatchParts {
  readonly journal: IntakeJournal;
  readonly scheduler: Scheduler;
  readonly modelMemory: ModelMemory;
  readonly runLog: RunLog;
  readonly sessions: SessionStore;
  readonly events: SystemEventQueues;
  readonly agents: AgentTable;
  readonly logger: DispatcherLogger;
}

export interface DispatchContext extends DispatchParts {
  readonly maxThinking: ThinkingLevel | undefined;
  readonly maxAttempts: number;
  readonly stallAfterMs: number;
  readonly historyMessages: number;
  readonly now: () => number;
  readonly randomUUID: () => string;
  /** Deliveries this process holds: queued or running in the scheduler, waiting for a retry, or (wakes) waiting in a session queue. */
  readonly held: Map<string, { dueBy: number }>;
  /** Agent deliveries held back by a full scheduler queue: they wait in the journal and count against maxQueue for `admit`. */
  readonly backlog: Set<string>;
  /** Runs submitted and not started yet: a graceful stop cancels them (they stay pending) before waiting. */
  readonly queuedIds: Set<string>;
  readonly heartbeats: Map<string, HeartbeatTiming>;
  /** Completion handlers still running; `close` waits for them. */
  readonly inFlight: Set<Promise<unknown>>;
  /** Delayed steps (retries); `close` clears them. */
  readonly pendingTimers: Set<unknown>;
  /** Set by `close`: no new work starts. */
  closing: boolean;
  /** Follows a run's completion handler; if it throws, its deliveries are released for the sweep to retry. */
  track(p: Promise<unknown>, deliveryIds: () => readonly string[]): void;
  /** Runs `fn`, logging instead of throwing (timer callbacks must never end the process). */
  guard(fn: () => void, message: string): void;
  /** Runs `fn` after `ms` unless the dispatcher is closing by then. */
  later(fn: () => void, ms: number): void;
  settle(deliveryId: string, state: "done" | "dead"): void;
  /** The retry backoff before attempt `attempt + 1`: retryDelayMs × 2^(attempt−1). */
  backoff(attempt: number): number;
  /** Records a delivery given up before any run of it started, and settles it dead. */
  giveUpDelivery(delivery: JournalEntry, kind: "agent" | "heartbeat", giveUp: GiveUp, asked?: AskedRun): void;
}

export interface DispatchContextOptions
  extends DispatchParts,
    Pick<DispatchContext, "maxThinking" | "maxAttempts" | "stallAfterMs" | "historyMessages" | "now" | "randomUUID"> {
  readonly retryDelayMs: number;
  readonly setTimer: (fn: () => void, ms: number) => unknown;
}

export function createDispatchContext(o: DispatchContextOptions): DispatchContext {
  const { journal, runLog, logger, now, setTimer } = o;
  const ctx: DispatchContext = {
    journal,
    scheduler: o.scheduler,
    modelMemory: o.modelMemory,
    runLog,
    sessions: o.sessions,
    events: o.events,
    agents: o.agents,
    logger,
    maxThinking: o.maxThinking,
    maxAttempts: o.maxAttempts,
    stallAfterMs: o.stallAfterMs,
    historyMessages: o.historyMessages,
    now,
    randomUUID: o.randomUUID,
    held: new Map(),
    backlog: new Set(),
    queuedIds: new Set(),
    heartbeats: new Map(),
    inFlight: new Set(),
    pendingTimers: new Set(),
    closing: false,
    track(p, deliveryIds) {
      // A run log that cannot be written (disk full) must not become an unhandled rejection that ends the process.
      const guarded = p.catch((error: unknown) => {
        logger.error({ err: error }, "finishing a run failed; its deliveries stay pending and are retried");
        for (const id of deliveryIds()) ctx.held.delete(id);
      });
      ctx.inFlight.add(guarded);
      void guarded.finally(() => ctx.inFlight.delete(guarded));
    },
    guard(fn, message) {
      try {
        fn();
      } catch (error) {
        logger.error({ err: error }, message);
      }
    },
    later(fn, ms) {
      const handle = setTimer(() => {
        ctx.pendingTimers.delete(handle);
        if (!ctx.closing) ctx.guard(fn, "a delayed dispatch step failed; the sweep retries from the journal");
      }, ms);
      ctx.pendingTimers.add(handle);
    },
    settle(deliveryId, state) {
      ctx.held.delete(deliveryId);
      try {
        journal.settle(deliveryId, state);
      } catch (error) {
        // The run record is written: the next start (or sweep) settles it from there.
        logger.error({ err: error, deliveryId }, "could not settle a delivery; it will be settled from the run log");
      }
    },
    backoff: (attempt) => o.retryDelayMs * 2 ** Math.max(0, attempt - 1),
    giveUpDelivery(delivery, kind, giveUp, asked = {}) {
      // A replayed delivery already has runs: a new id keeps its earlier records (attempt 1 is `runIdOf`) intact.
      const ran = runCount(runLog.forDelivery(delivery.deliveryId));
      runLog.write(
        givenUpRecord(
          {
            id: kind === "agent" ? attemptRunId(delivery, ran + 1) : o.randomUUID(),
            kind,
            agentId: asked.agentId ?? o.agents.defaultAgentId,
            sessionKey: asked.sessionKey ?? "",
            ...(asked.model !== undefined ? { model: asked.model } : {}),
            deliveryIds: [delivery.deliveryId],
            attempt: ran + 1,
            ...(asked.trigger !== undefined ? { trigger: asked.trigger } : {}),
            ...(asked.queuedAt !== undefined ? { queuedAt: asked.queuedAt } : {}),
            ...(asked.memoryEstimateGb !== undefined ? { memoryEstimateGb: asked.memoryEstimateGb } : {}),
            ...(asked.memoryLimitGb !== undefined ? { memoryLimitGb: asked.memoryLimitGb } : {}),
            finishedAt: now(),
          },
          giveUp,
        ),
      );
      logger.error({ deliveryId: delivery.deliveryId, code: giveUp.code }, `delivery dead: ${giveUp.message}`);
      ctx.settle(delivery.deliveryId, "dead");
    },
  };
  return ctx;
}
