/**
 * The scheduler's memory probe readings (contract in scheduler.ts, ADMISSION): one reading is reused for
 * `probeTtlMs`, at most one probe is in flight, and while it fails it is tried again after one TTL and counted.
 */
import type { MemoryProbe, MemorySample } from "./memory-probe.ts";
import { NO_TIMER } from "./scheduler-queue.ts";

export interface ProbeReadings {
  /** The last good reading (null before the first). */
  readonly sample: MemorySample | null;
  /** The scheduler's start sequence when that reading was requested: runs started after it are not in it. */
  readonly sampleSeq: number;
  /** True while the decisions a just-arrived reading triggers run: they may use it even if the probe took longer than the TTL. */
  readonly isNew: boolean;
  /** Readings that failed in a row (0 after a good one). */
  readonly failures: number;
  /** A reading exists and is at most one TTL old at `t`. */
  fresh(t: number): boolean;
  /** Asks for a new reading unless one is on its way. */
  refresh(): void;
  /** After one TTL, forgets the current reading's age (the next local run asks for a new one) and calls `onRetry`. */
  scheduleRetry(): void;
  close(): void;
}

export interface ProbeReadingsOptions {
  readonly probe: MemoryProbe;
  readonly probeTtlMs: number;
  readonly now: () => number;
  readonly setTimer: (fn: () => void, ms: number) => unknown;
  readonly clearTimer: (handle: unknown) => void;
  /** The scheduler's current start sequence. */
  readonly startSeq: () => number;
  /** A good reading arrived (it is `sample` now, `isNew` is true during the call): recount unseen runs and decide. */
  readonly onReading: () => void;
  /** The retry timer fired: decide again. */
  readonly onRetry: () => void;
}

export function createProbeReadings(o: ProbeReadingsOptions): ProbeReadings {
  let sample: MemorySample | null = null;
  let sampleAt = -Infinity;
  let sampleSeq = 0;
  let probing = false;
  let isNew = false;
  let failures = 0;
  let retryTimer: unknown = NO_TIMER;
  let closed = false;

  function scheduleRetry(): void {
    if (retryTimer !== NO_TIMER || closed) return;
    retryTimer = o.setTimer(() => {
      retryTimer = NO_TIMER;
      sampleAt = -Infinity;
      o.onRetry();
    }, Math.max(o.probeTtlMs, 50));
  }

  function refresh(): void {
    if (probing || closed) return;
    probing = true;
    const requestedSeq = o.startSeq();
    const requestedAt = o.now();
    let p: Promise<MemorySample>;
    try {
      p = o.probe();
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (s) => {
        probing = false;
        if (!(Number.isFinite(s.availableGb) && Number.isFinite(s.totalGb))) throw new TypeError("memory probe returned a non-finite sample");
        sample = s;
        failures = 0;
        sampleAt = requestedAt;
        sampleSeq = requestedSeq;
        isNew = true;
        try {
          o.onReading();
        } finally {
          isNew = false;
        }
      },
      () => {
        probing = false;
        failures++;
        // Try again after one TTL; until a reading arrives, local runs wait (fail closed: blocked "probe").
        scheduleRetry();
      },
    ).catch(() => {
      probing = false;
      failures++;
      scheduleRetry();
    });
  }

  return {
    get sample() {
      return sample;
    },
    get sampleSeq() {
      return sampleSeq;
    },
    get isNew() {
      return isNew;
    },
    get failures() {
      return failures;
    },
    fresh: (t) => sample !== null && t - sampleAt <= o.probeTtlMs,
    refresh,
    scheduleRetry,
    close() {
      closed = true;
      if (retryTimer !== NO_TIMER) {
        o.clearTimer(retryTimer);
        retryTimer = NO_TIMER;
      }
    },
  };
}
