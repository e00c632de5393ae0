/** pino logger factory with redaction of every field that could carry a credential. */
import { writeSync } from "node:fs";
import { pino, type Logger, type DestinationStream } from "pino";
import { type LogFormat, prettyDestination } from "./log-format.ts";

/** Paths pino censors wherever they appear in a log object (defense in depth: we never log values anyway). */
export const REDACT_PATHS = [
  "token",
  "*.token",
  "password",
  "*.password",
  "apiKey",
  "*.apiKey",
  "secret",
  "*.secret",
  "value",
  "*.value",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "headers.cookie",
  'headers["x-openclaw-token"]',
];

/** `format: "pretty"` writes one readable line per event to stdout (log-format.ts); the default is pino's JSON. */
export function createLogger(options: { level?: string; destination?: DestinationStream; name?: string; format?: LogFormat } = {}): Logger {
  return pino(
    {
      name: options.name ?? "clawgate",
      level: options.level ?? process.env["CLAWGATE_LOG_LEVEL"] ?? "info",
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ??
      (options.format === "pretty" ? prettyDestination({ write: (text) => process.stdout.write(text) }) : turnBatched(pino.destination({ fd: 1, sync: false }))),
  );
}

/**
 * Lines written in one turn of the event loop reach `out` as one write at its end: sonic-boom's asynchronous
 * writes each take a thread-pool round trip, which cost a wake ~10 µs when every request's audit line made its
 * own (docs/benchmarks.md). Synchronous writes would be cheaper still, but stall the daemon whenever its
 * reader falls behind. At exit, lines still held are written before the process ends.
 */
function turnBatched(out: DestinationStream & { flushSync(): void }): DestinationStream & { flushSync(): void } {
  let held = "";
  const release = () => {
    const lines = held;
    held = "";
    if (lines !== "") out.write(lines);
  };
  process.once("exit", () => {
    if (held === "") return;
    try {
      release();
      out.flushSync();
    } catch {
      writeSync(1, held);
    }
  });
  return {
    write(line: string) {
      if (held === "") setImmediate(release);
      held += line;
    },
    flushSync() {
      release();
      out.flushSync();
    },
  };
}

export type { Logger };
