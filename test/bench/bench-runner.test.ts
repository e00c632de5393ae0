/** How `npm run bench` judges and reports figures in a full and a smoke run, and what a smoke run does with a bench that throws. */
import { describe, expect, it } from "vitest";
import { type BenchRow, renderReport, runBenches, verdict } from "../../bench/bench-runner.ts";
import type { Bench, BenchFigure, BenchOptions } from "../../bench/bench-types.ts";

const figure = (over: Partial<BenchFigure>): BenchFigure => ({ figure: "f", kind: "correctness", value: 1, unit: "", target: "= 1", baseline: "absolute", pass: true, ...over });
const row = (bench: string, over: Partial<BenchFigure>): BenchRow => ({ bench, ...figure(over) });

describe("verdict", () => {
  it("judges every figure in a full run, only correctness figures in a smoke run", () => {
    const full: BenchOptions = { smoke: false };
    const smoke: BenchOptions = { smoke: true };
    expect(verdict(figure({ kind: "performance", pass: false }), full)).toBe("FAIL");
    expect(verdict(figure({ kind: "performance", pass: true }), full)).toBe("pass");
    expect(verdict(figure({ kind: "correctness", pass: false }), full)).toBe("FAIL");
    expect(verdict(figure({ kind: "performance", pass: false }), smoke)).toBe("info (smoke)");
    expect(verdict(figure({ kind: "performance", pass: true }), smoke)).toBe("info (smoke)");
    expect(verdict(figure({ kind: "correctness", pass: false }), smoke)).toBe("FAIL");
    expect(verdict(figure({ kind: "correctness", pass: true }), smoke)).toBe("pass");
  });
});

describe("renderReport", () => {
  const rows = [
    row("secrets", { figure: "exec spawns per activation", kind: "correctness", value: 2, unit: "spawns", target: "= 2", pass: true }),
    row("hooks", { figure: "idle RSS after start", kind: "performance", value: 108.9, unit: "MB", target: "≤ 80 MB", pass: false, detail: "median of 1 starts" }),
  ];

  it("a full run counts a missed performance target as a failure, with the summary line it always printed", () => {
    const report = renderReport(rows, { smoke: false });
    expect(report.failed).toBe(1);
    expect(report.lines[0]).toMatch(/^bench\s+figure\s+value\s+target\s+baseline\s+result$/);
    expect(report.lines[3]).toMatch(/^hooks\s+idle RSS after start\s+108\.9 MB\s+≤ 80 MB\s+absolute\s+FAIL$/);
    expect(report.lines).toContain("  hooks / idle RSS after start: median of 1 starts");
    expect(report.lines.at(-1)).toBe("1 of 2 targets missed");
    expect(renderReport(rows.slice(0, 1), { smoke: false }).lines.at(-1)).toBe("all 1 targets met");
  });

  it("a smoke run prints the performance figure as info and passes on its correctness figures", () => {
    const report = renderReport(rows, { smoke: true });
    expect(report.failed).toBe(0);
    expect(report.lines[2]).toMatch(/\s2 spawns\s+= 2\s+absolute\s+pass$/);
    expect(report.lines[3]).toMatch(/\s108\.9 MB\s+≤ 80 MB\s+absolute\s+info \(smoke\)$/);
    expect(report.lines.at(-1)).toBe("smoke: all 1 correctness targets met; 1 performance figures printed as info (their targets are defined at full size)");
  });

  it("a smoke run of benches without correctness targets says they ran to the end", () => {
    expect(renderReport(rows.slice(1), { smoke: true }).lines.at(-1)).toBe(
      "smoke: every bench ran to the end (none of them has a correctness target); 1 performance figures printed as info (their targets are defined at full size)",
    );
  });

  it("a smoke run fails on a missed correctness target", () => {
    const report = renderReport([...rows, row("dispatch", { figure: "budget violations", value: 3, target: "0", pass: false })], { smoke: true });
    expect(report.failed).toBe(1);
    expect(report.lines.at(-1)).toMatch(/^smoke: 1 of 2 correctness targets missed; 1 performance figures/);
  });
});

describe("runBenches", () => {
  const good: Bench = async ({ smoke }) => [figure({ figure: `ran with smoke=${smoke}` })];
  const broken: Bench = async () => {
    throw new Error("child exited 1 before listening\nsecond line");
  };

  it("a smoke run passes smoke to each bench, turns a throwing bench into a failed row and runs the rest", async () => {
    const progress: string[] = [];
    let clock = 0;
    const rows = await runBenches(
      [
        ["hooks", async () => broken],
        ["dispatch", async () => good],
      ],
      { smoke: true, progress: (l) => progress.push(l), now: () => (clock += 1500) },
    );
    expect(rows.map((r) => [r.bench, r.figure, r.kind, r.pass])).toEqual([
      ["hooks", "runs to the end", "correctness", false],
      ["dispatch", "ran with smoke=true", "correctness", true],
    ]);
    expect(rows[0]!.detail).toBe("threw: child exited 1 before listening");
    expect(renderReport(rows, { smoke: true }).failed).toBe(1);
    expect(progress).toEqual(["running bench hooks (smoke) ...", "bench hooks (smoke) took 1.5 s", "running bench dispatch (smoke) ...", "bench dispatch (smoke) took 1.5 s"]);
  });

  it("a full run lets a throwing bench end the run, as before", async () => {
    const progress: string[] = [];
    const run = runBenches(
      [
        ["dispatch", async () => good],
        ["hooks", async () => broken],
      ],
      { smoke: false, progress: (l) => progress.push(l) },
    );
    await expect(run).rejects.toThrow("child exited 1 before listening");
    expect(progress).toEqual(["running bench dispatch ...", "running bench hooks ..."]);
  });
});
