/**
 * Dispatch through a real node agent process and a real model server on loopback: a wake with the hook token
 * becomes a heartbeat run in the run log, on the admin API, in /metrics and on the model server; kill -9 in the
 * middle of an agent run → after restart the delivery is retried visibly (interrupted + a new attempt) and done once.
 */
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from "vitest";
import { openIntakeJournal } from "../../../node/intake/intake-journal.ts";
import { ADMIN_PREFIX } from "../../../shared/constants.ts";
import { type ModelServer, startModelServer } from "../../helpers/model-server.ts";
import { fileRef, writeNodeConfig } from "../../helpers/node-config.ts";
import { type NodeProcess, pollUntil, startNodeProcess } from "../../helpers/node-process.ts";

const HOOK_TOKEN = "hook-token-dispatch-0123456789abcdef";
const MODEL_KEY = "sk-model-key-never-logged-4242";
let dir: string;
let agent: NodeProcess | undefined;
let server: ModelServer;

beforeAll(async () => {
  server = await startModelServer();
});
afterAll(() => server.close());

beforeEach(async () => {
  server.requests.length = 0;
  server.setLatency(0);
  dir = await mkdtemp(join(tmpdir(), "clawgate-dispatch-agent-"));
  await writeNodeConfig(dir, { hooks: HOOK_TOKEN, model: MODEL_KEY }, {
    hooks: { enabled: true, token: fileRef("hooks"), allowRequestSessionKey: true },
    models: { providers: { local: { baseUrl: `${server.url}/v1`, apiKey: fileRef("model") } } },
    agents: {
      defaults: { model: "local/llama3.1:8b", heartbeat: { every: "0m" }, models: { "local/llama3.1:8b": { memoryGb: 1 } } },
    },
    clawgate: { dispatch: { memoryBudgetGb: 2, headroomGb: 0 } },
  });
});
afterEach(async () => {
  await agent?.stop("SIGKILL");
  agent = undefined;
  await rm(dir, { recursive: true, force: true });
});

const start = () =>
  startNodeProcess(["--config", join(dir, "openclaw.json"), "--port", "0", "--state-dir", join(dir, "state")], { env: { CLAWGATE_ALLOW_ROOT: "1" } });

async function admin(url: string, path: string): Promise<{ status: number; body: any }> {
  const token = (await readFile(join(dir, "state", "admin.token"), "utf8")).trim();
  const res = await fetch(`${url}${ADMIN_PREFIX}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() };
}

const hook = (url: string, route: string, body: object) =>
  fetch(`${url}/hooks/${route}`, { method: "POST", headers: { authorization: `Bearer ${HOOK_TOKEN}`, "content-type": "application/json" }, body: JSON.stringify(body) });

it("a wake with the hook token runs a heartbeat: run log, admin API, /metrics and the model server agree", async () => {
  agent = await start();
  const res = await hook(agent.url, "wake", { text: "backup finished" });
  expect(res.status).toBe(200);
  const chat = await pollUntil(() => server.chatRequests()[0], 10_000, "the heartbeat to reach the model server");
  expect(chat.headers["authorization"]).toBe(`Bearer ${MODEL_KEY}`);
  expect(chat.body.messages.at(-1).content).toMatch(/^System: backup finished\n\n/);

  const runs = await pollUntil(async () => {
    const { body } = await admin(agent!.url, "/runs?status=ok");
    return body.runs.length > 0 ? body.runs : undefined;
  }, 10_000, "the run record");
  expect(runs[0]).toMatchObject({ kind: "heartbeat", trigger: "wake", agentId: "main", sessionKey: "agent:main:main", model: "local/llama3.1:8b", memoryEstimateGb: 1 });
  expect((await admin(agent.url, `/runs/${runs[0].id}`)).body.run.id).toBe(runs[0].id);
  expect(await admin(agent.url, "/runs/no-such-run")).toEqual({ status: 404, body: { ok: false, error: "run not found" } });

  const log = await readFile(join(dir, "state", "runs.jsonl"), "utf8");
  expect(log.trim().split("\n").map((l) => JSON.parse(l).status)).toEqual(["running", "ok"]);
  expect((await stat(join(dir, "state", "runs.jsonl"))).mode & 0o777).toBe(0o600);
  expect(log).not.toContain(MODEL_KEY);

  const token = (await readFile(join(dir, "state", "admin.token"), "utf8")).trim();
  const metrics = await (await fetch(`${agent.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
  expect(metrics).toMatch(/clawgate_runs\{status="ok"\} 1/);
  expect(metrics).toMatch(/clawgate_dispatch_budget_gb 2/);
  expect((await fetch(`${agent.url}/readyz`)).status).toBe(200);
  expect(agent.output().stdout).not.toContain(MODEL_KEY);
});

it("kill -9 mid-run: after restart the delivery is retried visibly and done exactly once", async () => {
  server.setLatency(60_000);
  agent = await start();
  const res = await hook(agent.url, "agent", { message: "long job", sessionKey: "hook:long", wakeMode: "next-heartbeat" });
  expect(res.status).toBe(202);
  const { runId } = (await res.json()) as { runId: string };
  await pollUntil(() => server.inFlight() === 1, 10_000, "the run to reach the model server");
  expect(await agent.stop("SIGKILL")).toBe("SIGKILL");

  server.setLatency(0);
  agent = await start();
  const runs = await pollUntil(async () => {
    const { body } = await admin(agent!.url, "/runs?limit=10");
    const mine = body.runs.filter((r: { id: string }) => r.id.startsWith(runId));
    return mine.some((r: { status: string }) => r.status === "ok") ? mine : undefined;
  }, 10_000, "the retried run");
  expect(runs.map((r: { id: string; status: string }) => [r.id, r.status]).sort()).toEqual([
    [runId, "interrupted"],
    [`${runId}-r2`, "ok"],
  ]);
  const intake = await admin(agent.url, "/intake");
  expect(intake.body.counts).toMatchObject({ pending: 0, done: 1 });
  // Two requests reached the model: the one cut off by the kill and the retry; none after "done".
  expect(server.chatRequests().filter((r) => r.body.messages.at(-1).content === "long job")).toHaveLength(2);
});

it("/readyz answers 503 'dispatch stalled' for a pending delivery the dispatch loop never picked up", async () => {
  agent = await start();
  expect((await fetch(`${agent.url}/readyz`)).status).toBe(200);
  // Written behind the agent's back (no onAccepted), ten minutes old: exactly what a stuck loop looks like.
  const journal = openIntakeJournal(join(dir, "state"));
  journal.accept({ deliveryId: "orphan", kind: "agent", payload: JSON.stringify({ message: "x", sessionKey: "hook:o" }), response: "{}", receivedAt: Date.now() - 600_000 });
  journal.close();
  const token = (await readFile(join(dir, "state", "admin.token"), "utf8")).trim();
  const res = await fetch(`${agent.url}/readyz`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(503);
  expect(await res.json()).toEqual({ ok: false, problems: ["dispatch stalled"] });
});
