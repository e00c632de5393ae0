/**
 * The outbox Durable Object (SQLite storage, one instance named "outbox"): a thin shell that builds the
 * OutboxCore once from its env with production I/O (global fetch, the real clock, the DO alarm) and exposes
 * it over RPC to the Worker's fetch and scheduled handlers.
 */
import { DurableObject } from "cloudflare:workers";
import { createAlertSender } from "./deadman-alert.ts";
import { parseEdgeConfig } from "./edge-config.ts";
import { buildForwarder } from "./edge-setup.ts";
import type { NodeCall, NodeAnswer } from "./node-forwarder.ts";
import { OutboxCore } from "./outbox-core.ts";

export class EdgeOutbox extends DurableObject<Env> {
  #core: Promise<OutboxCore> | undefined;

  #outbox(): Promise<OutboxCore> {
    this.#core ??= (async () => {
      const config = parseEdgeConfig(this.env as unknown as Record<string, unknown>);
      return new OutboxCore({
        sql: this.ctx.storage.sql,
        config,
        forwarder: await buildForwarder(config),
        setAlarm: (at) => this.ctx.storage.setAlarm(at),
        sendAlert: config.alertWebhookUrl ? createAlertSender({ url: config.alertWebhookUrl, ntfyTopic: config.ntfyTopic }) : undefined,
      });
    })();
    // A failed build is not cached: the next call (after a fixed deployment) tries again.
    this.#core.catch(() => (this.#core = undefined));
    return this.#core;
  }

  async enqueue(delivery: NodeCall, failure: { reason: string; status?: number; retryAfterSeconds?: number }) {
    return (await this.#outbox()).enqueue(delivery, failure);
  }

  async recordRejected(delivery: NodeCall, answer: NodeAnswer): Promise<void> {
    (await this.#outbox()).recordRejected(delivery, answer);
  }

  async nodeRecovered(nodeId: string) {
    return (await this.#outbox()).nodeRecovered(nodeId);
  }

  async retryNow() {
    return (await this.#outbox()).retryNow();
  }

  async status(limit: number) {
    return (await this.#outbox()).status(limit);
  }

  async deadLetters(limit: number) {
    return (await this.#outbox()).deadLetters(limit);
  }

  async replay(deliveryId: string) {
    return (await this.#outbox()).replay(deliveryId);
  }

  async cronStatus() {
    return (await this.#outbox()).cronStatus();
  }

  async cronTick(cron: string, scheduledTime: number) {
    return (await this.#outbox()).cronTick(cron, scheduledTime);
  }

  override async alarm(): Promise<void> {
    await (await this.#outbox()).alarm();
  }
}
