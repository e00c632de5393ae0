/**
 * Doctor checks on the running daemon's model memory (`GET <admin>/models`): a model whose estimate is above the
 * memory budget has every run given up (ERR_OVER_BUDGET) — a learned one is reset with `clawgate dispatch models
 * --reset <model>`, a configured one needs the config changed — and a model whose runs were killed at their hard
 * limit is named. docs/dispatch.md describes the rules.
 */
import { ADMIN_PREFIX } from "../../shared/constants.ts";
import type { ModelsAnswer } from "../dispatch/model-routes.ts";
import type { DoctorFinding } from "./doctor-finding.ts";

const TIMEOUT_MS = 5_000;

/** The findings for one `GET /models` answer. */
export function modelMemoryFindings(answer: ModelsAnswer): DoctorFinding[] {
  const findings: DoctorFinding[] = [];
  for (const m of answer.models) {
    if (m.estimateGb > answer.budgetGb) {
      const learned = m.learnedGb !== null;
      findings.push({
        checkId: learned ? "dispatch.learned_estimate_over_budget" : "dispatch.model_over_budget",
        severity: "warn",
        title: `runs of ${m.model} are given up: its estimate is above the memory budget`,
        detail: `${m.model} reserves ${m.estimateGb.toFixed(2)} GiB (${learned ? `learned from ${m.samples} run${m.samples === 1 ? "" : "s"}` : m.baseSource}), the budget is ${answer.budgetGb.toFixed(2)} GiB`,
        remediation: learned
          ? `clawgate dispatch models --reset ${m.model}`
          : `lower agents.defaults.models["${m.model}"].memoryGb, raise clawgate.dispatch.memoryBudgetGb (GiB), or pick a smaller model`,
      });
    }
    if (m.limitKills > 0) {
      findings.push({
        checkId: "dispatch.model_limit_kills",
        severity: "info",
        title: `runs of ${m.model} were killed at their hard memory limit`,
        detail: `${m.limitKills} run${m.limitKills === 1 ? "" : "s"} crossed ${m.hardLimitGb === null ? "the" : `the ${m.hardLimitGb.toFixed(2)} GiB`} limit; their peaks did not teach the estimate`,
        remediation: `clawgate dispatch models shows the last peaks; if the model needs more, raise agents.defaults.models["${m.model}"].memoryLimitGb (GiB); clawgate dispatch models --reset ${m.model} clears the count`,
      });
    }
  }
  return findings;
}

/** Asks the running daemon at `url` for its model memory; no findings when it is not running or too old to say. */
export async function probeModelMemory(url: string | undefined, adminToken: string | undefined, fetchImpl: typeof fetch): Promise<DoctorFinding[]> {
  if (url === undefined || adminToken === undefined) return [];
  try {
    const response = await fetchImpl(new URL(`${ADMIN_PREFIX}/models`, url), { headers: { authorization: `Bearer ${adminToken}` }, signal: AbortSignal.timeout(TIMEOUT_MS) });
    if (!response.ok) return [];
    const body = (await response.json()) as { ok?: unknown; budgetGb?: unknown; models?: unknown };
    if (body.ok !== true || typeof body.budgetGb !== "number" || !Array.isArray(body.models)) return [];
    return modelMemoryFindings({ budgetGb: body.budgetGb, models: body.models as ModelsAnswer["models"] });
  } catch {
    // Not running, or not answering: the node checks report that.
    return [];
  }
}
