/**
 * The durable intake journal: every accepted delivery is committed here before its 200/202 is sent, so
 * it survives `kill -9` and power loss, and is picked up again on restart. SQLite (node:sqlite) in WAL
 * mode with synchronous=FULL: one fsync per commit, crash-safe without our own log format, and the
 * delivery id as primary key gives idempotency (a duplicate returns the original's answer) for free.
 */
import { chmodSync, closeSync, openSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";

export const JOURNAL_FILE = "intake.sqlite";

export type DeliveryState = "pending" | "done" | "dead";

/** One accepted delivery as the journal holds it (the edge's counterpart is `NodeCall`, edge/node-forwarder.ts). */
export interface JournalEntry {
  /** Envelope jti, Idempotency-Key, webhook-id, or one we made. */
  readonly deliveryId: string;
  /** "wake" | "agent" | a mapped hook's action. */
  readonly kind: string;
  /** The validated request as JSON text (kept only here, mode 0600, never logged). */
  readonly payload: string;
  /** What the caller was told, replayed verbatim to a duplicate (e.g. `{"ok":true,"runId":"…"}`). */
  readonly response: string;
  readonly receivedAt: number;
  readonly state: DeliveryState;
}

export interface AcceptResult {
  /** False when the delivery id was already journaled: `delivery` is then the original. */
  readonly inserted: boolean;
  readonly delivery: JournalEntry;
}

export interface IntakeJournal {
  accept(delivery: Omit<JournalEntry, "state">): AcceptResult;
  get(deliveryId: string): JournalEntry | undefined;
  /** Pending deliveries in arrival order: what a restart must still run. */
  pending(limit?: number): JournalEntry[];
  /** Deliveries in one state, newest first (the dead-letter list an operator reads). Default limit 100. */
  list(state: DeliveryState, limit?: number): JournalEntry[];
  settle(deliveryId: string, state: Exclude<DeliveryState, "pending">): boolean;
  /**
   * Dead → pending, for an operator's replay; any other state is left alone. True when it changed. The caller
   * (the dispatcher) must first record why the delivery may run again, or its past failures settle it dead again.
   */
  revive(deliveryId: string): boolean;
  counts(): Record<DeliveryState, number>;
  close(): void;
}

interface Row {
  delivery_id: string;
  kind: string;
  payload: string;
  response: string;
  received_at: number;
  state: DeliveryState;
}

const toDelivery = (row: Row): JournalEntry => ({
  deliveryId: row.delivery_id,
  kind: row.kind,
  payload: row.payload,
  response: row.response,
  receivedAt: row.received_at,
  state: row.state,
});

export function openIntakeJournal(stateDir: string): IntakeJournal {
  const path = join(stateDir, JOURNAL_FILE);
  // Create the file 0600 before SQLite does, so it is never readable by others even for an instant.
  closeSync(openSync(path, "a", 0o600));
  chmodSync(path, 0o600);
  const db = new DatabaseSync(path);
  db.exec(`
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = FULL;
    PRAGMA busy_timeout = 5000;
    CREATE TABLE IF NOT EXISTS deliveries (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      delivery_id TEXT NOT NULL UNIQUE,
      kind TEXT NOT NULL,
      payload TEXT NOT NULL,
      response TEXT NOT NULL,
      received_at INTEGER NOT NULL,
      state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'dead'))
    );
    CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries (state, seq);
  `);
  // The WAL and shared-memory files hold the same data: same mode.
  for (const suffix of ["-wal", "-shm"]) {
    try {
      chmodSync(path + suffix, 0o600);
    } catch {
      // created lazily by SQLite; the state dir (0700) still closes them to others
    }
  }

  const insert: StatementSync = db.prepare(
    `INSERT INTO deliveries (delivery_id, kind, payload, response, received_at, state)
     VALUES (?, ?, ?, ?, ?, 'pending') ON CONFLICT (delivery_id) DO NOTHING`,
  );
  const byId = db.prepare("SELECT * FROM deliveries WHERE delivery_id = ?");
  const pendingStmt = db.prepare("SELECT * FROM deliveries WHERE state = 'pending' ORDER BY seq LIMIT ?");
  const listStmt = db.prepare("SELECT * FROM deliveries WHERE state = ? ORDER BY seq DESC LIMIT ?");
  const reviveStmt = db.prepare("UPDATE deliveries SET state = 'pending' WHERE delivery_id = ? AND state = 'dead'");
  const settleStmt = db.prepare("UPDATE deliveries SET state = ? WHERE delivery_id = ? AND state = 'pending'");
  const countStmt = db.prepare("SELECT state, COUNT(*) AS n FROM deliveries GROUP BY state");

  return {
    accept(delivery) {
      const { changes } = insert.run(delivery.deliveryId, delivery.kind, delivery.payload, delivery.response, delivery.receivedAt);
      if (changes === 1) return { inserted: true, delivery: { ...delivery, state: "pending" } };
      return { inserted: false, delivery: toDelivery(byId.get(delivery.deliveryId) as unknown as Row) };
    },
    get(deliveryId) {
      const row = byId.get(deliveryId) as unknown as Row | undefined;
      return row ? toDelivery(row) : undefined;
    },
    pending(limit = 1000) {
      return (pendingStmt.all(limit) as unknown as Row[]).map(toDelivery);
    },
    list(state, limit = 100) {
      return (listStmt.all(state, limit) as unknown as Row[]).map(toDelivery);
    },
    revive(deliveryId) {
      return reviveStmt.run(deliveryId).changes === 1;
    },
    settle(deliveryId, state) {
      return settleStmt.run(state, deliveryId).changes === 1;
    },
    counts() {
      const counts: Record<DeliveryState, number> = { pending: 0, done: 0, dead: 0 };
      for (const row of countStmt.all() as unknown as { state: DeliveryState; n: number }[]) counts[row.state] = row.n;
      return counts;
    },
    close() {
      db.close();
    },
  };
}
