/**
 * The Worker's view of the outboxes: one Durable Object per node (so one node's backlog neither slows nor blocks
 * another's calls, and a recovered node drains only its own), plus the single outbox of earlier versions, which
 * still drains what it held before the upgrade. Calls for a node go to that node's outbox; the operator API's
 * reads are merged over all of them.
 */
import { OUTBOX_NAME, nodeOutboxName } from "./edge-defaults.ts";
import type { EdgeConfig } from "./edge-config.ts";
import type { NodeCall, NodeAnswer } from "./node-forwarder.ts";
import type { CronJobStatus, CronOutcome, DeliveryInfo, DeliveryStatus } from "./outbox-core.ts";
import { nodeOfJob } from "./outbox-cron.ts";

/** What one outbox Durable Object answers over RPC (edge/outbox-object.ts), `nodeId` naming the node it serves. */
export interface OutboxStub {
  enqueue(delivery: NodeCall, failure: { reason: string; status?: number; retryAfterSeconds?: number }): Promise<{ deliveryId: string; status: DeliveryStatus }>;
  recordRejected(delivery: NodeCall, answer: NodeAnswer): Promise<void>;
  nodeRecovered(nodeId: string): Promise<number>;
  retryNow(nodeId?: string): Promise<number>;
  status(limit: number, nodeId?: string): Promise<{ counts: Record<DeliveryStatus, number>; pending: DeliveryInfo[] }>;
  deadLetters(limit: number, nodeId?: string): Promise<DeliveryInfo[]>;
  replay(deliveryId: string, nodeId?: string): Promise<boolean>;
  cronStatus(nodeId?: string): Promise<CronJobStatus[]>;
  cronTick(cron: string, scheduledTime: number, nodeId?: string): Promise<{ jobId: string; deliveryId: string; outcome: CronOutcome }[]>;
}

export interface OutboxRouter {
  enqueue(delivery: NodeCall, failure: { reason: string; status?: number; retryAfterSeconds?: number }): Promise<{ deliveryId: string; status: string }>;
  recordRejected(delivery: NodeCall, answer: NodeAnswer): Promise<void>;
  nodeRecovered(nodeId: string): Promise<number>;
  status(limit: number): Promise<{ counts: Record<DeliveryStatus, number>; pending: DeliveryInfo[] }>;
  deadLetters(limit: number): Promise<DeliveryInfo[]>;
  replay(deliveryId: string): Promise<boolean>;
  retryNow(): Promise<number>;
  cronStatus(): Promise<CronJobStatus[]>;
  /** One Cron Trigger tick, handed to the outbox of each node that has a job on `cron`; empty when none has. */
  cronTick(cron: string, scheduledTime: number): Promise<{ jobId: string; deliveryId: string; outcome: CronOutcome }[]>;
}

/** `stubOf(name)`: the outbox Durable Object of that name (production: `env.OUTBOX.get(env.OUTBOX.idFromName(name))`). */
export function createOutboxRouter(config: EdgeConfig, stubOf: (name: string) => OutboxStub): OutboxRouter {
  const forNode = (nodeId: string) => stubOf(nodeOutboxName(nodeId));
  const nodeIds = [...config.nodes.keys()];
  /** Every outbox: each node's, then the old single one (`undefined` node). */
  const all = (): [OutboxStub, string | undefined][] => [...nodeIds.map((id): [OutboxStub, string] => [forNode(id), id]), [stubOf(OUTBOX_NAME), undefined]];
  return {
    enqueue: (delivery, failure) => forNode(delivery.nodeId).enqueue(delivery, failure),
    recordRejected: (delivery, answer) => forNode(delivery.nodeId).recordRejected(delivery, answer),
    nodeRecovered: async (nodeId) => {
      // The old single outbox may still hold calls for this node from before the upgrade.
      const [own, old] = await Promise.all([forNode(nodeId).nodeRecovered(nodeId), stubOf(OUTBOX_NAME).nodeRecovered(nodeId)]);
      return own + old;
    },
    async status(limit) {
      const parts = await Promise.all(all().map(([stub, id]) => stub.status(limit, id)));
      const counts: Record<DeliveryStatus, number> = { pending: 0, delivered: 0, dead: 0, rejected: 0 };
      for (const part of parts) for (const key of Object.keys(counts) as DeliveryStatus[]) counts[key] += part.counts[key];
      const pending = parts.flatMap((p) => p.pending).sort((a, b) => (a.nextAttemptAt ?? "").localeCompare(b.nextAttemptAt ?? "")).slice(0, limit);
      return { counts, pending };
    },
    async deadLetters(limit) {
      const parts = await Promise.all(all().map(([stub, id]) => stub.deadLetters(limit, id)));
      return parts.flat().sort((a, b) => b.updatedAt.localeCompare(a.updatedAt)).slice(0, limit);
    },
    async replay(deliveryId) {
      for (const [stub, id] of all()) if (await stub.replay(deliveryId, id)) return true;
      return false;
    },
    async retryNow() {
      const moved = await Promise.all(all().map(([stub, id]) => stub.retryNow(id)));
      return moved.reduce((a, b) => a + b, 0);
    },
    async cronStatus() {
      // Each node's outbox reports its own jobs (the old single outbox's runs stay there, no longer ticked).
      return (await Promise.all(nodeIds.map((id) => forNode(id).cronStatus(id)))).flat();
    },
    async cronTick(cron, scheduledTime) {
      const nodes = [...new Set(config.cron.jobs.filter((job) => job.schedule === cron).map((job) => nodeOfJob(job, config)))];
      const runs = await Promise.all(nodes.map((id) => forNode(id).cronTick(cron, scheduledTime, id)));
      return runs.flat();
    },
  };
}
