/**
 * The run log: every run's record (id, agent, session, model, status, timings, memory estimate vs measured, error
 * code) appended to `<stateDir>/runs.jsonl` (0600, fsync per line) and indexed in memory. A run is written when it
 * starts and again when it ends — before its journal delivery is settled — so after a crash a restart can tell a
 * delivery whose run finished (settle it) from one whose run was cut off (retry it, visibly).
 */
import { chmodSync, closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";

export const RUN_LOG_FILE = "runs.jsonl";

export type RunRecordStatus = "running" | "ok" | "error" | "timeout" | "memory_limit" | "cancelled" | "interrupted" | "skipped" | "replayed";

export interface RunRecord {
  readonly id: string;
  /**
   * "replay" is not a run but an operator's marker (status "replayed"): the runs of its delivery before it no
   * longer count toward maxAttempts, so the revived delivery gets a fresh set of attempts and its old failures stay.
   * A marker's `attempt` is the number of runs before it.
   */
  readonly kind: "agent" | "heartbeat" | "replay";
  readonly agentId: string;
  readonly sessionKey: string;
  readonly model?: string;
  readonly status: RunRecordStatus;
  /** The intake deliveries this run serves (one for an agent run; the wakes a heartbeat consumed). */
  readonly deliveryIds: readonly string[];
  /** 1 for the first run of a delivery, 2 for its first retry, … */
  readonly attempt: number;
  /** Why a heartbeat ran: interval, wake, max_event_delay, hook. */
  readonly trigger?: string;
  readonly queuedAt?: number;
  readonly startedAt?: number;
  readonly finishedAt?: number;
  readonly durationMs?: number;
  /** What the scheduler reserved for this run (GiB): the model's estimate when it was queued. */
  readonly memoryEstimateGb?: number;
  /** The run's hard limit (GiB); absent for hosted models. */
  readonly memoryLimitGb?: number;
  /** The measured peak of the run's process tree (GiB), also for a killed run (then above `memoryLimitGb`). */
  readonly memoryPeakGb?: number;
  /** The run was killed for crossing `memoryLimitGb` (status "memory_limit"); its peak did not teach the estimate. */
  readonly memoryLimitExceeded?: boolean;
  readonly errorCode?: string;
  readonly errorMessage?: string;
  /** Heartbeat: the reply was HEARTBEAT_OK (an acknowledgement, not a message). */
  readonly ack?: boolean;
  /** A skipped heartbeat says why (outside_active_hours, no_events, disabled, closing). */
  readonly skipReason?: string;
  /** The delivery was given up after this run: the journal marks it dead. */
  readonly deadReason?: string;
  readonly replyChars?: number;
  /** A replay marker: who asked for it (e.g. "admin-api"). */
  readonly replayedBy?: string;
}

export interface RunLog {
  /** Appends (durably) and indexes; the last record of an id wins. */
  write(record: RunRecord): void;
  get(id: string): RunRecord | undefined;
  /** Newest first, optionally filtered. */
  list(filter?: { status?: string; agentId?: string; kind?: string; limit?: number }): RunRecord[];
  /** The runs that served a delivery, oldest first. */
  forDelivery(deliveryId: string): RunRecord[];
  counts(): Record<string, number>;
  close(): void;
}

/** Final states: a delivery whose run ended in one of these is settled, not rerun. */
export const FINAL_STATUSES: ReadonlySet<RunRecordStatus> = new Set(["ok", "error", "timeout", "memory_limit"]);

export function openRunLog(stateDir: string, options: { maxInMemory?: number; compactAboveBytes?: number } = {}): RunLog {
  const path = join(stateDir, RUN_LOG_FILE);
  const maxInMemory = options.maxInMemory ?? 10_000;
  const compactAboveBytes = options.compactAboveBytes ?? 16 * 1024 * 1024;
  const byId = new Map<string, RunRecord>();
  const byDelivery = new Map<string, string[]>();
  const index = (r: RunRecord) => {
    // Re-inserting moves the id to the end: Map order is "last written", which `list` walks backwards.
    byId.delete(r.id);
    byId.set(r.id, r);
    for (const d of r.deliveryIds) {
      const ids = byDelivery.get(d);
      if (!ids) byDelivery.set(d, [r.id]);
      else if (!ids.includes(r.id)) ids.push(r.id);
    }
    if (byId.size > maxInMemory) {
      const oldest = byId.keys().next().value as string;
      const dropped = byId.get(oldest)!;
      byId.delete(oldest);
      for (const d of dropped.deliveryIds) {
        const ids = byDelivery.get(d)?.filter((x) => x !== oldest);
        if (!ids || ids.length === 0) byDelivery.delete(d);
        else byDelivery.set(d, ids);
      }
    }
  };
  try {
    for (const line of readFileSync(path, "utf8").split("\n")) {
      if (line === "") continue;
      try {
        index(JSON.parse(line) as RunRecord);
      } catch {
        // a torn last line from a crash mid-write: the record before it stands
      }
    }
  } catch (error) {
    if ((error as { code?: string }).code !== "ENOENT") throw error;
  }
  // Bounded on disk: at start, a log grown past the threshold is rewritten (atomically) to the latest record of
  // each of the newest `maxInMemory` runs — the ones a restart can still need — so it never grows without end.
  try {
    if (statSync(path).size > compactAboveBytes) {
      const tmp = `${path}.compact.tmp`;
      const out = openSync(tmp, "w", 0o600);
      try {
        writeSync(out, [...byId.values()].map((r) => JSON.stringify(r) + "\n").join(""));
        fsyncSync(out);
      } finally {
        closeSync(out);
      }
      renameSync(tmp, path);
    }
  } catch (error) {
    if ((error as { code?: string }).code !== "ENOENT") throw error;
  }
  const fd = openSync(path, "a", 0o600);
  chmodSync(path, 0o600);
  let closed = false;
  const counts: Record<string, number> = {};
  for (const r of byId.values()) counts[r.status] = (counts[r.status] ?? 0) + 1;

  return {
    write(record) {
      if (closed) throw new Error("run log is closed");
      // A newline first would repair a torn line; records are small, one write keeps the line whole.
      writeSync(fd, JSON.stringify(record) + "\n");
      fsyncSync(fd);
      const before = byId.get(record.id);
      if (before) counts[before.status] = (counts[before.status] ?? 1) - 1;
      counts[record.status] = (counts[record.status] ?? 0) + 1;
      index(record);
    },
    get: (id) => byId.get(id),
    list(filter = {}) {
      const limit = filter.limit ?? 100;
      const out: RunRecord[] = [];
      const all = [...byId.values()];
      for (let i = all.length - 1; i >= 0 && out.length < limit; i--) {
        const r = all[i]!;
        if (filter.status !== undefined && r.status !== filter.status) continue;
        if (filter.agentId !== undefined && r.agentId !== filter.agentId) continue;
        if (filter.kind !== undefined && r.kind !== filter.kind) continue;
        out.push(r);
      }
      return out;
    },
    forDelivery: (deliveryId) => (byDelivery.get(deliveryId) ?? []).map((id) => byId.get(id)!).filter(Boolean),
    counts: () => ({ ...counts }),
    close() {
      if (closed) return;
      closed = true;
      closeSync(fd);
    },
  };
}
