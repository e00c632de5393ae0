/**
 * Assembles dispatch for the node agent from the loaded config: memory probe → settings → scheduler, model memory,
 * agents and their runtimes, run log, sessions, system events and the dispatcher; plus its Prometheus gauges.
 * Config mistakes throw here, before anything listens, naming the field.
 */
import type { Registry } from "prom-client";
import { Gauge } from "prom-client";
import type { Config } from "../config/config-schema.ts";
import type { IntakeJournal } from "../intake/intake-journal.ts";
import type { SecretsReloader } from "../secrets/secrets-reloader.ts";
import { createSessionStore } from "../sessions/session-store.ts";
import { createSystemEventQueues } from "../sessions/system-events.ts";
import { type AgentTable, compileAgentTable } from "./agent-table.ts";
import { resolveDispatchSettings } from "./dispatch-settings.ts";
import type { DaemonIo } from "../io/daemon-io.ts";
import { type Dispatcher, type DispatcherLogger, createDispatcher } from "./dispatcher.ts";
import { type MemoryProbe, createMemoryProbe } from "./memory-probe.ts";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../config/atomic-write.ts";
import { type ModelMemory, createModelMemory } from "./model-memory.ts";
import type { ModelMemoryAdmin } from "./model-routes.ts";
import { type RunLog, openRunLog } from "./run-log.ts";
import { loggingRunOutcomes } from "./run-outcome-log.ts";
import { type Scheduler, createScheduler } from "./scheduler.ts";
import { registerSchedulerMetrics } from "./scheduler-metrics.ts";

export interface DispatchService {
  readonly dispatcher: Dispatcher;
  readonly scheduler: Scheduler;
  readonly runLog: RunLog;
  readonly agents: AgentTable;
  /** Model memory for the admin API and `clawgate dispatch models`: list, and reset one model's learning. */
  readonly models: ModelMemoryAdmin;
  /** Adds the dispatch gauges to the agent's registry. */
  registerMetrics(registry: Registry): void;
}

export interface DispatchServiceOptions {
  readonly config: Config;
  readonly stateDir: string;
  readonly journal: IntakeJournal;
  readonly secrets: SecretsReloader;
  readonly logger: DispatcherLogger;
  /** Clock, timers and ids for the scheduler and the dispatcher; clock and spawn for the runtimes. */
  readonly io: Pick<DaemonIo, "now" | "setTimer" | "clearTimer" | "randomUUID" | "spawn">;
  readonly env?: NodeJS.ProcessEnv;
  readonly memoryProbe?: MemoryProbe;
}

const RUN_STATUSES = ["running", "ok", "error", "timeout", "memory_limit", "cancelled", "interrupted", "skipped", "replayed"] as const;

export async function createDispatchService(options: DispatchServiceOptions): Promise<DispatchService> {
  const { config, secrets } = options;
  const probe = options.memoryProbe ?? createMemoryProbe();
  const sample = await probe();
  const settings = resolveDispatchSettings({ agents: config.agents, dispatch: config.clawgate?.dispatch }, sample.totalGb);
  const providers = ((config as { models?: { providers?: Record<string, { baseUrl?: unknown; headers?: unknown }> } }).models?.providers ?? {}) as Record<
    string,
    { baseUrl?: unknown; headers?: unknown } | undefined
  >;
  const agents = compileAgentTable({ agents: config.agents, providers, secret: (path) => secrets.snapshot().get(path), io: options.io, ...(options.env ? { env: options.env } : {}) });
  const scheduler = createScheduler({
    budgetGb: settings.budgetGb,
    ...(settings.exclusiveAboveGb !== undefined ? { exclusiveAboveGb: settings.exclusiveAboveGb } : {}),
    headroomGb: settings.headroomGb,
    maxQueue: settings.maxQueue,
    maxConcurrent: settings.maxConcurrent,
    perAgentMaxConcurrent: settings.perAgentMaxConcurrent,
    memoryProbe: probe,
    probeTtlMs: settings.probeTtlMs,
    io: options.io,
  });
  const modelMemory = persistentModelMemory(join(options.stateDir, MODEL_MEMORY_FILE), settings.modelMemory, options.logger);
  const runLog = loggingRunOutcomes(openRunLog(options.stateDir), options.logger);
  const dispatcher = createDispatcher({
    journal: options.journal,
    scheduler,
    modelMemory,
    runLog,
    sessions: createSessionStore(options.stateDir),
    events: createSystemEventQueues(),
    agents,
    logger: options.logger,
    maxQueue: settings.maxQueue,
    maxThinking: settings.maxThinking,
    retryDelayMs: settings.retryDelayMs,
    enabled: config.agents !== undefined,
    io: options.io,
  });
  secrets.onEvent((event) => dispatcher.onSecretsEvent(event));
  const models: ModelMemoryAdmin = {
    list() {
      // Every model the daemon knows: the catalog, the agents' models (local when their runtime is), anything learned.
      const local = new Map<string, boolean>();
      for (const m of Object.keys(settings.modelMemory.models ?? {})) local.set(m, false);
      for (const a of agents.agents.values()) {
        for (const m of [...a.models, ...(a.heartbeat.model !== undefined ? [a.heartbeat.model] : [])]) local.set(m, (local.get(m) ?? false) || a.runtime?.local === true);
      }
      for (const m of modelMemory.learnedModels()) local.set(m, true);
      return { budgetGb: settings.budgetGb, models: [...local].sort(([a], [b]) => a.localeCompare(b)).map(([m, l]) => modelMemory.report(m, { local: l })) };
    },
    reset: (model) => modelMemory.reset(model),
  };

  return {
    dispatcher,
    scheduler,
    runLog,
    agents,
    models,
    registerMetrics(registry) {
      new Gauge({
        name: "clawgate_dispatch_queue_depth",
        help: "Runs waiting in the scheduler, by priority (high = heartbeats and now-wakes).",
        labelNames: ["priority"] as const,
        registers: [registry],
        collect() {
          const st = scheduler.state();
          this.set({ priority: "high" }, st.queuedHigh);
          this.set({ priority: "normal" }, st.queued - st.queuedHigh);
        },
      });
      // queued, running, reserved/budget GiB, host available GiB, blocked{reason}, exclusive, per-agent running,
      // runs_total{status} and decision counters: the scheduler's own set (docs/dispatch.md "Memory-aware scheduling").
      registerSchedulerMetrics(registry, () => scheduler.state());
      new Gauge({
        name: "clawgate_dispatch_oldest_pending_seconds",
        help: "Age of the oldest pending intake delivery (0 when none); /readyz fails when it is overdue while nothing runs.",
        registers: [registry],
        collect() {
          this.set((dispatcher.health().oldestPendingAgeMs ?? 0) / 1000);
        },
      });
      new Gauge({
        name: "clawgate_dispatch_model_estimate_gb",
        help: "Each model's memory estimate (GiB): what a run of it reserves now (configured, derived or learned; never above its hard limit).",
        labelNames: ["model"] as const,
        registers: [registry],
        collect() {
          this.reset();
          for (const m of models.list().models) this.set({ model: m.model }, m.estimateGb);
        },
      });
      new Gauge({
        name: "clawgate_dispatch_model_limit_kills",
        help: "Runs of each model killed for crossing its hard memory limit (status memory_limit), since its learning was last reset.",
        labelNames: ["model"] as const,
        registers: [registry],
        collect() {
          this.reset();
          for (const m of models.list().models) this.set({ model: m.model }, m.limitKills);
        },
      });
      new Gauge({
        name: "clawgate_runs",
        help: "Run records by status (from the run log, since it was created).",
        labelNames: ["status"] as const,
        registers: [registry],
        collect() {
          const counts = runLog.counts();
          for (const status of RUN_STATUSES) this.set({ status }, counts[status] ?? 0);
        },
      });
    },
  };
}

/** Learned peaks survive restarts: `<stateDir>/model-memory.json` (0600), rewritten atomically after each new peak. */
export const MODEL_MEMORY_FILE = "model-memory.json";

function persistentModelMemory(path: string, base: Parameters<typeof createModelMemory>[0], logger: DispatcherLogger): ModelMemory {
  let learned: Record<string, unknown> | undefined;
  try {
    const parsed = JSON.parse(readFileSync(path, "utf8")) as unknown;
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) learned = parsed as typeof learned;
  } catch (error) {
    // Missing on a first start; unreadable → start from the configured estimates (and say so).
    if ((error as { code?: string }).code !== "ENOENT") logger.warn({ err: error, path }, "ignoring unreadable learned model memory");
  }
  const inner = createModelMemory({ ...base, ...(learned ? { learned } : {}) });
  let writing: Promise<void> = Promise.resolve();
  const save = () => {
    const data = JSON.stringify(inner.snapshot());
    writing = writing.then(() => writeFileAtomic(path, data)).catch((error: unknown) => logger.warn({ err: error, path }, "could not save learned model memory"));
  };
  return {
    estimate: (model, hint) => inner.estimate(model, hint),
    snapshot: () => inner.snapshot(),
    report: (model, hint) => inner.report(model, hint),
    learnedModels: () => inner.learnedModels(),
    recordPeak(model, peakGb, outcome) {
      const estimate = inner.recordPeak(model, peakGb, outcome);
      save();
      return estimate;
    },
    reset(model) {
      const had = inner.reset(model);
      if (had) save();
      return had;
    },
  };
}
