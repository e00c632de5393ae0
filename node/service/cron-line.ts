/**
 * The same-host fallback heartbeat crontab line (seed §03): POST /hooks/wake on loopback with absolute
 * paths and bounded timeouts, the hook token read at run time from a 0600 file, output appended to a log.
 */
import { isAbsolute } from "node:path";

export interface CronLineOptions {
  /** Five cron fields, e.g. every 15 minutes. */
  readonly schedule: string;
  /** Absolute URL of the node's wake hook, on loopback. */
  readonly wakeUrl: string;
  /** Absolute path of a 0600 file holding the hook token (one line). */
  readonly tokenFile: string;
  /** Absolute path of the log the line appends to. */
  readonly logFile: string;
  readonly curlPath: string;
  readonly sedPath: string;
  readonly text?: string;
  readonly mode?: "now" | "next-heartbeat";
}

const FIELD_RE = /^[0-9*/,-]+$|^[A-Za-z]{3}(-[A-Za-z]{3})?$/;

/** Single-quote for /bin/sh: the only character to escape inside '…' is ' itself. */
export function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./:@=-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

export function buildCronLine(options: CronLineOptions): string {
  const fields = options.schedule.trim().split(/\s+/);
  if (fields.length !== 5 || !fields.every((f) => FIELD_RE.test(f))) {
    throw new TypeError(`schedule must be five cron fields, e.g. "*/15 * * * *", got "${options.schedule}"`);
  }
  for (const [name, value] of [
    ["tokenFile", options.tokenFile],
    ["logFile", options.logFile],
    ["curlPath", options.curlPath],
    ["sedPath", options.sedPath],
  ] as const) {
    if (!isAbsolute(value)) throw new TypeError(`${name} must be an absolute path (cron runs with a minimal PATH and cwd), got "${value}"`);
  }
  const url = new URL(options.wakeUrl);
  const loopback = url.hostname === "[::1]" || url.hostname.startsWith("127.");
  if (url.protocol !== "http:" || !loopback) {
    throw new TypeError(`wakeUrl must be the node agent's loopback http URL, got "${options.wakeUrl}"`);
  }
  const body = JSON.stringify({ text: options.text ?? "Cron heartbeat", mode: options.mode ?? "now" });
  const command = [
    "(",
    // sed turns the token file into the header line and curl reads it from stdin (-H @-): the token is
    // never in the crontab and never in curl's argv, where `ps` would show it to every user on the host.
    `${shellQuote(options.sedPath)} -n '1s/^/Authorization: Bearer /p' ${shellQuote(options.tokenFile)}`,
    "|",
    shellQuote(options.curlPath),
    // -sS: quiet but errors still logged; --fail-with-body: a 401 or 5xx is a non-zero exit and a log line.
    "-sS --fail-with-body -X POST",
    shellQuote(url.href),
    "-H @-",
    "-H 'Content-Type: application/json'",
    "-d",
    shellQuote(body),
    "--connect-timeout 5 --max-time 30",
    // One log line per run: the answer, then a newline (curl's -w understands \n).
    "-w '\\n'",
    // The subshell sends sed's errors (a missing token file) to the log too.
    `) >> ${shellQuote(options.logFile)} 2>&1`,
  ].join(" ");
  // crontab(5): an unescaped % ends the command and starts its stdin.
  return `${fields.join(" ")} ${command.replace(/%/g, "\\%")}`;
}
