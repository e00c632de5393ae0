/**
 * Heartbeat timing for one agent (docs/openclaw-compat.md §6): periodic ticks every `heartbeat.every` ("0m" disables),
 * deferred outside `activeHours`, `now` wakes at once, and — unlike OpenClaw (#7588, #9944, #13190, #14658) — a
 * pending `next-heartbeat` event never waits longer than `maxEventDelay`, even with heartbeats disabled or a
 * tick that is far away. Every decision not to run is reported with its reason (OpenClaw #17096). Clock and
 * timers are injected; the run itself is the dispatcher's.
 */

export type HeartbeatTrigger = "interval" | "wake" | "max_event_delay" | "hook" | "retry" | "secrets";
export type SkipReason = "outside_active_hours";

export interface ActiveHours {
  readonly start: string;
  readonly end: string;
  readonly timezone?: string | undefined;
}

export interface HeartbeatTimingOptions {
  readonly agentId: string;
  /** 0 disables periodic heartbeats (events still run within maxEventDelayMs). */
  readonly everyMs: number;
  readonly activeHours?: ActiveHours | undefined;
  readonly maxEventDelayMs: number;
  /** When the oldest pending system event of the agent's main session was queued (ms), or undefined. */
  readonly oldestEventAt: () => number | undefined;
  /** Start a heartbeat run (the dispatcher coalesces concurrent requests). */
  readonly run: (trigger: HeartbeatTrigger) => void;
  /** A due heartbeat that did not run, and why. */
  readonly skipped: (reason: SkipReason) => void;
  readonly now: () => number;
  readonly setTimer: (fn: () => void, ms: number) => unknown;
  readonly clearTimer: (handle: unknown) => void;
}

export interface HeartbeatTiming {
  start(): void;
  /** `wake` with mode `now` (or a hook run with wakeMode `now`): run at once. */
  requestNow(trigger?: HeartbeatTrigger): void;
  /** A `next-heartbeat` event was queued: make sure the timer covers its deadline. */
  noteEvent(): void;
  /** Run again after `ms` (a failed heartbeat whose events were put back). */
  retryIn(ms: number): void;
  /** When the timer fires next (ms), or undefined. */
  nextAt(): number | undefined;
  stop(): void;
}

/** Node's setTimeout holds at most 2^31−1 ms; longer waits re-arm. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** "30m", "1h30m", "90s", "500ms", "1d" → ms (OpenClaw durations). */
export function parseDurationMs(text: string): number {
  const re = /(\d+)(ms|s|m|h|d)/g;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  let total = 0;
  let consumed = 0;
  for (const m of text.matchAll(re)) {
    total += Number(m[1]) * unit[m[2]!]!;
    consumed += m[0].length;
  }
  if (consumed !== text.length || text.length === 0) throw new TypeError(`"${text}" is not a duration such as "30m"`);
  return total;
}

const minutesOf = (hhmm: string): number => {
  const [h, m] = hhmm.split(":").map(Number) as [number, number];
  return h * 60 + m;
};

/**
 * Whether `at` falls inside `activeHours` in its timezone (IANA name; default the host's). `end` may be "24:00";
 * `start` > `end` spans midnight (22:00–06:00).
 */
export function withinActiveHours(hours: ActiveHours, at: number): boolean {
  const parts = new Intl.DateTimeFormat("en-GB", { timeZone: hours.timezone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(at);
  const h = Number(parts.find((p) => p.type === "hour")?.value);
  const m = Number(parts.find((p) => p.type === "minute")?.value);
  const t = h * 60 + m;
  const start = minutesOf(hours.start);
  const end = minutesOf(hours.end);
  if (start === end) return true;
  return start < end ? t >= start && t < end : t >= start || t < end;
}

/** Throws a TypeError naming the field when a timezone is not a valid IANA name. */
export function checkTimezone(timezone: string | undefined, field: string): void {
  if (timezone === undefined) return;
  try {
    new Intl.DateTimeFormat("en-GB", { timeZone: timezone });
  } catch {
    throw new TypeError(`${field}: unknown timezone "${timezone}"`);
  }
}

export function createHeartbeatTiming(o: HeartbeatTimingOptions): HeartbeatTiming {
  if (!(o.everyMs >= 0)) throw new TypeError("everyMs must be a non-negative number");
  if (!(o.maxEventDelayMs > 0)) throw new TypeError("maxEventDelayMs must be a positive number");
  let nextIntervalAt: number | undefined;
  let retryAt: number | undefined;
  let timer: unknown;
  let timerAt: number | undefined;
  let stopped = true;
  /** When a run was last requested: an event still queued after it (the run has not started yet) waits a full delay again, so a blocked run is not re-requested in a loop. */
  let lastRunAt = -Infinity;
  const request = (trigger: HeartbeatTrigger) => {
    lastRunAt = o.now();
    o.run(trigger);
  };

  const arm = () => {
    if (timer !== undefined) o.clearTimer(timer);
    timer = undefined;
    timerAt = undefined;
    if (stopped) return;
    const oldest = o.oldestEventAt();
    const candidates = [nextIntervalAt, retryAt, oldest === undefined ? undefined : Math.max(oldest, lastRunAt) + o.maxEventDelayMs].filter((x): x is number => x !== undefined);
    if (candidates.length === 0) return;
    const at = Math.min(...candidates);
    timerAt = at;
    timer = o.setTimer(fire, Math.min(MAX_TIMER_MS, Math.max(0, at - o.now())));
  };

  const fire = () => {
    timer = undefined;
    const now = o.now();
    if (timerAt !== undefined && now < timerAt) return arm(); // a long wait re-armed in steps
    const oldest = o.oldestEventAt();
    if (retryAt !== undefined && retryAt <= now) {
      retryAt = undefined;
      request("retry");
    } else if (oldest !== undefined && Math.max(oldest, lastRunAt) + o.maxEventDelayMs <= now) {
      // The promise OpenClaw broke: an event waits at most maxEventDelay, active hours or not, enabled or not.
      request("max_event_delay");
    } else if (nextIntervalAt !== undefined && nextIntervalAt <= now) {
      if (o.activeHours && !withinActiveHours(o.activeHours, now)) o.skipped("outside_active_hours");
      else request("interval");
    }
    if (nextIntervalAt !== undefined && nextIntervalAt <= now) nextIntervalAt = now + o.everyMs;
    arm();
  };

  return {
    start() {
      stopped = false;
      nextIntervalAt = o.everyMs > 0 ? o.now() + o.everyMs : undefined;
      arm();
    },
    requestNow(trigger = "wake") {
      if (stopped) return;
      request(trigger);
      // A heartbeat just ran: the next periodic one is a full interval away.
      if (o.everyMs > 0) nextIntervalAt = o.now() + o.everyMs;
      arm();
    },
    noteEvent() {
      if (!stopped) arm();
    },
    retryIn(ms) {
      if (stopped) return;
      retryAt = o.now() + ms;
      arm();
    },
    nextAt: () => timerAt,
    stop() {
      stopped = true;
      arm();
    },
  };
}

/**
 * OpenClaw's acknowledgement rule: a reply that starts or ends with HEARTBEAT_OK is an ack, not a message,
 * provided what remains is at most `ackMaxChars` (default 300); a longer remainder is a real message.
 */
export function isHeartbeatAck(reply: string, ackMaxChars = 300): boolean {
  const t = reply.trim();
  let rest: string;
  if (t.startsWith("HEARTBEAT_OK")) rest = t.slice("HEARTBEAT_OK".length);
  else if (t.endsWith("HEARTBEAT_OK")) rest = t.slice(0, -"HEARTBEAT_OK".length);
  else return false;
  return rest.trim().length <= ackMaxChars;
}

/** OpenClaw's default heartbeat prompt (paraphrased): check in, answer HEARTBEAT_OK when nothing needs attention. */
export const DEFAULT_HEARTBEAT_PROMPT =
  "Heartbeat: review the system events above and anything pending. If nothing needs attention, reply HEARTBEAT_OK.";

/** Period + grace: a heartbeat may start late by a tick and run for a while; 10% of the period, at least 2 minutes. */
export function heartbeatDeadlineMs(periodMs: number): number {
  return periodMs + Math.max(120_000, periodMs * 0.1);
}
