/**
 * Whole-system memory pressure: agent calls and a wake through the real edge Worker (workerd, Miniflare) into a
 * node agent on a real loopback port whose memory probe the test controls, its agents on the `openai` runtime
 * against a loopback model server. Runs admitted with ample memory keep running and end `ok` when the host's
 * memory drops; new local runs are accepted but wait (blocked: probe) while hosted runs and the wake go on; when
 * memory returns, the waiting runs start and all end `ok`, in submission order per session, with nothing lost.
 */
import { createHash, generateKeyPairSync } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { MemoryProbe } from "../../node/dispatch/memory-probe.ts";
import type { RunRecord } from "../../node/dispatch/run-log.ts";
import { createLogger } from "../../node/server/logger.ts";
import { type NodeAgent, startNodeAgent } from "../../node/server/node-agent.ts";
import { ADMIN_PREFIX } from "../../shared/constants.ts";
import { type ModelGate, type ModelServer, startModelServer } from "../helpers/model-server.ts";
import { fileRef, writeNodeConfig } from "../helpers/node-config.ts";
import { pollUntil } from "../helpers/node-process.ts";
import { type EdgeInstance, startEdge } from "./support/edge-miniflare.ts";

const CALLER_TOKEN = "cg_mem-caller-token-0123456789abcdef";
const OPERATOR_TOKEN = "operator-mem-token-0123456789abcdef";
const HOOK_TOKEN = "hook-token-mem-0123456789abcdef";
const MODEL_KEY = "sk-mem-model-key-0123456789";
const LOCAL_MODEL = "ollama/llama3.1:8b";
const HOSTED_MODEL = "openai/gpt-5.2-mini";
/** The local model's catalog estimate (GiB); with headroomGb 1 a run needs 7 GiB available. */
const LOCAL_GB = 6;
const AMPLE = { availableGb: 30, totalGb: 32 };
const LOW = { availableGb: 3, totalGb: 32 };

let dir: string;
let model: ModelServer;
let gate: ModelGate | undefined;
let node: NodeAgent | undefined;
let edge: EdgeInstance | undefined;
let adminToken = "";
const nodeLog: string[] = [];
const edgeLog: string[] = [];

/** The host as the test says it is; every reading the scheduler takes is kept (when, and what it saw). */
let host = AMPLE;
const readings: { at: number; availableGb: number }[] = [];
const probe: MemoryProbe = async () => {
  readings.push({ at: Date.now(), availableGb: host.availableGb });
  return host;
};

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const lastMessage = (body: any) => String(body?.messages?.at(-1)?.content ?? "");
/** Messages of local runs as they reached the model server, in arrival order. */
const localAtModel = () => model.chatRequests().map((r) => lastMessage(r.body)).filter((m) => m.startsWith("local-"));

async function nodeGet(path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${node!.url}${path}`, { headers: { authorization: `Bearer ${adminToken}` } });
  return { status: res.status, text: await res.text() };
}
const admin = async (path: string): Promise<any> => {
  const res = await nodeGet(`${ADMIN_PREFIX}${path}`);
  expect(res.status).toBe(200);
  return JSON.parse(res.text);
};
const runs = async (): Promise<RunRecord[]> => (await admin("/runs?limit=1000")).runs;
const runById = async (id: string): Promise<RunRecord | undefined> => (await runs()).find((r) => r.id === id);

/** One gauge or counter sample from the node's /metrics (undefined when absent). */
async function metrics(): Promise<(name: string) => number | undefined> {
  const { status, text } = await nodeGet("/metrics");
  expect(status).toBe(200);
  return (name) => {
    const escaped = name.replace(/[{}"]/g, (c) => `\\${c}`);
    const m = new RegExp(`^${escaped} (\\S+)$`, "m").exec(text);
    return m ? Number(m[1]) : undefined;
  };
}

async function operator(path: string): Promise<any> {
  const res = await edge!.fetch(`/_clawgate${path}`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
  expect(res.status).toBe(200);
  return res.json();
}

/** An agent call through the edge; the node's answer comes back as is: 202 `{ ok: true, runId }`. */
async function agentCall(key: string, body: { message: string; agentId: string; sessionKey: string }): Promise<string> {
  const res = await edge!.fetch("/hooks/agent", {
    method: "POST",
    headers: { authorization: `Bearer ${CALLER_TOKEN}`, "content-type": "application/json", "cf-connecting-ip": "203.0.113.11", "idempotency-key": key },
    // next-heartbeat: the hook summary waits for the agent's next tick, so the model sees only the calls themselves.
    body: JSON.stringify({ ...body, name: "Memory", wakeMode: "next-heartbeat" }),
  });
  const answer = (await res.json()) as { ok: boolean; runId: string };
  expect({ status: res.status, answer }).toEqual({ status: 202, answer: { ok: true, runId: expect.any(String) } });
  return answer.runId;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "clawgate-mem-"));
  model = await startModelServer({ reply: (body) => (/^(local|cloud)-/.test(lastMessage(body)) ? `done: ${lastMessage(body)}` : "HEARTBEAT_OK") });
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const kid = "edge-mem";
  const configPath = await writeNodeConfig(dir, { hooks: HOOK_TOKEN, model: MODEL_KEY }, {
    hooks: { enabled: true, token: fileRef("hooks"), allowRequestSessionKey: true },
    models: {
      providers: {
        ollama: { baseUrl: `${model.url}/v1`, apiKey: fileRef("model") },
        openai: { baseUrl: `${model.url}/v1`, apiKey: fileRef("model") },
      },
    },
    agents: {
      defaults: { heartbeat: { every: "0m" }, timeoutSeconds: 60, models: { [LOCAL_MODEL]: { memoryGb: LOCAL_GB }, [HOSTED_MODEL]: {} } },
      list: [
        // The default agent (wakes run its heartbeat) is hosted: `local: false` says the server is not on this host,
        // so its runs reserve 0 GiB (docs/dispatch.md "Memory-aware scheduling"), although the test's server is on loopback.
        { id: "main", default: true, model: HOSTED_MODEL, runtime: { type: "openai", local: false } },
        // A local model (ollama/, loopback base URL): its runs reserve 6 GiB and need the host's memory.
        { id: "box", model: LOCAL_MODEL },
      ],
    },
    clawgate: {
      node: { id: "node-1" },
      edge: { publicKeys: [{ ...publicKey.export({ format: "jwk" }), kid, alg: "EdDSA" }] },
      // probeIntervalMs 0: every admission of a local run takes a reading, so the test knows which one it saw.
      dispatch: { memoryBudgetGb: 24, headroomGb: 1, probeIntervalMs: 0 },
    },
  });
  node = await startNodeAgent({
    configPath,
    port: 0,
    stateDir: join(dir, "state"),
    allowRoot: true,
    isolateReloads: false,
    dispatchGraceMs: 1_000,
    drainTimeoutMs: 1_000,
    memoryProbe: probe,
    logger: createLogger({ level: "info", destination: { write: (line: string) => void nodeLog.push(line) } }),
  });
  adminToken = (await readFile(join(node.stateDir, "admin.token"), "utf8")).trim();

  const auth = [{ type: "bearer", tokens: [{ name: "mem", sha256: sha256(CALLER_TOKEN) }] }];
  edge = await startEdge(
    {
      CLAWGATE_EDGE_CONFIG: JSON.stringify({
        nodes: [{ id: "node-1", origin: `http://127.0.0.1:${node.port}`, agents: ["main", "box"], primary: true }],
        routes: { wake: { auth }, agent: { auth } },
        hooks: { allowRequestSessionKey: true },
        forward: { timeoutMs: 5_000 },
      }),
      CLAWGATE_EDGE_SIGNING_KEY: JSON.stringify({ ...privateKey.export({ format: "jwk" }), kid, alg: "EdDSA" }),
      CLAWGATE_OPERATOR_TOKEN_SHA256: sha256(OPERATOR_TOKEN),
    },
    { onLog: (line) => void edgeLog.push(line) },
  );
}, 60_000);

afterAll(async () => {
  gate?.release();
  await edge?.dispose();
  await node?.close();
  await model?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it("low host memory: running runs finish ok, new local runs wait (hosted runs and a wake go on), and resume in order when memory returns", async () => {
  // Local runs are held at the model server until the test releases them: "running" for as long as needed.
  gate = model.hold((r) => lastMessage(r.body).startsWith("local-"));

  // 1. Ample memory: two local runs in two sessions start and are at the model.
  const a1 = await agentCall("a1", { agentId: "box", sessionKey: "hook:s1", message: "local-s1-1" });
  const b1 = await agentCall("b1", { agentId: "box", sessionKey: "hook:s2", message: "local-s2-1" });
  await pollUntil(() => gate!.held() === 2, 10_000, "two local runs held at the model server");
  expect((await runById(a1))?.status).toBe("running");
  expect((await runById(b1))?.status).toBe("running");
  let m = await metrics();
  expect([m("clawgate_dispatch_running"), m("clawgate_dispatch_reserved_gb"), m("clawgate_dispatch_host_available_gb")]).toEqual([2, 2 * LOCAL_GB, AMPLE.availableGb]);

  // 2. The host's memory drops below one run's estimate + headroom (3 < 6 + 1). New local calls are accepted…
  host = LOW;
  const lowFrom = readings.length;
  // (s3 first: /metrics names the first waiting run's reason, and a2 would be held by its own session's a1 too.)
  const c1 = await agentCall("c1", { agentId: "box", sessionKey: "hook:s3", message: "local-s3-1" });
  const c2 = await agentCall("c2", { agentId: "box", sessionKey: "hook:s3", message: "local-s3-2" });
  const a2 = await agentCall("a2", { agentId: "box", sessionKey: "hook:s1", message: "local-s1-2" });
  const waiting = [c1, c2, a2];
  // …and a hosted (0 GiB) agent call and a wake sent after them run meanwhile: time passes, the dispatcher is live.
  const h1 = await agentCall("h1", { agentId: "main", sessionKey: "hook:h1", message: "cloud-1" });
  const wake = await edge!.fetch("/hooks/wake", {
    method: "POST",
    headers: { authorization: `Bearer ${CALLER_TOKEN}`, "content-type": "application/json", "cf-connecting-ip": "203.0.113.11", "idempotency-key": "w1" },
    body: JSON.stringify({ text: "wake during memory pressure", mode: "now" }),
  });
  expect({ status: wake.status, body: await wake.json() }).toEqual({ status: 200, body: { ok: true, mode: "now" } });
  await pollUntil(async () => (await runById(h1))?.status === "ok", 10_000, "the hosted agent run");
  const heartbeat = await pollUntil(async () => (await runs()).find((r) => r.kind === "heartbeat" && r.status === "ok"), 10_000, "the wake's heartbeat");
  expect(heartbeat).toMatchObject({ agentId: "main", trigger: "wake", model: HOSTED_MODEL, memoryEstimateGb: 0 });
  // Meanwhile no waiting local run reached the model server.
  expect(localAtModel()).toEqual(["local-s1-1", "local-s2-1"]);

  // The scheduler reads the host again after the drop (and keeps reading while the head waits), sees 3 GiB, and
  // says why the runs wait; none of them has started: no run record, no request at the model server.
  const seen = readings.length;
  await pollUntil(() => readings.length > seen, 5_000, "a probe reading after the hosted runs finished");
  expect(readings.length).toBeGreaterThan(lowFrom);
  m = await metrics();
  expect({
    probe: m('clawgate_dispatch_blocked{reason="probe"}'),
    queued: m("clawgate_dispatch_queued"),
    available: m("clawgate_dispatch_host_available_gb"),
    running: m("clawgate_dispatch_running"),
  }).toEqual({ probe: 1, queued: 3, available: LOW.availableGb, running: 2 });
  for (const id of waiting) expect(await runById(id)).toBeUndefined();
  expect(localAtModel()).toEqual(["local-s1-1", "local-s2-1"]);
  // Waiting for memory is not a stall: /readyz stays 200 while runs are queued.
  expect(await nodeGet("/readyz")).toEqual({ status: 200, text: JSON.stringify({ ok: true }) });
  // Accepted means delivered: the calls wait in the node's journal, not in the edge's outbox.
  expect((await operator("/outbox")).counts).toMatchObject({ pending: 0 });
  expect((await admin("/intake")).counts.pending).toBe(5); // the 3 waiting + the 2 running (settled when they end)

  // 3. Still low: the runs admitted before the drop are not killed; released by the model, they end ok.
  gate.release();
  await pollUntil(async () => (await runById(a1))?.status === "ok" && (await runById(b1))?.status === "ok", 10_000, "the runs admitted before the drop");
  const afterFinish = readings.length;
  await pollUntil(() => readings.length > afterFinish, 5_000, "a probe reading after they finished");
  m = await metrics();
  expect({
    probe: m('clawgate_dispatch_blocked{reason="probe"}'),
    queued: m("clawgate_dispatch_queued"),
    running: m("clawgate_dispatch_running"),
    reserved: m("clawgate_dispatch_reserved_gb"),
  }).toEqual({ probe: 1, queued: 3, running: 0, reserved: 0 });
  expect(localAtModel()).toEqual(["local-s1-1", "local-s2-1"]);
  // Nothing runs and three are queued: still ready (health() counts memory waits as progress, /metrics says why).
  expect(await nodeGet("/readyz")).toEqual({ status: 200, text: JSON.stringify({ ok: true }) });

  // 4. Memory returns: the waiting runs start and end ok, in submission order within each session.
  host = AMPLE;
  await pollUntil(async () => {
    const all = await runs();
    return waiting.every((id) => all.some((r) => r.id === id && r.status === "ok"));
  }, 10_000, "the waiting runs to finish");
  const all = await runs();
  const byId = new Map(all.map((r) => [r.id, r]));
  expect(byId.get(c1)!.finishedAt!).toBeLessThanOrEqual(byId.get(c2)!.startedAt!);
  expect(byId.get(a1)!.finishedAt!).toBeLessThanOrEqual(byId.get(a2)!.startedAt!);
  const atModel = localAtModel();
  expect(atModel.toSorted()).toEqual(["local-s1-1", "local-s1-2", "local-s2-1", "local-s3-1", "local-s3-2"]);
  expect(atModel.indexOf("local-s3-1")).toBeLessThan(atModel.indexOf("local-s3-2"));
  expect(atModel.indexOf("local-s1-1")).toBeLessThan(atModel.indexOf("local-s1-2"));
  for (const id of [a1, b1, ...waiting]) expect(byId.get(id)).toMatchObject({ agentId: "box", model: LOCAL_MODEL, memoryEstimateGb: LOCAL_GB, attempt: 1 });

  // Every run ended ok; nothing memory_limit, cancelled, error or interrupted; nothing pending or dead anywhere.
  expect(all.map((r) => r.status).filter((s) => s !== "ok")).toEqual([]);
  expect(all).toHaveLength(7); // 6 agent runs + the wake's heartbeat
  m = await metrics();
  expect(["ok", "memory_limit", "cancelled", "error", "interrupted"].map((s) => m(`clawgate_runs{status="${s}"}`))).toEqual([7, 0, 0, 0, 0]);
  expect([m("clawgate_dispatch_queued"), m("clawgate_dispatch_running"), m('clawgate_dispatch_blocked{reason="probe"}')]).toEqual([0, 0, undefined]);
  expect((await admin("/intake")).counts).toEqual({ pending: 0, done: 7, dead: 0 });
  const outbox = await operator("/outbox");
  const dead = (await operator("/dead-letters?limit=5")).deadLetters;
  expect({ ...outbox.counts, dead }).toMatchObject({ pending: 0, dead: [], rejected: 0 });
  expect(await nodeGet("/readyz")).toEqual({ status: 200, text: JSON.stringify({ ok: true }) });

  // No secret in what the node or the Worker logged.
  const output = [...nodeLog, ...edgeLog].join("\n");
  for (const secret of [CALLER_TOKEN, OPERATOR_TOKEN, HOOK_TOKEN, MODEL_KEY]) expect(output).not.toContain(secret);
}, 60_000);
