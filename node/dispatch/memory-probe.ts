/** Measures the host's available and total memory (Linux `/proc/meminfo`, macOS `vm_stat` + `sysctl hw.memsize`) for the scheduler's admission rule. */
import { execFile as nodeExecFile } from "node:child_process";
import { readFile as nodeReadFile } from "node:fs/promises";

/** One measurement of the host, in GiB (2^30 bytes). */
export interface MemorySample {
  /** Memory a new process can get without swapping (Linux MemAvailable, macOS free+inactive+speculative+purgeable). */
  readonly availableGb: number;
  /** Physical memory. */
  readonly totalGb: number;
}

/** What the scheduler calls; it caches the answer for a short interval so each decision stays cheap. */
export type MemoryProbe = () => Promise<MemorySample>;

export class MemoryProbeError extends Error {
  readonly code = "ERR_MEMORY_PROBE";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "MemoryProbeError";
  }
}

const GIB = 1024 ** 3;

/**
 * Parses `/proc/meminfo` (values in kB = KiB). MemAvailable is the kernel's own estimate of memory available
 * for starting new applications without swapping (Linux ≥ 3.14); on older kernels we fall back to
 * MemFree + Buffers + Cached, which overstates it slightly.
 */
export function parseProcMeminfo(text: string): MemorySample {
  const fields = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^([A-Za-z0-9_()]+):\s+(\d+)(?:\s+kB)?\s*$/.exec(line);
    if (m) fields.set(m[1]!, Number(m[2]));
  }
  const total = fields.get("MemTotal");
  if (total === undefined) throw new MemoryProbeError("/proc/meminfo has no MemTotal line");
  let available = fields.get("MemAvailable");
  if (available === undefined) {
    const free = fields.get("MemFree");
    if (free === undefined) throw new MemoryProbeError("/proc/meminfo has neither MemAvailable nor MemFree");
    available = free + (fields.get("Buffers") ?? 0) + (fields.get("Cached") ?? 0);
  }
  return { availableGb: (available * 1024) / GIB, totalGb: (total * 1024) / GIB };
}

/**
 * Parses macOS `vm_stat`. The page size comes from the header ("page size of 16384 bytes" on Apple silicon,
 * 4096 on Intel) — never assumed. Available = free + inactive + speculative + purgeable pages: memory the
 * kernel hands out without compressing or swapping anything that is in active use.
 */
export function parseVmStat(text: string): { availableBytes: number; pageSize: number } {
  const header = /page size of (\d+) bytes/.exec(text);
  if (!header) throw new MemoryProbeError("vm_stat output has no page size header");
  const pageSize = Number(header[1]);
  const pages = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^"?([^":]+)"?:\s+(\d+)\.?\s*$/.exec(line);
    if (m) pages.set(m[1]!.trim(), Number(m[2]));
  }
  const get = (name: string, required: boolean): number => {
    const v = pages.get(name);
    if (v === undefined && required) throw new MemoryProbeError(`vm_stat output has no "${name}" line`);
    return v ?? 0;
  };
  const availablePages = get("Pages free", true) + get("Pages inactive", true) + get("Pages speculative", false) + get("Pages purgeable", false);
  return { availableBytes: availablePages * pageSize, pageSize };
}

/** Parses `sysctl -n hw.memsize` (bytes). */
export function parseHwMemsize(text: string): number {
  const t = text.trim();
  if (!/^\d+$/.test(t)) throw new MemoryProbeError("sysctl hw.memsize did not print a byte count");
  return Number(t);
}

export interface MemoryProbeOptions {
  /** Default `process.platform`. Only "linux" and "darwin" are supported. */
  readonly platform?: string;
  readonly readFile?: (path: string) => Promise<string>;
  /** Runs a program (no shell) and resolves with its stdout. */
  readonly execFile?: (file: string, args: readonly string[]) => Promise<string>;
}

/** The production probe for this platform; throws a TypeError at build time on an unsupported one. */
export function createMemoryProbe(options: MemoryProbeOptions = {}): MemoryProbe {
  const platform = options.platform ?? process.platform;
  const readFile = options.readFile ?? ((path: string) => nodeReadFile(path, "utf8"));
  const execFile = options.execFile ?? defaultExecFile;
  if (platform === "linux") {
    return async () => {
      let text: string;
      try {
        text = await readFile("/proc/meminfo");
      } catch (cause) {
        throw new MemoryProbeError("cannot read /proc/meminfo", { cause });
      }
      return parseProcMeminfo(text);
    };
  }
  if (platform === "darwin") {
    // hw.memsize never changes while the machine runs: read it once, on first use.
    let totalBytes: number | undefined;
    return async () => {
      let vmStat: string;
      try {
        const [vm, mem] = await Promise.all([execFile("/usr/bin/vm_stat", []), totalBytes === undefined ? execFile("/usr/sbin/sysctl", ["-n", "hw.memsize"]) : undefined]);
        vmStat = vm;
        if (mem !== undefined) totalBytes = parseHwMemsize(mem);
      } catch (cause) {
        if (cause instanceof MemoryProbeError) throw cause;
        throw new MemoryProbeError("cannot run vm_stat / sysctl", { cause });
      }
      const { availableBytes } = parseVmStat(vmStat);
      return { availableGb: availableBytes / GIB, totalGb: totalBytes! / GIB };
    };
  }
  throw new TypeError(`memory probe: unsupported platform "${platform}" (linux and darwin are supported)`);
}

function defaultExecFile(file: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    nodeExecFile(file, args, { encoding: "utf8", timeout: 5_000, env: { LC_ALL: "C", PATH: "/usr/bin:/bin:/usr/sbin:/sbin" } }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    );
  });
}
