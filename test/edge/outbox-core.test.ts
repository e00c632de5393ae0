/** The outbox over real Durable Object SQLite storage: retry schedule, dead letters and replay, cron catch-up, dead-man's switch. */
import { describe, expect, it } from "vitest";
import type { CronJob } from "../../edge/edge-config.ts";
import type { NodeCall } from "../../edge/node-forwarder.ts";
import { NODE, outboxHarness } from "./support/outbox-fixture.ts";

const delivery = (id: string, text = "hello"): NodeCall => ({
  deliveryId: id,
  nodeId: NODE.id,
  path: "/hooks/wake",
  body: new TextEncoder().encode(JSON.stringify({ text })),
  contentType: "application/json",
  principal: "token:ci",
});
const down = { reason: "node unreachable" };

describe("outbox deliveries", () => {
  it("retries on the Svix schedule, then keeps a dead letter that a replay delivers once with the same delivery id", async () => {
    const h = await outboxHarness();
    h.node.mode = "down";
    const start = h.clock.now;
    expect(await h.run((core) => core.enqueue(delivery("d-1"), down))).toEqual({ deliveryId: "d-1", status: "pending" });
    const gaps: number[] = [];
    let last = start;
    for (let i = 0; i < 7; i++) {
      gaps.push((h.alarm.at! - last) / 1000);
      last = h.alarm.at!;
      await h.fireAlarm();
    }
    // 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h after the first (immediate) attempt.
    expect(gaps).toEqual([5, 300, 1800, 7200, 18000, 36000, 36000]);
    expect(h.node.attempts).toHaveLength(7);
    const dead = await h.run((core) => core.deadLetters(10));
    expect(dead).toMatchObject([{ deliveryId: "d-1", status: "dead", attempts: 8, lastError: "node unreachable" }]);
    expect(await h.run((core) => core.status(10))).toMatchObject({ counts: { pending: 0, dead: 1 } });
    // One message to the alert webhook says so, and where to replay it.
    expect(h.alerts.map((a) => a.kind)).toEqual(["dead-letter"]);
    expect((h.alerts[0]!.body as { text: string }).text).toContain('delivery "d-1" to node node-1 (/hooks/wake) gave up after 8 attempts (node unreachable)');

    h.node.mode = "up";
    expect(await h.run((core) => core.replay("d-1"))).toBe(true);
    expect(await h.run((core) => core.replay("d-1"))).toBe(false); // pending again, no longer a dead letter
    await h.fireAlarm();
    expect(h.node.received.map((r) => r.claims.did)).toEqual(["d-1"]);
    expect(await h.run((core) => core.status(10))).toMatchObject({ counts: { pending: 0, dead: 0, delivered: 1 } });
    expect(await h.run((core) => core.replay("nope"))).toBe(false);
  });

  it("is idempotent by delivery id and re-signs each retry with a fresh jti but the same did", async () => {
    const h = await outboxHarness();
    h.node.mode = "5xx";
    await h.run((core) => core.enqueue({ ...delivery("same"), headers: { "x-github-event": "push" } }, down));
    expect(await h.run((core) => core.enqueue(delivery("same", "other"), down))).toEqual({ deliveryId: "same", status: "pending" });
    await h.fireAlarm();
    h.node.mode = "up";
    await h.fireAlarm();
    expect(h.node.received).toHaveLength(1);
    expect(h.node.received[0]!.body).toBe('{"text":"hello"}');
    expect(h.node.received[0]!.claims).toMatchObject({ did: "same", sub: "token:ci", aud: NODE.id });
    expect(h.node.received[0]!.claims.jti).not.toBe("same");
    expect(h.node.received[0]!.headers.get("x-github-event")).toBe("push");
    expect(await h.run((core) => core.status(10))).toMatchObject({ counts: { pending: 0, delivered: 1 } });
  });

  it("treats a node's 4xx as final: recorded with its reason, listed with the dead letters, not retried", async () => {
    const h = await outboxHarness();
    h.node.mode = "down";
    await h.run((core) => core.enqueue(delivery("r-1"), down));
    h.node.mode = "reject";
    await h.fireAlarm();
    expect(await h.run((core) => core.deadLetters(10))).toMatchObject([{ deliveryId: "r-1", status: "rejected", lastStatus: 400, lastError: "node answered 400: text required" }]);
    expect(h.alarm.at).toBeUndefined();
  });

  it("waits as long as a node's Retry-After asks when that exceeds the schedule", async () => {
    const h = await outboxHarness();
    await h.run((core) => core.enqueue(delivery("busy"), { reason: "node answered 503", status: 503, retryAfterSeconds: 30 }));
    expect((h.alarm.at! - h.clock.now) / 1000).toBe(30);
  });

  it("another delivery getting through pulls forward what waits for an unreachable node, not what the node answered 503/429", async () => {
    // A busy node (503 "queue full", Retry-After) still takes wakes. If each wake that got through pulled every
    // waiting agent call forward, each would meet another 503 and spend its attempts until it was a dead letter.
    const h = await outboxHarness();
    const start = h.clock.now;
    await h.run((core) => core.enqueue(delivery("busy"), { reason: "node answered 503", status: 503, retryAfterSeconds: 30 }));
    await h.run((core) => core.enqueue(delivery("limited"), { reason: "node answered 429", status: 429, retryAfterSeconds: 60 }));
    await h.run((core) => core.enqueue(delivery("gone"), down));
    expect(await h.run((core) => core.nodeRecovered(NODE.id))).toBe(1);
    const waiting = new Map((await h.run((core) => core.status(10))).pending.map((d) => [d.deliveryId, Date.parse(d.nextAttemptAt!) - start]));
    expect(Object.fromEntries(waiting)).toEqual({ gone: 0, busy: 30_000, limited: 60_000 });
  });
});

const heartbeat = (extra: Partial<CronJob> = {}): CronJob => ({
  id: "heartbeat",
  schedule: "*/30 * * * *",
  action: { kind: "wake", text: "Scheduled heartbeat", mode: "now" },
  ...extra,
});
const MIN = 60_000;

describe("cron ticks", () => {
  it("delivers a tick as a wake with an id from job, expression and scheduledTime; a repeated tick is not sent twice", async () => {
    const h = await outboxHarness({ jobs: [heartbeat()] });
    const t = h.clock.now;
    const first = await h.run((core) => core.cronTick("*/30 * * * *", t));
    expect(first).toEqual([{ jobId: "heartbeat", deliveryId: "cron:heartbeat:*/30 * * * *@2026-11-24T08:00:00.000Z", outcome: "delivered" }]);
    expect(await h.run((core) => core.cronTick("*/30 * * * *", t))).toEqual(first);
    expect(h.node.received.map((r) => [new URL(r.url).pathname, r.body, r.claims.sub])).toEqual([["/hooks/wake", '{"text":"Scheduled heartbeat","mode":"now"}', "cron:heartbeat"]]);
    expect(await h.run((core) => core.cronTick("0 0 * * *", t))).toEqual([]);
  });

  it("answers a tick older than the kept history, while a delivery waits, as coalesced instead of throwing", async () => {
    const h = await outboxHarness({ jobs: [heartbeat()] });
    h.node.mode = "down";
    const t0 = h.clock.now;
    // historySize 5 (the fixture): five newer ticks fill it, the first one still waits in the outbox.
    for (let i = 1; i <= 5; i++) await h.run((core) => core.cronTick("*/30 * * * *", t0 + i * 30 * MIN));
    const old = await h.run((core) => core.cronTick("*/30 * * * *", t0 - 24 * 60 * MIN));
    expect(old).toEqual([{ jobId: "heartbeat", deliveryId: "cron:heartbeat:*/30 * * * *@2026-11-24T08:30:00.000Z", outcome: "coalesced" }]);
    const [job] = await h.run((core) => core.cronStatus());
    expect(job!.runs).toHaveLength(5);
  });

  it("coalesces ticks missed while the node is down into one delivery on recovery, and keeps the last N runs", async () => {
    const h = await outboxHarness({ jobs: [heartbeat()] });
    h.node.mode = "down";
    const t0 = h.clock.now;
    for (let i = 0; i < 7; i++) {
      h.clock.now = t0 + i * 30 * MIN;
      await h.run((core) => core.cronTick("*/30 * * * *", h.clock.now));
    }
    const status = await h.run((core) => core.status(10));
    expect(status.counts.pending).toBe(1);
    expect(status.pending[0]).toMatchObject({ jobId: "heartbeat", coalescedTicks: 6 });
    h.node.mode = "up";
    await h.fireAlarm();
    expect(h.node.received).toHaveLength(1);
    expect(h.node.received[0]!.claims.did).toBe("cron:heartbeat:*/30 * * * *@2026-11-24T08:00:00.000Z");
    const [job] = await h.run((core) => core.cronStatus());
    expect(job!.runs).toHaveLength(5); // historySize
    expect(job!.runs.map((r) => r.outcome)).toEqual(["delivered", "delivered", "delivered", "delivered", "delivered"]);
  });

  it("after an outage, the first delivery that gets through makes everything waiting for that node due at once", async () => {
    const h = await outboxHarness({ jobs: [heartbeat()] });
    h.node.mode = "down";
    await h.run((core) => core.enqueue(delivery("wait-a"), down));
    await h.run((core) => core.enqueue(delivery("wait-b"), down));
    await h.fireAlarm(2); // both now wait 30 min for their next retry
    expect((h.alarm.at! - h.clock.now) / 60_000).toBe(30);
    h.node.mode = "up";
    await h.run((core) => core.cronTick("*/30 * * * *", h.clock.now));
    expect(h.alarm.at).toBe(h.clock.now);
    await h.fireAlarm();
    expect(h.node.received.map((r) => r.claims.did).sort()).toEqual([expect.stringMatching(/^cron:heartbeat:/), "wait-a", "wait-b"]);
    expect((await h.run((core) => core.status(10))).counts.pending).toBe(0);
  });

  it("with catchUp skip records missed ticks and delivers nothing for them on recovery", async () => {
    const h = await outboxHarness({ jobs: [heartbeat()], catchUp: "skip" });
    h.node.mode = "down";
    const t0 = h.clock.now;
    await h.run((core) => core.cronTick("*/30 * * * *", t0));
    await h.run((core) => core.cronTick("*/30 * * * *", t0 + 30 * MIN));
    expect((await h.run((core) => core.status(10))).counts.pending).toBe(0);
    h.node.mode = "up";
    await h.run((core) => core.cronTick("*/30 * * * *", t0 + 60 * MIN));
    expect(h.node.received).toHaveLength(1);
    const [job] = await h.run((core) => core.cronStatus());
    expect(job!.runs.map((r) => [r.outcome, r.detail])).toEqual([["delivered", null], ["missed", "node unreachable"], ["missed", "node unreachable"]]);
  });
});

describe("dead-man's switch", () => {
  it("alerts once per incident after period + grace without a delivered heartbeat, and sends one recovery", async () => {
    let alertDown = false;
    const h = await outboxHarness({ jobs: [heartbeat({ deadMan: { periodSeconds: 1800, graceSeconds: 600 } })], alertDown: () => alertDown });
    const t0 = h.clock.now;
    await h.run((core) => core.cronTick("*/30 * * * *", t0));
    expect(h.alarm.at).toBe(t0 + 40 * MIN); // the switch's deadline
    h.node.mode = "down";
    h.clock.now = t0 + 30 * MIN;
    await h.run((core) => core.cronTick("*/30 * * * *", h.clock.now));
    // The alert webhook is down at first: the alert is retried, not lost, and still sent once.
    alertDown = true;
    while (h.clock.now < t0 + 40 * MIN) await h.fireAlarm();
    expect(h.alerts).toHaveLength(0);
    alertDown = false;
    while (h.alerts.length === 0 && h.clock.now < t0 + 60 * MIN) await h.fireAlarm();
    expect(h.alerts.map((a) => a.kind)).toEqual(["alert"]);
    expect((h.alerts[0]!.body as { text: string }).text).toContain('no heartbeat from job "heartbeat" was delivered for 2400 s');
    // More missed ticks and retries: no second alert.
    for (let i = 2; i < 6; i++) {
      h.clock.now = t0 + i * 30 * MIN;
      await h.run((core) => core.cronTick("*/30 * * * *", h.clock.now));
      await h.fireAlarm();
    }
    expect(h.alerts).toHaveLength(1);
    const [job] = await h.run((core) => core.cronStatus());
    expect(job!.deadMan).toMatchObject({ periodSeconds: 1800, graceSeconds: 600, incidentSince: expect.any(String), alertSentAt: expect.any(String) });
    // The node is back: the coalesced heartbeat lands, one recovery goes out, and the switch re-arms.
    h.node.mode = "up";
    h.clock.now = t0 + 6 * 30 * MIN;
    await h.run((core) => core.cronTick("*/30 * * * *", h.clock.now));
    expect(h.node.received).toHaveLength(2);
    expect(h.alerts.map((a) => a.kind)).toEqual(["alert", "recovery"]);
    h.clock.now += 30 * MIN;
    await h.run((core) => core.cronTick("*/30 * * * *", h.clock.now));
    expect(h.alerts).toHaveLength(2);
    expect((await h.run((core) => core.cronStatus()))[0]!.deadMan).toMatchObject({ incidentSince: null, alertSentAt: null });
  });
});
