/**
 * The edge's I/O — outbound fetch, clock, ids and log lines — built once where the runtime hands control to our
 * code (the Worker's entry, edge/index.ts, and the outbox Durable Object) and passed whole to what needs it,
 * so no layer picks its own default. Tests build their own with fakes.
 */
import { timeOrderedId } from "../shared/time-ordered-id.ts";

export interface EdgeIo {
  /** Outbound fetch: the node, remote key sets, the alert webhook. */
  readonly fetch: typeof fetch;
  /** Milliseconds since the epoch. */
  readonly now: () => number;
  /** A fresh delivery id for a call that brings no key of its own (production: time-ordered, shared/time-ordered-id.ts). */
  readonly newDeliveryId: () => string;
  /** One structured event (metadata only, never a body or a credential). */
  readonly logEvent: (event: Record<string, unknown>) => void;
  /** One plain line: the single "misconfigured" line per isolate. */
  readonly log: (line: string) => void;
}

/** Production I/O: the global fetch, the real clock, WebCrypto ids, one JSON line per event on the console. */
export function productionEdgeIo(): EdgeIo {
  return {
    fetch: (input, init) => fetch(input, init),
    now: () => Date.now(),
    newDeliveryId: () => timeOrderedId(Date.now(), () => crypto.randomUUID()),
    logEvent: (event) => console.log(JSON.stringify(event)),
    log: (line) => console.error(line),
  };
}
