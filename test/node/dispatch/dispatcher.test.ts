/**
 * The dispatcher in-process over a real journal, scheduler, run log and session files, with a real model server on
 * loopback and real child processes: runs, settlement, summaries and heartbeats, session continuity, retries to
 * dead, memory_limit, restart recovery (settle vs. visible retry), admission and the stall check.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AgentsSchema } from "../../../node/config/agents-schema.ts";
import { compileAgentTable } from "../../../node/dispatch/agent-table.ts";
import { type Dispatcher, createDispatcher } from "../../../node/dispatch/dispatcher.ts";
import { createModelMemory } from "../../../node/dispatch/model-memory.ts";
import { type RunLog, openRunLog } from "../../../node/dispatch/run-log.ts";
import { createScheduler } from "../../../node/dispatch/scheduler.ts";
import { type IntakeJournal, openIntakeJournal } from "../../../node/intake/intake-journal.ts";
import { createSessionStore } from "../../../node/sessions/session-store.ts";
import { createSystemEventQueues } from "../../../node/sessions/system-events.ts";
import { type ModelServer, startModelServer } from "../../helpers/model-server.ts";
import { pollUntil } from "../../helpers/node-process.ts";
import { realIo } from "../../helpers/daemon-io.ts";

const FAKE = fileURLToPath(new URL("../../fixtures/runtimes/fake-agent.mjs", import.meta.url));
const ALLOC = fileURLToPath(new URL("../../fixtures/runtimes/alloc-agent.mjs", import.meta.url));
const silent = { info() {}, warn() {}, error() {} };

let server: ModelServer;
beforeAll(async () => {
  server = await startModelServer();
});
afterAll(() => server.close());

interface Harness {
  stateDir: string;
  journal: IntakeJournal;
  runLog: RunLog;
  dispatcher: Dispatcher;
  modelMemory: ReturnType<typeof createModelMemory>;
  scheduler: ReturnType<typeof createScheduler>;
  accept(kind: "wake" | "agent", payload: object, id?: string, receivedAt?: number): string;
  stop(): Promise<void>;
}

const open: Harness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.stop();
  server.requests.length = 0;
  server.setLatency(0);
  server.setReply((body) => `echo: ${body.messages.at(-1).content}`);
});

let seq = 0;
function harness(options: { maxThinking?: "low"; agents?: unknown; stateDir?: string; maxQueue?: number; maxConcurrent?: number; maxAttempts?: number; start?: boolean; stallAfterMs?: number; memoryProbe?: () => Promise<{ availableGb: number; totalGb: number }>; probeTtlMs?: number } = {}): Harness {
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), "clawgate-dispatch-"));
  const agents = AgentsSchema.parse(
    options.agents ?? {
      defaults: { model: "local/llama3.1:8b", heartbeat: { every: "0m" }, models: { "local/llama3.1:8b": { memoryGb: 6 } } },
    },
  );
  const journal = openIntakeJournal(stateDir);
  const runLog = openRunLog(stateDir);
  const scheduler = createScheduler({ io: realIo,
    budgetGb: 32,
    maxQueue: options.maxQueue ?? 100,
    maxConcurrent: options.maxConcurrent ?? 4,
    memoryProbe: options.memoryProbe ?? (async () => ({ availableGb: 64, totalGb: 64 })),
    ...(options.probeTtlMs !== undefined ? { probeTtlMs: options.probeTtlMs } : {}),
  });
  const modelMemory = createModelMemory({ models: (agents.defaults?.models ?? {}) as never });
  const table = compileAgentTable({ io: realIo, agents, providers: { local: { baseUrl: `${server.url}/v1` } }, secret: () => undefined });
  const dispatcher = createDispatcher({ io: realIo,
    journal,
    scheduler,
    modelMemory,
    runLog,
    sessions: createSessionStore(stateDir),
    events: createSystemEventQueues(),
    agents: table,
    logger: silent,
    maxQueue: options.maxQueue ?? 100,
    maxAttempts: options.maxAttempts ?? 3,
    retryDelayMs: 10,
    maxThinking: options.maxThinking,
    ...(options.stallAfterMs !== undefined ? { stallAfterMs: options.stallAfterMs } : {}),
  });
  let stopped = false;
  const h: Harness = {
    stateDir,
    journal,
    runLog,
    dispatcher,
    modelMemory,
    scheduler,
    accept(kind, payload, id = `d-${++seq}`, receivedAt = Date.now()) {
      const response = kind === "agent" ? { ok: true, runId: `run-${id}` } : { ok: true, mode: "now" };
      const accepted = journal.accept({ deliveryId: id, kind, payload: JSON.stringify(payload), response: JSON.stringify(response), receivedAt });
      if (accepted.inserted) dispatcher.onAccepted(accepted.delivery);
      return id;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await dispatcher.close(2_000);
      journal.close();
    },
  };
  open.push(h);
  if (options.start !== false) dispatcher.start();
  return h;
}

const agentPayload = (over: object = {}) => ({ message: "hello", name: "GitHub", sessionKey: "hook:s1", wakeMode: "next-heartbeat", ...over });
const stateOf = (h: Harness, id: string) => h.journal.get(id)?.state;

describe("dispatcher", () => {
  it("runs an agent delivery, records it, settles it done, and a wakeMode now summary runs a heartbeat", async () => {
    const h = harness();
    const id = h.accept("agent", agentPayload({ wakeMode: "now" }));
    await pollUntil(() => stateOf(h, id) === "done", 5_000, "the delivery to be done");
    const record = h.runLog.get(`run-${id}`)!;
    expect(record).toMatchObject({ status: "ok", kind: "agent", agentId: "main", sessionKey: "agent:main:hook:s1", model: "local/llama3.1:8b", attempt: 1, memoryEstimateGb: 6 });
    expect(record.durationMs).toBeGreaterThanOrEqual(0);
    // The summary reaches the main session as a System: line of the heartbeat that wakeMode now started.
    const heartbeat = await pollUntil(() => server.chatRequests().find((r) => r.body.messages.at(-1).content.includes("System: Hook GitHub: echo: hello")), 5_000, "the heartbeat");
    expect(heartbeat.body.model).toBe("llama3.1:8b");
    await pollUntil(() => h.runLog.list({ status: "ok" }).find((r) => r.kind === "heartbeat"), 5_000, "the heartbeat record");
  });

  it("continues a session: the second run with the same sessionKey sees the first turn (OpenClaw #29518)", async () => {
    const h = harness();
    const a = h.accept("agent", agentPayload({ message: "first", sessionKey: "hook:same" }));
    await pollUntil(() => stateOf(h, a) === "done");
    const b = h.accept("agent", agentPayload({ message: "second", sessionKey: "hook:same" }));
    await pollUntil(() => stateOf(h, b) === "done");
    const last = server.chatRequests().filter((r) => r.body.messages.at(-1).content === "second")[0]!;
    expect(last.body.messages).toEqual([
      { role: "user", content: "first" },
      { role: "assistant", content: "echo: first" },
      { role: "user", content: "second" },
    ]);
    const other = h.accept("agent", agentPayload({ message: "third", sessionKey: "hook:other" }));
    await pollUntil(() => stateOf(h, other) === "done");
    expect(server.chatRequests().find((r) => r.body.messages.at(-1).content === "third")!.body.messages).toHaveLength(1);
  });

  it("a wake with next-heartbeat and heartbeats off still runs within maxEventDelay, and then settles", async () => {
    const h = harness({ agents: { defaults: { model: "local/llama3.1:8b", heartbeat: { every: "0m", maxEventDelay: "300ms" } } } });
    const id = h.accept("wake", { text: "disk almost full", mode: "next-heartbeat" });
    await pollUntil(() => stateOf(h, id) === "done", 5_000, "the wake to be consumed");
    const run = h.runLog.forDelivery(id)[0]!;
    expect(run).toMatchObject({ kind: "heartbeat", trigger: "max_event_delay", status: "ok", sessionKey: "agent:main:main" });
    expect(server.chatRequests()[0]!.body.messages.at(-1).content).toMatch(/^System: disk almost full\n\n/);
  });

  it("a HEARTBEAT_OK reply is an ack: recorded, not added to the transcript", async () => {
    server.setReply(() => "HEARTBEAT_OK");
    const h = harness();
    const id = h.accept("wake", { text: "ping", mode: "now" });
    await pollUntil(() => stateOf(h, id) === "done");
    expect(h.runLog.forDelivery(id)[0]).toMatchObject({ ack: true, trigger: "wake" });
    const again = h.accept("wake", { text: "ping 2", mode: "now" });
    await pollUntil(() => stateOf(h, again) === "done");
    expect(server.chatRequests().at(-1)!.body.messages).toHaveLength(1); // no history from the ack
  });

  it("retries a failing run with backoff, then marks the delivery dead with a reason", async () => {
    server.queueFaults({ status: 500 }, { status: 500 });
    const h = harness({
      maxAttempts: 2,
      agents: { defaults: { model: "local/llama3.1:8b", heartbeat: { every: "0m" }, runtime: { type: "openai", maxAttempts: 1 } } },
    });
    const id = h.accept("agent", agentPayload());
    await pollUntil(() => stateOf(h, id) === "dead", 5_000, "the delivery to be dead");
    const runs = h.runLog.forDelivery(id);
    expect(runs.map((r) => [r.id, r.status, r.attempt])).toEqual([
      [`run-${id}`, "error", 1],
      [`run-${id}-r2`, "error", 2],
    ]);
    expect(runs[1]!.deadReason).toBe("failed 2 times (last: ERR_RUNTIME_HTTP)");
    expect(server.chatRequests()).toHaveLength(2);
  });

  it("the next run of a delivery waits for the Retry-After its runtime gave up on, not just the backoff (10 ms here)", async () => {
    server.queueFaults({ status: 429, retryAfter: "1" });
    const h = harness({ agents: { defaults: { model: "local/llama3.1:8b", heartbeat: { every: "0m" }, runtime: { type: "openai", maxAttempts: 1 } } } });
    const id = h.accept("agent", agentPayload());
    await pollUntil(() => stateOf(h, id) === "done", 5_000, "the second run");
    expect(h.runLog.forDelivery(id).map((r) => [r.status, r.errorCode])).toEqual([
      ["error", "ERR_RUNTIME_RATE_LIMITED"],
      ["ok", undefined],
    ]);
    const [limited, retried] = server.chatRequests();
    // A correctness bound on the model server's clock: the follow-up did not come sooner than it asked.
    expect(retried!.at - limited!.answeredAt!).toBeGreaterThanOrEqual(1_000);
  });

  it("a wake's next heartbeat also waits for the Retry-After its runtime gave up on", async () => {
    server.queueFaults({ status: 429, retryAfter: "1" });
    const h = harness({ agents: { defaults: { model: "local/llama3.1:8b", heartbeat: { every: "0m" }, runtime: { type: "openai", maxAttempts: 1 } } } });
    const id = h.accept("wake", { text: "deploy finished", mode: "now" });
    await pollUntil(() => stateOf(h, id) === "done", 5_000, "the second heartbeat");
    expect(h.runLog.forDelivery(id).map((r) => [r.kind, r.status, r.errorCode])).toEqual([
      ["heartbeat", "error", "ERR_RUNTIME_RATE_LIMITED"],
      ["heartbeat", "ok", undefined],
    ]);
    const [limited, retried] = server.chatRequests();
    expect(retried!.at - limited!.answeredAt!).toBeGreaterThanOrEqual(1_000);
  });

  it("a retry after a failure moves to the agent's fallback model", async () => {
    server.queueFaults({ status: 500 });
    const h = harness({
      agents: {
        defaults: {
          model: { primary: "local/llama3.1:70b", fallbacks: ["local/llama3.1:8b"] },
          models: { "local/llama3.1:70b": { memoryGb: 20 }, "local/llama3.1:8b": { memoryGb: 6 } },
          heartbeat: { every: "0m" },
          runtime: { type: "openai", maxAttempts: 1 },
        },
      },
    });
    const id = h.accept("agent", agentPayload());
    await pollUntil(() => stateOf(h, id) === "done", 5_000, "the retry on the fallback");
    expect(server.chatRequests().map((r) => r.body.model)).toEqual(["llama3.1:70b", "llama3.1:8b"]);
    expect(h.runLog.forDelivery(id).map((r) => [r.model, r.status])).toEqual([
      ["local/llama3.1:70b", "error"],
      ["local/llama3.1:8b", "ok"],
    ]);
  });

  it("a model larger than the whole budget is given up visibly, recorded with the agent, model, session and queue time asked for", async () => {
    const h = harness({
      agents: {
        defaults: { model: "local/llama3.1:8b", heartbeat: { every: "0m" }, models: { "local/llama3.1:8b": { memoryGb: 6 }, "local/llama3.1:405b": { memoryGb: 230 } } },
        list: [{ id: "main", default: true }, { id: "huge", model: "local/llama3.1:405b" }],
      },
    });
    const before = Date.now();
    const id = h.accept("agent", agentPayload({ agentId: "huge", sessionKey: "hook:big" }));
    await pollUntil(() => stateOf(h, id) === "dead", 5_000, "the delivery to be dead");
    const [record] = h.runLog.forDelivery(id);
    expect(record).toMatchObject({
      id: `run-${id}`,
      kind: "agent",
      status: "error",
      agentId: "huge",
      model: "local/llama3.1:405b",
      sessionKey: "agent:huge:hook:big",
      memoryEstimateGb: 230,
      errorCode: "ERR_OVER_BUDGET",
      deadReason: 'model "local/llama3.1:405b" needs ~230.0 GiB, more than the memory budget of 32.0 GiB',
    });
    expect(record!.queuedAt).toBeGreaterThanOrEqual(before);
    expect(record!.startedAt).toBeUndefined();
    // The admin API's filter (GET /_clawgate/admin/runs?agentId=huge) is this list.
    expect(h.runLog.list({ agentId: "huge" }).map((r) => r.id)).toEqual([`run-${id}`]);
  });

  it("an agent that is not configured is given up under the agent that was asked for", async () => {
    const h = harness();
    const id = h.accept("agent", agentPayload({ agentId: "ghost" }));
    await pollUntil(() => stateOf(h, id) === "dead", 5_000, "the delivery to be dead");
    expect(h.runLog.list({ agentId: "ghost" })[0]).toMatchObject({ errorCode: "ERR_UNKNOWN_AGENT", sessionKey: "agent:ghost:hook:s1", deadReason: 'agent "ghost" is not configured' });
  });

  it("clamps a requested thinking level at clawgate.dispatch.maxThinking before it becomes reasoning_effort", async () => {
    const h = harness({
      maxThinking: "low",
      agents: { defaults: { model: "local/llama3.1:8b", heartbeat: { every: "0m" }, models: { "local/llama3.1:8b": { memoryGb: 6, reasoning: true } } } },
    });
    const id = h.accept("agent", agentPayload({ thinking: "xhigh" }));
    await pollUntil(() => stateOf(h, id) === "done");
    expect(server.chatRequests()[0]!.body.reasoning_effort).toBe("low");
  });

  it("SECRETS_RELOADER_DEGRADED reaches the main session as a system event", async () => {
    const h = harness({ agents: { defaults: { model: "local/llama3.1:8b", heartbeat: { every: "0m", maxEventDelay: "200ms" } } } });
    h.dispatcher.onSecretsEvent({ type: "SECRETS_RELOADER_DEGRADED", message: "secrets reload failed; keeping the last-known-good snapshot", at: new Date(), failures: [] });
    const chat = await pollUntil(() => server.chatRequests()[0], 5_000, "the heartbeat");
    expect(chat.body.messages.at(-1).content).toMatch(/^System: SECRETS_RELOADER_DEGRADED: secrets reload failed/);
  });

  it("kills a command run over its hard limit: memory_limit, dead (not retried), the model marked, its estimate untouched", async () => {
    const h = harness({
      agents: {
        defaults: {
          model: "local/hog",
          heartbeat: { every: "0m" },
          models: { "local/hog": { memoryGb: 0.1, memoryLimitGb: 0.25 } },
          runtime: { type: "command", command: process.execPath, args: [FAKE, "hog"], sampleIntervalMs: 20 },
        },
      },
    });
    const id = h.accept("agent", agentPayload());
    await pollUntil(() => stateOf(h, id) === "dead", 10_000, "the run to be killed");
    const [run] = h.runLog.forDelivery(id);
    expect(run).toMatchObject({ status: "memory_limit", errorCode: "ERR_MEMORY_LIMIT", memoryEstimateGb: 0.1, memoryLimitGb: 0.25 });
    expect(run!.memoryPeakGb).toBeGreaterThan(0.25);
    expect(run!.deadReason).toMatch(/memory_limit is not retried/);
    expect(run!.memoryLimitExceeded).toBe(true);
    expect(h.modelMemory.estimate("local/hog", { local: true })).toMatchObject({ memoryGb: 0.1, hardLimitGb: 0.25 });
    expect(h.modelMemory.report("local/hog", { local: true })).toMatchObject({ limitKills: 1, learnedGb: null });
  });

  it("a runaway, then a normal run of the same model: the normal run is admitted with a sane reservation", async () => {
    const h = harness({
      agents: {
        defaults: {
          model: "local/alloc",
          heartbeat: { every: "0m" },
          models: { "local/alloc": { memoryGb: 0.2, memoryLimitGb: 0.3 } },
          runtime: { type: "command", command: process.execPath, args: [ALLOC, JSON.stringify({ "local/alloc": 0.15 })], sampleIntervalMs: 20 },
        },
      },
    });
    const runaway = h.accept("agent", agentPayload({ message: "runaway" }));
    await pollUntil(() => stateOf(h, runaway) === "dead", 15_000, "the runaway to be killed");
    const [killed] = h.runLog.forDelivery(runaway);
    expect(killed).toMatchObject({ status: "memory_limit", memoryLimitExceeded: true, memoryEstimateGb: 0.2, memoryLimitGb: 0.3 });
    expect(killed!.memoryPeakGb).toBeGreaterThan(0.3);
    const normal = h.accept("agent", agentPayload({ message: "hold 100", sessionKey: "hook:s2" }));
    await pollUntil(() => stateOf(h, normal) === "done", 15_000, "the normal run");
    const [ok] = h.runLog.forDelivery(normal);
    expect(ok).toMatchObject({ status: "ok", memoryEstimateGb: 0.2, memoryLimitGb: 0.3 });
    expect(ok!.memoryEstimateGb!).toBeLessThanOrEqual(ok!.memoryLimitGb!);
    // Its own peak teaches (an ok run), and never past the limit.
    expect(h.modelMemory.estimate("local/alloc", { local: true }).memoryGb).toBeLessThanOrEqual(0.3);
  });

  it("on restart settles a delivery whose run finished, and retries (visibly) one cut off mid-run", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "clawgate-dispatch-"));
    try {
      const first = harness({ stateDir, start: false });
      const finished = first.accept("agent", agentPayload({ message: "finished" }));
      const cutOff = first.accept("agent", agentPayload({ message: "cut off", sessionKey: "hook:s2" }));
      // What a crash leaves behind: a finished record not yet settled, and a run that never ended.
      const base = { kind: "agent" as const, agentId: "main", sessionKey: "agent:main:hook:s1", attempt: 1 };
      first.runLog.write({ ...base, id: `run-${finished}`, status: "ok", deliveryIds: [finished], finishedAt: Date.now() });
      first.runLog.write({ ...base, id: `run-${cutOff}`, status: "running", deliveryIds: [cutOff], startedAt: Date.now() });
      await first.stop();

      const second = harness({ stateDir });
      await pollUntil(() => stateOf(second, cutOff) === "done", 5_000, "the retry");
      expect(stateOf(second, finished)).toBe("done");
      expect(server.chatRequests().map((r) => r.body.messages.at(-1).content)).toEqual(["cut off"]);
      expect(second.runLog.forDelivery(cutOff).map((r) => [r.id, r.status])).toEqual([
        [`run-${cutOff}`, "interrupted"],
        [`run-${cutOff}-r2`, "ok"],
      ]);
    } finally {
      for (const h of open.splice(0)) await h.stop();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it("admits agent runs until the queue is full; wakes always", async () => {
    server.setLatency(2_000);
    const h = harness({ maxQueue: 1, maxConcurrent: 1 });
    expect(h.dispatcher.admit("agent")).toEqual({ ok: true });
    h.accept("agent", agentPayload({ sessionKey: "hook:q1" }));
    h.accept("agent", agentPayload({ sessionKey: "hook:q2" }));
    await pollUntil(() => server.inFlight() === 1, 5_000, "the first run to reach the server");
    const refused = h.dispatcher.admit("agent");
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(h.dispatcher.admit("wake")).toEqual({ ok: true });
  });

  it("reports 'dispatch stalled' when a pending delivery is overdue and nothing runs", () => {
    const h = harness({ start: false, stallAfterMs: 1_000 });
    expect(h.dispatcher.health()).toMatchObject({ ok: true, oldestPendingAgeMs: null });
    // Journaled but never handed to the dispatcher (no onAccepted, no sweep: start() was not called).
    h.journal.accept({ deliveryId: "lost", kind: "agent", payload: "{}", response: "{}", receivedAt: Date.now() - 5_000 });
    const health = h.dispatcher.health();
    expect(health).toMatchObject({ ok: false, problem: "dispatch stalled" });
    expect(health.oldestPendingAgeMs).toBeGreaterThanOrEqual(5_000);
  });

  it("reports 'memory probe failing' while local runs wait on a probe that keeps failing, and recovers with it", async () => {
    let failing = false;
    let calls = 0;
    const h = harness({
      probeTtlMs: 20,
      memoryProbe: async () => {
        calls++;
        if (failing) throw new Error("vm_stat: not found");
        return { availableGb: 64, totalGb: 64 };
      },
    });
    const first = h.accept("agent", agentPayload());
    await pollUntil(() => stateOf(h, first) === "done", 5_000, "a run on a good reading");
    failing = true;
    const id = h.accept("agent", agentPayload());
    await pollUntil(() => h.dispatcher.health().problem === "memory probe failing", 5_000, "/readyz to report the failing probe");
    expect(h.scheduler.state()).toMatchObject({ running: 0, queued: 1, blocked: { reason: "probe" } });
    expect(h.scheduler.state().probeFailures).toBeGreaterThanOrEqual(3);
    expect(server.requests).toHaveLength(1);
    failing = false;
    const before = calls;
    await pollUntil(() => stateOf(h, id) === "done", 5_000, "the run to start once the probe answers");
    expect(calls).toBeGreaterThan(before);
    expect(h.scheduler.state().probeFailures).toBe(0);
    expect(h.dispatcher.health()).toMatchObject({ ok: true });
  });

  it("graceful close aborts runs past the grace period; their deliveries stay pending", async () => {
    server.setLatency(10_000);
    const h = harness();
    const id = h.accept("agent", agentPayload());
    await pollUntil(() => server.inFlight() === 1, 5_000, "the run to reach the server");
    await h.dispatcher.close(100);
    expect(stateOf(h, id)).toBe("pending");
    expect(h.runLog.get(`run-${id}`)?.status).toBe("cancelled");
  });
});

describe("dispatcher replay (a dead delivery can be replayed)", () => {
  const failing = { defaults: { model: "local/llama3.1:8b", heartbeat: { every: "0m" }, runtime: { type: "openai", maxAttempts: 1 } } };
  /** Model calls for the delivery's message: how often it actually ran. */
  const hello = () => server.chatRequests().filter((r) => r.body.messages.at(-1).content === "hello").length;
  /** What a delivery that failed every attempt leaves behind, written by hand: two failed runs, the last with a dead reason. */
  function deadByHand(h: Harness): string {
    const id = h.accept("agent", agentPayload());
    const base = { kind: "agent" as const, agentId: "main", sessionKey: "agent:main:hook:s1", deliveryIds: [id], finishedAt: Date.now(), errorCode: "ERR_RUNTIME_HTTP" };
    h.runLog.write({ ...base, id: `run-${id}`, status: "error", attempt: 1 });
    h.runLog.write({ ...base, id: `run-${id}-r2`, status: "error", attempt: 2, deadReason: "failed 2 times (last: ERR_RUNTIME_HTTP)" });
    h.journal.settle(id, "dead");
    return id;
  }
  const timeline = (h: Harness, id: string) => h.runLog.forDelivery(id).map((r) => [r.kind, r.status, r.attempt]);

  it("dead → replay → done: the replay gets a fresh set of attempts and the run log keeps the old failures", async () => {
    server.queueFaults({ status: 500 }, { status: 500 });
    const h = harness({ maxAttempts: 2, agents: failing });
    const id = h.accept("agent", agentPayload());
    await pollUntil(() => stateOf(h, id) === "dead", 5_000, "the delivery to be dead");
    expect(h.journal.list("dead").map((d) => d.deliveryId)).toEqual([id]);

    expect(h.dispatcher.replay(id, "test")).toEqual({ ok: true, deliveryId: id });
    await pollUntil(() => stateOf(h, id) === "done", 5_000, "the replayed delivery to be done");
    const runs = h.runLog.forDelivery(id);
    expect(runs.map((r) => [r.kind, r.status, r.attempt])).toEqual([
      ["agent", "error", 1],
      ["agent", "error", 2],
      ["replay", "replayed", 2],
      ["agent", "ok", 3],
    ]);
    expect(runs[1]!.deadReason).toBe("failed 2 times (last: ERR_RUNTIME_HTTP)");
    expect(runs[2]).toMatchObject({ replayedBy: "test", agentId: "main" });
    expect(runs[3]!.id).toBe(`run-${id}-r3`);
    expect(hello()).toBe(3);
    // Settled again: a second replay is refused, and writes no marker.
    expect(h.dispatcher.replay(id)).toEqual({ ok: false, code: "ERR_DELIVERY_NOT_DEAD", message: "delivery is not dead" });
    expect(h.runLog.forDelivery(id)).toHaveLength(4);
  });

  it("a replayed delivery that fails again goes dead again after a full set of attempts", async () => {
    server.queueFaults({ status: 500 }, { status: 500 }, { status: 500 }, { status: 500 });
    const h = harness({ maxAttempts: 2, agents: failing });
    const id = h.accept("agent", agentPayload());
    await pollUntil(() => stateOf(h, id) === "dead", 5_000, "the delivery to be dead");
    expect(h.dispatcher.replay(id).ok).toBe(true);
    await pollUntil(() => stateOf(h, id) === "dead" && h.runLog.forDelivery(id).length === 5 && h.runLog.forDelivery(id), 5_000, "dead again");
    expect(timeline(h, id)).toEqual([
      ["agent", "error", 1],
      ["agent", "error", 2],
      ["replay", "replayed", 2],
      ["agent", "error", 3],
      ["agent", "error", 4],
    ]);
    expect(h.runLog.forDelivery(id)[4]!.deadReason).toBe("failed 2 times (last: ERR_RUNTIME_HTTP)");
    expect(hello()).toBe(4);
  });

  it("a dead wake is replayed into the main session: a fresh heartbeat consumes it and settles it done", async () => {
    server.queueFaults({ status: 500 }, { status: 500 });
    const h = harness({ maxAttempts: 2, agents: failing });
    const id = h.accept("wake", { text: "disk almost full", mode: "now" });
    await pollUntil(() => stateOf(h, id) === "dead", 5_000, "the wake to be dead");
    expect(h.dispatcher.replay(id)).toEqual({ ok: true, deliveryId: id });
    await pollUntil(() => stateOf(h, id) === "done", 5_000, "the replayed wake to be done");
    expect(timeline(h, id)).toEqual([
      ["heartbeat", "error", 1],
      ["heartbeat", "error", 2],
      ["replay", "replayed", 2],
      ["heartbeat", "ok", 1],
    ]);
    expect(server.chatRequests().at(-1)!.body.messages.at(-1).content).toMatch(/^System: disk almost full\n\n/);
  });

  it("refuses an unknown, a pending and a done delivery without writing a marker", async () => {
    const h = harness({ start: false });
    expect(h.dispatcher.replay("no-such")).toEqual({ ok: false, code: "ERR_DELIVERY_NOT_FOUND", message: "delivery not found" });
    const pending = h.accept("agent", agentPayload());
    expect(h.dispatcher.replay(pending)).toEqual({ ok: false, code: "ERR_DELIVERY_NOT_DEAD", message: "delivery is not dead" });
    h.journal.settle(pending, "done");
    expect(h.dispatcher.replay(pending)).toMatchObject({ ok: false, code: "ERR_DELIVERY_NOT_DEAD" });
    expect(h.runLog.forDelivery(pending)).toEqual([]);
  });

  it("crash after the marker, before the revive: still dead after restart; replaying again runs it once", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "clawgate-dispatch-"));
    try {
      const first = harness({ stateDir, start: false });
      const id = deadByHand(first);
      first.runLog.write({ id: "replay-crashed", kind: "replay", agentId: "main", sessionKey: "", status: "replayed", deliveryIds: [id], attempt: 2, finishedAt: Date.now() });
      await first.stop();

      const second = harness({ stateDir }); // start() sweeps the journal at once: a dead delivery is not picked up
      expect(stateOf(second, id)).toBe("dead");
      expect(second.dispatcher.held()).toBe(0);
      expect(second.dispatcher.replay(id).ok).toBe(true);
      await pollUntil(() => stateOf(second, id) === "done", 5_000, "the replayed delivery to be done");
      expect(timeline(second, id)).toEqual([
        ["agent", "error", 1],
        ["agent", "error", 2],
        ["replay", "replayed", 2],
        ["replay", "replayed", 2],
        ["agent", "ok", 3],
      ]);
      expect(hello()).toBe(1);
    } finally {
      for (const h of open.splice(0)) await h.stop();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it("crash after the revive, before the run: the next start runs it once with a fresh set of attempts", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "clawgate-dispatch-"));
    try {
      const first = harness({ stateDir, start: false });
      const id = deadByHand(first);
      // Not started: replay marks and revives, and leaves the run to the next start (what a crash here leaves).
      expect(first.dispatcher.replay(id)).toEqual({ ok: true, deliveryId: id });
      expect(stateOf(first, id)).toBe("pending");
      expect(hello()).toBe(0);
      await first.stop();

      const second = harness({ stateDir });
      await pollUntil(() => stateOf(second, id) === "done", 5_000, "the revived delivery to run");
      expect(timeline(second, id)).toEqual([
        ["agent", "error", 1],
        ["agent", "error", 2],
        ["replay", "replayed", 2],
        ["agent", "ok", 3],
      ]);
      expect(hello()).toBe(1);
    } finally {
      for (const h of open.splice(0)) await h.stop();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
