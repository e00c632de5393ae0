/** Validates the scheduler's options once (a TypeError names the option) and resolves their defaults. */
import type { MemoryProbe } from "./memory-probe.ts";
import type { SchedulerOptions } from "./scheduler-types.ts";

export interface ResolvedSchedulerOptions {
  readonly budgetGb: number;
  readonly exclusiveAboveGb: number;
  readonly headroomGb: number;
  readonly maxQueue: number;
  readonly maxConcurrent: number;
  readonly probeTtlMs: number;
  readonly maxScan: number;
  readonly probe: MemoryProbe;
  readonly now: () => number;
  readonly setTimer: (fn: () => void, ms: number) => unknown;
  readonly clearTimer: (handle: unknown) => void;
  /** An agent's concurrency cap (validated on first use; the ones in an options object at once). */
  readonly agentCap: (agentId: string) => number;
}

export function resolveSchedulerOptions(options: SchedulerOptions): ResolvedSchedulerOptions {
  const budgetGb = positiveNumber(options.budgetGb, "budgetGb", true);
  const exclusiveAboveGb = options.exclusiveAboveGb === undefined ? Infinity : positiveNumber(options.exclusiveAboveGb, "exclusiveAboveGb", false);
  const headroomGb = options.headroomGb === undefined ? 1 : nonNegative(options.headroomGb, "headroomGb");
  const maxQueue = positiveInt(options.maxQueue, "maxQueue");
  const maxConcurrent = positiveInt(options.maxConcurrent, "maxConcurrent");
  const probeTtlMs = options.probeTtlMs === undefined ? 1000 : nonNegative(options.probeTtlMs, "probeTtlMs");
  const maxScan = options.maxScan === undefined ? 256 : positiveInt(options.maxScan, "maxScan");
  if (typeof options.memoryProbe !== "function") throw new TypeError("memoryProbe must be a function returning a Promise<MemorySample>");
  const probe = options.memoryProbe;
  const { now, setTimer, clearTimer } = options.io;
  if (typeof now !== "function") throw new TypeError("now must be a function");
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
  return { budgetGb, exclusiveAboveGb, headroomGb, maxQueue, maxConcurrent, probeTtlMs, maxScan, probe, now, setTimer, clearTimer, agentCap };
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
