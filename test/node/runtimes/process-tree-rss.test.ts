/**
 * Process-tree memory readers on real processes: a Linux reading walks the tree (figures against a /proc scan), counts
 * a high-water mark a member already left behind, and still finds a member of the run's group reparented away.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { readFile, readdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { linuxTreeRss, parseChildren, parsePsRows, parseVmPeakBytes, psTreeRss, scanProcTreeRss, treeMembers } from "../../../node/runtimes/process-tree-rss.ts";
import { pollUntil } from "../../helpers/node-process.ts";
import { hasProc } from "../../helpers/process-tree.ts";

const TREE = fileURLToPath(new URL("../../fixtures/runtimes/tree-agent.mjs", import.meta.url));
const MIB = 1024 * 1024;
const started: ChildProcess[] = [];

/** The fixture as the command runtime starts a run: leader of its own process group, input ended. */
function startTree(mode: string, mib: number): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, ["--expose-gc", TREE, mode, String(mib)], { detached: true, stdio: ["pipe", "pipe", "ignore"] });
  started.push(child);
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d));
  child.stdin!.end();
  return { child, output: () => out };
}

afterEach(() => {
  for (const child of started.splice(0)) {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // already gone
    }
  }
});

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

describe("process tree memory on Linux", () => {
  it("a reading walks the tree from the leader: far cheaper than scanning /proc, same bytes", async (ctx) => {
    if (!(await hasProc())) ctx.skip("no /proc on this host: the tree is read with ps there");
    const { child, output } = startTree("free", 32);
    await pollUntil(() => output().includes("freed"), 10_000, "the tree to start");
    const walk = linuxTreeRss(child.pid!);
    const scan = scanProcTreeRss(child.pid!);
    const walkUs: number[] = [];
    const scanUs: number[] = [];
    let walked = 0;
    let scanned = 0;
    // Interleaved, so the host's load weighs on both alike.
    for (let i = 0; i < 60; i++) {
      let t = performance.now();
      walked = await walk();
      walkUs.push((performance.now() - t) * 1000);
      t = performance.now();
      scanned = await scan();
      scanUs.push((performance.now() - t) * 1000);
    }
    const processes = (await readdir("/proc")).filter((n) => /^\d+$/.test(n)).length;
    console.log(`tree reading (1 process): walk median ${median(walkUs).toFixed(0)} µs, /proc scan median ${median(scanUs).toFixed(0)} µs over ${processes} processes`);
    expect(median(walkUs)).toBeLessThan(median(scanUs) / 4);
    expect(walked).toBeGreaterThan(32 * MIB);
    expect(Math.abs(walked - scanned)).toBeLessThan(MIB);
  });

  it("counts a peak the process already gave back (VmHWM), not only what it holds now", async (ctx) => {
    if (!(await hasProc())) ctx.skip("no /proc on this host: the tree is read with ps there");
    const { child, output } = startTree("free", 150);
    await pollUntil(() => output().includes("freed"), 10_000, "the fixture to fill and free 150 MiB");
    const status = await readFile(`/proc/${child.pid}/status`, "utf8");
    const holdsNow = Number(/^VmRSS:\s+(\d+)/m.exec(status)![1]) * 1024;
    expect(holdsNow, "the fixture really gave the memory back").toBeLessThan(150 * MIB);
    expect(await linuxTreeRss(child.pid!)()).toBeGreaterThanOrEqual(150 * MIB);
  });

  it("still counts a member of the run's group whose parent exited (it left the tree)", async (ctx) => {
    if (!(await hasProc())) ctx.skip("no /proc on this host: the tree is read with ps there");
    const { child, output } = startTree("orphan", 120);
    const read = linuxTreeRss(child.pid!);
    const member = Number(await pollUntil(() => /^orphan (\d+)$/m.exec(output())?.[1], 10_000, "the member to be started"));
    const stat = await readFile(`/proc/${member}/stat`, "utf8");
    const [ppid, pgid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ").slice(1, 3).map(Number);
    expect({ leftTheTree: ppid !== child.pid, pgid }).toEqual({ leftTheTree: true, pgid: child.pid });
    // The walk alone never reaches it; the group scan (at most every SCAN_EVERY_MS) does.
    const bytes = await pollUntil(async () => {
      const b = await read();
      return b >= 120 * MIB ? b : undefined;
    }, 10_000, "the reader to count the reparented member's 120 MiB");
    expect(bytes).toBeGreaterThanOrEqual(120 * MIB);
  });
});

describe("process tree memory with ps (the macOS path)", () => {
  it("reads the group's current RSS with ps", async (ctx) => {
    const ps = await new Promise<boolean>((resolve) => execFile("ps", ["-o", "pid="], (error) => resolve(!error)));
    if (!ps) ctx.skip("no ps on this host");
    const { child, output } = startTree("orphan", 120);
    await pollUntil(() => /^orphan \d+$/m.test(output()), 10_000, "the member to be started");
    // The member left the tree but not the group: ps finds it by its group once it has filled.
    const read = psTreeRss(child.pid!);
    const bytes = await pollUntil(async () => {
      const b = await read();
      return b >= 120 * MIB ? b : undefined;
    }, 10_000, "ps to show the member's 120 MiB");
    expect(bytes).toBeGreaterThanOrEqual(120 * MIB);
  });
});

describe("process tree parsing", () => {
  it("prefers the high-water mark, falls back to VmRSS, and reads nothing for a zombie", () => {
    expect(parseVmPeakBytes("Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n")).toBe(2048 * 1024);
    expect(parseVmPeakBytes("Name:\tx\nVmRSS:\t  1024 kB\n")).toBe(1024 * 1024);
    expect(parseVmPeakBytes("Name:\tx\nState:\tZ (zombie)\n")).toBe(0);
  });

  it("reads a children file", () => {
    expect(parseChildren("12 13 ")).toEqual([12, 13]);
    expect(parseChildren("")).toEqual([]);
  });

  it("ps rows: the group and descendants that left it, nothing else", () => {
    const rows = parsePsRows(" 10 1 10 1000\n 11 10 10 2000\n 12 11 12 4000\n 13 1 13 8000\n 14 1 10 16000\n");
    expect(treeMembers(rows, 10).map((r) => r.pid).sort()).toEqual([10, 11, 12, 14]);
    expect(treeMembers(rows, 10).reduce((s, r) => s + r.rss, 0)).toBe(23000 * 1024);
  });
});
