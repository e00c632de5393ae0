/**
 * One outbox's logic over a Durable Object's SQLite storage: calls kept until their node has them (the queue
 * store, edge/outbox-store.ts), retried on a Svix-like schedule and then kept as dead letters an operator can
 * replay (edge/outbox-retry.ts), and cron ticks with their runs and dead-man's switches (edge/outbox-cron.ts).
 * Each node has an outbox of its own (`nodeId`), so one node's backlog never delays another's calls; an outbox
 * without `nodeId` serves every node (the single outbox of earlier versions, still drained after an upgrade).
 * Clock, alarm, forwarding and alerting are injected, so tests drive it.
 */
import type { AlertSender } from "./deadman-alert.ts";
import type { CronJob, EdgeConfig } from "./edge-config.ts";
import type { NodeCall, ForwardOutcome, NodeAnswer, NodeForwarder } from "./node-forwarder.ts";
import { type CronJobStatus, type CronOutcome, CronLedger, cronDelivery, nodeOfJob } from "./outbox-cron.ts";
import { ALARM_BATCH, ALARM_CONCURRENCY, inWaves, nextAttemptAt } from "./outbox-retry.ts";
import { type DeliveryInfo, type DeliveryRow, type DeliveryStatus, OutboxStore, rejectionText, toDelivery } from "./outbox-store.ts";

export type { CronJobStatus, CronOutcome, CronRun, DeadManState } from "./outbox-cron.ts";
export type { DeliveryInfo, DeliveryStatus } from "./outbox-store.ts";
export { cronDelivery } from "./outbox-cron.ts";

export type SubmitResult =
  | { readonly kind: "delivered"; readonly answer: NodeAnswer }
  | { readonly kind: "rejected"; readonly answer: NodeAnswer }
  | { readonly kind: "queued"; readonly deliveryId: string; readonly status: DeliveryStatus };

export interface OutboxCoreOptions {
  readonly sql: SqlStorage;
  readonly config: EdgeConfig;
  readonly forwarder: NodeForwarder;
  /** The node this outbox serves (its calls, its cron jobs); absent: every node (the single outbox of earlier versions). */
  readonly nodeId?: string | undefined;
  /** Arms the Durable Object alarm (epoch ms); production: `ctx.storage.setAlarm`. */
  readonly setAlarm: (at: number) => Promise<void> | void;
  /** Absent when no alert webhook is configured (then no job has a dead-man's switch). */
  readonly sendAlert?: AlertSender | undefined;
  readonly now: () => number;
  /** One structured event per outbox decision (metadata only). */
  readonly log: (event: Record<string, unknown>) => void;
}

export class OutboxCore {
  readonly #store: OutboxStore;
  readonly #cron: CronLedger;
  readonly #config: EdgeConfig;
  readonly #forwarder: NodeForwarder;
  readonly #setAlarm: (at: number) => Promise<void> | void;
  readonly #sendAlert: AlertSender | undefined;
  readonly #now: () => number;
  readonly #log: (event: Record<string, unknown>) => void;
  /** Deliveries being attempted right now, so an alarm and a cron tick never send the same one twice at once. */
  readonly #inFlight = new Set<string>();

  constructor(options: OutboxCoreOptions) {
    this.#config = options.config;
    this.#forwarder = options.forwarder;
    this.#setAlarm = options.setAlarm;
    this.#sendAlert = options.sendAlert;
    this.#now = options.now;
    this.#log = options.log;
    const nodeId = options.nodeId;
    const jobs: readonly CronJob[] = nodeId === undefined ? options.config.cron.jobs : options.config.cron.jobs.filter((job) => nodeOfJob(job, options.config) === nodeId);
    this.#store = new OutboxStore(options.sql);
    this.#cron = new CronLedger({ sql: options.sql, config: options.config, jobs, sendAlert: options.sendAlert, now: this.#now, log: this.#log });
  }

  // ── deliveries ─────────────────────────────────────────────────────────────────────────────────

  /**
   * Keeps a delivery whose first attempt (made by the caller) failed. Idempotent by delivery id: a known
   * id changes nothing and reports its current status.
   */
  async enqueue(delivery: NodeCall, failure: { readonly reason: string; readonly status?: number; readonly retryAfterSeconds?: number }, jobId?: string): Promise<{ deliveryId: string; status: DeliveryStatus }> {
    const existing = this.#store.statusOf(delivery.deliveryId);
    if (existing) return { deliveryId: delivery.deliveryId, status: existing };
    const now = this.#now();
    // The first attempt failed: the next one follows the schedule's first delay (a spent schedule of length 0 still keeps it, due never).
    const due = nextAttemptAt(this.#config.retryScheduleSeconds, 1, now, failure.retryAfterSeconds) ?? Number.POSITIVE_INFINITY;
    this.#store.insertPending(delivery, jobId, now, due, failure);
    this.#log({ event: "outbox.queued", deliveryId: delivery.deliveryId, nodeId: delivery.nodeId, reason: failure.reason });
    await this.#reschedule();
    return { deliveryId: delivery.deliveryId, status: "pending" };
  }

  /** Records a call the node refused with a final 4xx: not retried, listed with the dead letters. */
  recordRejected(delivery: NodeCall, answer: NodeAnswer, jobId?: string): void {
    this.#store.upsertRejected(delivery, answer, jobId, this.#now());
    this.#log({ event: "outbox.rejected", deliveryId: delivery.deliveryId, nodeId: delivery.nodeId, status: answer.status });
  }

  /** The alarm: attempt what is due, check the dead-man's switches, forget old deliveries, re-arm. */
  async alarm(): Promise<void> {
    // A node found unreachable in this run is not called again in it: its other due calls count the same failure
    // (an attempt on the schedule, as if each had been tried), so a down node with a long backlog costs one
    // wave of connection attempts per retry step instead of one per queued call.
    const unreachable = new Map<string, ForwardOutcome & { kind: "retry" }>();
    await inWaves(this.#store.due(this.#now(), ALARM_BATCH), ALARM_CONCURRENCY, (row) => this.#attemptStored(row, false, unreachable));
    await this.#cron.checkDeadMen();
    this.#store.pruneDelivered(this.#now() - this.#config.keepDeliveredMs);
    await this.#reschedule();
  }

  /** Puts a dead or rejected delivery back in line for an attempt now; false when no such dead letter exists. */
  async replay(deliveryId: string): Promise<boolean> {
    const status = this.#store.statusOf(deliveryId);
    if (status !== "dead" && status !== "rejected") return false;
    const now = this.#now();
    this.#store.reopen(deliveryId, now);
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
    const moved = this.#store.pullForward(now, { nodeId, onlyUnreachable: true });
    if (moved > 0) {
      this.#log({ event: "outbox.node_recovered", nodeId, pulledForward: moved });
      await this.#setAlarm(now);
    }
    return moved;
  }

  /** The operator's "retry now": every pending delivery becomes due at once (its schedule position stays). */
  async retryNow(): Promise<number> {
    const now = this.#now();
    const moved = this.#store.pullForward(now, { onlyUnreachable: false });
    if (moved > 0) await this.#setAlarm(now);
    this.#log({ event: "outbox.retry_now", pulledForward: moved });
    return moved;
  }

  status(limit: number): { counts: Record<DeliveryStatus, number>; pending: DeliveryInfo[] } {
    return this.#store.status(limit);
  }

  deadLetters(limit: number): DeliveryInfo[] {
    return this.#store.deadLetters(limit);
  }

  async #forward(delivery: NodeCall): Promise<ForwardOutcome> {
    const node = this.#config.nodes.get(delivery.nodeId);
    if (!node) return { kind: "retry", reason: `node ${delivery.nodeId} is not configured any more` };
    return this.#forwarder.forward(node, delivery);
  }

  /** One attempt of a stored delivery; a `probe` (a coalesced cron tick) that fails keeps the delivery's place in its schedule. */
  async #attemptStored(row: DeliveryRow, probe = false, unreachable?: Map<string, ForwardOutcome & { kind: "retry" }>): Promise<ForwardOutcome | undefined> {
    const delivery = toDelivery(row);
    if (this.#inFlight.has(delivery.deliveryId)) return undefined;
    this.#inFlight.add(delivery.deliveryId);
    try {
      const known = unreachable?.get(delivery.nodeId);
      const outcome = known ?? (await this.#forward(delivery));
      // Unreachable or timed out (no answer at all): every other due call to this node in this run shares it.
      if (unreachable && !known && outcome.kind === "retry" && outcome.status === undefined) unreachable.set(delivery.nodeId, outcome);
      const now = this.#now();
      const jobId = row["job_id"] as string | null;
      const attempts = Number(row["attempts"]) + 1;
      if (outcome.kind === "delivered") {
        this.#store.markDelivered(delivery.deliveryId, attempts, now, outcome.answer.status);
        this.#log({ event: "outbox.delivered", deliveryId: delivery.deliveryId, attempts });
        if (jobId !== null) {
          this.#cron.updateRuns(delivery.deliveryId, "delivered", `after ${attempts} attempts`);
          await this.#cron.heartbeatDelivered(jobId);
        }
        await this.nodeRecovered(delivery.nodeId);
      } else if (outcome.kind === "rejected") {
        this.recordRejected(delivery, outcome.answer);
        if (jobId !== null) this.#cron.updateRuns(delivery.deliveryId, "rejected", rejectionText(outcome.answer));
      } else if (probe) {
        this.#store.noteProbeFailure(delivery.deliveryId, now, outcome);
      } else {
        const next = nextAttemptAt(this.#config.retryScheduleSeconds, attempts, now, outcome.retryAfterSeconds);
        this.#store.markFailed(delivery.deliveryId, attempts, now, next, outcome);
        if (next === null) {
          this.#log({ event: "outbox.dead", deliveryId: delivery.deliveryId, attempts, reason: outcome.reason });
          if (jobId !== null) this.#cron.updateRuns(delivery.deliveryId, "dead", outcome.reason);
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
    const candidates = this.#cron.alarmTimes();
    const next = this.#store.nextDue();
    if (next !== undefined) candidates.push(next);
    if (candidates.length > 0) await this.#setAlarm(Math.max(Math.min(...candidates), this.#now()));
  }

  // ── cron ───────────────────────────────────────────────────────────────────────────────────────

  /**
   * One Cron Trigger tick: every job of this outbox on this expression gets a delivery whose id is made from the
   * job, the expression and `scheduledTime` (so a repeated tick is the same delivery), sent now, recorded, and
   * queued when the node is unavailable — or coalesced into the delivery already waiting (`catchUp`).
   */
  async cronTick(cron: string, scheduledTime: number): Promise<{ jobId: string; deliveryId: string; outcome: CronOutcome }[]> {
    const jobs = this.#cron.jobsOn(cron);
    if (jobs.length === 0) this.#log({ event: "cron.unmapped", cron, problem: "no cron job in CLAWGATE_EDGE_CONFIG has this schedule" });
    const results = [];
    for (const job of jobs) results.push({ jobId: job.id, ...(await this.#tickJob(job, cron, scheduledTime)) });
    await this.#cron.checkDeadMen();
    await this.#reschedule();
    return results;
  }

  async #tickJob(job: CronJob, cron: string, scheduledTime: number): Promise<{ deliveryId: string; outcome: CronOutcome }> {
    this.#cron.watch(job, this.#now());
    const deliveryId = `cron:${job.id}:${cron}@${new Date(scheduledTime).toISOString()}`;
    const known = this.#cron.outcomeOf(job.id, scheduledTime);
    if (known) return { deliveryId, outcome: known };

    const waiting = this.#store.waitingFor(job.id);
    if (waiting && this.#config.cron.catchUp === "coalesce") {
      // Catch-up by coalescing: the waiting delivery stands for this tick too; try it now, keep its schedule.
      const waitingId = waiting["delivery_id"] as string;
      this.#store.addCoalescedTick(waitingId);
      this.#cron.recordRun(job, scheduledTime, waitingId, "coalesced", null);
      await this.#attemptStored(waiting, true);
      // A tick older than the kept history (cron.historySize) was pruned as soon as it was recorded: it stays "coalesced".
      return { deliveryId: waitingId, outcome: this.#cron.outcomeOf(job.id, scheduledTime) ?? "coalesced" };
    }

    const delivery = cronDelivery(job, this.#config, deliveryId);
    this.#cron.recordRun(job, scheduledTime, deliveryId, "pending", null);
    this.#inFlight.add(deliveryId);
    let outcome: ForwardOutcome;
    try {
      outcome = await this.#forward(delivery);
    } finally {
      this.#inFlight.delete(deliveryId);
    }
    if (outcome.kind === "delivered") {
      this.#cron.recordRun(job, scheduledTime, deliveryId, "delivered", null);
      await this.#cron.heartbeatDelivered(job.id);
      await this.nodeRecovered(delivery.nodeId);
      return { deliveryId, outcome: "delivered" };
    }
    if (outcome.kind === "rejected") {
      this.recordRejected(delivery, outcome.answer, job.id);
      this.#cron.recordRun(job, scheduledTime, deliveryId, "rejected", rejectionText(outcome.answer));
      return { deliveryId, outcome: "rejected" };
    }
    if (this.#config.cron.catchUp === "skip") {
      this.#cron.recordRun(job, scheduledTime, deliveryId, "missed", outcome.reason);
      this.#log({ event: "cron.missed", jobId: job.id, deliveryId, reason: outcome.reason });
      return { deliveryId, outcome: "missed" };
    }
    await this.enqueue(delivery, outcome, job.id);
    this.#cron.recordRun(job, scheduledTime, deliveryId, "queued", outcome.reason);
    return { deliveryId, outcome: "queued" };
  }

  cronStatus(): CronJobStatus[] {
    return this.#cron.status();
  }
}
