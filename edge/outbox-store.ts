/**
 * The outbox's queue store: the `deliveries` table of one outbox Durable Object (its SQLite storage) — every call
 * kept until its node has it, with its attempts, schedule position and last error — and the reads the operator API
 * shows (metadata only, never a body).
 */
import type { NodeCall, NodeAnswer } from "./node-forwarder.ts";

export type DeliveryStatus = "pending" | "delivered" | "dead" | "rejected";

/** What the operator API shows of a delivery: metadata only, never the body. */
export interface DeliveryInfo {
  readonly deliveryId: string;
  readonly nodeId: string;
  readonly path: string;
  readonly principal: string;
  readonly jobId: string | null;
  readonly status: DeliveryStatus;
  readonly attempts: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly nextAttemptAt: string | null;
  readonly lastError: string | null;
  readonly lastStatus: number | null;
  readonly coalescedTicks: number;
}

/** One stored delivery row, as SQLite returns it. */
export type DeliveryRow = Record<string, SqlStorageValue>;

export const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

/** Why a delivery is waiting: the failure of its last attempt. */
export interface AttemptFailure {
  readonly reason: string;
  readonly status?: number | undefined;
}

export class OutboxStore {
  readonly #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS deliveries (
      delivery_id TEXT PRIMARY KEY,
      node_id TEXT NOT NULL,
      path TEXT NOT NULL,
      body BLOB NOT NULL,
      content_type TEXT NOT NULL,
      principal TEXT NOT NULL,
      job_id TEXT,
      status TEXT NOT NULL,
      attempts INTEGER NOT NULL,
      next_attempt_at INTEGER,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      last_error TEXT,
      last_status INTEGER,
      coalesced INTEGER NOT NULL DEFAULT 0,
      headers TEXT
    )`);
    sql.exec("CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, next_attempt_at)");
    sql.exec("CREATE INDEX IF NOT EXISTS deliveries_job ON deliveries (job_id, status)");
  }

  statusOf(deliveryId: string): DeliveryStatus | undefined {
    const rows = this.#sql.exec("SELECT status FROM deliveries WHERE delivery_id = ?", deliveryId).toArray();
    return rows[0]?.["status"] as DeliveryStatus | undefined;
  }

  /** A new pending delivery whose first attempt failed, due again at `nextAttemptAt`. */
  insertPending(delivery: NodeCall, jobId: string | undefined, now: number, nextAttemptAt: number, failure: AttemptFailure): void {
    this.#sql.exec(
      `INSERT INTO deliveries (delivery_id, node_id, path, body, content_type, principal, headers, job_id, status, attempts, next_attempt_at, created_at, updated_at, last_error, last_status)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', 1, ?, ?, ?, ?, ?)`,
      ...deliveryColumns(delivery, jobId),
      nextAttemptAt,
      now,
      now,
      failure.reason,
      failure.status ?? null,
    );
  }

  /** A call the node refused for good: stored (or updated) as `rejected`, never retried. */
  upsertRejected(delivery: NodeCall, answer: NodeAnswer, jobId: string | undefined, now: number): void {
    this.#sql.exec(
      `INSERT INTO deliveries (delivery_id, node_id, path, body, content_type, principal, headers, job_id, status, attempts, next_attempt_at, created_at, updated_at, last_error, last_status)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'rejected', 1, NULL, ?, ?, ?, ?)
       ON CONFLICT (delivery_id) DO UPDATE SET status = 'rejected', next_attempt_at = NULL, updated_at = excluded.updated_at,
         last_error = excluded.last_error, last_status = excluded.last_status`,
      ...deliveryColumns(delivery, jobId),
      now,
      now,
      rejectionText(answer),
      answer.status,
    );
  }

  /** Pending deliveries due by `now`, soonest first. */
  due(now: number, limit: number): DeliveryRow[] {
    return this.#sql.exec("SELECT * FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?", now, limit).toArray();
  }

  /** The oldest pending delivery of a cron job, if one waits. */
  waitingFor(jobId: string): DeliveryRow | undefined {
    return this.#sql.exec("SELECT * FROM deliveries WHERE job_id = ? AND status = 'pending' ORDER BY created_at LIMIT 1", jobId).toArray()[0];
  }

  addCoalescedTick(deliveryId: string): void {
    this.#sql.exec("UPDATE deliveries SET coalesced = coalesced + 1 WHERE delivery_id = ?", deliveryId);
  }

  markDelivered(deliveryId: string, attempts: number, now: number, status: number): void {
    this.#sql.exec("UPDATE deliveries SET status = 'delivered', attempts = ?, next_attempt_at = NULL, updated_at = ?, last_status = ? WHERE delivery_id = ?", attempts, now, status, deliveryId);
  }

  /** A failed probe (a coalesced tick's extra attempt): noted, its schedule position unchanged. */
  noteProbeFailure(deliveryId: string, now: number, failure: AttemptFailure): void {
    this.#sql.exec("UPDATE deliveries SET updated_at = ?, last_error = ?, last_status = ? WHERE delivery_id = ?", now, failure.reason, failure.status ?? null, deliveryId);
  }

  /** A failed attempt: pending again at `nextAttemptAt`, or dead when that is null. */
  markFailed(deliveryId: string, attempts: number, now: number, nextAttemptAt: number | null, failure: AttemptFailure): void {
    this.#sql.exec(
      "UPDATE deliveries SET status = ?, attempts = ?, next_attempt_at = ?, updated_at = ?, last_error = ?, last_status = ? WHERE delivery_id = ?",
      nextAttemptAt === null ? "dead" : "pending",
      attempts,
      nextAttemptAt,
      now,
      failure.reason,
      failure.status ?? null,
      deliveryId,
    );
  }

  /** A dead letter back in line, due now; attempts restart at 1, so a replay gets the whole schedule again. */
  reopen(deliveryId: string, now: number): void {
    this.#sql.exec("UPDATE deliveries SET status = 'pending', attempts = 1, next_attempt_at = ?, updated_at = ? WHERE delivery_id = ?", now, now, deliveryId);
  }

  /**
   * Makes due now what waits for `nodeId` because it was unreachable (not what it answered 429/503 to: it asked
   * for time then). Every node when `nodeId` is undefined and `onlyUnreachable` false (the operator's retry-now).
   */
  pullForward(now: number, scope: { readonly nodeId?: string; readonly onlyUnreachable: boolean }): number {
    // RETURNING, not rowsWritten: the latter also counts index writes.
    const unreachable = scope.onlyUnreachable ? " AND (last_status IS NULL OR last_status NOT IN (429, 503))" : "";
    const node = scope.nodeId !== undefined ? " AND node_id = ?" : "";
    const args: SqlStorageValue[] = scope.nodeId !== undefined ? [now, scope.nodeId, now] : [now, now];
    const sql = `UPDATE deliveries SET next_attempt_at = ? WHERE status = 'pending'${node} AND next_attempt_at > ?${unreachable} RETURNING delivery_id`;
    return this.#sql.exec(sql, ...args).toArray().length;
  }

  pruneDelivered(before: number): void {
    this.#sql.exec("DELETE FROM deliveries WHERE status = 'delivered' AND updated_at < ?", before);
  }

  /** When the soonest pending delivery is due, if any. */
  nextDue(): number | undefined {
    const next = this.#sql.exec("SELECT MIN(next_attempt_at) AS at FROM deliveries WHERE status = 'pending'").one()["at"];
    return typeof next === "number" ? next : undefined;
  }

  status(limit: number): { counts: Record<DeliveryStatus, number>; pending: DeliveryInfo[] } {
    const counts: Record<DeliveryStatus, number> = { pending: 0, delivered: 0, dead: 0, rejected: 0 };
    for (const row of this.#sql.exec("SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status")) {
      counts[row["status"] as DeliveryStatus] = Number(row["n"]);
    }
    const pending = this.#sql.exec("SELECT * FROM deliveries WHERE status = 'pending' ORDER BY next_attempt_at LIMIT ?", limit).toArray().map(toInfo);
    return { counts, pending };
  }

  deadLetters(limit: number): DeliveryInfo[] {
    return this.#sql.exec("SELECT * FROM deliveries WHERE status IN ('dead', 'rejected') ORDER BY updated_at DESC LIMIT ?", limit).toArray().map(toInfo);
  }
}

/** The operator-facing reason for a node's final refusal: its `error` text when it sent JSON, else the status. */
export function rejectionText(answer: NodeAnswer): string {
  let error: unknown;
  try {
    error = (JSON.parse(answer.body) as { error?: unknown }).error;
  } catch {
    // not JSON: the status alone
  }
  return typeof error === "string" ? `node answered ${answer.status}: ${error.slice(0, 200)}` : `node answered ${answer.status}`;
}

export function toDelivery(row: DeliveryRow): NodeCall {
  return {
    deliveryId: row["delivery_id"] as string,
    nodeId: row["node_id"] as string,
    path: row["path"] as string,
    body: new Uint8Array(row["body"] as ArrayBuffer),
    contentType: row["content_type"] as string,
    principal: row["principal"] as string,
    ...(typeof row["headers"] === "string" ? { headers: JSON.parse(row["headers"]) as Record<string, string> } : {}),
  };
}

function toInfo(row: DeliveryRow): DeliveryInfo {
  return {
    deliveryId: row["delivery_id"] as string,
    nodeId: row["node_id"] as string,
    path: row["path"] as string,
    principal: row["principal"] as string,
    jobId: row["job_id"] as string | null,
    status: row["status"] as DeliveryStatus,
    attempts: Number(row["attempts"]),
    createdAt: iso(Number(row["created_at"]))!,
    updatedAt: iso(Number(row["updated_at"]))!,
    nextAttemptAt: iso(row["next_attempt_at"] as number | null),
    lastError: row["last_error"] as string | null,
    lastStatus: row["last_status"] as number | null,
    coalescedTicks: Number(row["coalesced"]),
  };
}

/** The stored columns of a delivery, in the order of the INSERTs above (delivery_id … job_id). */
function deliveryColumns(delivery: NodeCall, jobId: string | undefined): (string | Uint8Array | null)[] {
  return [
    delivery.deliveryId,
    delivery.nodeId,
    delivery.path,
    delivery.body,
    delivery.contentType,
    delivery.principal,
    delivery.headers ? JSON.stringify(delivery.headers) : null,
    jobId ?? null,
  ];
}
