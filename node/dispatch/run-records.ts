/**
 * One run attempt and the steps every kind of run shares: running it on its runtime while noting what the runtime
 * reports (measured peak, a Retry-After it gave up on, the reply), the final run record, the delay before a retry,
 * what a measured peak teaches the model's estimate, and the give-ups decided before a run could start (no model,
 * over the memory budget).
 */
import type { AgentRuntime, RuntimeRequest, RuntimeResult } from "../runtimes/runtime-types.ts";
import type { ModelEstimate, ModelMemory } from "./model-memory.ts";
import type { RunRecord } from "./run-log.ts";
import type { RunOutcome } from "./scheduler.ts";

/** The longest a model server's Retry-After holds back a delivery's next run (an hour); longer asks wait this long. */
export const MAX_RETRY_AFTER_MS = 3_600_000;

/** The longest run timeout honored (a day); a hook asking for more gets this. */
export const MAX_TIMEOUT_SECONDS = 86_400;

/** A run between its submission and its final record: what was asked for, and what its runtime reported. */
export interface RunAttempt {
  /** The run record as known before the run ends (id, kind, agent, session, model, deliveries, attempt, estimate). */
  readonly record: Omit<RunRecord, "status">;
  /** Measured peak (GiB, process-tree RSS), also for a run that failed or was killed. */
  peakGb: number | undefined;
  /** The wait a model server asked for (Retry-After) when the runtime gave up on it. */
  retryAfterMs: number | undefined;
  result: RuntimeResult | undefined;
}

export function createRunAttempt(record: Omit<RunRecord, "status">): RunAttempt {
  return { record, peakGb: undefined, retryAfterMs: undefined, result: undefined };
}

/** The estimate fields of a run record: what the scheduler reserves and the hard limit the runtime enforces. */
export function estimateFields(estimate: ModelEstimate): Pick<RunRecord, "memoryEstimateGb" | "memoryLimitGb"> {
  return { memoryEstimateGb: estimate.memoryGb, ...(Number.isFinite(estimate.hardLimitGb) ? { memoryLimitGb: estimate.hardLimitGb } : {}) };
}

/**
 * Runs one request on a runtime with the run's thinking level and hard memory limit (the record's `memoryLimitGb`),
 * noting on the attempt the measured peak (also when the run fails: a run killed at its limit is the peak that
 * matters most) and a Retry-After the runtime gave up on.
 */
export async function runOnRuntime(
  attempt: RunAttempt,
  runtime: AgentRuntime,
  request: Omit<RuntimeRequest, "thinking" | "memoryLimitGb">,
  thinking: RuntimeRequest["thinking"] | undefined,
): Promise<RuntimeResult> {
  const limitGb = attempt.record.memoryLimitGb;
  try {
    const result = await runtime.run({ ...request, ...(thinking ? { thinking } : {}), ...(limitGb !== undefined ? { memoryLimitGb: limitGb } : {}) });
    attempt.peakGb = result.peakMemoryGb;
    attempt.result = result;
    return result;
  } catch (error) {
    attempt.peakGb = (error as { peakMemoryGb?: number } | null)?.peakMemoryGb;
    const after = (error as { retryAfterMs?: unknown } | null)?.retryAfterMs;
    if (typeof after === "number" && after > 0) attempt.retryAfterMs = after;
    throw error;
  }
}

/** The final record of a run the scheduler finished (or cancelled while queued); `extra` adds kind-specific fields. */
export function finishedRecord(attempt: RunAttempt, outcome: RunOutcome, extra: Partial<RunRecord> = {}): RunRecord {
  return {
    ...attempt.record,
    status: outcome.status,
    ...(outcome.startedAt !== undefined ? { startedAt: outcome.startedAt, durationMs: outcome.finishedAt - outcome.startedAt } : {}),
    finishedAt: outcome.finishedAt,
    ...(attempt.peakGb !== undefined ? { memoryPeakGb: round(attempt.peakGb) } : {}),
    ...(outcome.status === "memory_limit" ? { memoryLimitExceeded: true } : {}),
    ...(outcome.errorCode ? { errorCode: outcome.errorCode } : {}),
    ...(outcome.errorMessage ? { errorMessage: outcome.errorMessage } : {}),
    ...(attempt.result ? { replyChars: attempt.result.reply.length } : {}),
    ...extra,
  };
}

/**
 * The wait before a failed run's next attempt: the exponential backoff, and never sooner than a Retry-After the
 * runtime gave up waiting for (RFC 9110 §10.2.3), capped so a far-off date cannot park a delivery for days.
 */
export function retryDelayMs(backoffMs: number, retryAfterMs: number | undefined): number {
  return Math.max(backoffMs, Math.min(retryAfterMs ?? 0, MAX_RETRY_AFTER_MS));
}

/**
 * A local runtime's measured peak is recorded for the model (hosted runs measure nothing useful); only a run that
 * ended `ok` corrects the estimate (model-memory.ts), so a killed or failed run cannot poison what later runs reserve.
 */
export function learnPeak(
  modelMemory: ModelMemory,
  logger: { warn(obj: object, msg: string): void },
  runtime: AgentRuntime,
  model: string,
  attempt: RunAttempt,
  status: RunOutcome["status"],
): void {
  const peakGb = attempt.peakGb;
  if (peakGb === undefined || peakGb <= 0 || !runtime.local) return;
  try {
    modelMemory.recordPeak(model, peakGb, status === "ok" ? "ok" : status === "memory_limit" ? "memory_limit" : "failed");
  } catch (error) {
    logger.warn({ err: error, model }, "could not record a memory peak");
  }
}

/** Why a delivery was given up before any run of it started. */
export interface GiveUp {
  readonly code: string;
  readonly message: string;
}

export function noModelGiveUp(agentId: string): GiveUp {
  return { code: "ERR_NO_MODEL", message: `agent "${agentId}" has no model or runtime configured` };
}

/**
 * The first candidate model whose estimate fits the memory budget, with that estimate; or the over-budget give-up
 * (a model that needs more than the whole budget would wait forever).
 */
export function pickModelWithinBudget(
  modelMemory: ModelMemory,
  candidates: readonly string[],
  local: boolean,
  budgetGb: number,
): { readonly model: string; readonly estimate: ModelEstimate } | { readonly giveUp: GiveUp; readonly model: string; readonly estimate: ModelEstimate } {
  for (const model of candidates) {
    const estimate = modelMemory.estimate(model, { local });
    if (estimate.memoryGb <= budgetGb) return { model, estimate };
  }
  const first = candidates[0]!;
  const estimate = modelMemory.estimate(first, { local });
  return {
    model: first,
    estimate,
    giveUp: { code: "ERR_OVER_BUDGET", message: `model "${first}" needs ~${estimate.memoryGb.toFixed(1)} GiB, more than the memory budget of ${budgetGb.toFixed(1)} GiB` },
  };
}

/** The record of a run given up before it started: an error, `dead` for the deliveries it held. */
export function givenUpRecord(run: Omit<RunRecord, "status" | "errorCode" | "errorMessage" | "deadReason">, giveUp: GiveUp): RunRecord {
  return {
    ...run,
    status: "error",
    errorCode: giveUp.code,
    errorMessage: giveUp.message,
    ...(run.deliveryIds.length > 0 ? { deadReason: giveUp.message } : {}),
  };
}

/** The summary line of a reply: its first non-empty line, at most 200 characters. */
export function summarize(reply: string): string {
  const line = reply.split("\n").map((l) => l.trim()).find((l) => l !== "") ?? "(no reply)";
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

const round = (gb: number) => Math.round(gb * 1000) / 1000;
