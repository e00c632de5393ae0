/** The shape every benchmark reports: a figure, its target, and the baseline it was measured against in the same run. */

export interface BenchFigure {
  /** What was measured, e.g. "activation overhead (1,000 refs)". */
  readonly figure: string;
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

export type Bench = () => Promise<readonly BenchFigure[]>;
