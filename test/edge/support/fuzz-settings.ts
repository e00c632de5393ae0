/**
 * The edge fuzz properties' seed and run count: fixed in CI, or a campaign's CLAWGATE_FUZZ_SEED /
 * CLAWGATE_FUZZ_RUNS, which vitest.config.ts passes into workerd as bindings (the isolate has no host env).
 */
import { env } from "cloudflare:test";

/** The CI seed of every edge property; a campaign (test/node/server/fuzz-campaign.ts) replaces it. */
export const CI_SEED = 20261124;

function binding(name: string): number | undefined {
  const raw = (env as unknown as Record<string, unknown>)[name];
  if (raw === undefined || raw === "") return undefined;
  if (typeof raw !== "string" || !/^\d+$/.test(raw)) throw new TypeError(`${name} must be a non-negative integer, got "${String(raw)}"`);
  return Number(raw);
}

/**
 * fast-check's `{ seed, numRuns }` for one property: CI runs `ciRuns`; a campaign runs CLAWGATE_FUZZ_RUNS times
 * `campaignShare` (below 1 for a property whose run is a whole sequence of actions, or costs a real DNS lookup).
 */
export function fuzzParameters(ciRuns: number, campaignShare = 1): { seed: number; numRuns: number } {
  const campaignRuns = binding("CLAWGATE_FUZZ_RUNS");
  return { seed: binding("CLAWGATE_FUZZ_SEED") ?? CI_SEED, numRuns: campaignRuns === undefined ? ciRuns : Math.max(1, Math.ceil(campaignRuns * campaignShare)) };
}

/**
 * The vitest timeout of a property's `it`: generous per run (shrinking a counterexample replays many), so a
 * long campaign on a loaded machine ends with its counterexample or a pass, never a timeout.
 */
export function fuzzTimeoutMs(ciRuns: number, msPerRun = 25, campaignShare = 1): number {
  return Math.max(30_000, fuzzParameters(ciRuns, campaignShare).numRuns * msPerRun + 60_000);
}
