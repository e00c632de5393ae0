/**
 * Memory of a run's process tree (the leader we spawn as a process group, its descendants, and members of its group
 * that were reparented away), read by the command runtime to learn model peaks and enforce the hard limit.
 *
 * Linux: a reading walks the tree from the leader through `/proc/<pid>/task/<tid>/children` and sums each member's
 * `VmHWM`, its resident high-water mark, so a member's peak between two readings is not lost while it lives (for one
 * process that is its exact peak; for several, an upper bound, as their peaks may not coincide). Members that left
 * the tree (their parent exited) are found by a scan of /proc at most every SCAN_EVERY_MS and once the leader is
 * gone, then remembered. The reads are synchronous on purpose: /proc files are generated in memory, and a reading
 * spread over a busy event loop would let the process it reads exit in between. A kernel without the `children`
 * files (CONFIG_PROC_CHILDREN off) scans /proc at every reading. macOS has no high-water mark of another process:
 * it parses `ps -A -o pid=,ppid=,pgid=,rss=` (current RSS).
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";

/** Reads one run's tree: bytes held, 0 once it is gone. */
export type TreeRssReader = () => Promise<number>;

/** Makes the reader of the tree led by `rootPid`, once per run (it remembers the members it found). */
export type TreeRssSampler = (rootPid: number) => TreeRssReader;

/** How often a Linux reader scans /proc for members of the run's group that left the tree. */
export const SCAN_EVERY_MS = 1_000;

interface ProcRow {
  readonly pid: number;
  readonly ppid: number;
  readonly pgid: number;
  /** bytes, or -1 when not read yet */
  rss: number;
}

/** The members of the tree: same process group as the root (we spawn it as a group leader) ∪ descendants. */
export function treeMembers(rows: readonly ProcRow[], rootPid: number): ProcRow[] {
  const children = new Map<number, ProcRow[]>();
  for (const r of rows) {
    const list = children.get(r.ppid);
    if (list) list.push(r);
    else children.set(r.ppid, [r]);
  }
  const members = new Map<number, ProcRow>();
  for (const r of rows) if (r.pgid === rootPid || r.pid === rootPid) members.set(r.pid, r);
  const stack = [...members.values()];
  while (stack.length > 0) {
    const r = stack.pop()!;
    for (const c of children.get(r.pid) ?? []) {
      if (!members.has(c.pid)) {
        members.set(c.pid, c);
        stack.push(c);
      }
    }
  }
  return [...members.values()];
}

/** `/proc/<pid>/stat`: the comm field may hold spaces and parens, so split after the last ')'. */
export function parseProcStat(text: string): { ppid: number; pgid: number } | undefined {
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  const fields = text.slice(close + 2).split(" ");
  const ppid = Number(fields[1]);
  const pgid = Number(fields[2]);
  return Number.isInteger(ppid) && Number.isInteger(pgid) ? { ppid, pgid } : undefined;
}

/** `VmHWM` of a `/proc/<pid>/status` (the resident high-water mark), else `VmRSS`; 0 for a zombie (no memory left). */
export function parseVmPeakBytes(status: string): number {
  const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(status) ?? /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

/** The pids listed in a `/proc/<pid>/task/<tid>/children` file ("12 13 "). */
export function parseChildren(text: string): number[] {
  const pids: number[] = [];
  for (const field of text.split(" ")) {
    const pid = Number(field);
    if (field !== "" && Number.isInteger(pid) && pid > 0) pids.push(pid);
  }
  return pids;
}

/** `ps -A -o pid=,ppid=,pgid=,rss=` (rss in KiB on macOS and Linux procps). */
export function parsePsRows(text: string): ProcRow[] {
  const rows: ProcRow[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4) continue;
    const [pid, ppid, pgid, rss] = f.map(Number) as [number, number, number, number];
    if ([pid, ppid, pgid, rss].every(Number.isFinite)) rows.push({ pid, ppid, pgid, rss: rss * 1024 });
  }
  return rows;
}

/** A file under /proc, or undefined once its process (or thread) is gone. */
function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** Children of every thread of `pid` (a child belongs to the thread that forked it). */
function childrenOf(pid: number): number[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const tid of tids) pids.push(...parseChildren(readProc(`/proc/${pid}/task/${tid}/children`) ?? ""));
  return pids;
}

/** Every process of /proc with its parent and group. */
function procRows(): ProcRow[] {
  const rows: ProcRow[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = parseProcStat(readProc(`/proc/${name}/stat`) ?? "");
    if (stat) rows.push({ pid: Number(name), ...stat, rss: -1 });
  }
  return rows;
}

/** Linux, by walking the tree from the leader (the default where the `children` files exist). */
export function linuxTreeRss(rootPid: number): TreeRssReader {
  const seen = new Set<number>();
  let scannedAt = performance.now();
  return () => {
    const counted = new Set<number>();
    let total = 0;
    const walk = (from: number) => {
      const stack = [from];
      while (stack.length > 0) {
        const pid = stack.pop()!;
        if (counted.has(pid)) continue;
        const status = readProc(`/proc/${pid}/status`);
        if (status === undefined) continue;
        counted.add(pid);
        total += parseVmPeakBytes(status);
        stack.push(...childrenOf(pid));
      }
    };
    walk(rootPid);
    const leaderGone = counted.size === 0;
    if (leaderGone || performance.now() - scannedAt >= SCAN_EVERY_MS) {
      scannedAt = performance.now();
      for (const member of treeMembers(procRows(), rootPid)) seen.add(member.pid);
    }
    for (const pid of seen) {
      if (counted.has(pid)) continue;
      // Still in the run's group, else gone (or its pid now names another process): forgotten.
      if (parseProcStat(readProc(`/proc/${pid}/stat`) ?? "")?.pgid === rootPid) walk(pid);
      else seen.delete(pid);
    }
    return Promise.resolve(total);
  };
}

/** Linux without the `children` files: every reading scans /proc for the group and its descendants. */
export function scanProcTreeRss(rootPid: number): TreeRssReader {
  return () => {
    let total = 0;
    for (const member of treeMembers(procRows(), rootPid)) total += parseVmPeakBytes(readProc(`/proc/${member.pid}/status`) ?? "");
    return Promise.resolve(total);
  };
}

export function psTreeRss(rootPid: number): TreeRssReader {
  return () =>
    new Promise((resolve, reject) => {
      execFile("ps", ["-A", "-o", "pid=,ppid=,pgid=,rss="], { maxBuffer: 8 * 1024 * 1024, timeout: 5_000 }, (error, stdout) => {
        if (error) return reject(error);
        resolve(treeMembers(parsePsRows(stdout), rootPid).reduce((sum, r) => sum + r.rss, 0));
      });
    });
}

/** The platform's sampler: the tree walk on Linux (a /proc scan without `children` files), `ps` elsewhere (macOS). */
export function defaultTreeRssSampler(platform: NodeJS.Platform = process.platform): TreeRssSampler {
  if (platform !== "linux") return psTreeRss;
  return existsSync(`/proc/self/task/${process.pid}/children`) ? linuxTreeRss : scanProcTreeRss;
}
