/**
 * The outbox Durable Object (SQLite storage): a thin shell that builds the OutboxCore once from its env with
 * production I/O (global fetch, the real clock, the DO alarm) and exposes it over RPC. One instance per node
 * (edge-defaults.ts `nodeOutboxName`); the node it serves is stored with it at its first call, so its alarm,
 * which has no caller, knows it too. An instance with no node stored is the single outbox of earlier versions.
 */
import { DurableObject } from "cloudflare:workers";
import { createAlertSender } from "./deadman-alert.ts";
import { parseEdgeConfig } from "./edge-config.ts";
import { productionEdgeIo } from "./edge-io.ts";
import { buildForwarder } from "./edge-setup.ts";
import type { NodeCall, NodeAnswer } from "./node-forwarder.ts";
import { OutboxCore } from "./outbox-core.ts";

export class EdgeOutbox extends DurableObject<Env> {
  /** This object's entry point builds the I/O once (as edge/index.ts does for the Worker). */
  readonly #io = productionEdgeIo();
  #core: Promise<OutboxCore> | undefined;

  /** The node this instance serves: recorded by the first call that names one, read back by every later build. */
  #scope(nodeId: string | undefined): string | undefined {
    const sql = this.ctx.storage.sql;
    sql.exec("CREATE TABLE IF NOT EXISTS outbox_scope (node_id TEXT NOT NULL)");
    const stored = sql.exec("SELECT node_id FROM outbox_scope LIMIT 1").toArray()[0]?.["node_id"] as string | undefined;
    if (stored === undefined && nodeId !== undefined) sql.exec("INSERT INTO outbox_scope (node_id) VALUES (?)", nodeId);
    return stored ?? nodeId;
  }

  #outbox(nodeId?: string): Promise<OutboxCore> {
    this.#core ??= (async () => {
      const config = parseEdgeConfig(this.env as unknown as Record<string, unknown>);
      return new OutboxCore({
        sql: this.ctx.storage.sql,
        config,
        nodeId: this.#scope(nodeId),
        forwarder: await buildForwarder(config, this.#io),
        setAlarm: (at) => this.ctx.storage.setAlarm(at),
        sendAlert: config.alertWebhookUrl ? createAlertSender({ url: config.alertWebhookUrl, ntfyTopic: config.ntfyTopic, fetch: this.#io.fetch }) : undefined,
        now: this.#io.now,
        log: this.#io.logEvent,
      });
    })();
    // A failed build is not cached: the next call (after a fixed deployment) tries again.
    this.#core.catch(() => (this.#core = undefined));
    return this.#core;
  }

  // Every call from the Worker names the node (edge/outbox-router.ts); only the old single outbox is called without.
  async enqueue(delivery: NodeCall, failure: { reason: string; status?: number; retryAfterSeconds?: number }) {
    return (await this.#outbox(delivery.nodeId)).enqueue(delivery, failure);
  }

  async recordRejected(delivery: NodeCall, answer: NodeAnswer): Promise<void> {
    (await this.#outbox(delivery.nodeId)).recordRejected(delivery, answer);
  }

  async nodeRecovered(nodeId: string) {
    return (await this.#outbox(nodeId)).nodeRecovered(nodeId);
  }

  async retryNow(nodeId?: string) {
    return (await this.#outbox(nodeId)).retryNow();
  }

  async status(limit: number, nodeId?: string) {
    return (await this.#outbox(nodeId)).status(limit);
  }

  async deadLetters(limit: number, nodeId?: string) {
    return (await this.#outbox(nodeId)).deadLetters(limit);
  }

  async replay(deliveryId: string, nodeId?: string) {
    return (await this.#outbox(nodeId)).replay(deliveryId);
  }

  async cronStatus(nodeId?: string) {
    return (await this.#outbox(nodeId)).cronStatus();
  }

  async cronTick(cron: string, scheduledTime: number, nodeId?: string) {
    return (await this.#outbox(nodeId)).cronTick(cron, scheduledTime);
  }

  override async alarm(): Promise<void> {
    await (await this.#outbox()).alarm();
  }
}
