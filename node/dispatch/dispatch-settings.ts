/** Turns the parsed `agents` and `clawgate.dispatch` config into scheduler and model-memory options, and caps thinking levels. */
import type { AgentsConfig, DispatchConfig, ThinkingLevel } from "../config/agents-schema.ts";
import { THINKING_LEVELS } from "../config/agents-schema.ts";
import type { ModelMemoryOptions } from "./model-memory.ts";

export class DispatchConfigError extends Error {
  readonly code = "ERR_DISPATCH_CONFIG";
  /** The config path at fault, e.g. "clawgate.dispatch.memoryBudgetGb". */
  readonly path: string;
  constructor(path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = "DispatchConfigError";
    this.path = path;
  }
}

export interface DispatchSettings {
  readonly budgetGb: number;
  readonly reserveGb: number;
  readonly exclusiveAboveGb: number | undefined;
  readonly headroomGb: number;
  readonly maxQueue: number;
  /** Global cap: `clawgate.dispatch.maxConcurrent`, else `agents.defaults.maxConcurrent`, else 4. */
  readonly maxConcurrent: number;
  /** Per agent: `agents.list[].maxConcurrent` (agents without one share the global cap). */
  readonly perAgentMaxConcurrent: Readonly<Record<string, number>>;
  readonly probeTtlMs: number;
  readonly maxThinking: ThinkingLevel | undefined;
  /** `clawgate.dispatch.retryDelaySeconds` (default 5) in ms: the first backoff before a failed agent run is retried. */
  readonly retryDelayMs: number;
  readonly modelMemory: ModelMemoryOptions;
}

export const DEFAULT_MAX_QUEUE = 100;
export const DEFAULT_MAX_CONCURRENT = 4;
export const DEFAULT_HEADROOM_GB = 1;
export const DEFAULT_PROBE_TTL_MS = 1000;
export const DEFAULT_RETRY_DELAY_SECONDS = 5;

/** The OS's share when `reserveGb` is not set: the larger of 4 GiB and 15 % of physical memory. */
export function defaultReserveGb(totalGb: number): number {
  return Math.max(4, totalGb * 0.15);
}

/**
 * Resolves the settings for a host with `totalGb` of physical memory (from the memory probe). A budget larger
 * than the host, or a reserve that leaves nothing, is refused naming the field: the scheduler must not promise
 * memory the host does not have.
 */
export function resolveDispatchSettings(input: { agents?: AgentsConfig | undefined; dispatch?: DispatchConfig | undefined }, totalGb: number): DispatchSettings {
  if (!(totalGb > 0)) throw new TypeError("totalGb must be a positive number");
  const d = input.dispatch ?? {};
  const reserveGb = d.reserveGb ?? defaultReserveGb(totalGb);
  let budgetGb: number;
  if (d.memoryBudgetGb !== undefined) {
    if (d.memoryBudgetGb > totalGb) {
      throw new DispatchConfigError("clawgate.dispatch.memoryBudgetGb", `${d.memoryBudgetGb} GiB exceeds this host's ${totalGb.toFixed(1)} GiB of memory`);
    }
    budgetGb = d.memoryBudgetGb;
  } else {
    budgetGb = totalGb - reserveGb;
    if (!(budgetGb > 0)) throw new DispatchConfigError("clawgate.dispatch.reserveGb", `${reserveGb} GiB leaves no memory for runs on this ${totalGb.toFixed(1)} GiB host`);
  }
  const perAgent: Record<string, number> = {};
  for (const a of input.agents?.list ?? []) if (a.maxConcurrent !== undefined) perAgent[a.id] = a.maxConcurrent;
  const models = input.agents?.defaults?.models;
  return {
    budgetGb,
    reserveGb,
    exclusiveAboveGb: d.exclusiveAboveGb,
    headroomGb: d.headroomGb ?? DEFAULT_HEADROOM_GB,
    maxQueue: d.maxQueue ?? DEFAULT_MAX_QUEUE,
    maxConcurrent: d.maxConcurrent ?? input.agents?.defaults?.maxConcurrent ?? DEFAULT_MAX_CONCURRENT,
    perAgentMaxConcurrent: perAgent,
    probeTtlMs: d.probeIntervalMs ?? DEFAULT_PROBE_TTL_MS,
    maxThinking: d.maxThinking,
    retryDelayMs: (d.retryDelaySeconds ?? DEFAULT_RETRY_DELAY_SECONDS) * 1000,
    modelMemory: models === undefined ? {} : { models },
  };
}

/**
 * Caps a requested thinking level at `max` (cost control). We clamp rather than refuse: a cron job asking for
 * "high" on a node capped at "low" still runs, and the caller logs the returned `clamped` flag. "adaptive"
 * counts as the top level: it is allowed only when the cap is "adaptive" (or unset), else clamped to the cap.
 */
export function clampThinking(requested: ThinkingLevel, max: ThinkingLevel | undefined): { level: ThinkingLevel; clamped: boolean } {
  if (max === undefined) return { level: requested, clamped: false };
  const rank = (l: ThinkingLevel) => THINKING_LEVELS.indexOf(l);
  return rank(requested) > rank(max) ? { level: max, clamped: true } : { level: requested, clamped: false };
}
