/** The shape every benchmark reports: a figure, its target, and the baseline it was measured against in the same run. */

/**
 * What kind of claim a figure makes, which decides how a smoke run (`--smoke`) judges it:
 * - `correctness`: holds at any size (a count, a budget, a bundle size), so the smoke checks it like the full run;
 * - `performance`: a time, ratio, memory or packing figure whose target is defined at the full size, so a smoke
 *   run prints it as "info (smoke)" and never fails on it.
 */
export type BenchFigureKind = "correctness" | "performance";

export interface BenchFigure {
  /** What was measured, e.g. "activation overhead (1,000 refs)". */
  readonly figure: string;
  readonly kind: BenchFigureKind;
  /** The measured value, already in `unit`. */
  readonly value: number;
  readonly unit: string;
  /** Human-readable target, e.g. "≤ 1.5×". */
  readonly target: string;
  /** What the value is a ratio against (or "absolute" when the target is absolute). */
  readonly baseline: string;
  readonly pass: boolean;
  /** Extra context printed under the table (raw timings). */
  readonly detail?: string;
}

export interface BenchOptions {
  /**
   * A smoke run: each bench picks a reduced size (fewer rounds, requests, runs; shorter windows) so all of them
   * finish in about a minute, and proves it still runs end to end; full sizes and env overrides are ignored.
   */
  readonly smoke: boolean;
  /** `--vs-openclaw`: the hooks bench also loads the real OpenClaw gateway when its install is present. */
  readonly vsOpenclaw?: boolean;
}

export type Bench = (options: BenchOptions) => Promise<readonly BenchFigure[]>;
