/**
 * Resident memory of a process tree (the run's process group plus any descendants that left it): Linux reads
 * `/proc/<pid>/stat` and `status` (VmRSS), macOS parses `ps -A -o pid=,ppid=,pgid=,rss=`. Used by the command
 * runtime to learn model peaks and enforce the hard limit.
 */
import { execFile } from "node:child_process";
import { readFile, readdir } from "node:fs/promises";

/** Total RSS in bytes of `rootPid`'s tree; 0 when it is gone. */
export type TreeRssSampler = (rootPid: number) => Promise<number>;

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

export function parseVmRssBytes(status: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
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

export async function linuxTreeRss(rootPid: number): Promise<number> {
  const rows: ProcRow[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = parseProcStat(await readFile(`/proc/${name}/stat`, "utf8"));
      if (stat) rows.push({ pid: Number(name), ...stat, rss: -1 });
    } catch {
      // exited between readdir and read
    }
  }
  let total = 0;
  for (const member of treeMembers(rows, rootPid)) {
    try {
      total += parseVmRssBytes(await readFile(`/proc/${member.pid}/status`, "utf8"));
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

export function psTreeRss(rootPid: number): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile("ps", ["-A", "-o", "pid=,ppid=,pgid=,rss="], { maxBuffer: 8 * 1024 * 1024 }, (error, stdout) => {
      if (error) return reject(error);
      resolve(treeMembers(parsePsRows(stdout), rootPid).reduce((sum, r) => sum + r.rss, 0));
    });
  });
}

/** The platform's sampler: /proc where it exists (Linux), `ps` elsewhere (macOS). */
export function defaultTreeRssSampler(platform: NodeJS.Platform = process.platform): TreeRssSampler {
  return platform === "linux" ? linuxTreeRss : psTreeRss;
}
