/** Config → scheduler settings: the default budget (total minus the OS reserve), refusals that name the field, caps, and the thinking clamp. */
import { describe, expect, it } from "vitest";
import { DispatchConfigError, clampThinking, resolveDispatchSettings } from "../../../node/dispatch/dispatch-settings.ts";

describe("resolveDispatchSettings", () => {
  it("defaults the budget to total memory minus max(4 GiB, 15 %)", () => {
    expect(resolveDispatchSettings({}, 36).budgetGb).toBeCloseTo(36 - 5.4, 9);
    expect(resolveDispatchSettings({}, 16).budgetGb).toBe(12);
    expect(resolveDispatchSettings({ dispatch: { reserveGb: 8 } }, 64).budgetGb).toBe(56);
    expect(resolveDispatchSettings({ dispatch: { memoryBudgetGb: 30 } }, 64).budgetGb).toBe(30);
  });

  it("refuses a budget above the host's memory or a reserve that leaves nothing, naming the field", () => {
    expect(() => resolveDispatchSettings({ dispatch: { memoryBudgetGb: 48 } }, 36)).toThrow(new DispatchConfigError("clawgate.dispatch.memoryBudgetGb", "48 GiB exceeds this host's 36.0 GiB of memory"));
    expect(() => resolveDispatchSettings({ dispatch: { reserveGb: 40 } }, 36)).toThrow(/^clawgate\.dispatch\.reserveGb: 40 GiB leaves no memory/);
  });

  it("takes the global cap from dispatch, then agents.defaults; per-agent caps from agents.list", () => {
    const s = resolveDispatchSettings({ agents: { defaults: { maxConcurrent: 3 }, list: [{ id: "main", maxConcurrent: 1 }, { id: "ops" }] } }, 32);
    expect(s).toMatchObject({ maxConcurrent: 3, perAgentMaxConcurrent: { main: 1 }, maxQueue: 100, headroomGb: 1, probeTtlMs: 1000 });
    expect(resolveDispatchSettings({ agents: { defaults: { maxConcurrent: 3 } }, dispatch: { maxConcurrent: 6 } }, 32).maxConcurrent).toBe(6);
  });

  it("turns retryDelaySeconds into the dispatcher's first retry delay (default 5 s)", () => {
    expect(resolveDispatchSettings({}, 32).retryDelayMs).toBe(5_000);
    expect(resolveDispatchSettings({ dispatch: { retryDelaySeconds: 0.25 } }, 32).retryDelayMs).toBe(250);
  });

  it("passes the model catalog to model memory", () => {
    const s = resolveDispatchSettings({ agents: { defaults: { models: { "ollama/x:7b": { memoryGb: 5 } } } } }, 32);
    expect(s.modelMemory.models).toEqual({ "ollama/x:7b": { memoryGb: 5 } });
  });
});

describe("clampThinking", () => {
  it("clamps a level above the cap and says so; leaves others alone", () => {
    expect(clampThinking("high", "low")).toEqual({ level: "low", clamped: true });
    expect(clampThinking("minimal", "low")).toEqual({ level: "minimal", clamped: false });
    expect(clampThinking("adaptive", "xhigh")).toEqual({ level: "xhigh", clamped: true });
    expect(clampThinking("adaptive", undefined)).toEqual({ level: "adaptive", clamped: false });
  });
});
