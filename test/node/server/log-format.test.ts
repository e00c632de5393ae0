/** Readable log lines: a real pino logger into the pretty destination, the run-outcome line, and the format choice. */
import { expect, it } from "vitest";
import { chooseLogFormat, formatLogLine, prettyDestination } from "../../../node/server/log-format.ts";
import { createLogger } from "../../../node/server/logger.ts";

function capture() {
  const lines: string[] = [];
  let text = "";
  return { out: { write: (t: string) => ((text += t), lines.push(...t.split("\n").filter(Boolean))) }, lines, text: () => text };
}

it("writes one line per event: time, level, message, then the fields; credentials stay redacted", () => {
  const sink = capture();
  const logger = createLogger({ destination: prettyDestination(sink.out) });
  logger.info({ url: "http://127.0.0.1:18789", stateDir: "/var/lib/clawgate" }, "clawgate node agent listening on http://127.0.0.1:18789");
  logger.warn({ token: "s3cr3t-value", err: new Error("disk full") }, "could not save learned model memory");
  expect(sink.lines).toHaveLength(2);
  expect(sink.lines[0]).toMatch(/^\d\d:\d\d:\d\d INFO  clawgate node agent listening on http:\/\/127\.0\.0\.1:18789 url=http:\/\/127\.0\.0\.1:18789 stateDir=\/var\/lib\/clawgate$/);
  expect(sink.lines[1]).toMatch(/^\d\d:\d\d:\d\d WARN  could not save learned model memory token=\[redacted\] err="disk full"$/);
  expect(sink.text()).not.toContain("s3cr3t-value");
});

it("a finished run reads as run <id…> <agent> <kind> <status> <ms> and what came back", () => {
  const line = (fields: Record<string, unknown>) =>
    formatLogLine(JSON.stringify({ level: 30, time: "2026-12-03T10:00:00.000Z", pid: 1, name: "clawgate", msg: "run finished", ...fields }));
  expect(line({ runId: "1f3a2b9c-aaaa", agentId: "main", kind: "heartbeat", status: "ok", durationMs: 12.4, ack: true })).toMatch(
    /^\d\d:\d\d:\d\d INFO  run 1f3a2b… main heartbeat ok 12 ms "HEARTBEAT_OK"$/,
  );
  expect(line({ runId: "77aa00ff", agentId: "ops", kind: "agent", status: "ok", durationMs: 1200, replyChars: 342 })).toMatch(/ run 77aa00… ops agent ok 1200 ms 342 chars$/);
  expect(line({ runId: "77aa00ff", agentId: "ops", kind: "agent", status: "timeout", durationMs: 30000, errorCode: "ERR_RUN_TIMEOUT" })).toMatch(
    / run 77aa00… ops agent timeout 30000 ms ERR_RUN_TIMEOUT$/,
  );
});

it("gives a record without a level (an edge event) its stream's level, INFO unless told", () => {
  const event = JSON.stringify({ event: "cron.tick", cron: "*/30 * * * *", runs: 1 });
  expect(formatLogLine(event)).toMatch(/^\d\d:\d\d:\d\d INFO  event=cron\.tick cron="\*\/30 \* \* \* \*" runs=1$/);
  expect(formatLogLine(event, "WARN")).toMatch(/^\d\d:\d\d:\d\d WARN  event=cron\.tick /);
});

it("passes a line that is not JSON through unchanged", () => {
  expect(formatLogLine("plain text from a child")).toBe("plain text from a child");
});

it("chooses pretty on a terminal and JSON otherwise; the flag and $CLAWGATE_LOG_FORMAT override; a bad value is named", () => {
  expect(chooseLogFormat(undefined, {}, true)).toBe("pretty");
  expect(chooseLogFormat(undefined, {}, false)).toBe("json");
  expect(chooseLogFormat("json", {}, true)).toBe("json");
  expect(chooseLogFormat(undefined, { CLAWGATE_LOG_FORMAT: "pretty" }, false)).toBe("pretty");
  expect(() => chooseLogFormat("yaml", {}, true)).toThrow('--log-format must be pretty or json, got "yaml"');
});
