/**
 * The host's memory as the overview shows it, read when a page or `clawgate status` asks: on Linux one read of
 * /proc/meminfo (kept for a second); elsewhere none, and the overview falls back to the scheduler's last probe
 * reading (taken when a local model run is queued).
 */
import { readFileSync } from "node:fs";
import type { DaemonIo } from "../io/daemon-io.ts";
import { type MemorySample, parseProcMeminfo } from "../dispatch/memory-probe.ts";

export type HostMemoryReader = () => MemorySample | undefined;

export interface HostMemoryOptions {
  readonly platform?: string;
  readonly readFile?: (path: string) => string;
  /** The clock of the one-second reuse. */
  readonly io: Pick<DaemonIo, "now">;
}

const KEEP_MS = 1_000;

export function createHostMemoryReader(options: HostMemoryOptions): HostMemoryReader {
  if ((options.platform ?? process.platform) !== "linux") return () => undefined;
  const readFile = options.readFile ?? ((path: string) => readFileSync(path, "utf8"));
  const { now } = options.io;
  let last: { at: number; sample: MemorySample | undefined } | undefined;
  return () => {
    const t = now();
    if (last && t - last.at < KEEP_MS) return last.sample;
    let sample: MemorySample | undefined;
    try {
      sample = parseProcMeminfo(readFile("/proc/meminfo"));
    } catch {
      sample = undefined; // unreadable here (a sandbox): the scheduler's reading, or "not read yet"
    }
    last = { at: t, sample };
    return sample;
  };
}
