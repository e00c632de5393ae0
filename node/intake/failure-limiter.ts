/** Counts failed hook authentications per client in a sliding window; past the limit, callers wait (429 + Retry-After). */

export interface FailureLimiter {
  /** Seconds the client must wait, or 0 when it may try. */
  retryAfter(client: string, nowMs: number): number;
  recordFailure(client: string, nowMs: number): void;
}

/** docs/openclaw-compat.md §5: 20 failed attempts from one client in 60 s → 429. */
export function createFailureLimiter(maxFailures = 20, windowMs = 60_000, maxClients = 10_000): FailureLimiter {
  const failures = new Map<string, number[]>();
  const live = (client: string, nowMs: number) => {
    const times = (failures.get(client) ?? []).filter((t) => t > nowMs - windowMs);
    if (times.length === 0) failures.delete(client);
    else failures.set(client, times);
    return times;
  };
  return {
    retryAfter(client, nowMs) {
      const times = live(client, nowMs);
      if (times.length < maxFailures) return 0;
      return Math.max(1, Math.ceil((times[times.length - maxFailures]! + windowMs - nowMs) / 1000));
    },
    recordFailure(client, nowMs) {
      const times = live(client, nowMs);
      times.push(nowMs);
      failures.set(client, times.slice(-maxFailures));
      // Bounded memory under a spray of client addresses: forget the oldest clients first.
      if (failures.size > maxClients) failures.delete(failures.keys().next().value!);
    },
  };
}
