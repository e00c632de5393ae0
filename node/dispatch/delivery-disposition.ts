/**
 * What the run log says about a journal delivery: settle it (`done` or `dead`) or run it again as attempt n — and
 * the run ids its attempts take. A restart marks a run cut off by a crash `interrupted` before deciding.
 */
import type { JournalEntry } from "../intake/intake-journal.ts";
import type { RunLog, RunRecord } from "./run-log.ts";

export type Disposition = { readonly settle: "done" | "dead" } | { readonly attempt: number; readonly failedRuns: number };

/** The runs (not replay markers) a delivery has had: the next run's attempt number is one more. */
export function runCount(records: readonly RunRecord[]): number {
  return records.filter((r) => r.kind !== "replay").length;
}

/** The run id of a delivery's first attempt: the `runId` its hook answered with, else the delivery id. */
export function runIdOf(delivery: JournalEntry): string {
  try {
    const id = (JSON.parse(delivery.response) as { runId?: unknown }).runId;
    if (typeof id === "string" && id !== "") return id;
  } catch {
    // fall through
  }
  return delivery.deliveryId;
}

/** Attempt 1 runs as `runIdOf`, later attempts as `<that>-r<n>` (ids stay unique across retries and replays). */
export function attemptRunId(delivery: JournalEntry, attempt: number): string {
  const base = runIdOf(delivery);
  return attempt === 1 ? base : `${base}-r${attempt}`;
}

export function dispositionOf(runLog: RunLog, deliveryId: string, maxAttempts: number, now: () => number): Disposition {
  // Attempts number every run (ids stay unique); only failures count toward maxAttempts — a run cancelled by
  // a graceful stop is not the delivery's fault, a run cut off by a crash might be (a crash loop ends dead).
  for (const r of runLog.forDelivery(deliveryId)) {
    if (r.status === "running") {
      // Cut off by a crash (kill -9, power loss): say so in the log, then run it again.
      runLog.write({ ...r, status: "interrupted", finishedAt: now(), errorCode: "ERR_RUN_INTERRUPTED", errorMessage: "the node stopped during this run" });
    }
  }
  const all = runLog.forDelivery(deliveryId);
  // An operator's replay marker starts a fresh set of attempts: only the runs after the latest one count. Run
  // ids keep counting across replays (`-r4` after three failed runs), so the old records stay as they were.
  const latestReplay = all.findLastIndex((r) => r.kind === "replay");
  let failed = 0;
  for (const r of all.slice(latestReplay + 1)) {
    if (r.status === "ok") return { settle: "done" };
    if (r.deadReason !== undefined && r.kind === "agent") return { settle: "dead" };
    if (r.status !== "skipped" && r.status !== "cancelled") failed++;
  }
  if (failed >= maxAttempts) return { settle: "dead" };
  return { attempt: runCount(all) + 1, failedRuns: failed };
}
