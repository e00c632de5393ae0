/**
 * `npm run fuzz`: one long property campaign over both halves — the node agent's routes (vitest project `node`)
 * and the edge Worker in workerd (project `edge`: hook routes under every auth method, operator API and outbox,
 * outbox sequences, the scheduled handler, caller auth) — with one seed, printed first with its replay line.
 * `npm run fuzz -- node` or `-- edge` runs one half. Exits non-zero on a counterexample.
 * Usage: CLAWGATE_FUZZ_RUNS=20000 [CLAWGATE_FUZZ_SEED=123] npm run fuzz [-- node|edge]
 * (runs per property; the seed is fresh unless given. The edge properties read both through vitest.config.ts,
 * which passes them into workerd as bindings.)
 */
import { spawn } from "node:child_process";
import { randomInt } from "node:crypto";
import { readdirSync } from "node:fs";
import { relative } from "node:path";
import { createInterface } from "node:readline";
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

const HALVES = ["node", "edge"] as const;
type Half = (typeof HALVES)[number];
const wanted = process.argv.slice(2);
const bad = wanted.find((arg) => !HALVES.includes(arg as Half));
if (bad !== undefined) {
  console.error(`npm run fuzz: unknown campaign "${bad}" (expected node, edge, or nothing for both)`);
  process.exit(2);
}
const halves: Half[] = wanted.length === 0 ? [...HALVES] : HALVES.filter((h) => wanted.includes(h));

const seed = envInt("CLAWGATE_FUZZ_SEED", () => randomInt(2 ** 31 - 1));
const runs = envInt("CLAWGATE_FUZZ_RUNS", () => 20_000);
const target = wanted.length === 0 ? "" : ` -- ${halves.join(" ")}`;
console.log(`fuzz campaign (${halves.join(" + ")}): seed ${seed}, ${runs} runs per property (replay: CLAWGATE_FUZZ_SEED=${seed} CLAWGATE_FUZZ_RUNS=${runs} npm run fuzz${target})`);

const root = fileURLToPath(new URL("../../../", import.meta.url));
const vitest = `${root}node_modules/vitest/vitest.mjs`;
/** The edge's properties: every `*.fuzz.test.ts` and `*.property.test.ts` under test/edge. */
const edgeFiles = (readdirSync(`${root}test/edge`, { recursive: true }) as string[])
  .filter((file) => /\.(fuzz|property)\.test\.ts$/.test(file))
  .map((file) => `test/edge/${file}`)
  .sort();
const FILES: Record<Half, string[]> = { node: [relative(root, fileURLToPath(new URL("./node-app.fuzz.test.ts", import.meta.url)))], edge: edgeFiles };

/**
 * workerd reports each failed DNS lookup inside fetch as an internal error over several lines, split across
 * stdout and stderr, although the outbox catches it (its retries go to wrangler.toml's example origin, which does
 * not resolve here). Those reports are counted, not printed, so the campaign's output stays readable: each report
 * names an id, and an "uncaught exception" line is held back until the end and printed unless its id belongs
 * to a DNS-lookup report — a genuine uncaught exception is never hidden.
 */
interface WorkerdReports {
  dnsFailures: number;
  readonly dnsIds: Set<string>;
  readonly held: Map<string, string[]>;
}

function filtered(stream: NodeJS.ReadableStream, out: NodeJS.WritableStream, reports: WorkerdReports): Promise<void> {
  let afterLookup = false;
  let heldId: string | undefined;
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  lines.on("line", (line) => {
    const id = /(?:wdErrId|reference) = (\w+)/.exec(line)?.[1];
    if (line.includes("failed to lookup address information")) {
      reports.dnsFailures++;
      afterLookup = true;
      return;
    }
    if (afterLookup && line.startsWith("stack: ")) {
      if (id) reports.dnsIds.add(id);
      afterLookup = false;
      return;
    }
    if (id && line.startsWith("uncaught exception;")) {
      reports.held.set(id, [...(reports.held.get(id) ?? []), line]);
      heldId = id;
      return;
    }
    if (heldId && line.startsWith("stack: ")) {
      reports.held.get(heldId)!.push(line);
      return;
    }
    afterLookup = false;
    heldId = undefined;
    out.write(`${line}\n`);
  });
  return new Promise((resolve) => lines.on("close", resolve));
}

async function campaign(half: Half): Promise<{ half: Half; status: number; seconds: number; hidden: number; uncaught: number }> {
  const started = Date.now();
  const reports: WorkerdReports = { dnsFailures: 0, dnsIds: new Set(), held: new Map() };
  // --silent=passed-only: the outbox's event lines are shown only for a failing property.
  const child = spawn(process.execPath, [vitest, "run", "--project", half, "--silent=passed-only", ...FILES[half]], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, CLAWGATE_FUZZ_SEED: String(seed), CLAWGATE_FUZZ_RUNS: String(runs) },
  });
  const done = Promise.all([filtered(child.stdout, process.stdout, reports), filtered(child.stderr, process.stderr, reports)]);
  const status = await new Promise<number>((resolve) => child.on("close", (code, signal) => resolve(code ?? (signal ? 1 : 0))));
  await done;
  const other = [...reports.held].filter(([id]) => !reports.dnsIds.has(id));
  for (const [, lines] of other) process.stderr.write(`${lines.join("\n")}\n`);
  // An uncaught exception in workerd is a failed campaign even when every property passed.
  return { half, status: other.length > 0 ? status || 1 : status, seconds: Math.round((Date.now() - started) / 1000), hidden: reports.dnsFailures, uncaught: other.length };
}

const results = [];
for (const half of halves) results.push(await campaign(half));
console.log(`\nfuzz campaign summary (seed ${seed}, ${runs} runs per property):`);
for (const r of results) {
  const note = (r.uncaught > 0 ? `, ${r.uncaught} uncaught exception(s) in workerd (printed above)` : "") + (r.hidden > 0 ? ` (${r.hidden} workerd reports of the outbox's failed DNS lookups not shown)` : "");
  console.log(`  ${r.half.padEnd(4)} ${r.status === 0 ? "passed" : "FAILED"} in ${r.seconds} s${note}`);
}
const failed = results.filter((r) => r.status !== 0);
if (failed.length > 0) {
  console.error(`fuzz campaign failed (${failed.map((r) => r.half).join(", ")}); replay: CLAWGATE_FUZZ_SEED=${seed} CLAWGATE_FUZZ_RUNS=${runs} npm run fuzz -- ${failed.map((r) => r.half).join(" ")}`);
}
process.exitCode = failed.length > 0 ? 1 : 0;
