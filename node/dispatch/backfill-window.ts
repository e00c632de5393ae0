/**
 * The scheduler's EASY-backfilling window (contract in scheduler.ts, HEAD OF LINE): from the deadlines of the running
 * local runs, the shadow time at which a memory-blocked head is sure to fit, and what is left over for backfill then.
 */
import type { Entry } from "./scheduler-queue.ts";
import type { BlockedReason } from "./scheduler-types.ts";

export interface BackfillInputs {
  readonly running: ReadonlySet<Entry>;
  readonly budgetGb: number;
  readonly reservedGb: number;
  readonly maxConcurrent: number;
}

/** [shadow time, GiB left over for backfill at that time, run slots left over]. */
export function backfillWindow(head: Entry, t: number, reason: BlockedReason, s: BackfillInputs): [number, number, number] {
  if (reason === "probe") return [t, 0, 0];
  const locals: Entry[] = [];
  for (const r of s.running) if (r.local) locals.push(r);
  locals.sort((a, b) => a.deadline - b.deadline);
  let free = s.budgetGb - s.reservedGb;
  let slots = s.maxConcurrent - s.running.size;
  let shadow = t;
  let i = 0;
  if (head.exclusive) {
    // Alone among local runs: every local run must have ended.
    for (; i < locals.length; i++) {
      free += locals[i]!.info.memoryGb;
      slots++;
      shadow = locals[i]!.deadline;
    }
    return [shadow, 0, 0];
  }
  while (free + 1e-9 < head.info.memoryGb && i < locals.length) {
    free += locals[i]!.info.memoryGb;
    slots++;
    shadow = locals[i]!.deadline;
    i++;
  }
  if (free + 1e-9 < head.info.memoryGb) return [Infinity, 0, 0];
  return [shadow, free - head.info.memoryGb, Math.max(0, slots - 1)];
}
