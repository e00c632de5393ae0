/** The scheduler's event listeners: the closed set of `SchedulerEvents`, called synchronously, a throwing listener ignored. */
import type { SchedulerEventName, SchedulerEvents } from "./scheduler-types.ts";

export interface SchedulerEmitter {
  emit<E extends SchedulerEventName>(event: E, payload: SchedulerEvents[E]): void;
  on<E extends SchedulerEventName>(event: E, listener: (payload: SchedulerEvents[E]) => void): () => void;
  off<E extends SchedulerEventName>(event: E, listener: (payload: SchedulerEvents[E]) => void): void;
}

export function createSchedulerEmitter(): SchedulerEmitter {
  const listeners: { [E in SchedulerEventName]: Set<(p: SchedulerEvents[E]) => void> } = {
    queued: new Set(),
    started: new Set(),
    finished: new Set(),
    blocked: new Set(),
    idle: new Set(),
  };
  return {
    emit(event, payload) {
      for (const fn of listeners[event]) {
        try {
          fn(payload);
        } catch {
          // A listener must not break scheduling.
        }
      }
    },
    on(event, listener) {
      const set = listeners[event] as Set<typeof listener> | undefined;
      if (set === undefined) throw new TypeError(`unknown scheduler event "${String(event)}"`);
      set.add(listener);
      return () => set.delete(listener);
    },
    off(event, listener) {
      (listeners[event] as Set<typeof listener> | undefined)?.delete(listener);
    },
  };
}
