/**
 * Log lines a person reads: one line per event — time, level, what happened, the few fields that matter —
 * for a terminal (the daemon on a TTY, `npm start`). Pipes and supervisors get pino's JSON unchanged
 * (`--log-format json` forces it). A finished run reads `run 1f3a2b… main heartbeat ok 12 ms "HEARTBEAT_OK"`.
 */
import type { DestinationStream } from "pino";
import { RUN_FINISHED_MSG } from "../dispatch/run-outcome-log.ts";

export const LOG_FORMATS = ["pretty", "json"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

const LEVELS: Record<number, string> = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };
/** pino's own fields, shown in the line's head or not at all. */
const HIDDEN = new Set(["level", "time", "pid", "hostname", "name", "msg", "v"]);

/** --log-format, else $CLAWGATE_LOG_FORMAT, else pretty on a terminal and JSON otherwise. */
export function chooseLogFormat(flag: string | undefined, env: NodeJS.ProcessEnv, isTty: boolean): LogFormat {
  const chosen = flag ?? (env["CLAWGATE_LOG_FORMAT"] || undefined);
  if (chosen === undefined) return isTty ? "pretty" : "json";
  if (!(LOG_FORMATS as readonly string[]).includes(chosen)) throw new TypeError(`--log-format must be pretty or json, got "${chosen}"`);
  return chosen as LogFormat;
}

function clock(time: unknown): string {
  const date = new Date(typeof time === "string" || typeof time === "number" ? time : Date.now());
  return Number.isNaN(date.getTime()) ? "--:--:--" : date.toTimeString().slice(0, 8);
}

function fieldValue(value: unknown): string {
  if (typeof value === "string") return /[\s"=]/.test(value) || value === "" ? JSON.stringify(value) : value;
  if (value !== null && typeof value === "object" && "message" in value) return JSON.stringify(String((value as { message: unknown }).message));
  return JSON.stringify(value) ?? String(value);
}

/** `run 1f3a2b… main heartbeat ok 12 ms "HEARTBEAT_OK"` (or the reply's length, or the error code). */
function runLine(r: Record<string, unknown>): string {
  const id = typeof r["runId"] === "string" ? `${r["runId"].slice(0, 6)}…` : "?";
  const detail = r["ack"] === true ? '"HEARTBEAT_OK"' : typeof r["errorCode"] === "string" ? r["errorCode"] : typeof r["replyChars"] === "number" ? `${r["replyChars"]} chars` : typeof r["skipReason"] === "string" ? r["skipReason"] : "";
  const ms = typeof r["durationMs"] === "number" ? `${Math.round(r["durationMs"])} ms` : "";
  return ["run", id, r["agentId"], r["kind"], r["status"], ms, detail].filter((p) => p !== undefined && p !== "").join(" ");
}

/**
 * One readable line (no newline) for one pino JSON record; a line that is not JSON comes back as it was.
 * `levelWithout` is the level of a record that carries none: the edge's events (one JSON object per
 * console.log) take the level of the stream they came on.
 */
export function formatLogLine(line: string, levelWithout = "INFO"): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (typeof record !== "object" || record === null) return line;
  const level = record["level"] === undefined ? levelWithout : (LEVELS[Number(record["level"])] ?? String(record["level"]));
  const head = `${clock(record["time"])} ${level.padEnd(5)}`;
  if (record["msg"] === RUN_FINISHED_MSG) return `${head} ${runLine(record)}`;
  const fields = Object.entries(record)
    .filter(([key, value]) => !HIDDEN.has(key) && value !== undefined)
    .map(([key, value]) => `${key}=${fieldValue(key === "err" && value && typeof value === "object" ? (value as { message?: unknown }).message ?? value : value)}`);
  return [head, typeof record["msg"] === "string" ? record["msg"] : "", ...fields].filter((p) => p !== "").join(" ");
}

/** A pino destination writing readable lines to `out` (synchronously, so the last line before an exit is not lost). */
export function prettyDestination(out: { write(text: string): unknown }): DestinationStream {
  let pending = "";
  return {
    write(chunk: string) {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) if (line !== "") out.write(`${formatLogLine(line)}\n`);
    },
  };
}
