/**
 * Wakes and heartbeat runs: a `wake` delivery becomes a system event in the default agent's main session, and a
 * heartbeat (on its interval, on a wake, when an event has waited `maxEventDelay`, after a hook run) drains those
 * events into one run of the agent's heartbeat prompt. Its record settles the wakes it consumed; a failed one
 * puts them back and tries again after a backoff, until they have had maxAttempts runs.
 */
import type { JournalEntry } from "../intake/intake-journal.ts";
import { mainSessionKey } from "../sessions/session-store.ts";
import { type SystemEvent, systemLines } from "../sessions/system-events.ts";
import type { ResolvedAgent } from "./agent-table.ts";
import type { DispatchContext } from "./dispatch-context.ts";
import { clampThinking } from "./dispatch-settings.ts";
import { type HeartbeatTrigger, isHeartbeatAck } from "./heartbeat.ts";
import {
  MAX_TIMEOUT_SECONDS,
  type RunAttempt,
  createRunAttempt,
  estimateFields,
  finishedRecord,
  givenUpRecord,
  learnPeak,
  noModelGiveUp,
  pickModelWithinBudget,
  retryDelayMs,
  runOnRuntime,
} from "./run-records.ts";

interface WakePayloadJson {
  text: string;
  mode?: "now" | "next-heartbeat";
}

export interface HeartbeatRuns {
  /** Queues a wake delivery's text as a system event of the default agent's main session. */
  wake(delivery: JournalEntry, failedRuns: number): void;
  /** Runs (or queues, coalescing with a queued one) a heartbeat of `agent`. */
  run(agent: ResolvedAgent, trigger: HeartbeatTrigger): void;
}

const deliveryIdsOf = (events: readonly SystemEvent[]) => events.flatMap((e) => (e.deliveryId ? [e.deliveryId] : []));

export function createHeartbeatRuns(ctx: DispatchContext): HeartbeatRuns {
  const { scheduler, modelMemory, runLog, sessions, events, agents, logger, now } = ctx;

  function wake(delivery: JournalEntry, failedRuns: number): void {
    let payload: WakePayloadJson;
    try {
      payload = JSON.parse(delivery.payload) as WakePayloadJson;
    } catch {
      return ctx.giveUpDelivery(delivery, "heartbeat", { code: "ERR_BAD_PAYLOAD", message: "the journaled payload is not JSON" });
    }
    const agentId = agents.defaultAgentId;
    const agent = agents.get(agentId)!;
    const main = mainSessionKey(agentId);
    // The delivery's arrival time starts the maxEventDelay clock, also after a restart.
    events.enqueue(main, { text: payload.text, at: delivery.receivedAt, deliveryId: delivery.deliveryId, attempts: failedRuns });
    const dueBy = payload.mode === "next-heartbeat" ? delivery.receivedAt + agent.heartbeat.maxEventDelayMs + ctx.stallAfterMs : now() + ctx.stallAfterMs;
    ctx.held.set(delivery.deliveryId, { dueBy });
    const hb = ctx.heartbeats.get(agentId);
    if (payload.mode === "next-heartbeat") hb?.noteEvent();
    else hb?.requestNow("wake");
  }

  function run(agent: ResolvedAgent, trigger: HeartbeatTrigger): void {
    if (ctx.closing) return;
    const main = mainSessionKey(agent.id);
    const model = agent.heartbeat.model ?? agent.model;
    const runtime = agent.runtime;
    if (!runtime || model === undefined) {
      // Nothing can run: give the events' deliveries up visibly instead of holding them forever.
      const ids = deliveryIdsOf(events.drain(main));
      if (ids.length > 0) {
        runLog.write(givenUpRecord({ id: ctx.randomUUID(), kind: "heartbeat", agentId: agent.id, sessionKey: main, deliveryIds: ids, attempt: 1, trigger, queuedAt: now(), finishedAt: now() }, noModelGiveUp(agent.id)));
        for (const id of ids) ctx.settle(id, "dead");
      }
      return;
    }
    const thinking = agent.thinkingDefault === undefined ? undefined : clampThinking(agent.thinkingDefault, ctx.maxThinking).level;
    const picked = pickModelWithinBudget(modelMemory, [model], runtime.local, scheduler.state().budgetGb);
    if ("giveUp" in picked) {
      const ids = deliveryIdsOf(events.drain(main));
      const at = now();
      runLog.write(givenUpRecord({ id: ctx.randomUUID(), kind: "heartbeat", agentId: agent.id, sessionKey: main, model, deliveryIds: ids, attempt: 1, trigger, queuedAt: at, finishedAt: at, ...estimateFields(picked.estimate) }, picked.giveUp));
      for (const id of ids) ctx.settle(id, "dead");
      logger.error({ agentId: agent.id, model }, picked.giveUp.message);
      return;
    }
    const { estimate } = picked;
    const id = ctx.randomUUID();
    let consumed: SystemEvent[] = [];
    let skipped = false;
    let ack = false;
    /** Created when the run starts: which events (and so deliveries and attempt) it serves is known only then. */
    let attempt: RunAttempt | undefined;
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
        const a = createRunAttempt({
          id,
          kind: "heartbeat",
          agentId: agent.id,
          sessionKey: main,
          model,
          deliveryIds: deliveryIdsOf(consumed),
          attempt: 1 + Math.max(0, ...consumed.map((e) => e.attempts)),
          trigger,
          queuedAt,
          ...estimateFields(estimate),
        });
        attempt = a;
        runLog.write({ ...a.record, status: "running", startedAt });
        const message = [systemLines(consumed), agent.heartbeat.prompt].filter((s) => s !== "").join("\n\n");
        const history = sessions.history(main, ctx.historyMessages);
        const result = await runOnRuntime(
          a,
          runtime,
          { runId: id, agentId: agent.id, sessionKey: main, model, history, message, name: "Heartbeat", timeoutSeconds: agent.timeoutSeconds, signal },
          thinking,
        );
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
      if (submitted.code === "ERR_QUEUE_FULL") ctx.heartbeats.get(agent.id)?.retryIn(submitted.retryAfterSeconds * 1000);
      return;
    }
    if (submitted.coalesced) return; // the queued heartbeat will pick up this trigger's events
    ctx.track(
      submitted.done.then((outcome) => {
        if (skipped) {
          runLog.write({ id, kind: "heartbeat", agentId: agent.id, sessionKey: main, status: "skipped", skipReason: "no_events", deliveryIds: [], attempt: 1, trigger, queuedAt, finishedAt: outcome.finishedAt });
          return;
        }
        // Cancelled while queued (shutdown): its events were never drained; their deliveries stay pending.
        if (attempt === undefined) return;
        learnPeak(modelMemory, logger, runtime, model, attempt, outcome.status);
        const failed = outcome.status !== "ok";
        const retryable = failed && outcome.status !== "cancelled";
        const giveUpIds = retryable ? consumed.filter((e) => e.deliveryId && e.attempts + 1 >= ctx.maxAttempts).map((e) => e.deliveryId!) : [];
        runLog.write(
          finishedRecord(attempt, outcome, {
            ...(attempt.result ? { ack } : {}),
            ...(giveUpIds.length > 0 ? { deadReason: `heartbeat failed ${ctx.maxAttempts} times (last: ${outcome.errorCode ?? outcome.status})` } : {}),
          }),
        );
        if (!failed) {
          for (const e of consumed) if (e.deliveryId) ctx.settle(e.deliveryId, "done");
          return;
        }
        if (outcome.status === "cancelled") {
          for (const e of consumed) if (e.deliveryId) ctx.held.delete(e.deliveryId);
          return;
        }
        for (const deliveryId of giveUpIds) ctx.settle(deliveryId, "dead");
        // Put the rest back (summaries included, bounded by their attempts) and try again after a backoff.
        const again = consumed.filter((e) => e.attempts + 1 < ctx.maxAttempts).map((e) => ({ ...e, attempts: e.attempts + 1 }));
        if (again.length > 0) {
          events.requeue(main, again);
          // Like an agent delivery's next run: never sooner than a Retry-After the runtime gave up on (capped).
          const delay = retryDelayMs(ctx.backoff(Math.max(...again.map((e) => e.attempts))), attempt.retryAfterMs);
          for (const e of again) if (e.deliveryId) ctx.held.set(e.deliveryId, { dueBy: now() + delay + ctx.stallAfterMs });
          ctx.heartbeats.get(agent.id)?.retryIn(delay);
        }
        logger.warn({ agentId: agent.id, runId: id, status: outcome.status, errorCode: outcome.errorCode, requeued: again.length }, "heartbeat failed");
      }),
      () => deliveryIdsOf(consumed),
    );
  }

  return { wake, run };
}
