/**
 * Property test (fast-check) in workerd: the Worker's scheduled handler, handed any cron string and any time
 * (NaN, ±Infinity, fractions, far past and future), never throws; a tick of the configured schedule is
 * recorded for its job with a delivery id naming job, expression and time, any other expression is no job's,
 * and the operator's cron listing stays readable. Runs against wrangler.toml's example config and outbox.
 */
import { createScheduledController, env } from "cloudflare:test";
import fc from "fast-check";
import { expect, it } from "vitest";
import { createEdgeWorker } from "../../edge/edge-app.ts";
import { productionEdgeIo } from "../../edge/edge-io.ts";
import { OPERATOR_TOKEN, sha256Hex } from "./support/edge-env.ts";
import { fuzzParameters, fuzzTimeoutMs } from "./support/fuzz-settings.ts";

/** wrangler.toml's one job: `heartbeat` on this expression. */
const SCHEDULE = "*/30 * * * *";
const OUTCOMES = ["pending", "delivered", "queued", "coalesced", "missed", "rejected", "dead"];
const CI_RUNS = 50;
/** Each configured tick costs the outbox a real (failing) DNS lookup, ~40 ms: a campaign runs a tenth as many. */
const CAMPAIGN_SHARE = 0.1;
const MAX_DATE = 8.64e15;

const cron = fc.oneof(
  { weight: 2, arbitrary: fc.constant(SCHEDULE) },
  { weight: 1, arbitrary: fc.constantFrom("", " ", `${SCHEDULE} `, "*/30  * * * *", "0 * * * *", "@daily", "* * * * * *", "*/30 * * * * ") },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 300 }) },
);
const time = fc.oneof(
  fc.integer({ min: Date.parse("2026-01-01T00:00:00Z"), max: Date.parse("2027-01-01T00:00:00Z") }).map((t) => t - (t % 60_000)),
  fc.integer({ min: -MAX_DATE, max: MAX_DATE }),
  fc.double(),
  fc.constantFrom(0, -0, -1, 1.5, MAX_DATE, -MAX_DATE, MAX_DATE + 1, Number.MAX_SAFE_INTEGER, Number.NaN, Number.POSITIVE_INFINITY),
);

it("the scheduled handler never throws for any cron string or time, and records each tick of the configured schedule", async () => {
  const events: Record<string, unknown>[] = [];
  const worker = createEdgeWorker({ ...productionEdgeIo(), logEvent: (event) => events.push(event), log: () => {} });
  // The Worker and its outbox share wrangler.toml's config; only the operator API's hash is added.
  const workerEnv = { ...env, CLAWGATE_OPERATOR_TOKEN_SHA256: await sha256Hex(OPERATOR_TOKEN) } as Env;
  await fc.assert(
    fc.asyncProperty(cron, time, async (expression, scheduledTime) => {
      events.length = 0;
      await worker.scheduled(createScheduledController({ cron: expression, scheduledTime }), workerEnv);
      const where = `cron ${JSON.stringify(expression.slice(0, 60))} at ${scheduledTime}`;
      if (Number.isNaN(new Date(scheduledTime).getTime())) {
        expect(events, where).toEqual([{ event: "cron.invalid_time", cron: expression, scheduledTime: String(scheduledTime) }]);
        return;
      }
      const tick = events.find((e) => e["event"] === "cron.tick") as { runs: { jobId: string; deliveryId: string; outcome: string }[] } | undefined;
      expect(tick, where).toBeDefined();
      if (expression !== SCHEDULE) {
        expect(tick!.runs, where).toEqual([]);
        return;
      }
      expect(tick!.runs, where).toHaveLength(1);
      const [run] = tick!.runs;
      expect(run!.jobId, where).toBe("heartbeat");
      expect(OUTCOMES, where).toContain(run!.outcome);
      // Its own id, or (coalesced) the id of the tick whose delivery still waits.
      if (run!.outcome !== "coalesced") expect(run!.deliveryId, where).toBe(`cron:heartbeat:${SCHEDULE}@${new Date(scheduledTime).toISOString()}`);
      else expect(run!.deliveryId, where).toMatch(/^cron:heartbeat:\*\/30 \* \* \* \*@/);
    }),
    fuzzParameters(CI_RUNS, CAMPAIGN_SHARE),
  );
  const listing = await worker.fetch(new Request("https://edge.test/_clawgate/cron", { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } }), workerEnv, {} as ExecutionContext);
  expect(listing.status).toBe(200);
  const body = (await listing.json()) as { jobs: { id: string; runs: { scheduledTime: string }[] }[] };
  expect(body.jobs.map((j) => j.id)).toEqual(["heartbeat"]);
  for (const run of body.jobs[0]!.runs) expect(Number.isNaN(Date.parse(run.scheduledTime))).toBe(false);
}, fuzzTimeoutMs(CI_RUNS, 100, CAMPAIGN_SHARE));
