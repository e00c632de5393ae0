/**
 * The command runtime's measured peak of short real runs: a child that fills 200 MiB, replies and exits 50 ms later is
 * measured at ≥ 200 MiB every time (also beside a busy-loop child, and from its reply alone, with no periodic
 * reading), and what a leader leaves running is read at its exit.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { createCommandRuntime } from "../../../node/runtimes/command-runtime.ts";
import type { RuntimeRequest } from "../../../node/runtimes/runtime-types.ts";
import { pollUntil } from "../../helpers/node-process.ts";
import { hasProc } from "../../helpers/process-tree.ts";
import { realIo } from "../../helpers/daemon-io.ts";

const TREE = fileURLToPath(new URL("../../fixtures/runtimes/tree-agent.mjs", import.meta.url));
const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
const RUNS = 8;
const EXIT_AFTER_MS = 50;

const request = (): RuntimeRequest => ({ runId: "r1", agentId: "main", sessionKey: "agent:main:hook:peak", model: "local/peak", history: [], message: "go", signal: new AbortController().signal });

/** Peaks (MiB) of `RUNS` runs of a child that fills 200 MiB, replies, and exits EXIT_AFTER_MS later. */
async function peaksMiB(sampleIntervalMs?: number): Promise<number[]> {
  const runtime = createCommandRuntime({ io: realIo, command: process.execPath, args: [TREE, "fill", "200", String(EXIT_AFTER_MS)], ...(sampleIntervalMs ? { sampleIntervalMs } : {}) });
  const peaks: number[] = [];
  for (let i = 0; i < RUNS; i++) peaks.push(Math.round(((await runtime.run(request())).peakMemoryGb ?? 0) * (GIB / MIB)));
  return peaks;
}

/** A child spinning on one core until killed, once it has really run (its CPU time counts up). */
async function busyLoop(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" });
  await pollUntil(async () => {
    const stat = await readFile(`/proc/${child.pid}/stat`, "utf8").catch(() => "");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[11]) > 0;
  }, 10_000, "the busy loop to spin");
  return child;
}

describe("command runtime peak of short runs", () => {
  it(`a child that fills 200 MiB, replies and exits ${EXIT_AFTER_MS} ms later: each of ${RUNS} runs measures ≥ 200 MiB`, async (ctx) => {
    if (!(await hasProc())) ctx.skip("no /proc on this host: ps gives only current RSS, a short run's peak can be missed");
    const peaks = await peaksMiB();
    expect(peaks.filter((p) => p < 200), `peaks (MiB): ${peaks.join(", ")}`).toEqual([]);
  }, 60_000);

  it(`the same beside a busy-loop child on the other core: each of ${RUNS} runs measures ≥ 200 MiB`, async (ctx) => {
    if (!(await hasProc())) ctx.skip("no /proc on this host: ps gives only current RSS, a short run's peak can be missed");
    const busy = await busyLoop();
    try {
      const peaks = await peaksMiB();
      expect(peaks.filter((p) => p < 200), `peaks (MiB): ${peaks.join(", ")}`).toEqual([]);
    } finally {
      busy.kill("SIGKILL");
    }
  }, 60_000);

  it("with no periodic reading during the run, its reply alone is read: ≥ 200 MiB", async (ctx) => {
    if (!(await hasProc())) ctx.skip("no /proc on this host: ps gives only current RSS, a short run's peak can be missed");
    const peaks = await peaksMiB(600_000);
    expect(peaks.filter((p) => p < 200), `peaks (MiB): ${peaks.join(", ")}`).toEqual([]);
  }, 60_000);

  it("what the leader leaves running is read at its exit, before the group is killed", async (ctx) => {
    if (!(await hasProc())) ctx.skip("no /proc on this host to find the group");
    const runtime = createCommandRuntime({ io: realIo, command: process.execPath, args: [TREE, "leave", "120"], sampleIntervalMs: 600_000 });
    const result = await runtime.run(request());
    expect(result.peakMemoryGb! * (GIB / MIB)).toBeGreaterThanOrEqual(120);
  }, 30_000);
});
