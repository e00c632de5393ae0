/**
 * The dispatcher: consumes the intake journal (pending deliveries at start — they survived a restart — and each
 * new one as it is accepted), turns wake/agent deliveries into scheduler tasks sized by the model's memory
 * estimate, runs them on the agent's runtime with the session's history, records every run in the run log and
 * only then settles the journal delivery (`done`, or `dead` with a reason after bounded retries). A restart
 * settles a delivery whose run already finished instead of running it again, and retries (visibly, as a new
 * attempt) one whose run was cut off. Heartbeats, system events and the hook summary live here too.
 */
import { randomUUID as nodeRandomUUID } from "node:crypto";
import type { ThinkingLevel } from "../config/agents-schema.ts";
import type { JournalEntry, IntakeJournal } from "../intake/intake-journal.ts";
import type { AgentRuntime, RuntimeRequest, RuntimeResult } from "../runtimes/runtime-types.ts";
import type { SecretsEvent } from "../secrets/secrets-reloader.ts";
import type { SessionStore } from "../sessions/session-store.ts";
import { mainSessionKey, storedSessionKey } from "../sessions/session-store.ts";
import { type SystemEvent, type SystemEventQueues, systemLines } from "../sessions/system-events.ts";
import type { AgentTable, ResolvedAgent } from "./agent-table.ts";
import { clampThinking } from "./dispatch-settings.ts";
import { type HeartbeatTiming, type HeartbeatTrigger, createHeartbeatTiming, isHeartbeatAck } from "./heartbeat.ts";
import type { ModelMemory } from "./model-memory.ts";
import type { RunLog, RunRecord } from "./run-log.ts";
import type { RunOutcome, Scheduler } from "./scheduler.ts";

/** Failed memory probe readings in a row (about one per `probeIntervalMs`) before /readyz reports it: one is a blip. */
const PROBE_FAILURES_NOT_READY = 3;

export interface DispatcherLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface DispatcherOptions {
  readonly journal: IntakeJournal;
  readonly scheduler: Scheduler;
  readonly modelMemory: ModelMemory;
  readonly runLog: RunLog;
  readonly sessions: SessionStore;
  readonly events: SystemEventQueues;
  readonly agents: AgentTable;
  readonly logger: DispatcherLogger;
  /** Queued agent runs before `admit` refuses (the hook answers 503 + Retry-After). */
  readonly maxQueue: number;
  readonly maxThinking?: ThinkingLevel | undefined;
  /** Runs per delivery before it is given up (`dead`). Default 3. */
  readonly maxAttempts?: number;
  /** First delay before retrying a failed run; doubles per attempt. Default 5 s. */
  readonly retryDelayMs?: number;
  /** A pending delivery older than its due time + this, with the scheduler idle, means "dispatch stalled". Default 120 s. */
  readonly stallAfterMs?: number;
  /** How often the journal is swept for pending deliveries the dispatcher does not hold (refused, missed). Default 30 s. */
  readonly sweepIntervalMs?: number;
  /**
   * False when the config has no `agents` section: the node is then an intake only — deliveries stay pending
   * in the journal (listed by the admin API) until agents are configured and the node restarts. Default true.
   */
  readonly enabled?: boolean;
  /** Session turns fed to a run. Default 50. */
  readonly historyMessages?: number;
  readonly now?: () => number;
  readonly setTimer?: (fn: () => void, ms: number) => unknown;
  readonly clearTimer?: (handle: unknown) => void;
  readonly randomUUID?: () => string;
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

interface AgentPayloadJson {
  message: string;
  name?: string;
  agentId?: string;
  sessionKey: string;
  wakeMode?: "now" | "next-heartbeat";
  model?: string;
  thinking?: string;
  timeoutSeconds?: number;
}

interface WakePayloadJson {
  text: string;
  mode?: "now" | "next-heartbeat";
}

const RETRY_STATUSES = new Set(["error"]);

export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const { journal, scheduler, modelMemory, runLog, sessions, events, agents, logger } = options;
  const maxAttempts = options.maxAttempts ?? 3;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new TypeError("maxAttempts must be a positive integer");
  if (!Number.isInteger(options.maxQueue) || options.maxQueue < 1) throw new TypeError("maxQueue must be a positive integer");
  const retryDelayMs = options.retryDelayMs ?? 5_000;
  const stallAfterMs = options.stallAfterMs ?? 120_000;
  const sweepIntervalMs = options.sweepIntervalMs ?? 30_000;
  const historyMessages = options.historyMessages ?? 50;
  const now = options.now ?? Date.now;
  const setTimer = options.setTimer ?? ((fn: () => void, ms: number) => setTimeout(fn, ms).unref());
  const clearTimer = options.clearTimer ?? ((h: unknown) => clearTimeout(h as ReturnType<typeof setTimeout>));
  const randomUUID = options.randomUUID ?? nodeRandomUUID;

  /** Deliveries this process holds: queued or running in the scheduler, waiting for a retry, or (wakes) waiting in a session queue. */
  const held = new Map<string, { dueBy: number }>();
  /** Agent deliveries refused by a full queue: retried by the sweep. */
  const pendingTimers = new Set<unknown>();
  const inFlight = new Set<Promise<unknown>>();
  const heartbeats = new Map<string, HeartbeatTiming>();
  /** Runs submitted and not started yet: a graceful stop cancels them (they stay pending) before waiting. */
  const queuedIds = new Set<string>();
  /** Agent deliveries the scheduler refused (queue full): they wait in the journal and count against maxQueue for `admit`. */
  const backlog = new Set<string>();
  scheduler.on("started", (info) => queuedIds.delete(info.id));
  let closing = false;
  let started = false;
  let sweepTimer: unknown;

  /**
   * Follows a run's completion handler. If it throws (the run log cannot be written: disk full), the delivery is
   * released so the sweep retries it from the journal — never an unhandled rejection that would end the process.
   */
  const track = (p: Promise<unknown>, deliveryIds: () => readonly string[]): void => {
    const guarded = p.catch((error: unknown) => {
      logger.error({ err: error }, "finishing a run failed; its deliveries stay pending and are retried");
      for (const id of deliveryIds()) held.delete(id);
    });
    inFlight.add(guarded);
    void guarded.finally(() => inFlight.delete(guarded));
  };

  /** Timer callbacks must never throw (an uncaught exception would end the agent): log, and let the sweep retry. */
  const guard = (fn: () => void, message: string) => {
    try {
      fn();
    } catch (error) {
      logger.error({ err: error }, message);
    }
  };

  const later = (fn: () => void, ms: number) => {
    const handle = setTimer(() => {
      pendingTimers.delete(handle);
      if (!closing) guard(fn, "a delayed dispatch step failed; the sweep retries from the journal");
    }, ms);
    pendingTimers.add(handle);
  };

  const settle = (deliveryId: string, state: "done" | "dead") => {
    held.delete(deliveryId);
    try {
      journal.settle(deliveryId, state);
    } catch (error) {
      // The run record is written: the next start (or sweep) settles it from there.
      logger.error({ err: error, deliveryId }, "could not settle a delivery; it will be settled from the run log");
    }
  };

  /** The runs (not replay markers) a delivery has had: the next run's attempt number is one more. */
  const runCount = (records: readonly RunRecord[]) => records.filter((r) => r.kind !== "replay").length;

  const backoff = (attempt: number) => retryDelayMs * 2 ** Math.max(0, attempt - 1);

  /** What the run log says about a delivery: settle it, or run it again as attempt n. */
  const disposition = (deliveryId: string): { settle: "done" | "dead" } | { attempt: number; failedRuns: number } => {
    // Attempts number every run (ids stay unique); only failures count toward maxAttempts — a run cancelled by
    // a graceful stop is not the delivery's fault, a run cut off by a crash might be (a crash loop ends dead).
    const runs = runLog.forDelivery(deliveryId);
    let failed = 0;
    for (const r of runs) {
      if (r.status === "running") {
        // Cut off by a crash (kill -9, power loss): say so in the log, then run it again.
        runLog.write({ ...r, status: "interrupted", finishedAt: now(), errorCode: "ERR_RUN_INTERRUPTED", errorMessage: "the node stopped during this run" });
      }
    }
    const all = runLog.forDelivery(deliveryId);
    // An operator's replay marker starts a fresh set of attempts: only the runs after the latest one count. Run
    // ids keep counting across replays (`-r4` after three failed runs), so the old records stay as they were.
    const latestReplay = all.findLastIndex((r) => r.kind === "replay");
    for (const r of all.slice(latestReplay + 1)) {
      if (r.status === "ok") return { settle: "done" };
      if (r.deadReason !== undefined && r.kind === "agent") return { settle: "dead" };
      if (r.status !== "skipped" && r.status !== "cancelled") failed++;
    }
    if (failed >= maxAttempts) return { settle: "dead" };
    return { attempt: runCount(all) + 1, failedRuns: failed };
  };

  /** A local runtime's measured peak corrects the model's memory estimate (hosted runs measure nothing useful). */
  const learnPeak = (runtime: AgentRuntime, model: string, peakGb: number | undefined): void => {
    if (peakGb === undefined || peakGb <= 0 || !runtime.local) return;
    try {
      modelMemory.recordPeak(model, peakGb);
    } catch (error) {
      logger.warn({ err: error, model }, "could not record a memory peak");
    }
  };

  // ---------------------------------------------------------------- agent runs

  function handleAgent(delivery: JournalEntry, attempt: number, failedBefore: number): void {
    let payload: AgentPayloadJson;
    try {
      payload = JSON.parse(delivery.payload) as AgentPayloadJson;
    } catch {
      return giveUp(delivery, "agent", "ERR_BAD_PAYLOAD", "the journaled payload is not JSON");
    }
    const agent = agents.get(payload.agentId ?? agents.defaultAgentId);
    if (!agent) return giveUp(delivery, "agent", "ERR_UNKNOWN_AGENT", `agent "${payload.agentId}" is not configured`);
    // A retry after a failure moves to the next fallback model (OpenClaw `model: { primary, fallbacks }`).
    const candidates = payload.model !== undefined ? [payload.model] : agent.models.slice(Math.min(failedBefore, Math.max(0, agent.models.length - 1)));
    if (!agent.runtime || candidates.length === 0) return giveUp(delivery, "agent", "ERR_NO_MODEL", `agent "${agent.id}" has no model or runtime configured`);
    const runtime = agent.runtime;
    // A model that needs more than the whole budget would wait forever: take the first candidate that fits, or give up visibly.
    const budgetGb = scheduler.state().budgetGb;
    const model = candidates.find((m) => modelMemory.estimate(m, { local: runtime.local }).memoryGb <= budgetGb);
    if (model === undefined) {
      const need = modelMemory.estimate(candidates[0]!, { local: runtime.local }).memoryGb;
      return giveUp(delivery, "agent", "ERR_OVER_BUDGET", `model "${candidates[0]}" needs ~${need.toFixed(1)} GB, more than the memory budget of ${budgetGb.toFixed(1)} GB`);
    }
    let thinking = (payload.thinking ?? agent.thinkingDefault) as ThinkingLevel | undefined;
    if (thinking !== undefined) {
      const clamped = clampThinking(thinking, options.maxThinking);
      if (clamped.clamped) logger.info({ deliveryId: delivery.deliveryId, requested: thinking, level: clamped.level }, "thinking level clamped by clawgate.dispatch.maxThinking");
      thinking = clamped.level;
    }
    const estimate = modelMemory.estimate(model, { local: runtime.local });
    const baseId = runIdOf(delivery);
    const runId = attempt === 1 ? baseId : `${baseId}-r${attempt}`;
    const sessionKey = storedSessionKey(agent.id, payload.sessionKey || `hook:${randomUUID()}`);
    // Bounded: Node timers overflow past 2^31 ms (~24.8 days) and would fire at once.
    const timeoutSeconds = Math.min(payload.timeoutSeconds ?? agent.timeoutSeconds, MAX_TIMEOUT_SECONDS);
    const name = payload.name ?? "Hook";
    let peakGb: number | undefined;
    let result: RuntimeResult | undefined;
    let retryAfterMs: number | undefined;
    const base: Omit<RunRecord, "status"> = {
      id: runId,
      kind: "agent",
      agentId: agent.id,
      sessionKey,
      model,
      deliveryIds: [delivery.deliveryId],
      attempt,
      trigger: "hook",
      queuedAt: now(),
      memoryEstimateGb: estimate.memoryGb,
      ...(Number.isFinite(estimate.hardLimitGb) ? { memoryLimitGb: estimate.hardLimitGb } : {}),
    };
    const submitted = scheduler.submit({
      id: runId,
      agentId: agent.id,
      sessionKey,
      priority: "normal",
      memoryGb: estimate.memoryGb,
      timeoutMs: timeoutSeconds * 1000,
      run: async ({ signal }) => {
        const startedAt = now();
        runLog.write({ ...base, status: "running", startedAt });
        const history = sessions.history(sessionKey, historyMessages);
        result = await runMeasured(
          runtime,
          { runId, agentId: agent.id, sessionKey, model, history, message: payload.message, name, timeoutSeconds, signal },
          thinking,
          estimate.hardLimitGb,
          (gb) => (peakGb = gb),
        ).catch(rethrowNotingRetryAfter((ms) => (retryAfterMs = ms)));
        const at = now();
        sessions.append(sessionKey, [
          { role: "user", content: payload.message, at: startedAt, runId },
          { role: "assistant", content: result.reply, at, runId },
        ]);
        return result;
      },
    });
    if (!submitted.accepted) {
      if (submitted.code === "ERR_SCHEDULER_CLOSED") return void held.delete(delivery.deliveryId);
      // Full queue: it stays pending in the journal; try again when the queue has had time to move.
      logger.warn({ deliveryId: delivery.deliveryId, retryAfterSeconds: submitted.retryAfterSeconds }, "run queue full; delivery stays pending");
      held.set(delivery.deliveryId, { dueBy: now() + submitted.retryAfterSeconds * 1000 + stallAfterMs });
      backlog.add(delivery.deliveryId);
      later(() => retryDelivery(delivery.deliveryId), submitted.retryAfterSeconds * 1000);
      return;
    }
    // While the scheduler works on it, /readyz looks at the scheduler; once that is idle, this is overdue.
    held.set(delivery.deliveryId, { dueBy: now() + stallAfterMs });
    queuedIds.add(runId);
    track(
      submitted.done.then((outcome) => {
        learnPeak(runtime, model, peakGb);
        queuedIds.delete(runId);
        finishAgent(delivery, payload, agent, name, base, failedBefore, outcome, peakGb, result, retryAfterMs);
      }),
      () => [delivery.deliveryId],
    );
  }

  function finishAgent(
    delivery: JournalEntry,
    payload: AgentPayloadJson,
    agent: ResolvedAgent,
    name: string,
    base: Omit<RunRecord, "status">,
    failedBefore: number,
    outcome: RunOutcome,
    peakGb: number | undefined,
    result: RuntimeResult | undefined,
    retryAfterMs: number | undefined,
  ): void {
    const id = delivery.deliveryId;
    const failures = failedBefore + (outcome.status === "cancelled" ? 0 : outcome.status === "ok" ? 0 : 1);
    const retry = RETRY_STATUSES.has(outcome.status) && failures < maxAttempts && !closing;
    const dead = outcome.status !== "ok" && outcome.status !== "cancelled" && !retry;
    const deadReason = dead
      ? outcome.status === "error"
        ? `failed ${failures} times (last: ${outcome.errorCode ?? "ERR_RUN_FAILED"})`
        : `${outcome.status} is not retried (${outcome.errorCode ?? outcome.status})`
      : undefined;
    const record: RunRecord = {
      ...base,
      status: outcome.status,
      ...(outcome.startedAt !== undefined ? { startedAt: outcome.startedAt, durationMs: outcome.finishedAt - outcome.startedAt } : {}),
      finishedAt: outcome.finishedAt,
      ...(peakGb !== undefined ? { memoryPeakGb: round(peakGb) } : {}),
      ...(outcome.errorCode ? { errorCode: outcome.errorCode } : {}),
      ...(outcome.errorMessage ? { errorMessage: outcome.errorMessage } : {}),
      ...(result ? { replyChars: result.reply.length } : {}),
      ...(deadReason ? { deadReason } : {}),
    };
    // Record first, settle second: a crash in between leaves a finished record that the next start settles from.
    runLog.write(record);
    if (outcome.status === "cancelled") {
      held.delete(id); // shutdown: the journal keeps it pending for the next start
      return;
    }
    if (retry) {
      // The next run is a follow-up request to the same model server: never sooner than the Retry-After the runtime
      // gave up waiting for (RFC 9110 §10.2.3), capped so a far-off date cannot park the delivery for days.
      const delay = Math.max(backoff(failures), Math.min(retryAfterMs ?? 0, MAX_RETRY_AFTER_MS));
      logger.warn({ deliveryId: id, runId: base.id, attempt: base.attempt, errorCode: outcome.errorCode, retryInMs: delay }, "run failed; retrying");
      held.set(id, { dueBy: now() + delay + stallAfterMs });
      later(() => handleAgent(delivery, base.attempt + 1, failures), delay);
      return;
    }
    settle(id, outcome.status === "ok" ? "done" : "dead");
    if (dead) logger.error({ deliveryId: id, runId: base.id, status: outcome.status, errorCode: outcome.errorCode }, `delivery dead: ${deadReason}`);
    // OpenClaw: after the run, `Hook <name>: <summary>` goes to the main session; wakeMode now runs a heartbeat.
    const summary = outcome.status === "ok" ? summarize(result?.reply ?? "") : `run ${outcome.status} (${outcome.errorCode ?? outcome.status})`;
    const main = mainSessionKey(agent.id);
    events.enqueue(main, { text: `Hook ${name}: ${summary}`, at: now() });
    const hb = heartbeats.get(agent.id);
    if (payload.wakeMode === "next-heartbeat") hb?.noteEvent();
    else hb?.requestNow("hook");
  }

  function giveUp(delivery: JournalEntry, kind: "agent" | "heartbeat", code: string, message: string): void {
    // A replayed delivery already has runs: a new id keeps its earlier records (attempt 1 is `runIdOf`) intact.
    const ran = runCount(runLog.forDelivery(delivery.deliveryId));
    runLog.write({
      id: kind === "agent" ? (ran === 0 ? runIdOf(delivery) : `${runIdOf(delivery)}-r${ran + 1}`) : randomUUID(),
      kind,
      agentId: agents.defaultAgentId,
      sessionKey: "",
      status: "error",
      deliveryIds: [delivery.deliveryId],
      attempt: ran + 1,
      finishedAt: now(),
      errorCode: code,
      errorMessage: message,
      deadReason: message,
    });
    logger.error({ deliveryId: delivery.deliveryId, code }, `delivery dead: ${message}`);
    settle(delivery.deliveryId, "dead");
  }

  // ---------------------------------------------------------------- wakes and heartbeats

  function handleWake(delivery: JournalEntry, failedRuns: number): void {
    let payload: WakePayloadJson;
    try {
      payload = JSON.parse(delivery.payload) as WakePayloadJson;
    } catch {
      return giveUp(delivery, "heartbeat", "ERR_BAD_PAYLOAD", "the journaled payload is not JSON");
    }
    const agentId = agents.defaultAgentId;
    const agent = agents.get(agentId)!;
    const main = mainSessionKey(agentId);
    // The delivery's arrival time starts the maxEventDelay clock, also after a restart.
    events.enqueue(main, { text: payload.text, at: delivery.receivedAt, deliveryId: delivery.deliveryId, attempts: failedRuns });
    const dueBy = payload.mode === "next-heartbeat" ? delivery.receivedAt + agent.heartbeat.maxEventDelayMs + stallAfterMs : now() + stallAfterMs;
    held.set(delivery.deliveryId, { dueBy });
    const hb = heartbeats.get(agentId);
    if (payload.mode === "next-heartbeat") hb?.noteEvent();
    else hb?.requestNow("wake");
  }

  function runHeartbeat(agent: ResolvedAgent, trigger: HeartbeatTrigger): void {
    if (closing) return;
    const main = mainSessionKey(agent.id);
    const model = agent.heartbeat.model ?? agent.model;
    const runtime = agent.runtime;
    if (!runtime || model === undefined) {
      // Nothing can run: give the events' deliveries up visibly instead of holding them forever.
      const drained = events.drain(main);
      const ids = drained.flatMap((e) => (e.deliveryId ? [e.deliveryId] : []));
      if (ids.length > 0) {
        runLog.write({ id: randomUUID(), kind: "heartbeat", agentId: agent.id, sessionKey: main, status: "error", deliveryIds: ids, attempt: 1, trigger, finishedAt: now(), errorCode: "ERR_NO_MODEL", deadReason: `agent "${agent.id}" has no model or runtime configured` });
        for (const id of ids) settle(id, "dead");
      }
      return;
    }
    const thinking = agent.thinkingDefault === undefined ? undefined : clampThinking(agent.thinkingDefault, options.maxThinking).level;
    const estimate = modelMemory.estimate(model, { local: runtime.local });
    if (estimate.memoryGb > scheduler.state().budgetGb) {
      const drained = events.drain(main);
      const ids = drained.flatMap((e) => (e.deliveryId ? [e.deliveryId] : []));
      const reason = `heartbeat model "${model}" needs ~${estimate.memoryGb.toFixed(1)} GB, more than the memory budget`;
      runLog.write({ id: randomUUID(), kind: "heartbeat", agentId: agent.id, sessionKey: main, model, status: "error", deliveryIds: ids, attempt: 1, trigger, finishedAt: now(), errorCode: "ERR_OVER_BUDGET", errorMessage: reason, ...(ids.length > 0 ? { deadReason: reason } : {}) });
      for (const id of ids) settle(id, "dead");
      logger.error({ agentId: agent.id, model }, reason);
      return;
    }
    const id = randomUUID();
    let consumed: SystemEvent[] = [];
    let skipped = false;
    let ack = false;
    let peakGb: number | undefined;
    let retryAfterMs: number | undefined;
    let result: RuntimeResult | undefined;
    let base: Omit<RunRecord, "status"> | undefined;
    const queuedAt = now();
    const submitted = scheduler.submit({
      id,
      agentId: agent.id,
      sessionKey: main,
      priority: "high",
      memoryGb: estimate.memoryGb,
      timeoutMs: Math.min(agent.timeoutSeconds, MAX_TIMEOUT_SECONDS) * 1000,
      // One queued heartbeat per agent: wakes arriving meanwhile join it (their events are drained at start).
      coalesceKey: `heartbeat:${agent.id}`,
      run: async ({ signal }) => {
        consumed = events.drain(main);
        if (consumed.length === 0 && trigger === "max_event_delay") {
          skipped = true;
          return undefined;
        }
        const startedAt = now();
        base = {
          id,
          kind: "heartbeat",
          agentId: agent.id,
          sessionKey: main,
          model,
          deliveryIds: consumed.flatMap((e) => (e.deliveryId ? [e.deliveryId] : [])),
          attempt: 1 + Math.max(0, ...consumed.map((e) => e.attempts)),
          trigger,
          queuedAt,
          memoryEstimateGb: estimate.memoryGb,
          ...(Number.isFinite(estimate.hardLimitGb) ? { memoryLimitGb: estimate.hardLimitGb } : {}),
        };
        runLog.write({ ...base, status: "running", startedAt });
        const message = [systemLines(consumed), agent.heartbeat.prompt].filter((s) => s !== "").join("\n\n");
        const history = sessions.history(main, historyMessages);
        result = await runMeasured(
          runtime,
          { runId: id, agentId: agent.id, sessionKey: main, model, history, message, name: "Heartbeat", timeoutSeconds: agent.timeoutSeconds, signal },
          thinking,
          estimate.hardLimitGb,
          (gb) => (peakGb = gb),
        ).catch(rethrowNotingRetryAfter((ms) => (retryAfterMs = ms)));
        ack = isHeartbeatAck(result.reply, agent.heartbeat.ackMaxChars);
        // HEARTBEAT_OK is an acknowledgement, not a message: it does not grow the transcript (OpenClaw prunes it too).
        if (!ack) {
          sessions.append(main, [
            { role: "user", content: message, at: startedAt, runId: id },
            { role: "assistant", content: result.reply, at: now(), runId: id },
          ]);
        }
        return result;
      },
    });
    if (!submitted.accepted) {
      logger.warn({ agentId: agent.id, code: submitted.code }, "heartbeat not queued");
      if (submitted.code === "ERR_QUEUE_FULL") heartbeats.get(agent.id)?.retryIn(submitted.retryAfterSeconds * 1000);
      return;
    }
    if (submitted.coalesced) return; // the queued heartbeat will pick up this trigger's events
    track(
      submitted.done.then((outcome) => {
        if (skipped) {
          runLog.write({ id, kind: "heartbeat", agentId: agent.id, sessionKey: main, status: "skipped", skipReason: "no_events", deliveryIds: [], attempt: 1, trigger, queuedAt, finishedAt: outcome.finishedAt });
          return;
        }
        learnPeak(runtime, model, peakGb);
        if (base === undefined) {
          // Cancelled while queued (shutdown): its events were never drained; their deliveries stay pending.
          return;
        }
        const failed = outcome.status !== "ok";
        const retryable = failed && outcome.status !== "cancelled";
        const giveUpIds = retryable ? consumed.filter((e) => e.deliveryId && e.attempts + 1 >= maxAttempts).map((e) => e.deliveryId!) : [];
        runLog.write({
          ...base,
          status: outcome.status,
          ...(outcome.startedAt !== undefined ? { startedAt: outcome.startedAt, durationMs: outcome.finishedAt - outcome.startedAt } : {}),
          finishedAt: outcome.finishedAt,
          ...(peakGb !== undefined ? { memoryPeakGb: round(peakGb) } : {}),
          ...(outcome.errorCode ? { errorCode: outcome.errorCode } : {}),
          ...(outcome.errorMessage ? { errorMessage: outcome.errorMessage } : {}),
          ...(result ? { replyChars: result.reply.length, ack } : {}),
          ...(giveUpIds.length > 0 ? { deadReason: `heartbeat failed ${maxAttempts} times (last: ${outcome.errorCode ?? outcome.status})` } : {}),
        });
        if (!failed) {
          for (const e of consumed) if (e.deliveryId) settle(e.deliveryId, "done");
          return;
        }
        if (outcome.status === "cancelled") {
          for (const e of consumed) if (e.deliveryId) held.delete(e.deliveryId);
          return;
        }
        for (const deliveryId of giveUpIds) settle(deliveryId, "dead");
        // Put the rest back (summaries included, bounded by their attempts) and try again after a backoff.
        const again = consumed.filter((e) => e.attempts + 1 < maxAttempts).map((e) => ({ ...e, attempts: e.attempts + 1 }));
        if (again.length > 0) {
          events.requeue(main, again);
          const attempt = Math.max(...again.map((e) => e.attempts));
          // Like an agent delivery's next run: never sooner than a Retry-After the runtime gave up on (capped).
          const delay = Math.max(backoff(attempt), Math.min(retryAfterMs ?? 0, MAX_RETRY_AFTER_MS));
          for (const e of again) if (e.deliveryId) held.set(e.deliveryId, { dueBy: now() + delay + stallAfterMs });
          heartbeats.get(agent.id)?.retryIn(delay);
        }
        logger.warn({ agentId: agent.id, runId: id, status: outcome.status, errorCode: outcome.errorCode, requeued: again.length }, "heartbeat failed");
      }),
      () => consumed.flatMap((e) => (e.deliveryId ? [e.deliveryId] : [])),
    );
  }

  // ---------------------------------------------------------------- intake

  function handle(delivery: JournalEntry): void {
    if (closing || held.has(delivery.deliveryId) || events.hasDelivery(delivery.deliveryId)) return;
    if (delivery.kind !== "agent" && delivery.kind !== "wake") {
      return giveUp(delivery, "agent", "ERR_UNKNOWN_KIND", `deliveries of kind "${delivery.kind}" cannot be dispatched`);
    }
    const d = disposition(delivery.deliveryId);
    if ("settle" in d) {
      logger.info({ deliveryId: delivery.deliveryId, state: d.settle }, "delivery already ran; settled from the run log");
      settle(delivery.deliveryId, d.settle);
      return;
    }
    if (delivery.kind === "agent") handleAgent(delivery, d.attempt, d.failedRuns);
    else handleWake(delivery, d.failedRuns);
  }

  function retryDelivery(deliveryId: string): void {
    held.delete(deliveryId);
    backlog.delete(deliveryId);
    const delivery = journal.get(deliveryId);
    if (delivery && delivery.state === "pending") handle(delivery);
  }

  function sweep(): void {
    sweepTimer = undefined;
    if (closing) return;
    try {
      for (const d of journal.pending(1000)) guard(() => handle(d), "dispatching a pending delivery failed");
    } catch (error) {
      logger.error({ err: error }, "journal sweep failed");
    }
    sweepTimer = setTimer(sweep, sweepIntervalMs);
  }

  const runIdOf = (delivery: JournalEntry): string => {
    try {
      const id = (JSON.parse(delivery.response) as { runId?: unknown }).runId;
      if (typeof id === "string" && id !== "") return id;
    } catch {
      // fall through
    }
    return delivery.deliveryId;
  };

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
          run: (trigger) => guard(() => runHeartbeat(agent, trigger), "starting a heartbeat failed"),
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
      if (closing) return { ok: false, retryAfterSeconds: 30 };
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
      if (started && !closing) guard(() => handle({ ...delivery, state: "pending" }), "dispatching a replayed delivery failed; the sweep retries it");
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
      if (closing) return;
      closing = true;
      if (sweepTimer !== undefined) clearTimer(sweepTimer);
      for (const timing of heartbeats.values()) timing.stop();
      for (const handle of pendingTimers) clearTimer(handle);
      pendingTimers.clear();
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
      await Promise.allSettled([...inFlight]);
      runLog.close();
    },
  };
}

/** The longest a model server's Retry-After holds back a delivery's next run (an hour); longer asks wait this long. */
export const MAX_RETRY_AFTER_MS = 3_600_000;

/** A rejection handler that hands on a runtime error's `retryAfterMs` (the wait its server asked for), then rethrows. */
function rethrowNotingRetryAfter(note: (ms: number) => void): (error: unknown) => never {
  return (error) => {
    const after = (error as { retryAfterMs?: unknown } | null)?.retryAfterMs;
    if (typeof after === "number" && after > 0) note(after);
    throw error;
  };
}

/** The longest run timeout honored (a day); a hook asking for more gets this. */
export const MAX_TIMEOUT_SECONDS = 86_400;

const round = (gb: number) => Math.round(gb * 1000) / 1000;

/** The summary line of a reply: its first non-empty line, at most 200 characters. */
export function summarize(reply: string): string {
  const line = reply.split("\n").map((l) => l.trim()).find((l) => l !== "") ?? "(no reply)";
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

/**
 * Runs one request on a runtime with the run's thinking level and hard memory limit, and reports the measured
 * peak also when the run fails (a run killed at its memory limit is the peak that matters most).
 */
async function runMeasured(
  runtime: AgentRuntime,
  request: Omit<RuntimeRequest, "thinking" | "memoryLimitGb">,
  thinking: RuntimeRequest["thinking"] | undefined,
  hardLimitGb: number,
  onPeak: (gb: number | undefined) => void,
): Promise<RuntimeResult> {
  try {
    const result = await runtime.run({
      ...request,
      ...(thinking ? { thinking } : {}),
      ...(Number.isFinite(hardLimitGb) ? { memoryLimitGb: hardLimitGb } : {}),
    });
    onPeak(result.peakMemoryGb);
    return result;
  } catch (error) {
    onPeak((error as { peakMemoryGb?: number }).peakMemoryGb);
    throw error;
  }
}
