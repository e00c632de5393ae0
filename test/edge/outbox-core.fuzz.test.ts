/**
 * Property test (fast-check) in workerd: the outbox over a real Durable Object's SQLite storage, driven by
 * random sequences — calls queued and refused (ids colliding on purpose), alarms, clock jumps, replays,
 * recoveries, retry-now, cron ticks at odd expressions and times for a wake job with a dead-man's switch and an
 * agent job, listings, node and alert target flipping. Nothing throws; a pending delivery always has an alarm
 * armed no later than it is due; the node never sees an envelope it refuses; listings stay consistent; each
 * job's dead-man messages alternate alert, recovery, alert…
 */
import fc from "fast-check";
import { expect, it } from "vitest";
import type { CronJob } from "../../edge/edge-config.ts";
import type { NodeCall } from "../../edge/node-forwarder.ts";
import type { NodeMode } from "./support/fake-node.ts";
import { fuzzParameters, fuzzTimeoutMs } from "./support/fuzz-settings.ts";
import { NODE, type OutboxHarness, outboxHarness } from "./support/outbox-fixture.ts";

const CI_RUNS = 60;
/** A run is a sequence of up to 30 actions: a campaign runs a quarter as many sequences. */
const CAMPAIGN_SHARE = 0.25;
const MIN = 60_000;
const JOBS: CronJob[] = [
  { id: "heartbeat", schedule: "*/30 * * * *", action: { kind: "wake", text: "Scheduled heartbeat", mode: "now" }, deadMan: { periodSeconds: 3600, graceSeconds: 600 } },
  { id: "digest", schedule: "0 * * * *", action: { kind: "agent", message: "Write the digest", agentId: "main", timeoutSeconds: 60 } },
];

const deliveryId = fc.oneof(fc.constantFrom("a", "b", "c", "token:ci/x", "cron:heartbeat:*/30 * * * *@2026-11-24T08:00:00.000Z"), fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }), fc.constant("d".repeat(256)));
const delivery: fc.Arbitrary<NodeCall> = fc.record({
  deliveryId,
  nodeId: fc.constantFrom(NODE.id, NODE.id, "node-gone"),
  path: fc.constantFrom("/hooks/wake", "/hooks/agent", "/hooks/github?x=1"),
  body: fc.oneof(fc.constant(new TextEncoder().encode('{"text":"t"}')), fc.uint8Array({ maxLength: 40 })),
  contentType: fc.constantFrom("application/json", "text/plain"),
  principal: fc.constantFrom("token:ci", "hmac:github:gh"),
});
const action = fc.oneof(
  fc.record({ kind: fc.constant("enqueue" as const), delivery, status: fc.option(fc.constantFrom(408, 429, 500, 503), { nil: undefined }), retryAfter: fc.option(fc.integer({ min: 1, max: 200_000 }), { nil: undefined }) }),
  fc.record({ kind: fc.constant("reject" as const), delivery, status: fc.constantFrom(302, 400, 404, 413), body: fc.oneof(fc.string({ maxLength: 300 }), fc.constant('{"ok":false,"error":"text required"}')) }),
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("alarm" as const), times: fc.oneof(fc.constant(1), fc.integer({ min: 2, max: 9 })) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("advance" as const), ms: fc.oneof(fc.integer({ min: 0, max: 10 * MIN }), fc.integer({ min: 0, max: 12 * 60 * MIN })) }) },
  fc.record({ kind: fc.constant("replay" as const), id: deliveryId }),
  fc.record({ kind: fc.constant("recovered" as const), nodeId: fc.constantFrom(NODE.id, "node-gone", "") }),
  fc.record({ kind: fc.constant("retry" as const) }),
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("tick" as const),
      cron: fc.oneof(fc.constantFrom("*/30 * * * *", "*/30 * * * *", "0 * * * *"), fc.string({ maxLength: 20 })),
      offset: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: -3 * 24 * 60 * MIN, max: 60 * MIN })),
    }),
  },
  fc.record({ kind: fc.constant("list" as const), limit: fc.integer({ min: 1, max: 1000 }) }),
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("node" as const), mode: fc.constantFrom<NodeMode>("up", "up", "down", "down", "5xx", "reject", "busy", "access-login") }) },
  fc.record({ kind: fc.constant("alerts" as const), down: fc.boolean() }),
);

/**
 * A run's outbox: one of a fixed pool per catch-up mode, reused round-robin, so a long campaign does not open a
 * Durable Object SQLite file per run (workerd hit SQLITE_CANTOPEN after ~6,600 of them). A reused outbox keeps
 * its state and clock, which the invariants below hold for anyway.
 */
const POOL_SIZE = 64;
const pool = new Map<string, { h: OutboxHarness; alertTarget: { down: boolean } }>();
let runCount = 0;
async function harnessFor(catchUp: "coalesce" | "skip") {
  const key = `${catchUp}:${runCount++ % POOL_SIZE}`;
  let entry = pool.get(key);
  if (!entry) {
    const alertTarget = { down: false };
    entry = { h: await outboxHarness({ jobs: JOBS, catchUp, alertDown: () => alertTarget.down }), alertTarget };
    pool.set(key, entry);
  }
  entry.h.node.mode = "up";
  entry.alertTarget.down = false;
  return entry;
}

it("outbox under random sequences: no throw, alarms armed for what waits, valid envelopes, dead-man messages alternate", async () => {
  await fc.assert(
    fc.asyncProperty(fc.constantFrom<"coalesce" | "skip">("coalesce", "skip"), fc.array(action, { minLength: 1, maxLength: 30 }), async (catchUp, actions) => {
      const { h, alertTarget } = await harnessFor(catchUp);
      for (const a of actions) {
        const where = JSON.stringify(a, (_k, v: unknown) => (v instanceof Uint8Array ? `<${v.length} bytes>` : v)).slice(0, 200);
        switch (a.kind) {
          case "enqueue":
            await h.run((core) => core.enqueue(a.delivery, { reason: "node unreachable", ...(a.status ? { status: a.status } : {}), ...(a.retryAfter ? { retryAfterSeconds: a.retryAfter } : {}) }));
            break;
          case "reject":
            await h.run((core) => core.recordRejected(a.delivery, { status: a.status, body: a.body, contentType: "application/json" }));
            break;
          case "alarm":
            // The clock jumps to each armed alarm in turn (a whole retry schedule when times is large).
            if (h.alarm.at === undefined) await h.run((core) => core.alarm());
            for (let i = 0; i < a.times && h.alarm.at !== undefined; i++) await h.fireAlarm();
            break;
          case "advance":
            h.clock.now += a.ms;
            break;
          case "replay":
            await h.run((core) => core.replay(a.id));
            break;
          case "recovered":
            await h.run((core) => core.nodeRecovered(a.nodeId));
            break;
          case "retry":
            await h.run((core) => core.retryNow());
            break;
          case "tick": {
            const results = await h.run((core) => core.cronTick(a.cron, h.clock.now + a.offset));
            expect(results.map((r) => r.jobId), where).toEqual(JOBS.filter((j) => j.schedule === a.cron).map((j) => j.id));
            break;
          }
          case "list": {
            const { counts, pending } = await h.run((core) => core.status(a.limit));
            const dead = await h.run((core) => core.deadLetters(a.limit));
            expect(pending.length <= Math.min(a.limit, counts.pending) && dead.length <= a.limit, where).toBe(true);
            for (const d of pending) expect([d.status, d.nextAttemptAt === null], where).toEqual(["pending", false]);
            for (const d of dead) expect(d.nextAttemptAt, where).toBeNull();
            const jobs = await h.run((core) => core.cronStatus());
            expect(jobs.map((j) => j.id), where).toEqual(JOBS.map((j) => j.id));
            for (const job of jobs) expect(job.runs.length, where).toBeLessThanOrEqual(5);
            break;
          }
          case "node":
            h.node.mode = a.mode;
            break;
          case "alerts":
            alertTarget.down = a.down;
            break;
        }
        // Whatever waits has an alarm armed no later than it is due: nothing pending is forgotten.
        const { counts, pending } = await h.run((core) => core.status(1));
        if (counts.pending > 0) {
          expect(h.alarm.at, `${where}: pending without an alarm`).toBeDefined();
          expect(h.alarm.at!, `${where}: alarm after the first due delivery`).toBeLessThanOrEqual(Math.max(Date.parse(pending[0]!.nextAttemptAt!), h.clock.now));
        }
      }
      // The node refused no envelope (it answers 401 only to one it cannot verify).
      const everything = [...(await h.run((core) => core.status(1000))).pending, ...(await h.run((core) => core.deadLetters(1000)))];
      expect(everything.filter((d) => d.lastStatus === 401)).toEqual([]);
      expect(h.node.attempts.length).toBeGreaterThanOrEqual(h.node.received.length);
      // The heartbeat's dead-man messages alternate, starting with an alert.
      const kinds = h.alerts.filter((m) => m.kind !== "dead-letter").map((m) => m.kind);
      kinds.forEach((kind, i) => expect(kind, `dead-man messages ${kinds.join(",")}`).toBe(i % 2 === 0 ? "alert" : "recovery"));
    }),
    fuzzParameters(CI_RUNS, CAMPAIGN_SHARE),
  );
}, fuzzTimeoutMs(CI_RUNS, 400, CAMPAIGN_SHARE));
