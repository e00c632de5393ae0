/**
 * shared/time-ordered-id.ts: RFC 9562 UUIDv7 from a v4 source — version 7, the RFC variant, the millisecond
 * clock in the first 48 bits (so ids sort by time), the source's random bits after it.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { timeOrderedId } from "../../shared/time-ordered-id.ts";

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("timeOrderedId", () => {
  it("is a UUIDv7 whose first 48 bits are the clock it was given", () => {
    const now = Date.UTC(2026, 11, 3, 17, 0, 0, 123);
    const id = timeOrderedId(now, randomUUID);
    expect(id).toMatch(V7);
    expect(parseInt(id.replace(/-/g, "").slice(0, 12), 16)).toBe(now);
  });

  it("sorts by time across milliseconds, and differs within one", () => {
    const ids = Array.from({ length: 200 }, (_, i) => timeOrderedId(1_700_000_000_000 + i, randomUUID));
    expect([...ids].sort()).toEqual(ids);
    const same = new Set(Array.from({ length: 200 }, () => timeOrderedId(1_700_000_000_000, randomUUID)));
    expect(same.size).toBe(200);
  });

  it("keeps the source's random bits and variant after the clock", () => {
    const source = "0f1e2d3c-4b5a-4968-b7a6-958473625140";
    expect(timeOrderedId(0, () => source)).toBe("00000000-0000-7968-b7a6-958473625140");
  });
});
