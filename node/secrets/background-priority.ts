/** Lowers the CPU priority of the calling thread (Linux: per thread) so secret resolution yields the cores to requests. */
import { writeFileSync } from "node:fs";
import { setPriority } from "node:os";

/** Niceness for resolution work: below request handling, above idle. */
export const RESOLUTION_NICENESS = 10;

/** Best effort: where lowering the priority is not permitted, resolution runs at the default priority. */
export function lowerOwnPriority(niceness: number = RESOLUTION_NICENESS): void {
  try {
    // With no pid, libuv calls setpriority(PRIO_PROCESS, 0): on Linux that is the calling thread only,
    // so a worker thread renices itself without touching the agent's request thread.
    setPriority(niceness);
  } catch {
    // not permitted: keep the default priority
  }
}

/**
 * Lower a new session's scheduling weight. A resolver is spawned in its own session (so one kill reaches
 * its whole tree), and with the kernel's autogroup scheduling every session competes at full weight
 * whatever the niceness of its processes — unless the session's autogroup is reniced (Linux, best effort).
 */
export function lowerSessionPriority(pid: number, niceness: number = RESOLUTION_NICENESS): void {
  try {
    writeFileSync(`/proc/${pid}/autogroup`, String(niceness));
  } catch {
    // no autogroup scheduling here (or not permitted): the process niceness still applies
  }
}
