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
function turnBatched(out: DestinationStream & { flushSync(): void; flush(cb?: (error?: Error) => void): void }) {
  let held = "";
  const release = () => {
    const lines = held;
    held = "";
    if (lines !== "") out.write(lines);
  };
  process.once("exit", () => {
    const lines = held;
    held = "";
    if (lines === "") return;
    // The stream's own exit handler has run (pino registered it first): what it held is out; ours follows.
    try {
      out.flushSync();
    } catch {
      // ended at exit already
    }
    writeAllSync(1, lines);
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
    flush(cb?: (error?: Error) => void) {
      release();
      out.flush(cb);
    },
  };
}

/** Writes all of `text` to `fd` before returning, waiting out a full pipe (EAGAIN) for up to ~10 s. */
function writeAllSync(fd: number, text: string): void {
  let rest = Buffer.from(text);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let waits = 0; rest.byteLength > 0 && waits < 1000; ) {
    try {
      rest = rest.subarray(writeSync(fd, rest));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN") return;
      waits++;
      Atomics.wait(pause, 0, 0, 10);
    }
  }
}

export type { Logger };
