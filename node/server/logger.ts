/** pino logger factory with redaction of every field that could carry a credential. */
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
      (options.format === "pretty" ? prettyDestination({ write: (text) => process.stdout.write(text) }) : pino.destination({ fd: 1, sync: false })),
  );
}

export type { Logger };
