/** Looks processes up in /proc (Linux): by a unique marker in their argv, and by pid for state (Z = zombie). */
import { readFile, readdir } from "node:fs/promises";

/** Pids of live processes whose argv contains `marker` as one argument. */
export async function pidsWithMarker(marker: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8");
      if (cmdline.split("\0").includes(marker)) found.push(Number(entry));
    } catch {
      // ended while we looked
    }
  }
  return found;
}

/** The state letter (R, S, Z, …) of a pid, or undefined once it no longer exists at all. */
export async function procState(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  } catch {
    return undefined;
  }
}

export const hasProc = async (): Promise<boolean> => (await procState(process.pid)) !== undefined;
