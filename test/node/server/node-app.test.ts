/** Node agent routes in-process: /readyz tells the truth about secrets, /metrics serves Prometheus text behind the admin token. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, expect, it } from "vitest";
import { type IntakeJournal, openIntakeJournal } from "../../../node/intake/intake-journal.ts";
import { createSecretsRuntime } from "../../../node/secrets/secrets-runtime.ts";
import { createNodeApp } from "../../../node/server/node-app.ts";
import { createNodeMetrics } from "../../../node/server/node-metrics.ts";

const ADMIN = "admin-token-for-tests";
let dir: string;
let journal: IntakeJournal;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "clawgate-app-"));
  journal = openIntakeJournal(dir);
});
afterEach(async () => {
  journal.close();
  await rm(dir, { recursive: true, force: true });
});

async function setup() {
  const configPath = join(dir, "openclaw.json");
  await writeFile(configPath, JSON.stringify({ models: { providers: { openai: { apiKey: "${OPENAI_API_KEY}" } } } }));
  const env: NodeJS.ProcessEnv = { OPENAI_API_KEY: "sk-test-value" };
  const secrets = createSecretsRuntime({ configPath, providerIo: { env } });
  await secrets.activate();
  const metrics = createNodeMetrics({ secrets, journal });
  const app = createNodeApp({ secrets, adminToken: ADMIN, logger: pino({ level: "silent" }), journal, metrics });
  return { app, env, secrets };
}

it("/readyz is 200 while secrets are healthy and 503 naming the reason once they degrade", async () => {
  const { app, env, secrets } = await setup();
  expect(await (await app.request("/readyz")).json()).toEqual({ ok: true });
  delete env["OPENAI_API_KEY"];
  expect((await secrets.reload()).ok).toBe(false);
  const res = await app.request("/readyz");
  expect(res.status).toBe(503);
  expect(await res.json()).toEqual({ ok: false, problems: ["secrets degraded"] });
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
