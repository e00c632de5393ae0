/** `npm run bench [-- name ...]`: runs the benchmarks, prints one table, exits non-zero when a target is missed. */
import type { Bench, BenchFigure } from "./bench-types.ts";

const BENCHES: Record<string, () => Promise<{ default: Bench }>> = {
  secrets: () => import("./secrets.ts"),
  hooks: () => import("./hooks.ts"),
  dispatch: () => import("./dispatch.ts"),
  runs: () => import("./runs.ts"),
  edge: () => import("./edge.ts"),
};

const requested = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const unknown = requested.filter((n) => !(n in BENCHES));
if (unknown.length > 0) {
  console.error(`unknown benchmark: ${unknown.join(", ")} (known: ${Object.keys(BENCHES).join(", ")})`);
  process.exit(2);
}

const rows: (BenchFigure & { bench: string })[] = [];
for (const name of requested.length > 0 ? requested : Object.keys(BENCHES)) {
  console.error(`running bench ${name} ...`);
  const bench = (await BENCHES[name]!()).default;
  for (const figure of await bench()) rows.push({ bench: name, ...figure });
}

const table = [
  ["bench", "figure", "value", "target", "baseline", "result"],
  ...rows.map((r) => [r.bench, r.figure, `${format(r.value)} ${r.unit}`, r.target, r.baseline, r.pass ? "pass" : "FAIL"]),
];
const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
for (const [i, row] of table.entries()) {
  console.log(row.map((cell, j) => cell.padEnd(widths[j]!)).join("  ").trimEnd());
  if (i === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "));
}
for (const r of rows) if (r.detail) console.log(`  ${r.bench} / ${r.figure}: ${r.detail}`);
const failed = rows.filter((r) => !r.pass).length;
console.log(failed === 0 ? `all ${rows.length} targets met` : `${failed} of ${rows.length} targets missed`);
process.exitCode = failed === 0 ? 0 : 1;

function format(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(n < 10 ? 2 : 1);
}
