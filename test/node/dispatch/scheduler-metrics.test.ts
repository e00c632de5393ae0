/** Dispatch metrics: the scheduler's state read at scrape time into a real prom-client registry. */
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { registerSchedulerMetrics } from "../../../node/dispatch/scheduler-metrics.ts";
import { createScheduler } from "../../../node/dispatch/scheduler.ts";
import { realIo } from "../../helpers/daemon-io.ts";

const flush = () => new Promise<void>((r) => setImmediate(r));

describe("registerSchedulerMetrics", () => {
  it("exposes queue, memory, blocked reason and finished runs by status", async () => {
    const scheduler = createScheduler({ io: realIo, budgetGb: 10, maxQueue: 10, maxConcurrent: 4, memoryProbe: async () => ({ availableGb: 50, totalGb: 64 }) });
    const registry = new Registry();
    registerSchedulerMetrics(registry, () => scheduler.state());
    let release!: () => void;
    const held = new Promise<string>((r) => (release = () => r("done")));
    const a = scheduler.submit({ id: "a", agentId: "main", sessionKey: "s1", priority: "normal", memoryGb: 8, run: () => held });
    scheduler.submit({ id: "b", agentId: "main", sessionKey: "s2", priority: "normal", memoryGb: 4, run: async () => "x" });
    const failing = scheduler.submit({ id: "c", agentId: "ops", sessionKey: "s3", priority: "normal", memoryGb: 0, run: async () => Promise.reject(new Error("boom")) });
    await flush();
    let text = await registry.metrics();
    expect(text).toContain("clawgate_dispatch_running 1");
    expect(text).toContain("clawgate_dispatch_queued 1");
    expect(text).toContain("clawgate_dispatch_reserved_gb 8");
    expect(text).toContain("clawgate_dispatch_budget_gb 10");
    expect(text).toContain("clawgate_dispatch_host_available_gb 50");
    expect(text).toContain('clawgate_dispatch_blocked{reason="memory"} 1');
    expect(text).toContain('clawgate_dispatch_agent_running{agent="main"} 1');
    expect(text).toContain('clawgate_dispatch_runs_total{status="error"} 1');
    release();
    expect(a.accepted && (await a.done).status).toBe("ok");
    expect(failing.accepted && (await failing.done).status).toBe("error");
    await scheduler.onIdle();
    text = await registry.metrics();
    expect(text).toContain('clawgate_dispatch_runs_total{status="ok"} 2');
    expect(text).toContain('clawgate_dispatch_runs_total{status="error"} 1');
    expect(text).not.toContain("clawgate_dispatch_blocked{");
    expect(text).toMatch(/clawgate_dispatch_decisions_total [1-9]/);
  });
});
