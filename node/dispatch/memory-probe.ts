/** Measures the host's available and total memory (Linux `/proc/meminfo`, macOS `vm_stat` + `sysctl hw.memsize`) for the scheduler's admission rule. */

/** One measurement of the host, in GiB (2^30 bytes). */
export interface MemorySample {
  /** Memory the kernel says a new process can get without swapping (Linux MemAvailable, macOS free+inactive+speculative+purgeable). */
  readonly availableGb: number;
  /** Physical memory. */
  readonly totalGb: number;
}

/** What the scheduler calls; it caches the answer for a short interval so each decision stays cheap. */
export type MemoryProbe = () => Promise<MemorySample>;
