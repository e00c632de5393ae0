/**
 * Run-path benchmark: what the dispatcher's durability costs per agent run — journal insert and settle, two
 * fsynced run-log lines, a fsynced transcript append, the scheduler — against the same openai runtime call made
 * directly, both against a loopback model server answering after MODEL_MS (a small, fast local model). Runs are
 * sequential, interleaved in rounds so machine noise hits both sides alike.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AgentsSchema } from "../node/config/agents-schema.ts";
import { compileAgentTable } from "../node/dispatch/agent-table.ts";
import { createDispatcher } from "../node/dispatch/dispatcher.ts";
import { createModelMemory } from "../node/dispatch/model-memory.ts";
import { openRunLog } from "../node/dispatch/run-log.ts";
import { createScheduler } from "../node/dispatch/scheduler.ts";
import { openIntakeJournal } from "../node/intake/intake-journal.ts";
import { createSessionStore } from "../node/sessions/session-store.ts";
import { createSystemEventQueues } from "../node/sessions/system-events.ts";
import { startModelServer } from "../test/helpers/model-server.ts";
import type { BenchFigure, BenchOptions } from "./bench-types.ts";
import { realIo } from "../test/helpers/daemon-io.ts";

const MODEL_MS = Number(process.env["BENCH_RUNS_MODEL_MS"] ?? 50);

interface Size {
  /** Warm-up runs per side. */
  readonly warmup: number;
  readonly rounds: number;
  /** Sequential runs per side per round. */
  readonly perRound: number;
}
const FULL: Size = { warmup: 10, rounds: 5, perRound: Number(process.env["BENCH_RUNS_PER_ROUND"] ?? 40) };
/** Every run still goes through journal, run log, transcript and scheduler against the loopback model. */
const SMOKE: Size = { warmup: 2, rounds: 1, perRound: 10 };
const TARGET = 1.25;

export default async function runsBench({ smoke }: BenchOptions): Promise<BenchFigure[]> {
  const { warmup, rounds, perRound } = smoke ? SMOKE : FULL;
  const server = await startModelServer({ latencyMs: MODEL_MS });
  const stateDir = mkdtempSync(join(tmpdir(), "clawgate-bench-runs-"));
  const silent = { info() {}, warn() {}, error() {} };
  try {
    const agents = AgentsSchema.parse({ defaults: { model: "local/llama3.1:8b", heartbeat: { every: "0m" }, models: { "local/llama3.1:8b": { memoryGb: 6 } } } });
    const table = compileAgentTable({ io: realIo, agents, providers: { local: { baseUrl: `${server.url}/v1` } }, secret: () => undefined });
    const journal = openIntakeJournal(stateDir);
    const runLog = openRunLog(stateDir);
    const scheduler = createScheduler({ io: realIo, budgetGb: 32, maxQueue: 1000, maxConcurrent: 4, memoryProbe: async () => ({ availableGb: 64, totalGb: 64 }) });
    const dispatcher = createDispatcher({ io: realIo,
      journal,
      scheduler,
      modelMemory: createModelMemory(),
      runLog,
      sessions: createSessionStore(stateDir),
      events: createSystemEventQueues(),
      agents: table,
      logger: silent,
      maxQueue: 1000,
      sweepIntervalMs: 3_600_000,
    });
    dispatcher.start();
    const runtime = table.get("main")!.runtime!;

    let seq = 0;
    const bare = async () => {
      const t = performance.now();
      await runtime.run({ runId: `b${seq}`, agentId: "main", sessionKey: `agent:main:hook:b${seq++ % 8}`, model: "local/llama3.1:8b", history: [], message: "ping", signal: new AbortController().signal });
      return performance.now() - t;
    };
    const dispatched = async () => {
      const id = `d${seq++}`;
      const t = performance.now();
      // A wakeMode next-heartbeat run with heartbeats off: only the agent run itself, no follow-up heartbeat.
      const { delivery } = journal.accept({
        deliveryId: id,
        kind: "agent",
        payload: JSON.stringify({ message: "ping", sessionKey: `hook:${seq % 8}`, wakeMode: "next-heartbeat" }),
        response: JSON.stringify({ ok: true, runId: id }),
        receivedAt: Date.now(),
      });
      dispatcher.onAccepted(delivery);
      while (journal.get(id)?.state === "pending") await new Promise((r) => setImmediate(r));
      const elapsed = performance.now() - t;
      // A run that died would time as fast as a good one: only completed runs count.
      const state = journal.get(id)?.state;
      if (state !== "done") throw new Error(`dispatched run ${id} ended ${state ?? "missing"}, not done`);
      return elapsed;
    };

    for (let i = 0; i < warmup; i++) {
      await bare();
      await dispatched();
    }
    const bareMs: number[] = [];
    const dispMs: number[] = [];
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < perRound; i++) bareMs.push(await bare());
      for (let i = 0; i < perRound; i++) dispMs.push(await dispatched());
    }
    await dispatcher.close(1_000);
    journal.close();
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const b = median(bareMs);
    const d = median(dispMs);
    return [
      {
        figure: `dispatched run vs bare runtime call (${MODEL_MS} ms model)`,
        kind: "performance",
        value: d / b,
        unit: "×",
        target: `≤ ${TARGET}×`,
        baseline: "the same openai runtime call, direct",
        pass: d / b <= TARGET,
        detail: `median ${d.toFixed(1)} ms vs ${b.toFixed(1)} ms: ${(d - b).toFixed(1)} ms per run for journal, run log, transcript (4 fsyncs) and scheduling; ${bareMs.length} runs each`,
      },
    ];
  } finally {
    await server.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
}
