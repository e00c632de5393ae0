/** The daemon's one log line per finished run (the run log keeps the record; the line is for the person watching). */
import type { RunLog, RunRecord } from "./run-log.ts";

/** The message of that line; node/server/log-format.ts shows it as `run <id…> <agent> <kind> <status> …`. */
export const RUN_FINISHED_MSG = "run finished";

/** Statuses that end a run (a "running" record and replay markers get no line). */
const ENDED = new Set(["ok", "error", "timeout", "memory_limit", "cancelled", "interrupted", "skipped"]);

/** `runLog` that also logs each run's outcome: id, agent, kind, status, duration and ack / reply length / error code — never the reply. */
export function loggingRunOutcomes(runLog: RunLog, logger: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void }): RunLog {
  return {
    ...runLog,
    write(record: RunRecord) {
      runLog.write(record);
      if (record.kind === "replay" || !ENDED.has(record.status)) return;
      const level = record.status === "ok" || record.status === "skipped" ? "info" : "warn";
      logger[level](
        {
          runId: record.id,
          agentId: record.agentId,
          kind: record.kind,
          status: record.status,
          ...(record.durationMs !== undefined ? { durationMs: record.durationMs } : {}),
          ...(record.ack !== undefined ? { ack: record.ack } : {}),
          ...(record.replyChars !== undefined ? { replyChars: record.replyChars } : {}),
          ...(record.errorCode !== undefined ? { errorCode: record.errorCode } : {}),
          ...(record.skipReason !== undefined ? { skipReason: record.skipReason } : {}),
        },
        RUN_FINISHED_MSG,
      );
    },
  };
}
