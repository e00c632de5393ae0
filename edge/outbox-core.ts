/**
 * The outbox's logic over the Durable Object's SQLite storage: deliveries kept until the node has them
 * (retried on a Svix-like schedule, then dead letters an operator can replay), cron ticks with their last
 * runs, and the dead-man's switch. Clock, alarm, forwarding and alerting are injected, so tests drive it.
 */
import type { CronJob, EdgeConfig } from "./edge-config.ts";
import type { AlertSender } from "./deadman-alert.ts";
import type { NodeCall, ForwardOutcome, NodeAnswer, NodeForwarder } from "./node-forwarder.ts";

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

export type CronOutcome = "pending" | "delivered" | "queued" | "coalesced" | "missed" | "rejected" | "dead";

export interface CronRun {
  readonly scheduledTime: string;
  readonly deliveryId: string;
  readonly outcome: CronOutcome;
  readonly detail: string | null;
  readonly recordedAt: string;
}

export interface DeadManState {
  readonly periodSeconds: number;
  readonly graceSeconds: number;
  readonly lastSuccessAt: string | null;
  readonly watchingSince: string;
  /** Set while an incident is open (no successful heartbeat for period + grace). */
  readonly incidentSince: string | null;
  readonly alertSentAt: string | null;
}

export interface CronJobStatus {
  readonly id: string;
  readonly schedule: string;
  readonly action: CronJob["action"]["kind"];
  readonly nodeId: string;
  readonly runs: readonly CronRun[];
  readonly deadMan: DeadManState | null;
}

export type SubmitResult =
  | { readonly kind: "delivered"; readonly answer: NodeAnswer }
  | { readonly kind: "rejected"; readonly answer: NodeAnswer }
  | { readonly kind: "queued"; readonly deliveryId: string; readonly status: DeliveryStatus };

export interface OutboxCoreOptions {
  readonly sql: SqlStorage;
  readonly config: EdgeConfig;
  readonly forwarder: NodeForwarder;
  /** Arms the Durable Object alarm (epoch ms); production: `ctx.storage.setAlarm`. */
  readonly setAlarm: (at: number) => Promise<void> | void;
  /** Absent when no alert webhook is configured (then no job has a dead-man's switch). */
  readonly sendAlert?: AlertSender | undefined;
  readonly now?: () => number;
  readonly log?: (event: Record<string, unknown>) => void;
}

/** How often an alert or recovery whose POST failed is tried again. */
const ALERT_RETRY_MS = 60_000;
/** Deliveries attempted per alarm run, so one run stays well inside a Durable Object's limits. */
const ALARM_BATCH = 25;
const ALARM_CONCURRENCY = 5;

type Row = Record<string, SqlStorageValue>;

const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

export class OutboxCore {
  readonly #sql: SqlStorage;
  readonly #config: EdgeConfig;
  readonly #forwarder: NodeForwarder;
  readonly #setAlarm: (at: number) => Promise<void> | void;
  readonly #sendAlert: AlertSender | undefined;
  readonly #now: () => number;
  readonly #log: (event: Record<string, unknown>) => void;
  readonly #jobs: ReadonlyMap<string, CronJob>;
  /** Deliveries being attempted right now, so an alarm and a cron tick never send the same one twice at once. */
  readonly #inFlight = new Set<string>();

  constructor(options: OutboxCoreOptions) {
    this.#sql = options.sql;
    this.#config = options.config;
    this.#forwarder = options.forwarder;
    this.#setAlarm = options.setAlarm;
    this.#sendAlert = options.sendAlert;
    this.#now = options.now ?? Date.now;
    this.#log = options.log ?? ((event) => console.log(JSON.stringify(event)));
    this.#jobs = new Map(options.config.cron.jobs.map((job) => [job.id, job]));
    this.#migrate();
  }

  #migrate(): void {
    this.#sql.exec(`CREATE TABLE IF NOT EXISTS deliveries (
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
    this.#sql.exec("CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, next_attempt_at)");
    this.#sql.exec("CREATE INDEX IF NOT EXISTS deliveries_job ON deliveries (job_id, status)");
    this.#sql.exec(`CREATE TABLE IF NOT EXISTS cron_runs (
      job_id TEXT NOT NULL,
      scheduled_at INTEGER NOT NULL,
      delivery_id TEXT NOT NULL,
      outcome TEXT NOT NULL,
      detail TEXT,
      recorded_at INTEGER NOT NULL,
      PRIMARY KEY (job_id, scheduled_at)
    )`);
    this.#sql.exec("CREATE INDEX IF NOT EXISTS cron_runs_delivery ON cron_runs (delivery_id)");
    this.#sql.exec(`CREATE TABLE IF NOT EXISTS dead_man (
      job_id TEXT PRIMARY KEY,
      watching_since INTEGER NOT NULL,
      last_success_at INTEGER,
      incident_at INTEGER,
      alert_sent_at INTEGER,
      recovery_pending INTEGER NOT NULL DEFAULT 0,
      retry_at INTEGER
    )`);
  }

  // ── deliveries ─────────────────────────────────────────────────────────────────────────────────

  /**
   * Keeps a delivery whose first attempt (made by the caller) failed. Idempotent by delivery id: a known
   * id changes nothing and reports its current status.
   */
  async enqueue(delivery: NodeCall, failure: { readonly reason: string; readonly status?: number; readonly retryAfterSeconds?: number }, jobId?: string): Promise<{ deliveryId: string; status: DeliveryStatus }> {
    const existing = this.#statusOf(delivery.deliveryId);
    if (existing) return { deliveryId: delivery.deliveryId, status: existing };
    const now = this.#now();
    this.#sql.exec(
      `INSERT INTO deliveries (delivery_id, node_id, path, body, content_type, principal, headers, job_id, status, attempts, next_attempt_at, created_at, updated_at, last_error, last_status)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', 1, ?, ?, ?, ?, ?)`,
      ...deliveryColumns(delivery, jobId),
      now + this.#delayAfter(1, failure.retryAfterSeconds),
      now,
      now,
      failure.reason,
      failure.status ?? null,
    );
    this.#log({ event: "outbox.queued", deliveryId: delivery.deliveryId, nodeId: delivery.nodeId, reason: failure.reason });
    await this.#reschedule();
    return { deliveryId: delivery.deliveryId, status: "pending" };
  }

  /** Records a call the node refused with a final 4xx: not retried, listed with the dead letters. */
  recordRejected(delivery: NodeCall, answer: NodeAnswer, jobId?: string): void {
    const now = this.#now();
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
    this.#log({ event: "outbox.rejected", deliveryId: delivery.deliveryId, nodeId: delivery.nodeId, status: answer.status });
  }

  /** The alarm: attempt what is due, check the dead-man's switches, forget old deliveries, re-arm. */
  async alarm(): Promise<void> {
    const now = this.#now();
    const due = this.#sql
      .exec("SELECT * FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?", now, ALARM_BATCH)
      .toArray();
    for (let i = 0; i < due.length; i += ALARM_CONCURRENCY) {
      await Promise.all(due.slice(i, i + ALARM_CONCURRENCY).map((row) => this.#attemptStored(row)));
    }
    await this.#checkDeadMen();
    this.#sql.exec("DELETE FROM deliveries WHERE status = 'delivered' AND updated_at < ?", this.#now() - this.#config.keepDeliveredMs);
    await this.#reschedule();
  }

  /** Puts a dead or rejected delivery back in line for an attempt now; false when no such dead letter exists. */
  async replay(deliveryId: string): Promise<boolean> {
    const status = this.#statusOf(deliveryId);
    if (status !== "dead" && status !== "rejected") return false;
    const now = this.#now();
    // attempts restarts at 1, so a replay gets the whole schedule again.
    this.#sql.exec("UPDATE deliveries SET status = 'pending', attempts = 1, next_attempt_at = ?, updated_at = ? WHERE delivery_id = ?", now, now, deliveryId);
    this.#log({ event: "outbox.replay", deliveryId });
    await this.#setAlarm(now);
    return true;
  }

  /**
   * A delivery to this node just succeeded, so the node is back: everything waiting for it becomes due now
   * instead of at its next scheduled retry (which may be hours away). Returns how many were pulled forward.
   * Not what the node itself answered 429 or 503: it was reachable then and asked for time (Retry-After,
   * RFC 9110 §10.2.3), which another call getting through does not change — pulling those forward would only
   * spend their attempts on the same answer until they were dead letters.
   */
  async nodeRecovered(nodeId: string): Promise<number> {
    const now = this.#now();
    // RETURNING, not rowsWritten: the latter also counts index writes.
    const moved = this.#sql
      .exec(
        "UPDATE deliveries SET next_attempt_at = ? WHERE status = 'pending' AND node_id = ? AND next_attempt_at > ? AND (last_status IS NULL OR last_status NOT IN (429, 503)) RETURNING delivery_id",
        now,
        nodeId,
        now,
      )
      .toArray().length;
    if (moved > 0) {
      this.#log({ event: "outbox.node_recovered", nodeId, pulledForward: moved });
      await this.#setAlarm(now);
    }
    return moved;
  }

  /** The operator's "retry now": every pending delivery becomes due at once (its schedule position stays). */
  async retryNow(): Promise<number> {
    const now = this.#now();
    const moved = this.#sql.exec("UPDATE deliveries SET next_attempt_at = ? WHERE status = 'pending' AND next_attempt_at > ? RETURNING delivery_id", now, now).toArray().length;
    if (moved > 0) await this.#setAlarm(now);
    this.#log({ event: "outbox.retry_now", pulledForward: moved });
    return moved;
  }

  status(limit: number): { counts: Record<DeliveryStatus, number>; pending: DeliveryInfo[] } {
    const counts: Record<DeliveryStatus, number> = { pending: 0, delivered: 0, dead: 0, rejected: 0 };
    for (const row of this.#sql.exec("SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status")) {
      counts[row["status"] as DeliveryStatus] = Number(row["n"]);
    }
    const pending = this.#sql
      .exec("SELECT * FROM deliveries WHERE status = 'pending' ORDER BY next_attempt_at LIMIT ?", limit)
      .toArray()
      .map(toInfo);
    return { counts, pending };
  }

  deadLetters(limit: number): DeliveryInfo[] {
    return this.#sql
      .exec("SELECT * FROM deliveries WHERE status IN ('dead', 'rejected') ORDER BY updated_at DESC LIMIT ?", limit)
      .toArray()
      .map(toInfo);
  }

  #statusOf(deliveryId: string): DeliveryStatus | undefined {
    const rows = this.#sql.exec("SELECT status FROM deliveries WHERE delivery_id = ?", deliveryId).toArray();
    return rows[0]?.["status"] as DeliveryStatus | undefined;
  }

  /** Milliseconds until the attempt after `attempts` failed ones; Infinity when the schedule is spent. */
  #delayAfter(attempts: number, retryAfterSeconds?: number): number {
    const seconds = this.#config.retryScheduleSeconds[attempts - 1];
    if (seconds === undefined) return Number.POSITIVE_INFINITY;
    // A node's Retry-After (429/503) is honoured when it asks for longer than the schedule.
    return Math.round(Math.max(seconds, retryAfterSeconds ?? 0) * 1000);
  }

  async #forward(delivery: NodeCall): Promise<ForwardOutcome> {
    const node = this.#config.nodes.get(delivery.nodeId);
    if (!node) return { kind: "retry", reason: `node ${delivery.nodeId} is not configured any more` };
    return this.#forwarder.forward(node, delivery);
  }

  /** One attempt of a stored delivery; a `probe` (a coalesced cron tick) that fails keeps the delivery's place in its schedule. */
  async #attemptStored(row: Row, probe = false): Promise<ForwardOutcome | undefined> {
    const delivery = toDelivery(row);
    if (this.#inFlight.has(delivery.deliveryId)) return undefined;
    this.#inFlight.add(delivery.deliveryId);
    try {
      const outcome = await this.#forward(delivery);
      const now = this.#now();
      const jobId = row["job_id"] as string | null;
      const attempts = Number(row["attempts"]) + 1;
      if (outcome.kind === "delivered") {
        this.#sql.exec("UPDATE deliveries SET status = 'delivered', attempts = ?, next_attempt_at = NULL, updated_at = ?, last_status = ? WHERE delivery_id = ?", attempts, now, outcome.answer.status, delivery.deliveryId);
        this.#log({ event: "outbox.delivered", deliveryId: delivery.deliveryId, attempts });
        if (jobId !== null) {
          this.#updateRuns(delivery.deliveryId, "delivered", `after ${attempts} attempts`);
          await this.#heartbeatDelivered(jobId);
        }
        await this.nodeRecovered(delivery.nodeId);
      } else if (outcome.kind === "rejected") {
        this.recordRejected(delivery, outcome.answer);
        if (jobId !== null) this.#updateRuns(delivery.deliveryId, "rejected", rejectionText(outcome.answer));
      } else if (probe) {
        this.#sql.exec("UPDATE deliveries SET updated_at = ?, last_error = ?, last_status = ? WHERE delivery_id = ?", now, outcome.reason, outcome.status ?? null, delivery.deliveryId);
      } else {
        const delay = this.#delayAfter(attempts, outcome.retryAfterSeconds);
        const dead = !Number.isFinite(delay);
        this.#sql.exec(
          "UPDATE deliveries SET status = ?, attempts = ?, next_attempt_at = ?, updated_at = ?, last_error = ?, last_status = ? WHERE delivery_id = ?",
          dead ? "dead" : "pending",
          attempts,
          dead ? null : now + delay,
          now,
          outcome.reason,
          outcome.status ?? null,
          delivery.deliveryId,
        );
        if (dead) {
          this.#log({ event: "outbox.dead", deliveryId: delivery.deliveryId, attempts, reason: outcome.reason });
          if (jobId !== null) this.#updateRuns(delivery.deliveryId, "dead", outcome.reason);
          // Best effort, once: the dead letter itself stays listed for the operator either way.
          await this.#sendAlert?.(
            "dead-letter",
            `clawgate: delivery "${delivery.deliveryId}" to node ${delivery.nodeId} (${delivery.path}) gave up after ${attempts} attempts (${outcome.reason}). ` +
              "It is kept as a dead letter: list it with GET /_clawgate/dead-letters, replay it with POST /_clawgate/dead-letters/replay.",
          );
        }
      }
      return outcome;
    } finally {
      this.#inFlight.delete(delivery.deliveryId);
    }
  }

  async #reschedule(): Promise<void> {
    const candidates: number[] = [];
    const next = this.#sql.exec("SELECT MIN(next_attempt_at) AS at FROM deliveries WHERE status = 'pending'").one()["at"];
    if (typeof next === "number") candidates.push(next);
    for (const job of this.#config.cron.jobs) {
      if (!job.deadMan) continue;
      const state = this.#sql.exec("SELECT * FROM dead_man WHERE job_id = ?", job.id).toArray()[0];
      if (!state) continue;
      if (typeof state["retry_at"] === "number") candidates.push(state["retry_at"]);
      else if (state["incident_at"] === null) candidates.push(this.#deadline(job, state));
    }
    if (candidates.length > 0) await this.#setAlarm(Math.max(Math.min(...candidates), this.#now()));
  }

  // ── cron ───────────────────────────────────────────────────────────────────────────────────────

  /**
   * One Cron Trigger tick: every job on this expression gets a delivery whose id is made from the job, the
   * expression and `scheduledTime` (so a repeated tick is the same delivery), sent now, recorded, and
   * queued when the node is unavailable — or coalesced into the delivery already waiting (`catchUp`).
   */
  async cronTick(cron: string, scheduledTime: number): Promise<{ jobId: string; deliveryId: string; outcome: CronOutcome }[]> {
    const jobs = this.#config.cron.jobs.filter((job) => job.schedule === cron);
    if (jobs.length === 0) this.#log({ event: "cron.unmapped", cron, problem: "no cron job in CLAWGATE_EDGE_CONFIG has this schedule" });
    const results = [];
    for (const job of jobs) results.push({ jobId: job.id, ...(await this.#tickJob(job, cron, scheduledTime)) });
    await this.#checkDeadMen();
    await this.#reschedule();
    return results;
  }

  async #tickJob(job: CronJob, cron: string, scheduledTime: number): Promise<{ deliveryId: string; outcome: CronOutcome }> {
    const now = this.#now();
    this.#watch(job, now);
    const deliveryId = `cron:${job.id}:${cron}@${new Date(scheduledTime).toISOString()}`;
    const known = this.#sql.exec("SELECT outcome FROM cron_runs WHERE job_id = ? AND scheduled_at = ?", job.id, scheduledTime).toArray()[0];
    if (known) return { deliveryId, outcome: known["outcome"] as CronOutcome };

    const waiting = this.#sql.exec("SELECT * FROM deliveries WHERE job_id = ? AND status = 'pending' ORDER BY created_at LIMIT 1", job.id).toArray()[0];
    if (waiting && this.#config.cron.catchUp === "coalesce") {
      // Catch-up by coalescing: the waiting delivery stands for this tick too; try it now, keep its schedule.
      const waitingId = waiting["delivery_id"] as string;
      this.#sql.exec("UPDATE deliveries SET coalesced = coalesced + 1 WHERE delivery_id = ?", waitingId);
      this.#recordRun(job, scheduledTime, waitingId, "coalesced", null);
      await this.#attemptStored(waiting, true);
      // A tick older than the kept history (cron.historySize) was pruned as soon as it was recorded: its run row
      // may be gone, so a missing row reads as "coalesced".
      const current = this.#sql.exec("SELECT outcome FROM cron_runs WHERE job_id = ? AND scheduled_at = ?", job.id, scheduledTime).toArray()[0];
      return { deliveryId: waitingId, outcome: (current?.["outcome"] as CronOutcome | undefined) ?? "coalesced" };
    }

    const delivery = cronDelivery(job, this.#config, deliveryId);
    this.#recordRun(job, scheduledTime, deliveryId, "pending", null);
    this.#inFlight.add(deliveryId);
    let outcome: ForwardOutcome;
    try {
      outcome = await this.#forward(delivery);
    } finally {
      this.#inFlight.delete(deliveryId);
    }
    if (outcome.kind === "delivered") {
      this.#recordRun(job, scheduledTime, deliveryId, "delivered", null);
      await this.#heartbeatDelivered(job.id);
      await this.nodeRecovered(delivery.nodeId);
      return { deliveryId, outcome: "delivered" };
    }
    if (outcome.kind === "rejected") {
      this.recordRejected(delivery, outcome.answer, job.id);
      this.#recordRun(job, scheduledTime, deliveryId, "rejected", rejectionText(outcome.answer));
      return { deliveryId, outcome: "rejected" };
    }
    if (this.#config.cron.catchUp === "skip") {
      this.#recordRun(job, scheduledTime, deliveryId, "missed", outcome.reason);
      this.#log({ event: "cron.missed", jobId: job.id, deliveryId, reason: outcome.reason });
      return { deliveryId, outcome: "missed" };
    }
    await this.enqueue(delivery, outcome, job.id);
    this.#recordRun(job, scheduledTime, deliveryId, "queued", outcome.reason);
    return { deliveryId, outcome: "queued" };
  }

  #recordRun(job: CronJob, scheduledAt: number, deliveryId: string, outcome: CronOutcome, detail: string | null): void {
    this.#sql.exec(
      `INSERT INTO cron_runs (job_id, scheduled_at, delivery_id, outcome, detail, recorded_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (job_id, scheduled_at) DO UPDATE SET outcome = excluded.outcome, detail = excluded.detail, recorded_at = excluded.recorded_at`,
      job.id,
      scheduledAt,
      deliveryId,
      outcome,
      detail,
      this.#now(),
    );
    // Keep the last N runs per job (cron.historySize).
    this.#sql.exec(
      "DELETE FROM cron_runs WHERE job_id = ? AND scheduled_at NOT IN (SELECT scheduled_at FROM cron_runs WHERE job_id = ? ORDER BY scheduled_at DESC LIMIT ?)",
      job.id,
      job.id,
      this.#config.cron.historySize,
    );
  }

  /** A queued delivery finally landed (or died): every tick that waited on it gets that outcome. */
  #updateRuns(deliveryId: string, outcome: CronOutcome, detail: string | null): void {
    this.#sql.exec(
      "UPDATE cron_runs SET outcome = ?, detail = ?, recorded_at = ? WHERE delivery_id = ? AND outcome IN ('pending', 'queued', 'coalesced')",
      outcome,
      detail,
      this.#now(),
      deliveryId,
    );
  }

  cronStatus(): CronJobStatus[] {
    return this.#config.cron.jobs.map((job) => {
      const runs = this.#sql
        .exec("SELECT * FROM cron_runs WHERE job_id = ? ORDER BY scheduled_at DESC LIMIT ?", job.id, this.#config.cron.historySize)
        .toArray()
        .map((row) => ({
          scheduledTime: iso(Number(row["scheduled_at"]))!,
          deliveryId: row["delivery_id"] as string,
          outcome: row["outcome"] as CronOutcome,
          detail: row["detail"] as string | null,
          recordedAt: iso(Number(row["recorded_at"]))!,
        }));
      const state = job.deadMan ? this.#sql.exec("SELECT * FROM dead_man WHERE job_id = ?", job.id).toArray()[0] : undefined;
      return {
        id: job.id,
        schedule: job.schedule,
        action: job.action.kind,
        nodeId: job.node ?? this.#config.primary.id,
        runs,
        deadMan:
          job.deadMan && state
            ? {
                periodSeconds: job.deadMan.periodSeconds,
                graceSeconds: job.deadMan.graceSeconds ?? 0,
                lastSuccessAt: iso(state["last_success_at"] as number | null),
                watchingSince: iso(Number(state["watching_since"]))!,
                incidentSince: iso(state["incident_at"] as number | null),
                alertSentAt: iso(state["alert_sent_at"] as number | null),
              }
            : null,
      };
    });
  }

  // ── dead-man's switch ──────────────────────────────────────────────────────────────────────────

  /** Starts the dead-man's clock for a job the first time the outbox sees it. */
  #watch(job: CronJob, now: number): void {
    if (job.deadMan) this.#sql.exec("INSERT OR IGNORE INTO dead_man (job_id, watching_since) VALUES (?, ?)", job.id, now);
  }

  #deadline(job: CronJob, state: Row): number {
    const base = typeof state["last_success_at"] === "number" ? state["last_success_at"] : Number(state["watching_since"]);
    return base + (job.deadMan!.periodSeconds + (job.deadMan!.graceSeconds ?? 0)) * 1000;
  }

  async #heartbeatDelivered(jobId: string): Promise<void> {
    const job = this.#jobs.get(jobId);
    if (!job?.deadMan) return;
    const now = this.#now();
    this.#watch(job, now);
    const state = this.#sql.exec("SELECT * FROM dead_man WHERE job_id = ?", jobId).one();
    this.#sql.exec("UPDATE dead_man SET last_success_at = ? WHERE job_id = ?", now, jobId);
    if (state["incident_at"] === null) return;
    // The incident closes; a recovery message goes out only if its alert did.
    const alerted = state["alert_sent_at"] !== null;
    this.#sql.exec("UPDATE dead_man SET incident_at = NULL, alert_sent_at = NULL, recovery_pending = ?, retry_at = NULL WHERE job_id = ?", alerted ? 1 : 0, jobId);
    this.#log({ event: "deadman.recovered", jobId });
    if (alerted) await this.#sendPending(job);
  }

  async #checkDeadMen(): Promise<void> {
    const now = this.#now();
    for (const job of this.#config.cron.jobs) {
      if (!job.deadMan) continue;
      const state = this.#sql.exec("SELECT * FROM dead_man WHERE job_id = ?", job.id).toArray()[0];
      if (!state) continue;
      if (state["incident_at"] === null && state["recovery_pending"] === 0 && now >= this.#deadline(job, state)) {
        this.#sql.exec("UPDATE dead_man SET incident_at = ?, alert_sent_at = NULL WHERE job_id = ?", now, job.id);
        this.#log({ event: "deadman.incident", jobId: job.id });
      }
      await this.#sendPending(job);
    }
  }

  /** Sends what a job's switch owes (an alert or a recovery), at most once each; a failed POST is retried later. */
  async #sendPending(job: CronJob): Promise<void> {
    const state = this.#sql.exec("SELECT * FROM dead_man WHERE job_id = ?", job.id).toArray()[0];
    if (!state || !this.#sendAlert) return;
    const now = this.#now();
    if (typeof state["retry_at"] === "number" && state["retry_at"] > now) return;
    const deadMan = job.deadMan!;
    if (state["recovery_pending"] === 1) {
      const text = `clawgate: heartbeat job "${job.id}" recovered; a run was delivered at ${iso(state["last_success_at"] as number)}.`;
      const ok = await this.#sendAlert("recovery", text);
      this.#sql.exec("UPDATE dead_man SET recovery_pending = ?, retry_at = ? WHERE job_id = ?", ok ? 0 : 1, ok ? null : now + ALERT_RETRY_MS, job.id);
      this.#log({ event: ok ? "deadman.recovery_sent" : "deadman.recovery_failed", jobId: job.id });
      return;
    }
    if (state["incident_at"] !== null && state["alert_sent_at"] === null) {
      const last = state["last_success_at"] === null ? "never since the edge started watching" : `last at ${iso(state["last_success_at"] as number)}`;
      const text =
        `clawgate: no heartbeat from job "${job.id}" was delivered for ${deadMan.periodSeconds + (deadMan.graceSeconds ?? 0)} s ` +
        `(${last}). The node may be down or unreachable; deliveries wait in the edge outbox.`;
      const ok = await this.#sendAlert("alert", text);
      this.#sql.exec("UPDATE dead_man SET alert_sent_at = ?, retry_at = ? WHERE job_id = ?", ok ? now : null, ok ? null : now + ALERT_RETRY_MS, job.id);
      this.#log({ event: ok ? "deadman.alert_sent" : "deadman.alert_failed", jobId: job.id });
    }
  }
}

/** The delivery a cron job's tick sends: the OpenClaw wake or agent payload for its node. */
export function cronDelivery(job: CronJob, config: EdgeConfig, deliveryId: string): NodeCall {
  const node = job.node !== undefined ? config.nodes.get(job.node)! : config.primary;
  const { kind, ...fields } = job.action;
  const payload = kind === "wake" ? { text: job.action.text, mode: (job.action as { mode?: string }).mode ?? "now" } : fields;
  return {
    deliveryId,
    nodeId: node.id,
    path: `${node.hooksPath}/${kind}`,
    body: new TextEncoder().encode(JSON.stringify(payload)),
    contentType: "application/json",
    principal: `cron:${job.id}`,
  };
}

function rejectionText(answer: NodeAnswer): string {
  let error: unknown;
  try {
    error = (JSON.parse(answer.body) as { error?: unknown }).error;
  } catch {
    // not JSON: the status alone
  }
  return typeof error === "string" ? `node answered ${answer.status}: ${error.slice(0, 200)}` : `node answered ${answer.status}`;
}

function toDelivery(row: Row): NodeCall {
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

function toInfo(row: Row): DeliveryInfo {
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
