/** Prometheus gauges and counters (prom-client) read from the scheduler's `state()` at scrape time, for the node agent's /metrics. */
import { Counter, Gauge, type Registry } from "prom-client";
import type { RunStatus, SchedulerState } from "./scheduler.ts";

const STATUSES: readonly RunStatus[] = ["ok", "error", "timeout", "memory_limit", "cancelled"];

/**
 * Registers the dispatch metrics on `registry`. `state` (a cheap snapshot) is read by each metric at scrape time,
 * so the scheduler's hot path never touches prom-client.
 */
export function registerSchedulerMetrics(registry: Registry, state: () => SchedulerState): void {
  const gauge = (name: string, help: string, pick: (s: SchedulerState) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(pick(state()));
      },
    });
  gauge("clawgate_dispatch_queued", "Runs waiting in the dispatch queue.", (s) => s.queued);
  gauge("clawgate_dispatch_running", "Runs executing now.", (s) => s.running);
  gauge("clawgate_dispatch_reserved_gb", "Memory reserved by running local runs (GiB).", (s) => s.reservedGb);
  gauge("clawgate_dispatch_budget_gb", "The dispatch memory budget (GiB).", (s) => s.budgetGb);
  gauge("clawgate_dispatch_host_available_gb", "Host memory available at the last probe reading (GiB; -1 before the first).", (s) => s.availableGb ?? -1);
  gauge("clawgate_dispatch_probe_failures", "Memory probe readings that failed in a row (local runs wait while it fails).", (s) => s.probeFailures);
  gauge("clawgate_dispatch_exclusive_running", "1 while an exclusive (heavy) run executes.", (s) => (s.exclusiveRunning ? 1 : 0));
  new Gauge({
    name: "clawgate_dispatch_blocked",
    help: "1 for the reason the first waiting run cannot start (memory, probe, exclusive, session, agent_cap, global_cap).",
    labelNames: ["reason"] as const,
    registers: [registry],
    collect() {
      this.reset();
      const b = state().blocked;
      if (b !== null) this.set({ reason: b.reason }, 1);
    },
  });
  new Gauge({
    name: "clawgate_dispatch_agent_running",
    help: "Runs executing now, by agent.",
    labelNames: ["agent"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [agent, a] of Object.entries(state().perAgent)) this.set({ agent }, a.running);
    },
  });
  // Counters mirror the scheduler's own monotonic counts: each adds the difference since the last scrape.
  const last = { decisions: 0, seconds: 0, finished: Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<RunStatus, number> };
  new Counter({
    name: "clawgate_dispatch_runs_total",
    help: "Finished runs by status.",
    labelNames: ["status"] as const,
    registers: [registry],
    collect() {
      const s = state();
      for (const status of STATUSES) {
        const d = s.finished[status] - last.finished[status];
        if (d > 0) this.inc({ status }, d);
        last.finished[status] = s.finished[status];
      }
    },
  });
  new Counter({
    name: "clawgate_dispatch_decisions_total",
    help: "Scheduling decisions made.",
    registers: [registry],
    collect() {
      const s = state();
      if (s.decisions > last.decisions) this.inc(s.decisions - last.decisions);
      last.decisions = s.decisions;
    },
  });
  new Counter({
    name: "clawgate_dispatch_decision_seconds_total",
    help: "Time spent in scheduling decisions.",
    registers: [registry],
    collect() {
      const s = state();
      if (s.decisionSecondsTotal > last.seconds) this.inc(s.decisionSecondsTotal - last.seconds);
      last.seconds = s.decisionSecondsTotal;
    },
  });
}
