/**
 * Agent runs: an `agent` delivery becomes a scheduler task sized by its model's memory estimate, runs on the agent's
 * runtime with the session's history, is recorded in the run log, and only then settles its journal delivery
 * (`done`; a retry after a backoff, on the next fallback model; or `dead` with a reason). A finished run posts
 * `Hook <name>: <summary>` to the agent's main session and wakes its heartbeat (OpenClaw's hook contract).
 */
import type { ThinkingLevel } from "../config/agents-schema.ts";
import type { JournalEntry } from "../intake/intake-journal.ts";
import { mainSessionKey, storedSessionKey } from "../sessions/session-store.ts";
import type { DispatchContext } from "./dispatch-context.ts";
import { attemptRunId } from "./delivery-disposition.ts";
import { clampThinking } from "./dispatch-settings.ts";
import {
  MAX_TIMEOUT_SECONDS,
  type RunAttempt,
  createRunAttempt,
  estimateFields,
  finishedRecord,
  learnPeak,
  noModelGiveUp,
  pickModelWithinBudget,
  retryDelayMs,
  runOnRuntime,
  summarize,
} from "./run-records.ts";
import type { RunOutcome } from "./scheduler.ts";

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

/** What a finished agent run needs besides its outcome: the delivery, its payload, and the attempt. */
interface AgentRun {
  readonly delivery: JournalEntry;
  readonly payload: AgentPayloadJson;
  readonly agentId: string;
  readonly name: string;
  readonly failedBefore: number;
  readonly attempt: RunAttempt;
}

/** Statuses retried (with backoff) until maxAttempts; timeouts and memory-limit kills are not: they would repeat. */
const RETRY_STATUSES = new Set(["error"]);

export interface AgentRuns {
  /** Runs attempt `attempt` of an agent delivery; `failedBefore` failed runs precede it (they pick the fallback model). */
  run(delivery: JournalEntry, attempt: number, failedBefore: number): void;
}

/** `redispatch` hands a delivery back to the dispatcher's front door (which re-reads its disposition first). */
export function createAgentRuns(ctx: DispatchContext, redispatch: (delivery: JournalEntry) => void): AgentRuns {
  const { scheduler, modelMemory, runLog, sessions, events, agents, logger, now } = ctx;

  function run(delivery: JournalEntry, attemptNo: number, failedBefore: number): void {
    let payload: AgentPayloadJson;
    try {
      payload = JSON.parse(delivery.payload) as AgentPayloadJson;
    } catch {
      return ctx.giveUpDelivery(delivery, "agent", { code: "ERR_BAD_PAYLOAD", message: "the journaled payload is not JSON" });
    }
    const agentId = payload.agentId ?? agents.defaultAgentId;
    // What was asked for goes on a give-up's record too, so the admin API's filters find it (?agentId=…).
    const sessionKey = storedSessionKey(agentId, payload.sessionKey || `hook:${ctx.randomUUID()}`);
    const asked = { agentId, sessionKey, trigger: "hook", queuedAt: now(), ...(payload.model !== undefined ? { model: payload.model } : {}) };
    const agent = agents.get(agentId);
    if (!agent) return ctx.giveUpDelivery(delivery, "agent", { code: "ERR_UNKNOWN_AGENT", message: `agent "${agentId}" is not configured` }, asked);
    // A retry after a failure moves to the next fallback model (OpenClaw `model: { primary, fallbacks }`).
    const candidates = payload.model !== undefined ? [payload.model] : agent.models.slice(Math.min(failedBefore, Math.max(0, agent.models.length - 1)));
    if (!agent.runtime || candidates.length === 0) return ctx.giveUpDelivery(delivery, "agent", noModelGiveUp(agent.id), asked);
    const runtime = agent.runtime;
    const picked = pickModelWithinBudget(modelMemory, candidates, runtime.local, scheduler.state().budgetGb);
    if ("giveUp" in picked) {
      return ctx.giveUpDelivery(delivery, "agent", picked.giveUp, { ...asked, model: picked.model, ...estimateFields(picked.estimate) });
    }
    const { model, estimate } = picked;
    let thinking = (payload.thinking ?? agent.thinkingDefault) as ThinkingLevel | undefined;
    if (thinking !== undefined) {
      const clamped = clampThinking(thinking, ctx.maxThinking);
      if (clamped.clamped) logger.info({ deliveryId: delivery.deliveryId, requested: thinking, level: clamped.level }, "thinking level clamped by clawgate.dispatch.maxThinking");
      thinking = clamped.level;
    }
    const runId = attemptRunId(delivery, attemptNo);
    // Bounded: Node timers overflow past 2^31 ms (~24.8 days) and would fire at once.
    const timeoutSeconds = Math.min(payload.timeoutSeconds ?? agent.timeoutSeconds, MAX_TIMEOUT_SECONDS);
    const name = payload.name ?? "Hook";
    const attempt = createRunAttempt({
      id: runId,
      kind: "agent",
      agentId: agent.id,
      sessionKey,
      model,
      deliveryIds: [delivery.deliveryId],
      attempt: attemptNo,
      trigger: "hook",
      queuedAt: asked.queuedAt,
      ...estimateFields(estimate),
    });
    const submitted = scheduler.submit({
      id: runId,
      agentId: agent.id,
      sessionKey,
      priority: "normal",
      memoryGb: estimate.memoryGb,
      timeoutMs: timeoutSeconds * 1000,
      run: async ({ signal }) => {
        const startedAt = now();
        runLog.write({ ...attempt.record, status: "running", startedAt });
        const history = sessions.history(sessionKey, ctx.historyMessages);
        const result = await runOnRuntime(
          attempt,
          runtime,
          { runId, agentId: agent.id, sessionKey, model, history, message: payload.message, name, timeoutSeconds, signal },
          thinking,
        );
        sessions.append(sessionKey, [
          { role: "user", content: payload.message, at: startedAt, runId },
          { role: "assistant", content: result.reply, at: now(), runId },
        ]);
        return result;
      },
    });
    if (!submitted.accepted) {
      if (submitted.code === "ERR_SCHEDULER_CLOSED") return void ctx.held.delete(delivery.deliveryId);
      // Full queue: it stays pending in the journal; try again when the queue has had time to move.
      logger.warn({ deliveryId: delivery.deliveryId, retryAfterSeconds: submitted.retryAfterSeconds }, "run queue full; delivery stays pending");
      ctx.held.set(delivery.deliveryId, { dueBy: now() + submitted.retryAfterSeconds * 1000 + ctx.stallAfterMs });
      ctx.backlog.add(delivery.deliveryId);
      ctx.later(() => retryFromJournal(delivery.deliveryId), submitted.retryAfterSeconds * 1000);
      return;
    }
    // While the scheduler works on it, /readyz looks at the scheduler; once that is idle, this is overdue.
    ctx.held.set(delivery.deliveryId, { dueBy: now() + ctx.stallAfterMs });
    ctx.queuedIds.add(runId);
    ctx.track(
      submitted.done.then((outcome) => {
        learnPeak(modelMemory, logger, runtime, model, attempt, outcome.status);
        ctx.queuedIds.delete(runId);
        finish({ delivery, payload, agentId: agent.id, name, failedBefore, attempt }, outcome);
      }),
      () => [delivery.deliveryId],
    );
  }

  /** A delivery held back by a full queue: run it when its wait is over, if the journal still has it pending. */
  function retryFromJournal(deliveryId: string): void {
    ctx.held.delete(deliveryId);
    ctx.backlog.delete(deliveryId);
    const delivery = ctx.journal.get(deliveryId);
    if (delivery && delivery.state === "pending") redispatch(delivery);
  }

  function finish(r: AgentRun, outcome: RunOutcome): void {
    const id = r.delivery.deliveryId;
    const record = r.attempt.record;
    const failures = r.failedBefore + (outcome.status === "cancelled" ? 0 : outcome.status === "ok" ? 0 : 1);
    const retry = RETRY_STATUSES.has(outcome.status) && failures < ctx.maxAttempts && !ctx.closing;
    const dead = outcome.status !== "ok" && outcome.status !== "cancelled" && !retry;
    const deadReason = dead
      ? outcome.status === "error"
        ? `failed ${failures} times (last: ${outcome.errorCode ?? "ERR_RUN_FAILED"})`
        : `${outcome.status} is not retried (${outcome.errorCode ?? outcome.status})`
      : undefined;
    // Record first, settle second: a crash in between leaves a finished record that the next start settles from.
    runLog.write(finishedRecord(r.attempt, outcome, deadReason ? { deadReason } : {}));
    if (outcome.status === "cancelled") {
      ctx.held.delete(id); // shutdown: the journal keeps it pending for the next start
      return;
    }
    if (retry) {
      // The next run is a follow-up request to the same model server (see retryDelayMs).
      const delay = retryDelayMs(ctx.backoff(failures), r.attempt.retryAfterMs);
      logger.warn({ deliveryId: id, runId: record.id, attempt: record.attempt, errorCode: outcome.errorCode, retryInMs: delay }, "run failed; retrying");
      ctx.held.set(id, { dueBy: now() + delay + ctx.stallAfterMs });
      ctx.later(() => run(r.delivery, record.attempt + 1, failures), delay);
      return;
    }
    ctx.settle(id, outcome.status === "ok" ? "done" : "dead");
    if (dead) logger.error({ deliveryId: id, runId: record.id, status: outcome.status, errorCode: outcome.errorCode }, `delivery dead: ${deadReason}`);
    // OpenClaw: after the run, `Hook <name>: <summary>` goes to the main session; wakeMode now runs a heartbeat.
    const summary = outcome.status === "ok" ? summarize(r.attempt.result?.reply ?? "") : `run ${outcome.status} (${outcome.errorCode ?? outcome.status})`;
    events.enqueue(mainSessionKey(r.agentId), { text: `Hook ${r.name}: ${summary}`, at: now() });
    const hb = ctx.heartbeats.get(r.agentId);
    if (r.payload.wakeMode === "next-heartbeat") hb?.noteEvent();
    else hb?.requestNow("hook");
  }

  return { run };
}
