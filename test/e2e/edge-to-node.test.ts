/**
 * End to end: the real edge Worker in workerd (Miniflare) → a real node agent process on a loopback port.
 * A wake arrives with a valid envelope; with the node stopped a call is queued (202) and, once the node is
 * back, delivered exactly once; a cron tick becomes a wake; the dead-man's switch alerts once and recovers once.
 */
import { createHash, generateKeyPairSync } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ADMIN_PREFIX } from "../../shared/constants.ts";
import { fileRef, writeNodeConfig } from "../helpers/node-config.ts";
import { type NodeProcess, pollUntil, startNodeProcess } from "../helpers/node-process.ts";
import { type AlertSink, startAlertSink } from "./support/alert-sink.ts";
import { type EdgeInstance, startEdge } from "./support/edge-miniflare.ts";

const CALLER_TOKEN = "cg_e2e-caller-token-0123456789abcdef";
const OPERATOR_TOKEN = "operator-e2e-token-0123456789abcdef";
const HOOK_TOKEN = "hook-token-e2e-0123456789abcdef";
const CRON = "*/30 * * * *";
const DEAD_MAN = { periodSeconds: 2, graceSeconds: 1 };

let dir: string;
let node: NodeProcess | undefined;
let nodePort = 0;
let edge: EdgeInstance;
let alertSink: AlertSink;

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

async function startNode(): Promise<NodeProcess> {
  const agent = await startNodeProcess(["--config", join(dir, "openclaw.json"), "--port", String(nodePort), "--state-dir", join(dir, "state")], {
    env: { CLAWGATE_ALLOW_ROOT: "1" },
  });
  nodePort = Number(new URL(agent.url).port);
  return agent;
}

/** The node's journal as its admin API reports it: counts and the pending deliveries' ids. */
async function journal(): Promise<{ total: number; ids: string[] }> {
  const token = (await readFile(join(dir, "state", "admin.token"), "utf8")).trim();
  const res = await fetch(`http://127.0.0.1:${nodePort}${ADMIN_PREFIX}/intake?limit=1000`, { headers: { authorization: `Bearer ${token}` } });
  const body = (await res.json()) as { counts: Record<string, number>; pending: { deliveryId: string }[] };
  return { total: Object.values(body.counts).reduce((a, b) => a + b, 0), ids: body.pending.map((d) => d.deliveryId) };
}

const operator = async (path: string) =>
  (await (await edge.fetch(`/_clawgate${path}`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } })).json()) as Record<string, unknown>;

const wake = (text: string, headers: Record<string, string> = {}) =>
  edge.fetch("/hooks/wake", {
    method: "POST",
    headers: { authorization: `Bearer ${CALLER_TOKEN}`, "content-type": "application/json", "cf-connecting-ip": "203.0.113.7", ...headers },
    body: JSON.stringify({ text }),
  });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "clawgate-e2e-"));
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const kid = "edge-e2e";
  await writeNodeConfig(dir, { hooks: HOOK_TOKEN }, {
    hooks: { enabled: true, token: fileRef("hooks") },
    clawgate: { node: { id: "node-1" }, edge: { publicKeys: [{ ...publicKey.export({ format: "jwk" }), kid, alg: "EdDSA" }] } },
  });
  node = await startNode();

  alertSink = await startAlertSink();

  const config = {
    nodes: [{ id: "node-1", origin: `http://127.0.0.1:${nodePort}`, agents: ["main"], primary: true }],
    routes: { wake: { auth: [{ type: "bearer", tokens: [{ name: "e2e", sha256: sha256(CALLER_TOKEN) }] }] } },
    forward: { timeoutMs: 2_000 },
    // Fast retries for the test; production uses the documented Svix schedule.
    outbox: { retryScheduleSeconds: Array.from({ length: 20 }, () => 1) },
    cron: { jobs: [{ id: "heartbeat", schedule: CRON, action: { kind: "wake", text: "Scheduled heartbeat" }, deadMan: DEAD_MAN }] },
  };
  edge = await startEdge({
    CLAWGATE_EDGE_CONFIG: JSON.stringify(config),
    CLAWGATE_EDGE_SIGNING_KEY: JSON.stringify({ ...privateKey.export({ format: "jwk" }), kid, alg: "EdDSA" }),
    CLAWGATE_OPERATOR_TOKEN_SHA256: sha256(OPERATOR_TOKEN),
    CLAWGATE_ALERT_WEBHOOK_URL: alertSink.url,
  });
}, 60_000);

afterAll(async () => {
  await edge?.dispose();
  await node?.stop("SIGKILL");
  await alertSink?.close();
  await rm(dir, { recursive: true, force: true });
});

it("delivers a wake to the node with a valid envelope and answers with the node's answer", async () => {
  const before = await journal();
  const res = await wake("hello from the internet", { "idempotency-key": "e2e-wake-1" });
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ ok: true, mode: "now" });
  const after = await journal();
  expect(after.total).toBe(before.total + 1);
  // The caller's key arrives scoped by the caller the edge authenticated (token:e2e), and the node keeps it as is.
  expect(after.ids).toContain("token:e2e/e2e-wake-1");
  // The node verified the envelope: its audit line names the edge's caller, not the hook token.
  expect(node!.output().stdout).toMatch(/"principal":"token:e2e"[^\n]*"deliveryId":"token:e2e\/e2e-wake-1"/);
});

it("queues a call while the node is down (202) and delivers it exactly once after the node restarts", async () => {
  const before = await journal();
  await node!.stop("SIGTERM");
  const res = await wake("while you were out", { "idempotency-key": "e2e-queued-1" });
  expect(res.status).toBe(202);
  expect(await res.json()).toEqual({ ok: true, queued: true, deliveryId: "token:e2e/e2e-queued-1" });
  expect(await operator("/outbox")).toMatchObject({ counts: { pending: 1 }, pending: [{ deliveryId: "token:e2e/e2e-queued-1", status: "pending" }] });

  node = await startNode();
  await pollUntil(async () => (await journal()).ids.includes("token:e2e/e2e-queued-1"), 20_000, "the queued wake on the node");
  await pollUntil(async () => ((await operator("/outbox")) as { counts: { pending: number } }).counts.pending === 0, 5_000, "an empty outbox");
  // The same caller retrying with the same key now is delivered again but runs once (the node's journal).
  expect((await wake("while you were out", { "idempotency-key": "e2e-queued-1" })).status).toBe(200);
  expect((await journal()).total).toBe(before.total + 1);
}, 40_000);

it("turns a cron tick into a wake on the node, and the dead-man's switch alerts once and recovers once", async () => {
  const scheduled = Date.parse("2026-11-24T09:00:00Z");
  await edge.tick(CRON, scheduled);
  const cronId = `cron:heartbeat:${CRON}@2026-11-24T09:00:00.000Z`;
  await pollUntil(async () => (await journal()).ids.includes(cronId), 5_000, "the cron wake on the node");

  // The node goes away: the next tick is queued, and after period + grace the switch fires.
  await node!.stop("SIGTERM");
  await edge.tick(CRON, scheduled + 30 * 60_000);
  await pollUntil(() => alertSink.alerts.length >= 1, 10_000, "the dead-man alert");
  expect(alertSink.alerts[0]!.text).toContain('no heartbeat from job "heartbeat"');
  expect(alertSink.alerts).toHaveLength(1);

  node = await startNode();
  await pollUntil(() => alertSink.alerts.length >= 2, 20_000, "the recovery message");
  expect(alertSink.alerts.map((a) => (a.text.includes("recovered") ? "recovery" : "alert"))).toEqual(["alert", "recovery"]);
  expect((await journal()).ids).toContain(`cron:heartbeat:${CRON}@2026-11-24T09:30:00.000Z`);
  const cron = (await operator("/cron")) as { jobs: { runs: { outcome: string }[] }[] };
  expect(cron.jobs[0]!.runs.map((r) => r.outcome)).toEqual(["delivered", "delivered"]);
}, 40_000);
