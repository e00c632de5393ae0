/**
 * Whole-system model faults: agent calls through the real edge Worker (workerd, Miniflare) into a real node agent
 * process whose `openai` runtime talks to a loopback model server that hangs, answers 500s and 429s — each scenario
 * keyed by its message so all run at once in one node. Runs end `timeout`/`error`/`ok` with exactly the documented
 * retries (counted on the model server and read from the admin API), a healthy agent's calls and a wake submitted
 * after the faulty ones finish while the hang is still open, and `/readyz` says 200 throughout.
 */
import { createHash, generateKeyPairSync } from "node:crypto";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { RunRecord } from "../../node/dispatch/run-log.ts";
import { ADMIN_PREFIX } from "../../shared/constants.ts";
import { type ModelServer, type RecordedRequest, type ScriptedFault, startModelServer } from "../helpers/model-server.ts";
import { fileRef, writeNodeConfig } from "../helpers/node-config.ts";
import { type NodeProcess, pollUntil, startNodeProcess } from "../helpers/node-process.ts";
import { type ScannedOutput, findSecrets } from "../helpers/secret-scan.ts";
import { type EdgeInstance, startEdge } from "./support/edge-miniflare.ts";

const CALLER_TOKEN = "cg_model-faults-caller-token-0123456789";
const OPERATOR_TOKEN = "operator-model-faults-token-0123456789";
const HOOK_TOKEN = "hook-token-model-faults-0123456789abcdef";
const MODEL_KEY = "sk-model-faults-key-0123456789abcdef";
const PRINCIPAL = "token:faults";

/** The openai runtime's attempts per run (`agents.defaults.runtime.maxAttempts`). */
const MAX_ATTEMPTS = 3;
/** The dispatcher's runs per delivery (documented: up to 3). */
const MAX_RUNS = 3;
/**
 * `clawgate.dispatch.retryDelaySeconds`: 2 s, then 4 s between runs (production default 5 s). The third runs of the
 * persistent failures start after the hang has ended, so their last backoff is a window with nothing running.
 */
const RETRY_DELAY_MS = 2_000;
/** `maxRetryDelayMs`: a Retry-After above it ends the run at once. */
const MAX_RETRY_DELAY_MS = 2_000;
/** The rate-limited scenario's Retry-After (s): above maxRetryDelayMs, so each run gives up at once. */
const LONG_RETRY_AFTER_S = 3;
/** The hanging run's own `timeoutSeconds` (the hook field): long enough that healthy work finishes inside it. */
const HANG_TIMEOUT_S = 4;

/** Each scenario is one agent call whose message keys its behaviour on the model server. */
const HANG = "fault:hang";
const BURST = "fault:500-twice-then-ok";
const ALWAYS_500 = "fault:500-always";
const RATE_SHORT = "fault:429-retry-after-1-then-ok";
const RATE_LONG = "fault:429-retry-after-3";
const HEALTHY = ["healthy-1", "healthy-2", "healthy-3"];

const seen = new Map<string, number>();
const lastUser = (req: RecordedRequest) => String(req.body?.messages?.at(-1)?.content ?? "");

/** The scenarios' model-server behaviour, by message and by how often that message has arrived. */
function faultFor(req: RecordedRequest): ScriptedFault | undefined {
  const message = lastUser(req);
  const n = (seen.get(message) ?? 0) + 1;
  seen.set(message, n);
  if (message === HANG) return { status: 0, hang: true };
  if (message === BURST && n <= 2) return { status: 500 };
  if (message === ALWAYS_500) return { status: 500 };
  if (message === RATE_SHORT && n === 1) return { status: 429, retryAfter: "1" };
  if (message === RATE_LONG) return { status: 429, retryAfter: String(LONG_RETRY_AFTER_S) };
  return undefined;
}

let dir: string;
let node: NodeProcess | undefined;
let edge: EdgeInstance | undefined;
let model: ModelServer;
let signingKey: { d?: string };
let adminToken = "";
const edgeLog: string[] = [];
/** Every answer this test received (edge, admin API, /readyz), for the secret scan. */
const answers: ScannedOutput[] = [];

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const stateDir = () => join(dir, "state");

async function nodeGet(path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${node!.url}${path}`, { headers: { authorization: `Bearer ${adminToken}` } });
  const text = await res.text();
  answers.push({ where: `node ${path}`, text: `${res.status} ${JSON.stringify([...res.headers])} ${text}` });
  return { status: res.status, body: res.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text };
}

async function admin(path: string): Promise<any> {
  const { status, body } = await nodeGet(`${ADMIN_PREFIX}${path}`);
  expect(status).toBe(200);
  return body;
}

async function operator(path: string): Promise<any> {
  const res = await edge!.fetch(`/_clawgate${path}`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
  const text = await res.text();
  answers.push({ where: `edge ${path}`, text: `${res.status} ${text}` });
  expect(res.status).toBe(200);
  return JSON.parse(text);
}

/** One caller's POST through the edge; the answer is kept for the secret scan. */
async function call(kind: "agent" | "wake", key: string, body: object): Promise<{ status: number; body: any }> {
  const res = await edge!.fetch(`/hooks/${kind}`, {
    method: "POST",
    headers: { authorization: `Bearer ${CALLER_TOKEN}`, "content-type": "application/json", "cf-connecting-ip": "203.0.113.21", "idempotency-key": key },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  answers.push({ where: `edge /hooks/${kind} ${key}`, text: `${res.status} ${text}` });
  return { status: res.status, body: JSON.parse(text) };
}

const agentCall = (key: string, body: { message: string; agentId: string; timeoutSeconds?: number }) => call("agent", key, { name: "Faults", ...body });

/** All run records (latest state of each), from the admin API. */
async function runs(): Promise<RunRecord[]> {
  return (await admin("/runs?limit=1000")).runs as RunRecord[];
}
const runsOf = (all: readonly RunRecord[], deliveryId: string) => all.filter((r) => r.deliveryIds.includes(deliveryId)).sort((a, b) => a.attempt - b.attempt);
const requestsFor = (message: string) => model.chatRequests().filter((r) => lastUser(r) === message);
const did = (key: string) => `${PRINCIPAL}/${key}`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "clawgate-model-faults-"));
  // Agent calls get "done"; heartbeats (their prompt is never a scenario message) acknowledge.
  model = await startModelServer({
    faultFor,
    reply: (body) => (/^(fault|healthy)/.test(String(body?.messages?.at(-1)?.content ?? "")) ? "done" : "HEARTBEAT_OK"),
  });
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const kid = "edge-model-faults";
  signingKey = privateKey.export({ format: "jwk" });
  const memory = { memoryGb: 0.25 };
  const configPath = await writeNodeConfig(dir, { hooks: HOOK_TOKEN, model: MODEL_KEY }, {
    hooks: { enabled: true, token: fileRef("hooks") },
    models: { providers: { local: { baseUrl: `${model.url}/v1`, apiKey: fileRef("model") } } },
    agents: {
      defaults: {
        model: "local/main-8b",
        timeoutSeconds: 60,
        heartbeat: { every: "0m" },
        models: { "local/main-8b": memory, "local/primary-8b": memory, "local/fallback-8b": memory },
        runtime: { type: "openai", maxAttempts: MAX_ATTEMPTS, retryBaseMs: 20, maxRetryDelayMs: MAX_RETRY_DELAY_MS },
      },
      list: [
        { id: "main", default: true },
        // The faulty agent's retries move to its fallback model (OpenClaw `model: { primary, fallbacks }`).
        { id: "faulty", model: { primary: "local/primary-8b", fallbacks: ["local/fallback-8b"] } },
      ],
    },
    clawgate: {
      node: { id: "node-1" },
      edge: { publicKeys: [{ ...publicKey.export({ format: "jwk" }), kid, alg: "EdDSA" }] },
      // Concurrency > 1, memory for all of it: a hung run must not be what holds the others back.
      dispatch: { memoryBudgetGb: 4, headroomGb: 0, maxConcurrent: 8, retryDelaySeconds: RETRY_DELAY_MS / 1000 },
    },
  });
  node = await startNodeProcess(["--config", configPath, "--port", "0", "--state-dir", stateDir()], { env: { CLAWGATE_ALLOW_ROOT: "1" }, timeoutMs: 30_000 });
  adminToken = (await readFile(join(stateDir(), "admin.token"), "utf8")).trim();

  const auth = [{ type: "bearer", tokens: [{ name: "faults", sha256: sha256(CALLER_TOKEN) }] }];
  edge = await startEdge(
    {
      CLAWGATE_EDGE_CONFIG: JSON.stringify({
        nodes: [{ id: "node-1", origin: node.url, agents: ["main", "faulty"], primary: true }],
        routes: { wake: { auth }, agent: { auth } },
        forward: { timeoutMs: 5_000 },
      }),
      CLAWGATE_EDGE_SIGNING_KEY: JSON.stringify({ ...signingKey, kid, alg: "EdDSA" }),
      CLAWGATE_OPERATOR_TOKEN_SHA256: sha256(OPERATOR_TOKEN),
    },
    { onLog: (line) => void edgeLog.push(line) },
  );
}, 60_000);

afterAll(async () => {
  await edge?.dispose();
  await node?.stop("SIGKILL");
  await model?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it("a hang, 500s and 429s end timeout/error/ok with the documented retries; the queue keeps moving; /readyz stays 200", async () => {
  // 1. The faulty calls, the hang first. The node accepts each (202 {ok, runId}): a model fault is not an edge
  //    delivery failure.
  const faulty: [string, string, number?][] = [
    ["hang", HANG, HANG_TIMEOUT_S],
    ["always-500", ALWAYS_500],
    ["burst-500", BURST],
    ["rate-short", RATE_SHORT],
    ["rate-long", RATE_LONG],
  ];
  const runIds = new Map<string, string>();
  for (const [key, message, timeoutSeconds] of faulty) {
    const res = await agentCall(key, { message, agentId: "faulty", ...(timeoutSeconds ? { timeoutSeconds } : {}) });
    expect(res).toMatchObject({ status: 202, body: { ok: true, runId: expect.any(String) } });
    runIds.set(key, res.body.runId);
  }

  // 2. While the hang holds its request at the model server, /readyz is 200: the node is working, not stalled.
  const hang = await pollUntil(() => requestsFor(HANG)[0], 10_000, "the hanging request at the model server");
  const readyDuringHang = await nodeGet("/readyz");
  expect(readyDuringHang).toEqual({ status: 200, body: { ok: true } });
  expect(hang.abortedAt).toBeUndefined(); // still hanging when /readyz answered

  // 3. Healthy work submitted after all the faulty calls: three agent calls of another agent (own sessions) and a
  //    wake. Each completes `ok` while the hang is still open.
  const healthyRunIds: string[] = [];
  for (const [i, message] of HEALTHY.entries()) {
    const res = await agentCall(`healthy-${i + 1}`, { message, agentId: "main" });
    expect(res).toMatchObject({ status: 202, body: { ok: true } });
    healthyRunIds.push(res.body.runId);
  }
  const wake = await call("wake", "wake-1", { text: "a wake during the faults", mode: "now" });
  expect(wake).toEqual({ status: 200, body: { ok: true, mode: "now" } });
  const healthyDone = await pollUntil(
    async () => {
      const all = await runs();
      const agentRuns = healthyRunIds.map((id) => all.find((r) => r.id === id));
      const wakeRun = all.find((r) => r.deliveryIds.includes(did("wake-1")) && r.status === "ok");
      return agentRuns.every((r) => r?.status === "ok") && wakeRun ? { agentRuns: agentRuns as RunRecord[], wakeRun, all } : undefined;
    },
    15_000,
    "the healthy runs and the wake's heartbeat to finish",
  );
  expect(hang.abortedAt, "the healthy work finished only after the hang ended: the queue did not keep moving").toBeUndefined();
  const hangRecord = healthyDone.all.find((r) => r.id === runIds.get("hang"));
  expect(hangRecord?.status).toBe("running");
  // ...and while the persistent failures were still between their runs (not yet given up).
  for (const key of ["always-500", "rate-long"]) expect(runsOf(healthyDone.all, did(key)).length).toBeLessThan(MAX_RUNS);
  expect(healthyDone.wakeRun).toMatchObject({ kind: "heartbeat", agentId: "main" });
  for (const message of HEALTHY) expect(requestsFor(message)).toHaveLength(1);

  // 4. While failed deliveries wait out the dispatcher's backoff with nothing running or queued (so /readyz cannot
  //    lean on "the scheduler is busy"), /readyz is 200: they are pending but not overdue. The state is read
  //    before and after the probe, so the probe sat inside that window.
  await pollUntil(
    async () => {
      const state = async () => {
        const mine = runsOf(await runs(), did("always-500"));
        const pending = (await admin("/intake?limit=1000")).pending.some((d: { deliveryId: string }) => d.deliveryId === did("always-500"));
        const metrics = (await nodeGet("/metrics")).body as string;
        const idle = /^clawgate_dispatch_running 0$/m.test(metrics) && /^clawgate_dispatch_queue_depth\{priority="normal"\} 0$/m.test(metrics) && /^clawgate_dispatch_queue_depth\{priority="high"\} 0$/m.test(metrics);
        const waiting = idle && pending && mine.length > 0 && mine.length < MAX_RUNS && mine.every((r) => r.status === "error");
        return waiting ? mine.length : undefined;
      };
      const before = await state();
      if (before === undefined) return undefined;
      const ready = await nodeGet("/readyz");
      const after = await state();
      if (after !== before) return undefined;
      expect(ready).toEqual({ status: 200, body: { ok: true } });
      return true;
    },
    15_000,
    "a /readyz probe during the retry backoff",
  );

  // 5. Everything settles: nothing pending on the node, /readyz still 200.
  const intake = await pollUntil(
    async () => {
      const body = await admin("/intake");
      return body.counts.pending === 0 ? body : undefined;
    },
    30_000,
    "the node's journal to settle",
  );
  expect(intake.counts).toEqual({ pending: 0, done: 6, dead: 3 }); // burst, rate-short, 3 healthy, the wake; hang, always-500, rate-long
  expect(await nodeGet("/readyz")).toEqual({ status: 200, body: { ok: true } });
  const all = await runs();
  const dead = (await admin("/intake?state=dead")).dead as { deliveryId: string; deadReason?: string }[];
  const deadReason = new Map(dead.map((d) => [d.deliveryId, d.deadReason]));

  // Hang: `timeout` at its timeoutSeconds, not retried (dead at once), one request, and the abort reached the server.
  const hangRuns = runsOf(all, did("hang"));
  expect(hangRuns.map((r) => [r.status, r.errorCode])).toEqual([["timeout", "ERR_RUN_TIMEOUT"]]);
  const hangRun = hangRuns[0]!;
  expect(hangRun.durationMs).toBeGreaterThanOrEqual(HANG_TIMEOUT_S * 1000 - 5);
  expect(hangRun.durationMs).toBeLessThan(HANG_TIMEOUT_S * 2000);
  expect(deadReason.get(did("hang"))).toBe("timeout is not retried (ERR_RUN_TIMEOUT)");
  expect(requestsFor(HANG)).toHaveLength(1);
  expect(hang.abortedAt, "the model server never saw the timed-out request go away").toBeDefined();
  expect(hang.abortedAt!).toBeGreaterThanOrEqual(hangRun.startedAt! + HANG_TIMEOUT_S * 1000 - 5);

  // Burst of 500s below maxAttempts: one run, ok, after exactly 2 + 1 requests.
  expect(runsOf(all, did("burst-500")).map((r) => r.status)).toEqual(["ok"]);
  expect(requestsFor(BURST)).toHaveLength(3);

  // Persistent 500: each run ends `error` after maxAttempts requests; three runs (primary, then the fallback), the
  // backoff between them 1 s then 2 s; then dead with every attempt visible. Requests = runs × maxAttempts, exactly.
  const failing = runsOf(all, did("always-500"));
  expect(failing.map((r) => ({ id: r.id, status: r.status, errorCode: r.errorCode, model: r.model, attempt: r.attempt }))).toEqual(
    [1, 2, 3].map((attempt) => ({
      id: attempt === 1 ? runIds.get("always-500") : `${runIds.get("always-500")}-r${attempt}`,
      status: "error",
      errorCode: "ERR_RUNTIME_HTTP",
      model: attempt === 1 ? "local/primary-8b" : "local/fallback-8b",
      attempt,
    })),
  );
  expect(failing[0]!.errorMessage).toBe("model server answered HTTP 500");
  expect(failing[1]!.startedAt! - failing[0]!.finishedAt!).toBeGreaterThanOrEqual(RETRY_DELAY_MS);
  expect(failing[2]!.startedAt! - failing[1]!.finishedAt!).toBeGreaterThanOrEqual(2 * RETRY_DELAY_MS);
  expect(deadReason.get(did("always-500"))).toBe("failed 3 times (last: ERR_RUNTIME_HTTP)");
  expect(requestsFor(ALWAYS_500).map((r) => r.body.model)).toEqual([...Array(MAX_ATTEMPTS).fill("primary-8b"), ...Array(2 * MAX_ATTEMPTS).fill("fallback-8b")]);
  expect(requestsFor(ALWAYS_500)).toHaveLength(MAX_RUNS * MAX_ATTEMPTS);

  // 429 with Retry-After: 1, then ok: ok after two requests, the second not sooner than 1 s after the 429 was sent
  // (a correctness bound, taken on the model server).
  expect(runsOf(all, did("rate-short")).map((r) => r.status)).toEqual(["ok"]);
  const [limited, retried] = requestsFor(RATE_SHORT);
  expect(requestsFor(RATE_SHORT)).toHaveLength(2);
  expect(retried!.at - limited!.answeredAt!).toBeGreaterThanOrEqual(1_000);

  // 429 with a Retry-After (3 s) above maxRetryDelayMs (2 s): each run ends at once with ERR_RUNTIME_RATE_LIMITED
  // after one request, without waiting it out in its slot; the dispatcher's next run waits for the larger of its
  // backoff and the Retry-After (3 s, then 4 s on the model server's clock); after three runs, dead.
  const rateLong = runsOf(all, did("rate-long"));
  expect(rateLong.map((r) => [r.status, r.errorCode])).toEqual(Array(MAX_RUNS).fill(["error", "ERR_RUNTIME_RATE_LIMITED"]));
  expect(rateLong[0]!.errorMessage).toBe(`model server answered HTTP 429; Retry-After ${LONG_RETRY_AFTER_S} s exceeds maxRetryDelayMs`);
  for (const r of rateLong) expect(r.durationMs!).toBeLessThan(LONG_RETRY_AFTER_S * 1000);
  const limitedRuns = requestsFor(RATE_LONG);
  expect(limitedRuns).toHaveLength(MAX_RUNS);
  expect(limitedRuns[1]!.at - limitedRuns[0]!.answeredAt!).toBeGreaterThanOrEqual(Math.max(RETRY_DELAY_MS, LONG_RETRY_AFTER_S * 1000));
  expect(limitedRuns[2]!.at - limitedRuns[1]!.answeredAt!).toBeGreaterThanOrEqual(Math.max(2 * RETRY_DELAY_MS, LONG_RETRY_AFTER_S * 1000));
  expect(deadReason.get(did("rate-long"))).toBe("failed 3 times (last: ERR_RUNTIME_RATE_LIMITED)");

  // Nothing is left running or unaccounted: every record is final, and the model server holds no request.
  expect(all.filter((r) => r.status === "running")).toEqual([]);
  expect(model.inFlight()).toBe(0);

  // The edge delivered every call at once: nothing pending, dead or rejected in its outbox.
  const outbox = await operator("/outbox");
  expect(outbox.counts).toMatchObject({ pending: 0, dead: 0, rejected: 0 });
  expect((await operator("/dead-letters")).deadLetters).toEqual([]);

  // No secret value in any output: the Worker's log, the node's stdout/stderr, every answer, every state file
  // (the model key's only legitimate place is the model server's Authorization header, not scanned).
  expect(model.chatRequests().every((r) => r.headers.authorization === `Bearer ${MODEL_KEY}`)).toBe(true);
  const files: ScannedOutput[] = [];
  for (const entry of await readdir(stateDir(), { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) files.push({ where: join(entry.parentPath, entry.name), text: (await readFile(join(entry.parentPath, entry.name))).toString("latin1") });
  }
  const outputs: ScannedOutput[] = [
    { where: "Worker log", text: edgeLog.join("\n") },
    { where: "node stdout", text: node!.output().stdout },
    { where: "node stderr", text: node!.output().stderr },
    ...answers,
    ...files,
  ];
  expect(edgeLog.length).toBeGreaterThan(0);
  expect(findSecrets(outputs, { CALLER_TOKEN, OPERATOR_TOKEN, HOOK_TOKEN, MODEL_KEY, SIGNING_KEY_D: signingKey.d! })).toEqual([]);
  console.log(
    `model faults: hang timed out after ${hangRun.durationMs} ms (abort at the server +${hang.abortedAt! - hang.at} ms); ` +
      `500×∞ gaps ${failing[1]!.startedAt! - failing[0]!.finishedAt!}/${failing[2]!.startedAt! - failing[1]!.finishedAt!} ms; ` +
      `429 retry +${retried!.at - limited!.answeredAt!} ms; 429 (Retry-After ${LONG_RETRY_AFTER_S}) runs +${limitedRuns[1]!.at - limitedRuns[0]!.answeredAt!}/+${limitedRuns[2]!.at - limitedRuns[1]!.answeredAt!} ms; ${model.chatRequests().length} model requests, ${all.length} runs`,
  );
}, 60_000);
