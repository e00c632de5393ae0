/** Heartbeat timing with an injected clock: intervals, "0m", active hours, maxEventDelay (nothing waits forever), acks. */
import { describe, expect, it } from "vitest";
import { createHeartbeatTiming, isHeartbeatAck, parseDurationMs, withinActiveHours } from "../../../node/dispatch/heartbeat.ts";

/** A manual clock: timers fire only when the test advances time. */
function clock(start = Date.UTC(2026, 0, 5, 12, 0)) {
  let t = start;
  let timers: { at: number; fn: () => void; id: number }[] = [];
  let nextId = 1;
  return {
    now: () => t,
    setTimer: (fn: () => void, ms: number) => {
      const id = nextId++;
      timers.push({ at: t + ms, fn, id });
      return id;
    },
    clearTimer: (id: unknown) => void (timers = timers.filter((x) => x.id !== id)),
    advance(ms: number) {
      const end = t + ms;
      for (;;) {
        timers.sort((a, b) => a.at - b.at);
        const next = timers[0];
        if (!next || next.at > end) break;
        timers.shift();
        t = next.at;
        next.fn();
      }
      t = end;
    },
  };
}

function setup(over: { everyMs?: number; activeHours?: { start: string; end: string; timezone?: string }; maxEventDelayMs?: number } = {}) {
  const c = clock();
  const runs: { trigger: string; at: number }[] = [];
  const skips: string[] = [];
  let oldest: number | undefined;
  const hb = createHeartbeatTiming({
    agentId: "main",
    everyMs: over.everyMs ?? 30 * 60_000,
    activeHours: over.activeHours,
    maxEventDelayMs: over.maxEventDelayMs ?? 30 * 60_000,
    oldestEventAt: () => oldest,
    run: (trigger) => {
      runs.push({ trigger, at: c.now() });
      oldest = undefined; // the run drains the queue
    },
    skipped: (reason) => skips.push(reason),
    ...c,
  });
  return { c, hb, runs, skips, setOldest: (at: number | undefined) => (oldest = at) };
}

describe("heartbeat timing", () => {
  it("ticks every interval", () => {
    const { c, hb, runs } = setup({ everyMs: 10 * 60_000 });
    hb.start();
    c.advance(35 * 60_000);
    expect(runs.map((r) => r.trigger)).toEqual(["interval", "interval", "interval"]);
  });

  it('with "0m" a next-heartbeat event still runs within maxEventDelay', () => {
    const { c, hb, runs, setOldest } = setup({ everyMs: 0, maxEventDelayMs: 30 * 60_000 });
    hb.start();
    c.advance(60 * 60_000);
    expect(runs).toEqual([]);
    setOldest(c.now());
    hb.noteEvent();
    c.advance(29 * 60_000);
    expect(runs).toEqual([]);
    c.advance(60_000);
    expect(runs).toEqual([{ trigger: "max_event_delay", at: c.now() }]);
  });

  it("an event does not wait for a far interval either", () => {
    const { c, hb, runs, setOldest } = setup({ everyMs: 24 * 3_600_000, maxEventDelayMs: 5 * 60_000 });
    hb.start();
    setOldest(c.now());
    hb.noteEvent();
    c.advance(5 * 60_000);
    expect(runs.map((r) => r.trigger)).toEqual(["max_event_delay"]);
  });

  it("skips interval ticks outside active hours and says why, but events still run", () => {
    // 12:00 UTC = 13:00 Berlin in January; active 20:00–22:00 Berlin.
    const { c, hb, runs, skips, setOldest } = setup({ everyMs: 30 * 60_000, activeHours: { start: "20:00", end: "22:00", timezone: "Europe/Berlin" } });
    hb.start();
    c.advance(60 * 60_000);
    expect(runs).toEqual([]);
    expect(skips).toEqual(["outside_active_hours", "outside_active_hours"]);
    setOldest(c.now());
    hb.noteEvent();
    c.advance(30 * 60_000);
    expect(runs.map((r) => r.trigger)).toEqual(["max_event_delay"]);
  });

  it("a blocked run is not re-requested in a loop", () => {
    const { c, hb, runs, setOldest } = setup({ everyMs: 0, maxEventDelayMs: 60_000 });
    hb.start();
    setOldest(c.now());
    hb.noteEvent();
    c.advance(60_000);
    expect(runs).toHaveLength(1);
    setOldest(c.now() - 120_000); // still queued (the run has not started yet)
    hb.noteEvent();
    c.advance(59_000);
    expect(runs).toHaveLength(1);
    c.advance(1_000);
    expect(runs).toHaveLength(2);
  });

  it("requestNow runs at once and pushes the next interval back; retryIn runs later", () => {
    const { c, hb, runs } = setup({ everyMs: 30 * 60_000 });
    hb.start();
    c.advance(20 * 60_000);
    hb.requestNow();
    c.advance(29 * 60_000);
    expect(runs.map((r) => r.trigger)).toEqual(["wake"]);
    hb.retryIn(1000);
    c.advance(1000);
    expect(runs.map((r) => r.trigger)).toEqual(["wake", "retry"]);
    hb.stop();
    c.advance(3_600_000);
    expect(runs).toHaveLength(2);
  });
});

describe("heartbeat helpers", () => {
  it("parses OpenClaw durations", () => {
    expect(parseDurationMs("30m")).toBe(1_800_000);
    expect(parseDurationMs("1h30m")).toBe(5_400_000);
    expect(parseDurationMs("0m")).toBe(0);
    expect(() => parseDurationMs("30 minutes")).toThrow(/not a duration/);
  });

  it("active hours in a timezone, across midnight", () => {
    const at = Date.UTC(2026, 0, 5, 23, 30); // 00:30 Berlin
    expect(withinActiveHours({ start: "22:00", end: "06:00", timezone: "Europe/Berlin" }, at)).toBe(true);
    expect(withinActiveHours({ start: "09:00", end: "22:00", timezone: "Europe/Berlin" }, at)).toBe(false);
    expect(withinActiveHours({ start: "09:00", end: "24:00", timezone: "UTC" }, at)).toBe(true);
  });

  it("HEARTBEAT_OK at the start or end is an ack; a long remainder is a message", () => {
    expect(isHeartbeatAck("HEARTBEAT_OK")).toBe(true);
    expect(isHeartbeatAck("All quiet. HEARTBEAT_OK")).toBe(true);
    expect(isHeartbeatAck("The deploy failed, look at it")).toBe(false);
    expect(isHeartbeatAck(`HEARTBEAT_OK ${"x".repeat(400)}`, 300)).toBe(false);
  });
});
