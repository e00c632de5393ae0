/** Runs the benches `npm run bench` names and renders its one table, each figure judged pass/FAIL or, in a smoke run, info. */
import type { Bench, BenchFigure, BenchOptions } from "./bench-types.ts";

export interface BenchRow extends BenchFigure {
  readonly bench: string;
}

export interface RunBenchesOptions extends BenchOptions {
  /** Progress lines (stderr in the CLI), so stdout holds only the report. */
  readonly progress: (line: string) => void;
  readonly now?: () => number;
}

/**
 * Runs each bench in order. A full run lets a throwing bench end the run, as it always did; a smoke run turns it
 * into a failed correctness row naming the error's first line and goes on, so one broken bench hides no other.
 */
export async function runBenches(benches: ReadonlyArray<readonly [string, () => Promise<Bench>]>, options: RunBenchesOptions): Promise<BenchRow[]> {
  const { smoke, progress, now = () => performance.now() } = options;
  const benchOptions = { smoke, ...(options.vsOpenclaw ? { vsOpenclaw: true } : {}) };
  const rows: BenchRow[] = [];
  for (const [name, load] of benches) {
    progress(`running bench ${name}${smoke ? " (smoke)" : ""} ...`);
    if (!smoke) {
      for (const figure of await (await load())(benchOptions)) rows.push({ bench: name, ...figure });
      continue;
    }
    const started = now();
    try {
      for (const figure of await (await load())(benchOptions)) rows.push({ bench: name, ...figure });
    } catch (err) {
      const reason = (err instanceof Error ? err.message : String(err)).split("\n")[0]!;
      rows.push({ bench: name, figure: "runs to the end", kind: "correctness", value: 0, unit: "", target: "no error", baseline: "absolute", pass: false, detail: `threw: ${reason}` });
    }
    progress(`bench ${name} (smoke) took ${((now() - started) / 1000).toFixed(1)} s`);
  }
  return rows;
}

export type Verdict = "pass" | "FAIL" | "info (smoke)";

/**
 * A full run judges every figure. A smoke run judges only correctness figures: a performance target is defined
 * at the full size, so at smoke size its value is printed but says nothing either way.
 */
export function verdict(figure: BenchFigure, options: BenchOptions): Verdict {
  if (options.smoke && figure.kind !== "correctness") return "info (smoke)";
  return figure.pass ? "pass" : "FAIL";
}

export interface Report {
  /** The table, the details under it, and one summary line, ready for stdout. */
  readonly lines: readonly string[];
  /** Figures whose verdict is FAIL: non-zero means the run exits 1. */
  readonly failed: number;
}

export function renderReport(rows: readonly BenchRow[], options: BenchOptions): Report {
  const verdicts = rows.map((r) => verdict(r, options));
  const table = [
    ["bench", "figure", "value", "target", "baseline", "result"],
    ...rows.map((r, i) => [r.bench, r.figure, `${format(r.value)} ${r.unit}`, r.target, r.baseline, verdicts[i]!]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  const lines: string[] = [];
  for (const [i, row] of table.entries()) {
    lines.push(row.map((cell, j) => cell.padEnd(widths[j]!)).join("  ").trimEnd());
    if (i === 0) lines.push(widths.map((w) => "-".repeat(w)).join("  "));
  }
  for (const r of rows) if (r.detail) lines.push(`  ${r.bench} / ${r.figure}: ${r.detail}`);
  const failed = verdicts.filter((v) => v === "FAIL").length;
  if (options.smoke) {
    const judged = verdicts.filter((v) => v !== "info (smoke)").length;
    const info = rows.length - judged;
    const head =
      judged === 0 ? "smoke: every bench ran to the end (none of them has a correctness target)"
      : failed === 0 ? `smoke: all ${judged} correctness targets met`
      : `smoke: ${failed} of ${judged} correctness targets missed`;
    lines.push(`${head}; ${info} performance figures printed as info (their targets are defined at full size)`);
  } else {
    lines.push(failed === 0 ? `all ${rows.length} targets met` : `${failed} of ${rows.length} targets missed`);
  }
  return { lines, failed };
}

function format(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(n < 10 ? 2 : 1);
}
