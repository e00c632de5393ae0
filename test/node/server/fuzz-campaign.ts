/**
 * `npm run fuzz`: a long property campaign over every node route (the CI test, many more runs, a fresh
 * seed each time unless CLAWGATE_FUZZ_SEED is set). Prints the seed first; exits non-zero on a counterexample.
 * Usage: CLAWGATE_FUZZ_RUNS=20000 [CLAWGATE_FUZZ_SEED=123] npm run fuzz
 */
import { spawnSync } from "node:child_process";
import { randomInt } from "node:crypto";
import { fileURLToPath } from "node:url";

function envInt(name: string, fallback: () => number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback();
  if (!/^\d+$/.test(raw)) {
    console.error(`${name} must be a non-negative integer, got "${raw}"`);
    process.exit(2);
  }
  return Number(raw);
}

const seed = envInt("CLAWGATE_FUZZ_SEED", () => randomInt(2 ** 31 - 1));
const runs = envInt("CLAWGATE_FUZZ_RUNS", () => 20_000);
console.log(`fuzz campaign: seed ${seed}, ${runs} runs per property (replay: CLAWGATE_FUZZ_SEED=${seed} CLAWGATE_FUZZ_RUNS=${runs} npm run fuzz)`);

const vitest = fileURLToPath(new URL("../../../node_modules/vitest/vitest.mjs", import.meta.url));
const test = fileURLToPath(new URL("./node-app.fuzz.test.ts", import.meta.url));
const result = spawnSync(process.execPath, [vitest, "run", "--project", "node", test], {
  stdio: "inherit",
  env: { ...process.env, CLAWGATE_FUZZ_SEED: String(seed), CLAWGATE_FUZZ_RUNS: String(runs) },
});
if (result.status !== 0) console.error(`fuzz campaign failed (seed ${seed}): see the counterexample above`);
process.exitCode = result.status ?? 1;
