/**
 * Failed-authentication limits per client at the edge, applying the shared rule (shared/failure-window.ts,
 * docs/openclaw-compat.md §5: 20 failures in 60 s → 429 + Retry-After).
 * The interface is touched only on failure, plus one in-isolate lookup per request, so a correct caller never
 * pays for a round trip; the Durable Object implementation (auth-state-object.ts) makes the count hold across
 * isolates, the memory one here is the per-isolate fallback and the unit under test.
 */
import { DEFAULT_FAILURE_LIMIT, type FailureLimit, createFailureWindow, windowRetryAfter } from "../../shared/failure-window.ts";

export { DEFAULT_FAILURE_LIMIT, type FailureLimit, windowRetryAfter };

export interface FailureLimiter {
  /** Seconds the client must still wait, from what this isolate already knows (no I/O); 0 = may try. */
  blockedFor(client: string, nowMs: number): number;
  /** Counts one failure; resolves to the seconds to wait when the limit is now reached, else 0. */
  recordFailure(client: string, nowMs: number): Promise<number>;
}

/** In-isolate memory: bounded (oldest clients forgotten first under a spray of addresses). */
export function createMemoryFailureLimiter(limit: FailureLimit = DEFAULT_FAILURE_LIMIT, maxClients = 10_000): FailureLimiter {
  const window = createFailureWindow(limit, maxClients);
  return {
    blockedFor: (client, nowMs) => window.blockedFor(client, nowMs),
    recordFailure: async (client, nowMs) => window.recordFailure(client, nowMs),
  };
}
