/**
 * The durable intake journal: every accepted delivery is committed here before its 200/202 is sent, so
 * it survives `kill -9` and power loss, and is picked up again on restart. SQLite (node:sqlite) in WAL
 * mode, crash-safe without our own log format; the delivery id as primary key gives idempotency (a
 * duplicate returns the original's answer) for free.
 *
 * Durability is SQLite's `synchronous=FULL` in WAL mode — the WAL file synced after every commit — done by
 * the journal itself on top of `synchronous=NORMAL` (which already syncs the WAL before each checkpoint, the
 * database after it, and the WAL header when the WAL is reused; https://sqlite.org/pragma.html#pragma_synchronous):
 * a single write (`accept`, `settle`, `revive`) syncs the WAL before it returns; a group commit
 * (`acceptGrouped`) syncs it on libuv's thread pool (fdatasync), so the event loop keeps serving while the
 * disk works. Deliveries that reach the journal while no sync is in flight share a transaction that commits at
 * the end of that turn of the loop; deliveries that arrive while a sync is in flight share one transaction that
 * commits when that sync ends, and one sync after it — so under load there is one commit and one sync per
 * sync's worth of arrivals, and an idle journal commits a lone delivery at once. Each caller's promise settles
 * only after a sync that covers its row, so nothing is acknowledged before it is durable; a failed commit or
 * sync fails its group.
 *
 * A failed WAL sync also stops the journal from taking deliveries (JournalFailedError): after a failed fsync the
 * kernel may have dropped the unwritten pages and a later sync can succeed without them, so a row the page cache
 * still shows is not known to be on disk and a retry must not be answered from it. Only reopening the journal
 * (a restart) reads back what the disk holds; `onFailure` tells the owner to do that.
 */
import { chmodSync, closeSync, fdatasync, fdatasyncSync, openSync } from "node:fs";
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

/** A group's commit or sync failed: none of its deliveries is known durable, so none may be acknowledged. */
export class JournalCommitError extends Error {
  override readonly name: "JournalCommitError" | "JournalFailedError" = "JournalCommitError";
  readonly code: "ERR_JOURNAL_COMMIT" | "ERR_JOURNAL_FAILED" = "ERR_JOURNAL_COMMIT";
  constructor(options?: { cause?: unknown }, message = "the intake journal could not commit") {
    super(message, options);
  }
}

/** A WAL sync failed: the journal takes no delivery until it is reopened from what the disk holds. */
export class JournalFailedError extends JournalCommitError {
  override readonly name = "JournalFailedError";
  override readonly code = "ERR_JOURNAL_FAILED";
  constructor(options?: { cause?: unknown }) {
    super(options, "the intake journal stopped after a failed WAL sync; it takes no delivery until the node restarts");
  }
}

export interface JournalStats {
  /** Transactions committed since open (grouped and single). */
  readonly commits: number;
  /** Off-loop WAL syncs for group commits since open (one covers every group committed before it started). */
  readonly syncs: number;
  /** Deliveries inserted since open (duplicates not counted). */
  readonly inserted: number;
}

export interface IntakeJournalOptions {
  /** Ends a group's transaction; production: `COMMIT`. Tests inject a failing one. */
  readonly commit?: (db: DatabaseSync) => void;
  /** Syncs the WAL file for committed groups, off the event loop; production: `fs.fdatasync`. Tests inject a slow or failing one. */
  readonly sync?: (fd: number, done: (error: Error | null) => void) => void;
  /** Syncs the WAL file in place, for a single write and at close; production: `fs.fdatasyncSync`. Tests inject a failing one. */
  readonly syncNow?: (fd: number) => void;
  /** Called once, when a WAL sync fails and the journal stops taking deliveries: the owner should restart. */
  readonly onFailure?: (error: JournalFailedError) => void;
}

export interface IntakeJournal {
  /** Journals one delivery in its own transaction, durable when it returns (a group in progress commits first). */
  accept(delivery: Omit<JournalEntry, "state">): AcceptResult;
  /**
   * Journals one delivery in the next group commit; resolves once that commit is durable, rejects with a
   * JournalCommitError when it failed (then nothing of the group is stored).
   */
  acceptGrouped(delivery: Omit<JournalEntry, "state">): Promise<AcceptResult>;
  /** Set once a WAL sync has failed: from then on every accept is refused with this error. */
  failure(): JournalFailedError | undefined;
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
  stats(): JournalStats;
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

interface Waiter {
  readonly delivery: Omit<JournalEntry, "state">;
  /** Set when the group's transaction inserted (or found) the row. */
  result?: AcceptResult;
  readonly resolve: (result: AcceptResult) => void;
  readonly reject: (error: JournalCommitError) => void;
}

interface Group {
  readonly waiters: Waiter[];
  /** The delivery ids waiting in this group, still unwritten. */
  readonly ids: Set<string>;
}

export function openIntakeJournal(stateDir: string, options: IntakeJournalOptions = {}): IntakeJournal {
  const path = join(stateDir, JOURNAL_FILE);
  // Create the file 0600 before SQLite does, so it is never readable by others even for an instant.
  closeSync(openSync(path, "a", 0o600));
  chmodSync(path, 0o600);
  const db = new DatabaseSync(path);
  db.exec(`
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = NORMAL;
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
  // What the journal will answer from is made durable before it answers: the checkpoint writes what the WAL holds
  // into the database file and syncs that. After a failed sync (JournalFailedError) the WAL's pages may sit in the
  // page cache without being on disk; this is what puts them there. PASSIVE waits for nobody: frames newer than an
  // old snapshot another process holds open (a backup tool's) stay in the WAL for a later checkpoint.
  db.prepare("PRAGMA wal_checkpoint(PASSIVE)").get();
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
  const commitTx = options.commit ?? ((d: DatabaseSync) => d.exec("COMMIT"));
  let commits = 0;
  let syncs = 0;
  let inserted = 0;

  const insertRow = (delivery: Omit<JournalEntry, "state">): AcceptResult => {
    const { changes } = insert.run(delivery.deliveryId, delivery.kind, delivery.payload, delivery.response, delivery.receivedAt);
    if (changes === 1) {
      inserted++;
      return { inserted: true, delivery: { ...delivery, state: "pending" } };
    }
    return { inserted: false, delivery: toDelivery(byId.get(delivery.deliveryId) as unknown as Row) };
  };

  /**
   * The WAL file, for syncing it: opened after the first write has created it. SQLite keeps this same file
   * while any connection is open (it is deleted only when the last one closes), so one descriptor serves.
   */
  let walFd: number | undefined;
  const wal = () => (walFd ??= openSync(path + "-wal", "a", 0o600));
  const syncWal = options.sync ?? fdatasync;
  const syncNow = options.syncNow ?? fdatasyncSync;
  /** Committed, waiting for the sync in flight to finish before theirs can start. */
  let unsynced: Waiter[] = [];
  let syncing = false;
  let closed = false;
  let failed: JournalFailedError | undefined;
  const settleAll = (waiters: Waiter[], error?: unknown) => {
    const failure = error === undefined ? undefined : error instanceof JournalCommitError ? error : new JournalCommitError({ cause: error });
    for (const waiter of waiters) if (failure) waiter.reject(failure);
    else waiter.resolve(waiter.result!);
  };
  /**
   * Rows committed but never synced are not known durable: their callers and every later delivery are refused.
   * The kernel reports a lost write once, to whichever sync of the file comes first, so after any failed sync no
   * later success vouches for what was committed before it.
   */
  const syncFailed = (covered: Waiter[], error: unknown) => {
    // What a read committed during the sync is no more durable than the group that failed.
    covered.push(...unsynced);
    unsynced = [];
    settleAll(covered, error);
    if (failed) return;
    failed = new JournalFailedError({ cause: error });
    options.onFailure?.(failed);
  };
  /** A blocking sync (single writes, close): a failure stops the journal like a group's, then reaches the caller. */
  const syncInPlace = () => {
    try {
      syncNow(wal());
    } catch (error) {
      syncFailed([], error);
      throw error;
    }
  };
  const startSync = () => {
    if (syncing || unsynced.length === 0) return;
    const covered = unsynced;
    unsynced = [];
    if (closed) return settleAll(covered); // close() synced everything already
    syncing = true;
    let fd: number;
    try {
      fd = wal();
    } catch (error) {
      syncing = false;
      return syncFailed(covered, error);
    }
    syncs++;
    syncWal(fd, (error) => {
      syncing = false;
      // A blocking sync that failed meanwhile may have taken this sync's error: its success vouches for nothing.
      if (error || failed) syncFailed(covered, error ?? failed);
      else settleAll(covered);
      if (closed && unsynced.length === 0) return closeWal();
      // The group that gathered during this sync commits now; the next sync covers it and anything a read or a
      // single write committed meanwhile (even when this group's commit failed).
      if (group) flush();
      startSync();
    });
  };
  const closeWal = () => {
    if (walFd !== undefined && !syncing) {
      closeSync(walFd);
      walFd = undefined;
    }
  };

  /**
   * The open group: deliveries waiting for `flush`, which writes them in one transaction, back to back — at the
   * end of the turn of the loop the first arrived in (setImmediate) when no sync is in flight, else when the sync
   * in flight ends, so every delivery that arrives meanwhile joins. Every other write and every read of a waiting
   * id flushes first, so nothing else ever shares or rolls back with a group.
   */
  let group: Group | undefined;
  const flush = () => {
    const current = group;
    if (!current) return;
    group = undefined;
    if (failed) return settleAll(current.waiters, failed);
    let added = 0;
    try {
      db.exec("BEGIN IMMEDIATE");
      for (const waiter of current.waiters) {
        waiter.result = insertRow(waiter.delivery);
        if (waiter.result.inserted) added++;
      }
      commitTx(db);
      commits++;
    } catch (error) {
      // SQLite may already have rolled the transaction back (SQLITE_FULL, IOERR): the group fails whole.
      try {
        if (db.isTransaction) db.exec("ROLLBACK");
      } catch {
        // the database itself is gone (closed): nothing of the group was committed
      }
      inserted -= added;
      settleAll(current.waiters, error);
      return;
    }
    for (const waiter of current.waiters) unsynced.push(waiter);
    startSync();
  };
  /** A single write in its own transaction, durable when it returns (the WAL synced here, like synchronous=FULL). */
  const single = <T>(write: () => T): T => {
    flush();
    const result = write();
    commits++;
    syncInPlace();
    return result;
  };

  return {
    accept(delivery) {
      if (failed) throw failed;
      return single(() => insertRow(delivery));
    },
    acceptGrouped(delivery) {
      if (failed) return Promise.reject(failed);
      if (closed) return Promise.reject(new JournalCommitError({ cause: new Error("the intake journal is closed") }));
      if (!group) {
        group = { waiters: [], ids: new Set() };
        // While a sync is in flight its end flushes this group (startSync's callback).
        setImmediate(() => {
          if (!syncing) flush();
        });
      }
      const current = group;
      current.ids.add(delivery.deliveryId);
      return new Promise<AcceptResult>((resolve, reject) => {
        current.waiters.push({ delivery, resolve, reject });
      });
    },
    get(deliveryId) {
      // A delivery of the open group is not written yet: commit it before anyone answers from it.
      if (group?.ids.has(deliveryId)) flush();
      const row = byId.get(deliveryId) as unknown as Row | undefined;
      return row ? toDelivery(row) : undefined;
    },
    pending(limit = 1000) {
      flush();
      return (pendingStmt.all(limit) as unknown as Row[]).map(toDelivery);
    },
    list(state, limit = 100) {
      flush();
      return (listStmt.all(state, limit) as unknown as Row[]).map(toDelivery);
    },
    revive(deliveryId) {
      return single(() => reviveStmt.run(deliveryId).changes === 1);
    },
    settle(deliveryId, state) {
      return single(() => settleStmt.run(state, deliveryId).changes === 1);
    },
    counts() {
      flush();
      const counts: Record<DeliveryState, number> = { pending: 0, done: 0, dead: 0 };
      for (const row of countStmt.all() as unknown as { state: DeliveryState; n: number }[]) counts[row.state] = row.n;
      return counts;
    },
    failure() {
      return failed;
    },
    stats() {
      return { commits, syncs, inserted };
    },
    close() {
      flush();
      let synced = true;
      // After a failed sync nothing more is acknowledged, so there is nothing to sync for.
      if (!failed && (walFd !== undefined || unsynced.length > 0)) {
        try {
          syncInPlace();
        } catch {
          synced = false; // the waiters are failed and the owner told (syncFailed); the close goes on
        }
      }
      closed = true;
      // Everything committed is synced now: nobody waits for the sync still in flight (it closes the file when done).
      if (synced) settleAll(unsynced);
      unsynced = [];
      closeWal();
      db.close();
    },
  };
}
