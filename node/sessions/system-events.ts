/**
 * Per-session system-event queues (docs/openclaw-compat.md §6): wakes and hook summaries wait here until the session's
 * next heartbeat puts them into its prompt as `System:` lines. Each event remembers its journal delivery, so the
 * delivery is settled only once a run has actually consumed it.
 */

export interface SystemEvent {
  readonly text: string;
  /** ms since epoch, when it was queued. */
  readonly at: number;
  /** The intake delivery this event came from (a wake), settled after the consuming run. */
  readonly deliveryId?: string;
  /** Heartbeat runs that already failed with this event in them (bounded retries). */
  readonly attempts: number;
}

export interface SystemEventQueues {
  enqueue(sessionKey: string, event: Omit<SystemEvent, "attempts"> & { attempts?: number }): void;
  /** Takes every pending event of a session (oldest first). */
  drain(sessionKey: string): SystemEvent[];
  /** Puts events back at the front (a heartbeat that failed), keeping their order. */
  requeue(sessionKey: string, events: readonly SystemEvent[]): void;
  pending(sessionKey: string): number;
  /** When the oldest pending event of a session was queued, or undefined. */
  oldestAt(sessionKey: string): number | undefined;
  /** The delivery ids waiting in any queue (so a restart does not enqueue them twice). */
  hasDelivery(deliveryId: string): boolean;
}

/** The prompt lines: one `System: <text>` per event, newlines inside an event folded so each stays one line. */
export function systemLines(events: readonly SystemEvent[]): string {
  return events.map((e) => `System: ${e.text.replace(/\s*\n\s*/g, " ").trim()}`).join("\n");
}

export function createSystemEventQueues(options: { maxPerSession?: number } = {}): SystemEventQueues {
  const maxPerSession = options.maxPerSession ?? 1000;
  const queues = new Map<string, SystemEvent[]>();
  const deliveries = new Set<string>();
  /** Per session: events without a delivery dropped because the queue was full (said in one line at drain). */
  const dropped = new Map<string, number>();
  return {
    enqueue(sessionKey, event) {
      if (event.deliveryId !== undefined && deliveries.has(event.deliveryId)) return;
      let q = queues.get(sessionKey);
      if (!q) queues.set(sessionKey, (q = []));
      // Bounded, but never silently: when full, the oldest event without a delivery (a summary, a secrets notice)
      // gives way and the next drain says how many did. Wake events are journaled, so they are never dropped here.
      if (q.length >= maxPerSession && event.deliveryId === undefined) {
        const i = q.findIndex((e) => e.deliveryId === undefined);
        if (i >= 0) {
          q.splice(i, 1);
          dropped.set(sessionKey, (dropped.get(sessionKey) ?? 0) + 1);
        }
      }
      q.push({ ...event, attempts: event.attempts ?? 0 });
      if (event.deliveryId !== undefined) deliveries.add(event.deliveryId);
    },
    drain(sessionKey) {
      const q = queues.get(sessionKey) ?? [];
      queues.delete(sessionKey);
      for (const e of q) if (e.deliveryId !== undefined) deliveries.delete(e.deliveryId);
      const n = dropped.get(sessionKey);
      if (n !== undefined && q.length > 0) {
        dropped.delete(sessionKey);
        q.unshift({ text: `(${n} older system events were dropped: the queue was full)`, at: q[0]!.at, attempts: 0 });
      }
      return q;
    },
    requeue(sessionKey, events) {
      const q = queues.get(sessionKey) ?? [];
      queues.set(sessionKey, [...events, ...q]);
      for (const e of events) if (e.deliveryId !== undefined) deliveries.add(e.deliveryId);
    },
    pending: (sessionKey) => queues.get(sessionKey)?.length ?? 0,
    oldestAt: (sessionKey) => queues.get(sessionKey)?.[0]?.at,
    hasDelivery: (id) => deliveries.has(id),
  };
}
