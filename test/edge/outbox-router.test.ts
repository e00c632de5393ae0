/** One outbox per node: calls go to their node's outbox, each outbox ticks only its node's cron jobs, and the operator API reads all of them (the old single outbox too). */
import { describe, expect, it } from "vitest";
import type { CronJob, EdgeConfig } from "../../edge/edge-config.ts";
import { OUTBOX_NAME, nodeOutboxName } from "../../edge/edge-defaults.ts";
import type { NodeCall } from "../../edge/node-forwarder.ts";
import type { DeliveryInfo } from "../../edge/outbox-core.ts";
import { type OutboxStub, createOutboxRouter } from "../../edge/outbox-router.ts";
import { NODE, outboxHarness } from "./support/outbox-fixture.ts";

const delivery = (id: string, nodeId: string): NodeCall => ({
  deliveryId: id,
  nodeId,
  path: "/hooks/wake",
  body: new TextEncoder().encode('{"text":"x"}'),
  contentType: "application/json",
  principal: "token:ci",
});

const info = (id: string, nodeId: string, at: string): DeliveryInfo => ({
  deliveryId: id, nodeId, path: "/hooks/wake", principal: "token:ci", jobId: null, status: "pending", attempts: 1,
  createdAt: at, updatedAt: at, nextAttemptAt: at, lastError: "node unreachable", lastStatus: null, coalescedTicks: 0,
});

/** Plain stand-ins for the Durable Object stubs, recording which outbox got which call and with which node named. */
function stubs() {
  const calls: string[] = [];
  const held = new Map<string, DeliveryInfo[]>();
  const stubOf = (name: string): OutboxStub => ({
    async enqueue(d) {
      calls.push(`${name} enqueue ${d.deliveryId}`);
      return { deliveryId: d.deliveryId, status: "pending" };
    },
    async recordRejected(d) {
      calls.push(`${name} rejected ${d.deliveryId}`);
    },
    async nodeRecovered(nodeId) {
      calls.push(`${name} recovered ${nodeId}`);
      return (held.get(name) ?? []).filter((d) => d.nodeId === nodeId).length;
    },
    async retryNow(nodeId) {
      calls.push(`${name} retryNow ${nodeId}`);
      return 0;
    },
    async status(limit, nodeId) {
      calls.push(`${name} status ${nodeId}`);
      const pending = (held.get(name) ?? []).slice(0, limit);
      return { counts: { pending: pending.length, delivered: 0, dead: 0, rejected: 0 }, pending };
    },
    async deadLetters() {
      return [];
    },
    async replay(id, nodeId) {
      calls.push(`${name} replay ${id} ${nodeId}`);
      return name === OUTBOX_NAME;
    },
    async cronStatus(nodeId) {
      return [{ id: `job-of-${nodeId}`, schedule: "* * * * *", action: "wake", nodeId: nodeId!, runs: [], deadMan: null }];
    },
    async cronTick(cron, _t, nodeId) {
      calls.push(`${name} tick ${cron} ${nodeId}`);
      return [];
    },
  });
  return { calls, held, stubOf };
}

const job = (id: string, node: string | undefined, schedule = "*/5 * * * *"): CronJob =>
  ({ id, schedule, action: { kind: "wake", text: "hb", mode: "now" }, ...(node ? { node } : {}) }) as CronJob;

const config = (jobs: CronJob[] = []) =>
  ({ nodes: new Map([["a", {}], ["b", {}]]), primary: { id: "a" }, cron: { jobs } }) as unknown as EdgeConfig;

describe("outbox router", () => {
  it("queues a call in its own node's outbox, never in another node's or the old single one", async () => {
    const { calls, stubOf } = stubs();
    const router = createOutboxRouter(config(), stubOf);
    await router.enqueue(delivery("d1", "b"), { reason: "node unreachable" });
    await router.recordRejected(delivery("d2", "a"), { status: 400, body: "{}", contentType: "application/json" });
    expect(calls).toEqual([`${nodeOutboxName("b")} enqueue d1`, `${nodeOutboxName("a")} rejected d2`]);
  });

  it("a recovered node pulls forward only its own backlog (its outbox, and its calls still in the old single outbox)", async () => {
    const { calls, held, stubOf } = stubs();
    held.set(nodeOutboxName("a"), [info("x", "a", "2026-01-01T00:00:00.000Z")]);
    held.set(OUTBOX_NAME, [info("old", "a", "2026-01-01T00:00:00.000Z"), info("old-b", "b", "2026-01-01T00:00:00.000Z")]);
    const router = createOutboxRouter(config(), stubOf);
    expect(await router.nodeRecovered("a")).toBe(2);
    expect(calls).toEqual([`${nodeOutboxName("a")} recovered a`, `${OUTBOX_NAME} recovered a`]);
  });

  it("merges the operator's reads over every outbox, soonest first, within the limit; a replay finds the dead letter wherever it is", async () => {
    const { held, stubOf } = stubs();
    held.set(nodeOutboxName("a"), [info("a1", "a", "2026-01-01T00:00:03.000Z")]);
    held.set(nodeOutboxName("b"), [info("b1", "b", "2026-01-01T00:00:01.000Z")]);
    held.set(OUTBOX_NAME, [info("old", "a", "2026-01-01T00:00:02.000Z")]);
    const router = createOutboxRouter(config(), stubOf);
    const status = await router.status(2);
    expect(status.counts.pending).toBe(3);
    expect(status.pending.map((d) => d.deliveryId)).toEqual(["b1", "old"]);
    expect(await router.replay("old")).toBe(true);
  });

  it("hands a tick only to the outboxes of nodes with a job on that expression", async () => {
    const { calls, stubOf } = stubs();
    const router = createOutboxRouter(config([job("hb-a", undefined), job("hb-b", "b"), job("other", "b", "0 * * * *")]), stubOf);
    await router.cronTick("*/5 * * * *", 0);
    await router.cronTick("1 1 1 1 1", 0);
    expect(calls.sort()).toEqual([`${nodeOutboxName("a")} tick */5 * * * * a`, `${nodeOutboxName("b")} tick */5 * * * * b`]);
  });
});

describe("a node's own outbox", () => {
  it("ticks only its node's cron jobs", async () => {
    const other = job("elsewhere", "node-2");
    const mine = job("mine", undefined);
    const h = await outboxHarness({ jobs: [mine, other], nodeId: NODE.id });
    const runs = await h.run((core) => core.cronTick(mine.schedule, Date.parse("2026-11-24T08:05:00Z")));
    expect(runs.map((r) => [r.jobId, r.outcome])).toEqual([["mine", "delivered"]]);
    expect((await h.run((core) => core.cronStatus())).map((s) => s.id)).toEqual(["mine"]);
    expect(h.node.received).toHaveLength(1);
  });

  it("spends one wave of connection attempts per retry step on an unreachable node, however long its backlog; each queued call still counts the attempt", async () => {
    const h = await outboxHarness({ nodeId: NODE.id });
    h.node.mode = "down";
    await h.run(async (core) => {
      for (let i = 0; i < 20; i++) await core.enqueue(delivery(`d${i}`, NODE.id), { reason: "node unreachable" });
    });
    await h.fireAlarm();
    // ALARM_CONCURRENCY (5) tried at once and failed; the other 15 due in this run share that failure.
    expect(h.node.attempts).toHaveLength(5);
    const pending = (await h.run((core) => core.status(100))).pending;
    expect(pending).toHaveLength(20);
    expect(pending.every((d) => d.attempts === 2 && d.lastError === "node unreachable")).toBe(true);
    // Back up: everything goes out once.
    h.node.mode = "up";
    await h.fireAlarm();
    expect(new Set(h.node.received.map((c) => c.claims.did)).size).toBe(20);
    expect(h.node.received).toHaveLength(20);
  });
});
