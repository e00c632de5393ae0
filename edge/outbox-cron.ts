/**
 * The outbox's cron ledger and dead-man's switch: each Cron Trigger tick's run (kept for the last
 * `cron.historySize` ticks per job), and per job with `deadMan` the time of the last delivered heartbeat, the open
 * incident, and the alert or recovery message it still owes — each sent at most once, a failed POST retried later.
 */
import type { AlertSender } from "./deadman-alert.ts";
import type { CronJob, EdgeConfig } from "./edge-config.ts";
import type { NodeCall } from "./node-forwarder.ts";
import { iso } from "./outbox-store.ts";
import { ALERT_RETRY_MS } from "./outbox-retry.ts";

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

type Row = Record<string, SqlStorageValue>;

export interface CronLedgerOptions {
  readonly sql: SqlStorage;
  readonly config: EdgeConfig;
  /** The jobs this outbox ticks (its node's), in config order. */
  readonly jobs: readonly CronJob[];
  readonly sendAlert: AlertSender | undefined;
  readonly now: () => number;
  readonly log: (event: Record<string, unknown>) => void;
}

export class CronLedger {
  readonly #sql: SqlStorage;
  readonly #config: EdgeConfig;
  readonly #jobs: readonly CronJob[];
  readonly #byId: ReadonlyMap<string, CronJob>;
  readonly #sendAlert: AlertSender | undefined;
  readonly #now: () => number;
  readonly #log: (event: Record<string, unknown>) => void;

  constructor(options: CronLedgerOptions) {
    this.#sql = options.sql;
    this.#config = options.config;
    this.#jobs = options.jobs;
    this.#byId = new Map(options.jobs.map((job) => [job.id, job]));
    this.#sendAlert = options.sendAlert;
    this.#now = options.now;
    this.#log = options.log;
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

  /** This outbox's jobs on one cron expression. */
  jobsOn(cron: string): CronJob[] {
    return this.#jobs.filter((job) => job.schedule === cron);
  }

  /** What a tick already recorded (a repeated tick is answered from here), if anything. */
  outcomeOf(jobId: string, scheduledAt: number): CronOutcome | undefined {
    return this.#sql.exec("SELECT outcome FROM cron_runs WHERE job_id = ? AND scheduled_at = ?", jobId, scheduledAt).toArray()[0]?.["outcome"] as CronOutcome | undefined;
  }

  recordRun(job: CronJob, scheduledAt: number, deliveryId: string, outcome: CronOutcome, detail: string | null): void {
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
  updateRuns(deliveryId: string, outcome: CronOutcome, detail: string | null): void {
    this.#sql.exec(
      "UPDATE cron_runs SET outcome = ?, detail = ?, recorded_at = ? WHERE delivery_id = ? AND outcome IN ('pending', 'queued', 'coalesced')",
      outcome,
      detail,
      this.#now(),
      deliveryId,
    );
  }

  status(): CronJobStatus[] {
    return this.#jobs.map((job) => {
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
      const state = job.deadMan ? this.#state(job.id) : undefined;
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

  #state(jobId: string): Row | undefined {
    return this.#sql.exec("SELECT * FROM dead_man WHERE job_id = ?", jobId).toArray()[0];
  }

  /** Starts the dead-man's clock for a job the first time the outbox sees it. */
  watch(job: CronJob, now: number): void {
    if (job.deadMan) this.#sql.exec("INSERT OR IGNORE INTO dead_man (job_id, watching_since) VALUES (?, ?)", job.id, now);
  }

  #deadline(job: CronJob, state: Row): number {
    const base = typeof state["last_success_at"] === "number" ? state["last_success_at"] : Number(state["watching_since"]);
    return base + (job.deadMan!.periodSeconds + (job.deadMan!.graceSeconds ?? 0)) * 1000;
  }

  /** A job's heartbeat reached its node: the switch resets, and an open incident closes (with a recovery message if it alerted). */
  async heartbeatDelivered(jobId: string): Promise<void> {
    const job = this.#byId.get(jobId);
    if (!job?.deadMan) return;
    const now = this.#now();
    this.watch(job, now);
    const state = this.#sql.exec("SELECT * FROM dead_man WHERE job_id = ?", jobId).one();
    this.#sql.exec("UPDATE dead_man SET last_success_at = ? WHERE job_id = ?", now, jobId);
    if (state["incident_at"] === null) return;
    const alerted = state["alert_sent_at"] !== null;
    this.#sql.exec("UPDATE dead_man SET incident_at = NULL, alert_sent_at = NULL, recovery_pending = ?, retry_at = NULL WHERE job_id = ?", alerted ? 1 : 0, jobId);
    this.#log({ event: "deadman.recovered", jobId });
    if (alerted) await this.#sendPending(job);
  }

  /** Opens an incident for each switch past its deadline, and sends what each owes. */
  async checkDeadMen(): Promise<void> {
    const now = this.#now();
    for (const job of this.#jobs) {
      if (!job.deadMan) continue;
      const state = this.#state(job.id);
      if (!state) continue;
      if (state["incident_at"] === null && state["recovery_pending"] === 0 && now >= this.#deadline(job, state)) {
        this.#sql.exec("UPDATE dead_man SET incident_at = ?, alert_sent_at = NULL WHERE job_id = ?", now, job.id);
        this.#log({ event: "deadman.incident", jobId: job.id });
      }
      await this.#sendPending(job);
    }
  }

  /** Times the alarm must wake for: each switch's deadline, or the retry of a message that failed. */
  alarmTimes(): number[] {
    const times: number[] = [];
    for (const job of this.#jobs) {
      if (!job.deadMan) continue;
      const state = this.#state(job.id);
      if (!state) continue;
      if (typeof state["retry_at"] === "number") times.push(state["retry_at"]);
      else if (state["incident_at"] === null) times.push(this.#deadline(job, state));
    }
    return times;
  }

  /** Sends what a job's switch owes (an alert or a recovery), at most once each; a failed POST is retried later. */
  async #sendPending(job: CronJob): Promise<void> {
    const state = this.#state(job.id);
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

/** The node a cron job's ticks go to: its `node`, else the primary. */
export const nodeOfJob = (job: CronJob, config: EdgeConfig): string => job.node ?? config.primary.id;

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
