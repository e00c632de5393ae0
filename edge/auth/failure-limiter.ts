/**
 * Failed-authentication limits per client (docs/openclaw-compat.md §5: 20 failures in 60 s → 429 + Retry-After).
 * The interface is touched only on failure, plus one in-isolate lookup per request, so a correct caller never
 * pays for a round trip; the Durable Object implementation (auth-state-object.ts) makes the count hold across
 * isolates, the memory one here is the per-isolate fallback and the unit under test.
 */

export interface FailureLimiter {
  /** Seconds the client must still wait, from what this isolate already knows (no I/O); 0 = may try. */
  blockedFor(client: string, nowMs: number): number;
  /** Counts one failure; resolves to the seconds to wait when the limit is now reached, else 0. */
  recordFailure(client: string, nowMs: number): Promise<number>;
}

export interface FailureLimit {
  readonly maxFailures: number;
  readonly windowMs: number;
}

export const DEFAULT_FAILURE_LIMIT: FailureLimit = Object.freeze({ maxFailures: 20, windowMs: 60_000 });

/** The sliding-window rule both implementations share: failures times in, seconds to wait out. */
export function windowRetryAfter(times: readonly number[], nowMs: number, limit: FailureLimit): number {
  const live = times.filter((t) => t > nowMs - limit.windowMs);
  if (live.length < limit.maxFailures) return 0;
  return Math.max(1, Math.ceil((live[live.length - limit.maxFailures]! + limit.windowMs - nowMs) / 1000));
}

/** In-isolate memory: bounded (oldest clients forgotten first under a spray of addresses). */
export function createMemoryFailureLimiter(limit: FailureLimit = DEFAULT_FAILURE_LIMIT, maxClients = 10_000): FailureLimiter {
  const failures = new Map<string, number[]>();
  const live = (client: string, nowMs: number) => (failures.get(client) ?? []).filter((t) => t > nowMs - limit.windowMs);
  return {
    blockedFor(client, nowMs) {
      return windowRetryAfter(live(client, nowMs), nowMs, limit);
    },
    async recordFailure(client, nowMs) {
      const times = live(client, nowMs);
      times.push(nowMs);
      failures.delete(client);
      failures.set(client, times.slice(-limit.maxFailures));
      if (failures.size > maxClients) failures.delete(failures.keys().next().value!);
      return windowRetryAfter(times, nowMs, limit);
    },
  };
}
