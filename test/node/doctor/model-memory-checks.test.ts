/**
 * The doctor's model memory checks over a real ModelMemory's reports: an estimate above the budget is a warning with
 * the command that fixes it (reset, for a learned one; the config key, for a configured one), and limit kills are named.
 */
import { describe, expect, it } from "vitest";
import { createModelMemory } from "../../../node/dispatch/model-memory.ts";
import { modelMemoryFindings } from "../../../node/doctor/model-memory-checks.ts";

describe("model memory findings", () => {
  it("a learned estimate above the budget names `clawgate dispatch models --reset <model>`", () => {
    // An older clawgate let a runaway teach 12 GiB; this host's budget is 10 GiB (the limit, 14 GiB, is above it).
    const mm = createModelMemory({ models: { "ollama/m": { memoryGb: 6, memoryLimitGb: 14 } }, learned: { "ollama/m": { memoryGb: 12, samples: 2 } } });
    const findings = modelMemoryFindings({ budgetGb: 10, models: [mm.report("ollama/m", { local: true })] });
    expect(findings).toEqual([
      {
        checkId: "dispatch.learned_estimate_over_budget",
        severity: "warn",
        title: "runs of ollama/m are given up: its estimate is above the memory budget",
        detail: "ollama/m reserves 12.00 GiB (learned from 2 runs), the budget is 10.00 GiB",
        remediation: "clawgate dispatch models --reset ollama/m",
      },
    ]);
    mm.reset("ollama/m");
    expect(modelMemoryFindings({ budgetGb: 10, models: [mm.report("ollama/m", { local: true })] })).toEqual([]);
  });

  it("a configured estimate above the budget names the config key; limit kills are reported as info", () => {
    const mm = createModelMemory({ models: { "ollama/big": { memoryGb: 40 }, "local/hog": { memoryGb: 0.2, memoryLimitGb: 0.3 } } });
    mm.recordPeak("local/hog", 0.45, "memory_limit");
    const findings = modelMemoryFindings({ budgetGb: 32, models: [mm.report("ollama/big"), mm.report("local/hog")] });
    expect(findings.map((f) => [f.checkId, f.severity, f.remediation])).toEqual([
      ["dispatch.model_over_budget", "warn", 'lower agents.defaults.models["ollama/big"].memoryGb, raise clawgate.dispatch.memoryBudgetGb (GiB), or pick a smaller model'],
      [
        "dispatch.model_limit_kills",
        "info",
        'clawgate dispatch models shows the last peaks; if the model needs more, raise agents.defaults.models["local/hog"].memoryLimitGb (GiB); clawgate dispatch models --reset local/hog clears the count',
      ],
    ]);
    expect(findings[1]!.detail).toBe("1 run crossed the 0.30 GiB limit; their peaks did not teach the estimate");
  });
});
