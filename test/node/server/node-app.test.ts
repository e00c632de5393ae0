/** Node agent routes in-process: /readyz tells the truth about secrets and the journal, /metrics serves Prometheus text behind the admin token. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, expect, it } from "vitest";
import { AgentsSchema } from "../../../node/config/agents-schema.ts";
import { compileAgentTable } from "../../../node/dispatch/agent-table.ts";
import { createDispatcher } from "../../../node/dispatch/dispatcher.ts";
import { createModelMemory } from "../../../node/dispatch/model-memory.ts";
import { openRunLog } from "../../../node/dispatch/run-log.ts";
import { createScheduler } from "../../../node/dispatch/scheduler.ts";
import { type IntakeJournal, openIntakeJournal } from "../../../node/intake/intake-journal.ts";
import { createSessionStore } from "../../../node/sessions/session-store.ts";
import { createSystemEventQueues } from "../../../node/sessions/system-events.ts";
import { createSecretsReloader } from "../../../node/secrets/secrets-reloader.ts";
import { createNodeApp } from "../../../node/server/node-app.ts";
import { createNodeMetrics } from "../../../node/server/node-metrics.ts";
import { realIo } from "../../helpers/daemon-io.ts";

const ADMIN = "admin-token-for-tests";
let dir: string;
let journal: IntakeJournal;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "clawgate-app-"));
  journal = openIntakeJournal(dir);
});
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  journal.close();
  await rm(dir, { recursive: true, force: true });
});

async function setup(options: { dispatch?: boolean } = {}) {
  const configPath = join(dir, "openclaw.json");
  await writeFile(configPath, JSON.stringify({ models: { providers: { openai: { apiKey: "${OPENAI_API_KEY}" } } } }));
  const env: NodeJS.ProcessEnv = { OPENAI_API_KEY: "sk-test-value" };
  const secrets = createSecretsReloader({ io: realIo, configPath, providerIo: { env } });
  await secrets.activate();
  const metrics = createNodeMetrics({ secrets, journal });
  // A real dispatcher over the same journal, never started: replay marks and revives, and nothing runs.
  const runs = openRunLog(dir);
  const agents = compileAgentTable({ io: realIo, agents: AgentsSchema.parse({ defaults: { model: "local/m", heartbeat: { every: "0m" } } }), providers: { local: { baseUrl: "http://127.0.0.1:9/v1" } }, secret: () => undefined });
  const scheduler = createScheduler({ io: realIo, budgetGb: 8, maxQueue: 10, maxConcurrent: 1, memoryProbe: async () => ({ availableGb: 16, totalGb: 16 }) });
  const events = createSystemEventQueues();
  const dispatcher = createDispatcher({ io: realIo, journal, scheduler, modelMemory: createModelMemory(), runLog: runs, sessions: createSessionStore(dir), events, agents, logger: pino({ level: "silent" }), maxQueue: 10 });
  closers.push(() => dispatcher.close(100));
  const dispatch = options.dispatch ? { dispatch: { health: () => dispatcher.health(), runs, replay: (id: string) => dispatcher.replay(id) } } : {};
  const app = createNodeApp({ io: realIo, secrets, adminToken: ADMIN, logger: pino({ level: "silent" }), journal, metrics, ...dispatch });
  return { app, env, secrets, runs };
}

it("/readyz is 200 while secrets are healthy and 503 naming the reason once they degrade", async () => {
  const { app, env, secrets } = await setup();
  expect(await (await app.request("/readyz")).json()).toEqual({ ok: true });
  delete env["OPENAI_API_KEY"];
  expect((await secrets.reload()).ok).toBe(false);
  const res = await app.request("/readyz");
  expect(res.status).toBe(503);
  // Without the admin token it says only "not ready"; the problems need the token.
  expect(await res.json()).toEqual({ ok: false });
  const detailed = await app.request("/readyz", { headers: { authorization: `Bearer ${ADMIN}` } });
  expect(detailed.status).toBe(503);
  expect(await detailed.json()).toEqual({ ok: false, problems: ["secrets degraded"] });
});

it("/readyz is 503 naming a failed WAL sync once the journal stops taking deliveries", async () => {
  journal.close();
  journal = openIntakeJournal(dir, { sync: (_fd, done) => done(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" })) });
  const { app } = await setup();
  expect((await app.request("/readyz")).status).toBe(200);
  await expect(journal.acceptGrouped({ deliveryId: "d1", kind: "wake", payload: "{}", response: "{}", receivedAt: 0 })).rejects.toMatchObject({ code: "ERR_JOURNAL_COMMIT" });
  const detailed = await app.request("/readyz", { headers: { authorization: `Bearer ${ADMIN}` } });
  expect(detailed.status).toBe(503);
  expect(await detailed.json()).toEqual({ ok: false, problems: ["intake journal stopped after a failed WAL sync"] });
});

it("/metrics needs the admin token and reports requests, intake depth and secrets state", async () => {
  const { app } = await setup();
  journal.accept({ deliveryId: "d1", kind: "wake", payload: "{}", response: "{}", receivedAt: 0 });
  await app.request("/healthz");
  expect((await app.request("/metrics")).status).toBe(401);
  const res = await app.request("/metrics", { headers: { authorization: `Bearer ${ADMIN}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("text/plain");
  const text = await res.text();
  expect(text).toContain('clawgate_http_requests_total{route="/healthz",status="200"} 1');
  expect(text).toContain('clawgate_auth_failures_total{route="/metrics"} 1');
  expect(text).toContain('clawgate_intake_deliveries{state="pending"} 1');
  expect(text).toContain('clawgate_secrets_state{state="healthy"} 1');
  expect(text).toContain("clawgate_secrets_snapshot_version 1");
  expect(text).not.toContain("sk-test-value");
});

it("lists dead deliveries with their dead reason and replays one: 200, 404 and 409 with the reference texts, 400 for a bad state", async () => {
  const { app, runs } = await setup({ dispatch: true });
  const auth = { authorization: `Bearer ${ADMIN}` };
  // An edge-scoped delivery id holds a "/" (<principal>/<key>).
  for (const id of ["tenant/key-1", "tenant/key-2", "d3"]) journal.accept({ deliveryId: id, kind: "agent", payload: '{"message":"hi","sessionKey":"hook:s"}', response: "{}", receivedAt: 0 });
  journal.settle("tenant/key-1", "dead");
  journal.settle("tenant/key-2", "dead");
  journal.settle("d3", "done");
  runs.write({ id: "run-t", kind: "agent", agentId: "main", sessionKey: "agent:main:hook:s", status: "error", deliveryIds: ["tenant/key-1"], attempt: 1, deadReason: "failed 3 times (last: ERR_RUNTIME_HTTP)" });

  const listed = await app.request("/_clawgate/admin/intake?state=dead&limit=5", { headers: auth });
  expect(listed.status).toBe(200);
  const body = (await listed.json()) as { counts: object; dead: { deliveryId: string; deadReason?: string }[] };
  expect(body.counts).toEqual({ pending: 0, done: 1, dead: 2 });
  expect(body.dead.map((d) => [d.deliveryId, d.deadReason])).toEqual([["tenant/key-2", undefined], ["tenant/key-1", "failed 3 times (last: ERR_RUNTIME_HTTP)"]]);
  expect(((await (await app.request("/_clawgate/admin/intake?state=dead&limit=1", { headers: auth })).json()) as { dead: unknown[] }).dead).toHaveLength(1);
  // The default listing is unchanged: pending, arrival order.
  expect(await (await app.request("/_clawgate/admin/intake", { headers: auth })).json()).toEqual({ ok: true, counts: { pending: 0, done: 1, dead: 2 }, pending: [] });
  const bad = await app.request("/_clawgate/admin/intake?state=zombie", { headers: auth });
  expect(bad.status).toBe(400);
  expect(await bad.json()).toEqual({ ok: false, error: 'state must be "pending", "dead" or "done"' });

  const post = (id: string) => app.request(`/_clawgate/admin/intake/${id}/replay`, { method: "POST", headers: auth });
  expect((await app.request("/_clawgate/admin/intake/d3/replay", { method: "POST" })).status).toBe(401);
  const replayed = await post(encodeURIComponent("tenant/key-1"));
  expect(replayed.status).toBe(200);
  expect(await replayed.json()).toEqual({ ok: true, deliveryId: "tenant/key-1" });
  expect(journal.get("tenant/key-1")?.state).toBe("pending");
  expect(runs.forDelivery("tenant/key-1").map((r) => [r.kind, r.status, r.replayedBy])).toEqual([["agent", "error", undefined], ["replay", "replayed", "admin-api"]]);
  const unencoded = await post("tenant/key-2");
  expect(unencoded.status).toBe(200);
  expect(await unencoded.json()).toEqual({ ok: true, deliveryId: "tenant/key-2" });

  const again = await post(encodeURIComponent("tenant/key-1"));
  expect(again.status).toBe(409);
  expect(await again.json()).toEqual({ ok: false, error: "delivery is not dead" });
  expect((await post("d3")).status).toBe(409);
  const missing = await post("no-such-delivery");
  expect(missing.status).toBe(404);
  expect(await missing.json()).toEqual({ ok: false, error: "delivery not found" });
  // Malformed percent-encoding is bad input: looked up as is, not found — never a 5xx.
  const malformed = await post("%E0%A4%A");
  expect(malformed.status).toBe(404);
  expect(await malformed.json()).toEqual({ ok: false, error: "delivery not found" });
});
