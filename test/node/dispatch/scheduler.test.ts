/** Scheduler semantics on a fake clock and fake probe: memory admission, exclusivity, order, caps, timeouts, cancel, queue limit, events and the backfill policy. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { MemorySample } from "../../../node/dispatch/memory-probe.ts";
import { MemoryLimitError, type RunContext, type RunOutcome, type RunTask, type SchedulerOptions, createScheduler } from "../../../node/dispatch/scheduler.ts";
import { realIo } from "../../helpers/daemon-io.ts";

/** A manual clock whose timers fire only when the test advances it. */
function fakeClock() {
  let t = 0;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => t,
    setTimer: (fn: () => void, ms: number) => {
      const id = ++seq;
      timers.set(id, { at: t + ms, fn });
      return id;
    },
    clearTimer: (h: unknown) => void timers.delete(h as number),
    async advance(ms: number) {
      const end = t + ms;
      for (;;) {
        let next: [number, { at: number; fn: () => void }] | undefined;
        for (const e of timers) if (e[1].at <= end && (next === undefined || e[1].at < next[1].at)) next = e;
        if (next === undefined) break;
        timers.delete(next[0]);
        t = next[1].at;
        next[1].fn();
        await flush();
      }
      t = end;
      await flush();
    },
    pending: () => timers.size,
  };
}

/** Lets promise callbacks (probe replies, run settlements) run; not a timing wait. */
const flush = () => new Promise<void>((r) => setImmediate(r));

/** A run the test finishes by hand. */
function manualRun<R = string>() {
  let resolve!: (v: R) => void;
  let reject!: (e: unknown) => void;
  let ctx: RunContext | undefined;
  const run = (c: RunContext) => {
    ctx = c;
    return new Promise<R>((res, rej) => {
      resolve = res;
      reject = rej;
    });
  };
  return {
    run,
    get started() {
      return ctx !== undefined;
    },
    get ctx() {
      return ctx!;
    },
    finish: async (v: R) => {
      resolve(v);
      await flush();
    },
    fail: async (e: unknown) => {
      reject(e);
      await flush();
    },
  };
}

function setup(over: Partial<SchedulerOptions> = {}, probeSample: MemorySample = { availableGb: 1000, totalGb: 1000 }) {
  const clock = fakeClock();
  let sample = probeSample;
  let probeCalls = 0;
  let probeFails = false;
  const scheduler = createScheduler({
    budgetGb: 32,
    maxQueue: 100,
    maxConcurrent: 8,
    headroomGb: 1,
    memoryProbe: async () => {
      probeCalls++;
      if (probeFails) throw new Error("probe down");
      return sample;
    },
    io: { now: clock.now, setTimer: clock.setTimer, clearTimer: clock.clearTimer },
    ...over,
  });
  const log: string[] = [];
  scheduler.on("started", (e) => log.push(e.id));
  return {
    clock,
    scheduler,
    log,
    setSample: (s: MemorySample) => (sample = s),
    setProbeFails: (v: boolean) => (probeFails = v),
    probeCalls: () => probeCalls,
    submit(id: string, memoryGb: number, extra: Partial<RunTask<string>> = {}) {
      const m = manualRun();
      const r = scheduler.submit({ id, agentId: "main", sessionKey: `s-${id}`, priority: "normal", memoryGb, run: m.run, ...extra });
      if (!r.accepted) throw new Error(`not accepted: ${r.code}`);
      return Object.assign(m, { done: r.done });
    },
  };
}

describe("memory admission", () => {
  it("never starts a run that would exceed the budget; the next one starts when memory frees", async () => {
    const s = setup({ budgetGb: 20 });
    const a = s.submit("a", 12);
    const b = s.submit("b", 10);
    await flush();
    expect(s.log).toEqual(["a"]);
    expect(s.scheduler.state()).toMatchObject({ reservedGb: 12, blocked: { id: "b", reason: "memory" } });
    await a.finish("x");
    await flush();
    expect(s.log).toEqual(["a", "b"]);
    expect(s.scheduler.state().reservedGb).toBe(10);
    await b.finish("y");
  });

  it("property: under random arrivals, sizes and finishes the reserved sum never exceeds the budget", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ gb: fc.oneof(fc.constant(0), fc.double({ min: 0.5, max: 30, noNaN: true })), high: fc.boolean(), session: fc.integer({ min: 0, max: 5 }), finishAfter: fc.integer({ min: 0, max: 6 }) }), { minLength: 1, maxLength: 40 }),
        async (jobs) => {
          const s = setup({ budgetGb: 32, exclusiveAboveGb: 24, maxConcurrent: 5 });
          let violations = 0;
          const runs: ReturnType<typeof s.submit>[] = [];
          s.scheduler.on("started", () => {
            const st = s.scheduler.state();
            if (st.reservedGb > st.budgetGb + 1e-9) violations++;
          });
          for (const [i, j] of jobs.entries()) {
            runs.push(s.submit(`j${i}`, j.gb, { priority: j.high ? "high" : "normal", sessionKey: `s${j.session}` }));
            await flush();
            // finish some earlier started run
            const started = runs.filter((r) => r.started);
            if (j.finishAfter < started.length) await started[j.finishAfter]!.finish("ok");
          }
          for (let guard = 0; guard < 200 && s.scheduler.state().running + s.scheduler.state().queued > 0; guard++) {
            for (const r of runs) if (r.started) await r.finish("ok");
            await flush();
          }
          expect(violations).toBe(0);
          expect(s.scheduler.state()).toMatchObject({ running: 0, queued: 0, reservedGb: 0 });
        },
      ),
      { seed: 20261124, numRuns: 60 },
    );
  });

  it("needs measured available memory ≥ estimate + headroom, and counts runs started since the reading", async () => {
    const s = setup({ budgetGb: 100, headroomGb: 2 }, { availableGb: 20, totalGb: 64 });
    const a = s.submit("a", 10);
    const b = s.submit("b", 10);
    await flush();
    // 20 available: a fits (10 + 2 ≤ 20); b would need 12 of the 10 left unseen by that reading.
    expect(s.log).toEqual(["a"]);
    expect(s.scheduler.state().blocked).toEqual({ id: "b", reason: "probe" });
    // Memory used elsewhere goes away; the probe is asked again after its TTL and b starts.
    s.setSample({ availableGb: 30, totalGb: 64 });
    await s.clock.advance(1000);
    await flush();
    expect(s.log).toEqual(["a", "b"]);
    await a.finish("x");
    await b.finish("y");
  });

  it("a reading taken after a run started already contains it: its estimate is not subtracted twice", async () => {
    const s = setup({ budgetGb: 100, headroomGb: 2 }, { availableGb: 12, totalGb: 64 });
    s.submit("a", 10);
    s.submit("b", 14);
    await flush();
    expect(s.log).toEqual(["a"]);
    // The host now shows a's 10 GiB as used: 16 available is exactly b's 14 + 2 of headroom.
    s.setSample({ availableGb: 16, totalGb: 64 });
    await s.clock.advance(1000);
    await flush();
    expect(s.log).toEqual(["a", "b"]);
  });

  it("caches the probe for probeTtlMs", async () => {
    const s = setup({ probeTtlMs: 1000 });
    for (let i = 0; i < 5; i++) s.submit(`r${i}`, 1);
    await flush();
    s.submit("r5", 1);
    await flush();
    expect(s.log).toHaveLength(6);
    expect(s.probeCalls()).toBe(1);
    await s.clock.advance(1500);
    s.submit("later", 1);
    await flush();
    expect(s.probeCalls()).toBe(2);
  });

  it("a reading older than probeTtlMs is not decided on: memory taken while the queue was idle holds the next run back", async () => {
    const s = setup({ probeTtlMs: 1000 }, { availableGb: 30, totalGb: 32 });
    const a = s.submit("a", 6);
    await flush();
    await a.finish("ok");
    // Another process takes the host's memory while nothing is queued: no decision, so no reading, shows it.
    s.setSample({ availableGb: 3, totalGb: 32 });
    await s.clock.advance(60_000);
    const b = s.submit("b", 6);
    const hosted = s.submit("hosted", 0);
    await flush();
    // b waited for a new reading (6 + 1 of headroom > 3) instead of starting on the minute-old 30 GiB; hosted ran.
    expect(s.log).toEqual(["a", "hosted"]);
    expect(s.probeCalls()).toBe(2);
    expect(s.scheduler.state()).toMatchObject({ availableGb: 3, blocked: { id: "b", reason: "probe" } });
    s.setSample({ availableGb: 20, totalGb: 32 });
    await s.clock.advance(1000);
    expect(s.log).toEqual(["a", "hosted", "b"]);
    await b.finish("ok");
    await hosted.finish("ok");
  });

  it("a probe that starts failing holds local runs (fail closed, blocked: probe) until it answers again", async () => {
    const s = setup({ probeTtlMs: 1000 });
    const a = s.submit("a", 6);
    await flush();
    await a.finish("ok");
    s.setProbeFails(true);
    await s.clock.advance(5000);
    const b = s.submit("b", 6);
    await s.clock.advance(3000);
    expect(s.log).toEqual(["a"]);
    expect(s.scheduler.state().blocked).toEqual({ id: "b", reason: "probe" });
    s.setProbeFails(false);
    await s.clock.advance(1000);
    expect(s.log).toEqual(["a", "b"]);
    await b.finish("ok");
  });

  it("a probe slower than probeTtlMs still admits runs: a reading is decided on once when it arrives", async () => {
    const s = setup({ probeTtlMs: 0 }, { availableGb: 30, totalGb: 32 });
    const a = s.submit("a", 6);
    await s.clock.advance(5);
    const b = s.submit("b", 6);
    await s.clock.advance(5);
    expect(s.log).toEqual(["a", "b"]);
    await a.finish("ok");
    await b.finish("ok");
  });

  it("starts no local run until the probe answers; hosted runs (0 GiB) do not wait for it", async () => {
    const s = setup();
    s.setProbeFails(true);
    s.submit("local", 4);
    const hosted = s.submit("hosted", 0);
    await flush();
    expect(s.log).toEqual(["hosted"]);
    s.setProbeFails(false);
    await s.clock.advance(1000);
    await flush();
    expect(s.log).toEqual(["hosted", "local"]);
    await hosted.finish("ok");
  });
});

describe("exclusive runs", () => {
  it("a run strictly above exclusiveAboveGb runs alone among local runs; hosted runs may run beside it", async () => {
    const s = setup({ budgetGb: 64, exclusiveAboveGb: 40 });
    const small = s.submit("small", 6);
    const big = s.submit("big", 40.5);
    await flush();
    expect(s.log).toEqual(["small"]);
    expect(s.scheduler.state().blocked).toEqual({ id: "big", reason: "exclusive" });
    await small.finish("ok");
    expect(s.log).toEqual(["small", "big"]);
    s.submit("small2", 6);
    const hosted = s.submit("hosted", 0);
    await flush();
    expect(s.log).toEqual(["small", "big", "hosted"]);
    expect(s.scheduler.state().exclusiveRunning).toBe(true);
    await big.finish("ok");
    expect(s.log).toEqual(["small", "big", "hosted", "small2"]);
    await hosted.finish("ok");
  });

  it("a run exactly at exclusiveAboveGb is not exclusive: it runs beside other local runs", async () => {
    const s = setup({ budgetGb: 64, exclusiveAboveGb: 40 });
    const small = s.submit("small", 6);
    const edge = s.submit("edge", 40);
    await flush();
    expect(s.log).toEqual(["small", "edge"]);
    expect(s.scheduler.state().exclusiveRunning).toBe(false);
    await small.finish("ok");
    await edge.finish("ok");
  });
});

describe("order", () => {
  it("high priority starts before earlier normal runs; FIFO within a priority", async () => {
    const s = setup({ maxConcurrent: 1 });
    const first = s.submit("first", 1);
    await flush();
    s.submit("n1", 1);
    s.submit("n2", 1);
    s.submit("h1", 1, { priority: "high" });
    s.submit("h2", 1, { priority: "high" });
    await first.finish("ok");
    expect(s.log).toEqual(["first", "h1"]);
    expect(s.scheduler.state()).toMatchObject({ queued: 3, queuedHigh: 1, blocked: { id: "h2", reason: "global_cap" } });
  });

  it("serializes a session in submission order, even past a later high-priority run; other sessions go on", async () => {
    const s = setup();
    const a1 = s.submit("a1", 1, { sessionKey: "hook:a" });
    const a2 = s.submit("a2", 1, { sessionKey: "hook:a" });
    s.submit("a3", 1, { sessionKey: "hook:a", priority: "high" });
    s.submit("b1", 1, { sessionKey: "hook:b" });
    await flush();
    expect(s.log).toEqual(["a1", "b1"]);
    await a1.finish("ok");
    expect(s.log).toEqual(["a1", "b1", "a2"]);
    await a2.finish("ok");
    expect(s.log).toEqual(["a1", "b1", "a2", "a3"]);
  });

  it("enforces per-agent and global caps without blocking other agents", async () => {
    const s = setup({ maxConcurrent: 3, perAgentMaxConcurrent: { slow: 1 } });
    const x1 = s.submit("x1", 1, { agentId: "slow" });
    s.submit("x2", 1, { agentId: "slow" });
    s.submit("y1", 1, { agentId: "fast" });
    s.submit("y2", 1, { agentId: "fast" });
    s.submit("y3", 1, { agentId: "fast" });
    await flush();
    expect(s.log).toEqual(["x1", "y1", "y2"]);
    expect(s.scheduler.state().perAgent).toEqual({ slow: { queued: 1, running: 1, reservedGb: 1 }, fast: { queued: 1, running: 2, reservedGb: 2 } });
    await x1.finish("ok");
    expect(s.log).toEqual(["x1", "y1", "y2", "x2"]);
  });
});

describe("bounded scan", () => {
  it("a hosted run is not hidden behind a long line of runs waiting for memory", async () => {
    const s = setup({ budgetGb: 10, maxScan: 4 });
    const hold = s.submit("hold", 10);
    await flush();
    for (let i = 0; i < 20; i++) s.submit(`wait${i}`, 5);
    const hosted = s.submit("hosted", 0);
    await flush();
    expect(s.log).toEqual(["hold", "hosted"]);
    await hosted.finish("ok");
    await hold.finish("ok");
  });

  it("a run cancelled by a 'started' listener of an earlier run in the same decision is never called", async () => {
    const s = setup();
    s.scheduler.on("started", (e) => {
      if (e.id === "first") s.scheduler.cancel("second");
    });
    let calls = 0;
    const first = s.submit("first", 1);
    const second = s.scheduler.submit({ id: "second", agentId: "main", sessionKey: "s2", priority: "normal", memoryGb: 1, run: async () => void calls++ });
    await flush();
    expect(second.accepted && (await second.done)).toMatchObject({ status: "cancelled" });
    expect(calls).toBe(0);
    await first.finish("ok");
  });
});

describe("run outcomes", () => {
  it("timeoutMs aborts the signal with ERR_RUN_TIMEOUT and the run ends 'timeout' once it settles", async () => {
    const s = setup();
    const r = s.submit("slow", 2, { timeoutMs: 5000 });
    await flush();
    await s.clock.advance(4999);
    expect(r.ctx.signal.aborted).toBe(false);
    await s.clock.advance(1);
    expect(r.ctx.signal.aborted).toBe(true);
    expect(r.ctx.signal.reason).toMatchObject({ code: "ERR_RUN_TIMEOUT", name: "TimeoutError" });
    // Memory stays reserved until the runtime has actually stopped.
    expect(s.scheduler.state().reservedGb).toBe(2);
    await r.fail(r.ctx.signal.reason);
    expect(await r.done).toMatchObject({ status: "timeout", errorCode: "ERR_RUN_TIMEOUT", startedAt: 0, finishedAt: 5000 });
    expect(s.scheduler.state().reservedGb).toBe(0);
  });

  it("maps a MemoryLimitError to 'memory_limit' and other errors to 'error' with their code", async () => {
    const s = setup();
    const m = s.submit("m", 2);
    const e = s.submit("e", 2);
    const ok = s.submit("ok", 2);
    await flush();
    await m.fail(new MemoryLimitError(3, 3.4));
    await e.fail(Object.assign(new Error("model server said 500"), { code: "ERR_MODEL_HTTP" }));
    await ok.finish("reply");
    expect(await m.done).toMatchObject({ status: "memory_limit", errorCode: "ERR_MEMORY_LIMIT" });
    expect(await e.done).toMatchObject({ status: "error", errorCode: "ERR_MODEL_HTTP", errorMessage: "model server said 500" });
    expect(await ok.done).toMatchObject({ status: "ok", result: "reply" });
    expect(s.scheduler.state().finished).toEqual({ ok: 1, error: 1, timeout: 0, memory_limit: 1, cancelled: 0 });
  });

  it("cancel: a queued task ends 'cancelled' at once; a running one gets its signal aborted", async () => {
    const s = setup({ maxConcurrent: 1 });
    const running = s.submit("running", 1);
    const queued = s.submit("queued", 1);
    await flush();
    expect(s.scheduler.cancel("queued")).toBe(true);
    expect(await queued.done).toMatchObject({ status: "cancelled", errorCode: "ERR_RUN_CANCELLED" });
    expect(queued.started).toBe(false);
    expect(s.scheduler.cancel("running")).toBe(true);
    expect(running.ctx.signal.reason).toMatchObject({ code: "ERR_RUN_CANCELLED" });
    await running.finish("finished anyway");
    expect(await running.done).toMatchObject({ status: "cancelled" });
    expect(s.scheduler.cancel("nope")).toBe(false);
  });

  it("close() cancels queued work, aborts running runs, refuses new ones and resolves when idle", async () => {
    const s = setup({ maxConcurrent: 1 });
    const r = s.submit("r", 1);
    const q = s.submit("q", 1);
    await flush();
    const closed = s.scheduler.close();
    expect(r.ctx.signal.aborted).toBe(true);
    expect(await q.done).toMatchObject({ status: "cancelled" });
    const later = s.scheduler.submit({ id: "late", agentId: "a", sessionKey: "s", priority: "normal", memoryGb: 0, run: async () => "x" });
    expect(later).toMatchObject({ accepted: false, code: "ERR_SCHEDULER_CLOSED" });
    await r.fail(r.ctx.signal.reason);
    await closed;
    expect(s.scheduler.state()).toMatchObject({ closed: true, running: 0, queued: 0 });
  });
});

describe("queue limit", () => {
  it("a full queue answers ERR_QUEUE_FULL with a Retry-After estimate; coalescing tasks still get in once per key", async () => {
    const s = setup({ maxQueue: 2, maxConcurrent: 1 });
    s.submit("run", 1);
    await flush();
    s.submit("q1", 1);
    s.submit("q2", 1);
    await flush();
    const full = s.scheduler.submit({ id: "q3", agentId: "main", sessionKey: "x", priority: "normal", memoryGb: 1, run: async () => "" });
    expect(full).toMatchObject({ accepted: false, code: "ERR_QUEUE_FULL" });
    expect(!full.accepted && full.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    const w1 = s.scheduler.submit({ id: "wake1", agentId: "main", sessionKey: "agent:main:main", priority: "high", memoryGb: 0, coalesceKey: "wake:agent:main:main", run: async () => "hb" });
    const w2 = s.scheduler.submit({ id: "wake2", agentId: "main", sessionKey: "agent:main:main", priority: "high", memoryGb: 0, coalesceKey: "wake:agent:main:main", run: async () => "hb2" });
    expect(w1).toMatchObject({ accepted: true, coalesced: false });
    expect(w2).toMatchObject({ accepted: true, coalesced: true });
    expect(w1.accepted && w2.accepted && w1.done === w2.done).toBe(true);
    expect(s.scheduler.state().queued).toBe(3);
  });

  it("refuses a run larger than the whole budget: it could never start", () => {
    const s = setup({ budgetGb: 32 });
    const r = s.scheduler.submit({ id: "huge", agentId: "main", sessionKey: "s", priority: "normal", memoryGb: 45, run: async () => "" });
    expect(r).toEqual({ accepted: false, code: "ERR_OVER_BUDGET", retryAfterSeconds: 0 });
  });
});

describe("events and idle", () => {
  it("emits queued → started → finished per run, blocked once per reason change, idle at the end; onIdle resolves", async () => {
    const s = setup({ budgetGb: 10 });
    const events: string[] = [];
    for (const name of ["queued", "started", "finished", "blocked", "idle"] as const) s.scheduler.on(name, (p) => events.push(`${name}:${"id" in p ? p.id : ""}${"reason" in p ? `:${p.reason}` : ""}`));
    const a = s.submit("a", 8);
    const b = s.submit("b", 8);
    await flush();
    s.submit("c", 0).finish("ok");
    await flush();
    let idle = false;
    void s.scheduler.onIdle().then(() => (idle = true));
    await a.finish("ok");
    await flush();
    expect(idle).toBe(false);
    await b.finish("ok");
    await flush();
    expect(idle).toBe(true);
    expect(events).toEqual([
      "queued:a", "queued:b", "started:a", "blocked:b:memory",
      "queued:c", "started:c", "finished:c",
      "finished:a", "started:b", "finished:b", "idle:",
    ]);
  });

  it("a throwing listener does not break scheduling; unknown events are refused", async () => {
    const s = setup();
    s.scheduler.on("started", () => {
      throw new Error("listener bug");
    });
    const r = s.submit("a", 1);
    await flush();
    await r.finish("ok");
    expect(await r.done).toMatchObject({ status: "ok" });
    expect(() => s.scheduler.on("nope" as "idle", () => {})).toThrow(/unknown scheduler event "nope"/);
  });
});

describe("head of line (EASY backfilling)", () => {
  it("a big run is not starved by a stream of small ones: only runs that end before it could start may backfill", async () => {
    const s = setup({ budgetGb: 32 });
    // Two 12 GiB runs with 10 s timeouts hold 24 of 32 GiB; the 20 GiB run waits for one of them (shadow time 10 s).
    const h1 = s.submit("hold1", 12, { timeoutMs: 10_000 });
    s.submit("hold2", 12, { timeoutMs: 10_000 });
    await flush();
    s.submit("big", 20, { timeoutMs: 60_000 });
    // Small runs keep arriving. One bounded by 5 s may start (it ends before the shadow time); one bounded by
    // 60 s and one with no timeout would still be running then and take memory the big run needs.
    const short = s.submit("short", 4, { timeoutMs: 5_000 });
    s.submit("long", 4, { timeoutMs: 60_000 });
    s.submit("unbounded", 4);
    await flush();
    expect(s.log).toEqual(["hold1", "hold2", "short"]);
    expect(s.scheduler.state().blocked).toEqual({ id: "big", reason: "memory" });
    await short.finish("ok");
    expect(s.log).toEqual(["hold1", "hold2", "short"]);
    await h1.finish("ok");
    expect(s.log).toEqual(["hold1", "hold2", "short", "big"]);
  });

  it("under a steady stream of small runs the big one still starts by its shadow time", async () => {
    const s = setup({ budgetGb: 32, maxConcurrent: 32 });
    // A run that takes `ms` of simulated time, or stops when its signal is aborted.
    const timed = (ms: number) => ({ signal }: RunContext) =>
      new Promise<string>((resolve, reject) => {
        const h = s.clock.setTimer(() => resolve("done"), ms);
        signal.addEventListener("abort", () => {
          s.clock.clearTimer(h);
          reject(signal.reason);
        });
      });
    const submitTimed = (id: string, gb: number, ms: number, timeoutMs: number) =>
      s.scheduler.submit({ id, agentId: "main", sessionKey: id, priority: "normal", memoryGb: gb, timeoutMs, run: timed(ms) });
    submitTimed("hold1", 12, 30_000, 10_000); // overruns: ends by its timeout at 10 s
    submitTimed("hold2", 12, 8_000, 10_000);
    await flush();
    const big = submitTimed("big", 20, 1_000, 60_000);
    let startedBigAt = -1;
    s.scheduler.on("started", (e) => {
      if (e.id === "big") startedBigAt = e.startedAt;
    });
    // One 4 GiB run a second, each 4 s long with a 5 s timeout: enough to keep the 8 free GiB busy forever.
    for (let i = 0; i < 40; i++) {
      submitTimed(`small${i}`, 4, 4_000, 5_000);
      await s.clock.advance(1_000);
    }
    expect(startedBigAt).toBeGreaterThan(0);
    expect(startedBigAt).toBeLessThanOrEqual(10_000);
    await s.clock.advance(10_000);
    expect(big.accepted && (await big.done).status).toBe("ok");
    expect(s.scheduler.state()).toMatchObject({ queued: 0, running: 0 });
  });

  it("small runs backfill freely into memory the waiting head does not need", async () => {
    const s = setup({ budgetGb: 32 });
    s.submit("hold", 20, { timeoutMs: 10_000 });
    await flush();
    s.submit("big", 24);
    s.submit("fits-beside", 6);
    s.submit("too-much", 6);
    await flush();
    // At the shadow time (hold ends) 32 GiB free: big takes 24, 8 left → one 6 GiB run fits beside it, not two.
    expect(s.log).toEqual(["hold", "fits-beside"]);
  });

  it("an exclusive head waits for every local run; only runs ending before that backfill", async () => {
    const s = setup({ budgetGb: 64, exclusiveAboveGb: 40 });
    s.submit("hold", 8, { timeoutMs: 20_000 });
    await flush();
    s.submit("heavy", 44);
    s.submit("quick", 8, { timeoutMs: 10_000 });
    s.submit("slow", 8, { timeoutMs: 30_000 });
    await flush();
    expect(s.log).toEqual(["hold", "quick"]);
  });

  it("a head blocked by the probe (memory used outside clawgate) lets no local run backfill", async () => {
    const s = setup({ budgetGb: 64 }, { availableGb: 10, totalGb: 64 });
    s.submit("big", 20);
    s.submit("small", 2, { timeoutMs: 1_000 });
    const hosted = s.submit("hosted", 0);
    await flush();
    expect(s.log).toEqual(["hosted"]);
    expect(s.scheduler.state().blocked).toEqual({ id: "big", reason: "probe" });
    await hosted.finish("ok");
  });
});

describe("options", () => {
  it("refuses bad options with a TypeError naming the option", () => {
    const probe = async () => ({ availableGb: 1, totalGb: 1 });
    expect(() => createScheduler({ io: realIo, budgetGb: 0, maxQueue: 1, maxConcurrent: 1, memoryProbe: probe })).toThrow(/budgetGb/);
    expect(() => createScheduler({ io: realIo, budgetGb: 1, maxQueue: 0, maxConcurrent: 1, memoryProbe: probe })).toThrow(/maxQueue/);
    expect(() => createScheduler({ io: realIo, budgetGb: 1, maxQueue: 1, maxConcurrent: 1.5, memoryProbe: probe })).toThrow(/maxConcurrent/);
    expect(() => createScheduler({ io: realIo, budgetGb: 1, maxQueue: 1, maxConcurrent: 1, memoryProbe: probe, perAgentMaxConcurrent: { a: 0 } })).toThrow(/perAgentMaxConcurrent for agent "a"/);
    expect(() => createScheduler({ io: realIo, budgetGb: 1, maxQueue: 1, maxConcurrent: 1, memoryProbe: undefined as never })).toThrow(/memoryProbe/);
  });

  it("refuses a malformed task and a duplicate id", () => {
    const s = setup();
    expect(() => s.submit("bad", -1)).toThrow(/task\.memoryGb/);
    s.submit("dup", 1);
    expect(() => s.submit("dup", 1)).toThrow(/already queued or running/);
  });
});

// Keep the type import used when the file is read on its own.
export type { RunOutcome };
