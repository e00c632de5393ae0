/** Whether the node agent is ready for traffic, with the reasons when not: the one rule behind /readyz, the console and `clawgate status`. */
import type { DispatchHealth } from "../dispatch/dispatcher.ts";
import type { IntakeJournal } from "../intake/intake-journal.ts";
import type { SecretsReloader } from "../secrets/secrets-reloader.ts";

export interface Readiness {
  readonly ok: boolean;
  /** One short phrase per problem ("secrets degraded", "dispatch stalled", …); empty when ready. */
  readonly problems: readonly string[];
}

export interface ReadinessSources {
  readonly secrets: Pick<SecretsReloader, "health">;
  readonly journal?: Pick<IntakeJournal, "counts" | "failure"> | undefined;
  readonly dispatchHealth?: (() => DispatchHealth) | undefined;
}

/**
 * Ready: secrets are healthy (not inactive, not degraded on a last-known-good snapshot), the intake journal answers
 * and still takes deliveries, and dispatch makes progress (a pending delivery overdue while nothing runs is a stall).
 */
export function readinessOf(sources: ReadinessSources): Readiness {
  const problems: string[] = [];
  const health = sources.secrets.health();
  if (health !== "healthy") problems.push(`secrets ${health}`);
  try {
    sources.journal?.counts();
    if (sources.journal?.failure()) problems.push("intake journal stopped after a failed WAL sync");
  } catch {
    problems.push("intake journal unavailable");
  }
  const dispatch = sources.dispatchHealth?.();
  if (dispatch && !dispatch.ok && dispatch.problem) problems.push(dispatch.problem);
  return { ok: problems.length === 0, problems };
}
