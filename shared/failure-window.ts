/**
 * The failed-authentication rule both halves apply (docs/security.md): 20 failures from one client within 60 s,
 * and that client waits (429 + Retry-After) until its oldest counted failure leaves the window.
 */

export interface FailureLimit {
  readonly maxFailures: number;
  readonly windowMs: number;
}

export const DEFAULT_FAILURE_LIMIT: FailureLimit = Object.freeze({ maxFailures: 20, windowMs: 60_000 });

/** Failure times in, seconds to wait out (0 = may try). */
export function windowRetryAfter(times: readonly number[], nowMs: number, limit: FailureLimit): number {
  const live = times.filter((t) => t > nowMs - limit.windowMs);
  if (live.length < limit.maxFailures) return 0;
  return Math.max(1, Math.ceil((live[live.length - limit.maxFailures]! + limit.windowMs - nowMs) / 1000));
}

/** One limiter's memory of failures per client. */
export interface FailureWindow {
  /** Seconds the client must still wait; 0 = may try. */
  blockedFor(client: string, nowMs: number): number;
  /** Counts one failure; returns the seconds to wait when the limit is now reached, else 0. */
  recordFailure(client: string, nowMs: number): number;
  /** Forgets the client's failures (a correct credential was just presented). */
  clear(client: string): void;
}

/** In memory, bounded: under a spray of client keys the oldest clients are forgotten first. */
export function createFailureWindow(limit: FailureLimit = DEFAULT_FAILURE_LIMIT, maxClients = 10_000): FailureWindow {
  if (!Number.isInteger(limit.maxFailures) || limit.maxFailures < 1) throw new TypeError("maxFailures must be a positive integer");
  if (!(limit.windowMs > 0)) throw new TypeError("windowMs must be positive");
  const failures = new Map<string, number[]>();
  const live = (client: string, nowMs: number) => (failures.get(client) ?? []).filter((t) => t > nowMs - limit.windowMs);
  return {
    blockedFor(client, nowMs) {
      const times = live(client, nowMs);
      if (times.length === 0) failures.delete(client);
      return windowRetryAfter(times, nowMs, limit);
    },
    recordFailure(client, nowMs) {
      const times = live(client, nowMs);
      times.push(nowMs);
      failures.delete(client);
      failures.set(client, times.slice(-limit.maxFailures));
      if (failures.size > maxClients) failures.delete(failures.keys().next().value!);
      return windowRetryAfter(times, nowMs, limit);
    },
    clear(client) {
      failures.delete(client);
    },
  };
}
