/**
 * The outbox's retry schedule: when a failed delivery is tried again (the configured Svix-like schedule, or
 * longer when the node's Retry-After asks for it), when it becomes a dead letter, and how much one alarm run tries.
 */

/** Deliveries attempted per alarm run, so one run stays well inside a Durable Object's limits. */
export const ALARM_BATCH = 25;
/** Attempts in flight at once within an alarm run. */
export const ALARM_CONCURRENCY = 5;
/** How often an alert or recovery whose POST failed is tried again. */
export const ALERT_RETRY_MS = 60_000;

/**
 * Milliseconds until the attempt after `attempts` failed ones; Infinity when the schedule is spent. A node's
 * Retry-After (429/503, RFC 9110 §10.2.3) is honoured when it asks for longer than the schedule.
 */
export function delayAfter(schedule: readonly number[], attempts: number, retryAfterSeconds?: number): number {
  const seconds = schedule[attempts - 1];
  if (seconds === undefined) return Number.POSITIVE_INFINITY;
  return Math.round(Math.max(seconds, retryAfterSeconds ?? 0) * 1000);
}

/** When a delivery that failed its `attempts`-th attempt is due again: an epoch ms, or null for a dead letter. */
export function nextAttemptAt(schedule: readonly number[], attempts: number, now: number, retryAfterSeconds?: number): number | null {
  const delay = delayAfter(schedule, attempts, retryAfterSeconds);
  return Number.isFinite(delay) ? now + delay : null;
}

/** Runs `work` over `items`, at most `concurrency` at a time, in order of the list. */
export async function inWaves<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += concurrency) await Promise.all(items.slice(i, i + concurrency).map(work));
}
