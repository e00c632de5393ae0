/**
 * Whole-system dispatch under real memory: a node daemon on a real loopback port with its real memory probe, its
 * agents on the `command` runtime whose children really allocate (test/fixtures/runtimes/alloc-agent.mjs): three
 * models of 0.2 / 0.4 / 0.8 GiB under a 1 GiB budget (0.8 is exclusive), a runaway first, then ~30 mixed calls and
 * one for a model above the whole budget. From the run records: at every start the reservations of the runs then
 * running stay within the budget, an exclusive run never overlaps another local run, every call has exactly one `ok`
 * run (the runaway exactly one `memory_limit`, the over-budget call one give-up under its own agent) with a measured
 * peak between what its child allocated and its hard limit; the runaway leaves the estimate at or under the hard limit, /metrics, the doctor's
 * model memory check and `clawgate dispatch models` show the kill, and `--reset` forgets it.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { RunRecord } from "../../node/dispatch/run-log.ts";
import { probeModelMemory } from "../../node/doctor/model-memory-checks.ts";
import { createLogger } from "../../node/server/logger.ts";
import { type NodeAgent, startNodeAgent } from "../../node/server/node-agent.ts";
import { ADMIN_PREFIX } from "../../shared/constants.ts";
import { fileRef, writeNodeConfig } from "../helpers/node-config.ts";
import { pollUntil } from "../helpers/node-process.ts";
import { runCli } from "../helpers/run-cli.ts";

const ALLOC = fileURLToPath(new URL("../fixtures/runtimes/alloc-agent.mjs", import.meta.url));
const HOOK_TOKEN = "hook-token-dispatch-mem-0123456789abcdef";
const BUDGET_GB = 1;
const EXCLUSIVE_ABOVE_GB = 0.5;
/** Estimate and hard limit (GiB) per model; the child holds the estimate minus what a bare Node process takes. */
const MODELS = {
  "local/small": { memoryGb: 0.2, memoryLimitGb: 0.3 },
  "local/medium": { memoryGb: 0.4, memoryLimitGb: 0.55 },
  "local/large": { memoryGb: 0.8, memoryLimitGb: 1 },
  "local/giant": { memoryGb: 2 },
} as const;
const NODE_BASE_GB = 0.07;
const ALLOCATE = Object.fromEntries(Object.entries(MODELS).map(([m, s]) => [m, Math.max(0, s.memoryGb - NODE_BASE_GB)]));
const AGENT_OF: Record<string, string> = { "local/small": "main", "local/medium": "mid", "local/large": "big", "local/giant": "huge" };

let dir: string;
let node: NodeAgent | undefined;
let adminToken = "";

async function admin(path: string): Promise<any> {
  const res = await fetch(`${node!.url}${ADMIN_PREFIX}${path}`, { headers: { authorization: `Bearer ${adminToken}` } });
  expect(res.status).toBe(200);
  return res.json();
}
const runs = async (query = ""): Promise<RunRecord[]> => (await admin(`/runs?limit=1000${query}`)).runs;

/** One agent call straight to the node's hook (same-host caller): 202 `{ ok: true, runId }`. */
async function call(model: keyof typeof MODELS, sessionKey: string, message: string): Promise<string> {
  const res = await fetch(`${node!.url}/hooks/agent`, {
    method: "POST",
    headers: { authorization: `Bearer ${HOOK_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ agentId: AGENT_OF[model], sessionKey, message, name: "Memory", wakeMode: "next-heartbeat" }),
  });
  const body = (await res.json()) as { ok: boolean; runId: string };
  expect({ status: res.status, ok: body.ok }).toEqual({ status: 202, ok: true });
  return body.runId;
}

/** The runs of one call (attempt 1 is its runId, retries `<runId>-r<n>`). */
const runsOf = (all: readonly RunRecord[], runId: string) => all.filter((r) => r.kind === "agent" && (r.id === runId || r.id.startsWith(`${runId}-r`)));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "clawgate-dispatch-mem-"));
  const configPath = await writeNodeConfig(dir, { hooks: HOOK_TOKEN }, {
    hooks: { enabled: true, token: fileRef("hooks"), allowRequestSessionKey: true },
    agents: {
      defaults: {
        heartbeat: { every: "0m" },
        timeoutSeconds: 60,
        models: MODELS,
        runtime: { type: "command", command: process.execPath, args: [ALLOC, JSON.stringify(ALLOCATE)], sampleIntervalMs: 20 },
      },
      list: [
        { id: "main", default: true, model: "local/small" },
        { id: "mid", model: "local/medium" },
        { id: "big", model: "local/large" },
        { id: "huge", model: "local/giant" },
      ],
    },
    clawgate: {
      stateDir: join(dir, "state"),
      dispatch: { memoryBudgetGb: BUDGET_GB, exclusiveAboveGb: EXCLUSIVE_ABOVE_GB, headroomGb: 0.5, maxConcurrent: 4, probeIntervalMs: 200 },
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
    logger: createLogger({ level: "warn", destination: { write: () => {} } }),
  });
  adminToken = (await readFile(join(node.stateDir, "admin.token"), "utf8")).trim();
}, 30_000);

afterAll(async () => {
  await node?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it("real allocations under a 1 GiB budget: reservations within budget at every start, exclusive runs alone, one ok run per call, a runaway that teaches nothing", async () => {
  // 1. A runaway of the small model: killed at its 0.3 GiB limit, given up (not retried), and the model marked.
  const runaway = await call("local/small", "hook:runaway", "runaway");
  const killed = await pollUntil(async () => runsOf(await runs(), runaway).find((r) => r.status === "memory_limit"), 20_000, "the runaway to be killed");
  expect(killed).toMatchObject({ agentId: "main", model: "local/small", memoryEstimateGb: 0.2, memoryLimitGb: 0.3, memoryLimitExceeded: true, errorCode: "ERR_MEMORY_LIMIT" });
  expect(killed.memoryPeakGb!).toBeGreaterThan(0.3);
  expect(killed.deadReason).toMatch(/memory_limit is not retried/);
  const models = async () => (await admin("/models")).models as { model: string; estimateGb: number; hardLimitGb: number; limitKills: number; learnedGb: number | null }[];
  expect((await models()).find((m) => m.model === "local/small")).toMatchObject({ estimateGb: 0.2, hardLimitGb: 0.3, limitKills: 1, learnedGb: null });

  // 2. ~30 mixed calls (12 small, 10 medium, 6 large, in an interleaved order; some share a session) and one for
  //    a model above the whole budget.
  const order: (keyof typeof MODELS)[] = [];
  for (let i = 0; i < 12; i++) {
    order.push("local/small");
    if (i < 10) order.push("local/medium");
    if (i % 2 === 0) order.push("local/large");
  }
  const calls: { runId: string; model: keyof typeof MODELS }[] = [];
  for (const [i, model] of order.entries()) {
    calls.push({ runId: await call(model, `hook:s${i % 9}`, `hold ${100 + (i % 4) * 50}`), model });
  }
  const giant = await call("local/giant", "hook:giant", "hold 100");
  expect(calls.length).toBe(28);

  // Every call settled: nothing pending in the journal.
  await pollUntil(async () => ((await admin("/intake?state=pending")).pending.length === 0 ? true : undefined), 60_000, "every call to settle");
  const all = await runs();

  // 3. Each call exactly one run, and it is ok.
  for (const { runId, model } of calls) {
    const mine = runsOf(all, runId);
    expect(mine.map((r) => r.status), runId).toEqual(["ok"]);
    const [run] = mine;
    // What it reserved: the configured estimate, or what ok runs taught since — never below it, never above the limit.
    expect(run!.model).toBe(model);
    expect(run!.memoryEstimateGb!).toBeGreaterThanOrEqual(MODELS[model].memoryGb);
    expect(run!.memoryEstimateGb!).toBeLessThanOrEqual((MODELS[model] as { memoryLimitGb: number }).memoryLimitGb);
    // Its measured peak: at least what the child allocated (a short run is measured, not missed), under the limit
    // (a run above it is killed).
    expect(run!.memoryPeakGb ?? 0, `${runId} peak`).toBeGreaterThanOrEqual(ALLOCATE[model]!);
    expect(run!.memoryPeakGb ?? 0, `${runId} peak`).toBeLessThanOrEqual((MODELS[model] as { memoryLimitGb: number }).memoryLimitGb);
  }
  expect(runsOf(all, runaway).map((r) => r.status)).toEqual(["memory_limit"]);

  // 4. At every start, the reservations of the runs then running (from the records) are within the budget.
  const timed = all.filter((r) => r.startedAt !== undefined && r.finishedAt !== undefined && (r.memoryEstimateGb ?? 0) > 0);
  expect(timed.length).toBe(calls.length + 1);
  let peakReservedGb = 0;
  for (const r of timed) {
    const t = r.startedAt!;
    const running = timed.filter((o) => o.startedAt! <= t && o.finishedAt! > t);
    const reserved = running.reduce((sum, o) => sum + o.memoryEstimateGb!, 0);
    peakReservedGb = Math.max(peakReservedGb, reserved);
    expect(reserved, `reserved at the start of ${r.id}`).toBeLessThanOrEqual(BUDGET_GB + 1e-9);
    // 5. An exclusive run (strictly above exclusiveAboveGb) never shares its time with another local run.
    if (r.memoryEstimateGb! > EXCLUSIVE_ABOVE_GB) expect(timed.filter((o) => o !== r && o.startedAt! < r.finishedAt! && o.finishedAt! > t).map((o) => o.id), `beside ${r.id}`).toEqual([]);
  }
  // Real concurrency happened: small and medium runs shared the budget (0.2 + 0.4 + … > 0.4).
  expect(peakReservedGb).toBeGreaterThan(0.6);

  // 6. The runaway taught nothing: the small model's later runs reserved 0.2 GiB, and its estimate stays at or under 0.3.
  const small = (await models()).find((m) => m.model === "local/small")!;
  expect(small.estimateGb).toBeLessThanOrEqual(small.hardLimitGb);
  expect(small.limitKills).toBe(1);
  const metrics = await (await fetch(`${node!.url}/metrics`, { headers: { authorization: `Bearer ${adminToken}` } })).text();
  expect(metrics).toMatch(/^clawgate_dispatch_model_limit_kills\{model="local\/small"\} 1$/m);

  // 7. The call for a model above the whole budget: given up, found under its own agent with what it asked for.
  const [givenUp, ...others] = await runs("&agentId=huge");
  expect(others).toEqual([]);
  expect(givenUp).toMatchObject({ id: giant, agentId: "huge", model: "local/giant", sessionKey: "agent:huge:hook:giant", status: "error", errorCode: "ERR_OVER_BUDGET" });
  expect(givenUp!.queuedAt).toEqual(expect.any(Number));
  expect((await admin("/intake?state=dead")).dead.map((d: { deliveryId: string }) => d.deliveryId).length).toBe(2);

  // 8. The daemon stayed healthy; `clawgate doctor`'s model memory check names the giant model (its configured
  //    estimate is above the budget) and the small model's kill; `clawgate dispatch models` shows and resets it.
  expect((await fetch(`${node!.url}/readyz`)).status).toBe(200);
  const doctor = await probeModelMemory(node!.url, adminToken, fetch);
  expect(doctor.map((f) => [f.checkId, f.title])).toEqual([
    ["dispatch.model_over_budget", "runs of local/giant are given up: its estimate is above the memory budget"],
    ["dispatch.model_limit_kills", "runs of local/small were killed at their hard memory limit"],
  ]);
  const env = { ...process.env, OPENCLAW_GATEWAY_TOKEN: "" };
  const at = ["--state-dir", node!.stateDir];
  const listed = await runCli(["dispatch", "models", "--json", ...at], { env });
  expect(listed.stderr).toBe("");
  const answer = JSON.parse(listed.stdout) as { budgetGb: number; models: { model: string; limitKills: number; lastPeaks: { outcome: string }[] }[] };
  expect(answer.budgetGb).toBe(BUDGET_GB);
  expect(answer.models.find((m) => m.model === "local/small")).toMatchObject({ limitKills: 1 });
  expect(answer.models.find((m) => m.model === "local/small")!.lastPeaks.map((p) => p.outcome)).toContain("ok");
  const human = await runCli(["dispatch", "models", ...at], { env });
  expect(human.stdout).toMatch(/^local\/large +0\.80 config .* 1\.00 +0 /m);
  const reset = await runCli(["dispatch", "models", "--reset", "local/small", ...at], { env });
  expect({ code: reset.code, stdout: reset.stdout }).toEqual({ code: 0, stdout: 'reset "local/small": its learning is forgotten; runs now reserve 0.20 GiB (config)\n' });
  expect((await models()).find((m) => m.model === "local/small")).toMatchObject({ limitKills: 0, learnedGb: null });
  const again = await runCli(["dispatch", "models", "--reset", "local/small", ...at], { env });
  expect({ code: again.code, stderr: again.stderr }).toEqual({ code: 1, stderr: 'clawgate: nothing learned about model "local/small" (list them with: clawgate dispatch models)\n' });
}, 120_000);
