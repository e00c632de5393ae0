/** Failed authentication is limited per client (CF-Connecting-IP): 20 failures in 60 s → 429 with Retry-After. */
import { describe, expect, it } from "vitest";
import { compileCallerAuth } from "../../../edge/auth/caller-auth.ts";
import { type FailureLimiter, createMemoryFailureLimiter } from "../../../edge/auth/failure-limiter.ts";
import { authRequest, freshToken, sha256Hex } from "./auth-test-helpers.ts";

async function setup(limiter: FailureLimiter = createMemoryFailureLimiter()) {
  const token = freshToken();
  let nowMs = 1_800_000_000_000;
  const auth = await compileCallerAuth([{ type: "bearer", tokens: [{ name: "ci", sha256: await sha256Hex(token) }] }], { env: {}, now: () => nowMs, failureLimiter: limiter });
  return {
    auth,
    good: (clientIp: string, headers: Record<string, string> = {}) => authRequest({ clientIp, headers: { authorization: `Bearer ${token}`, ...headers } }),
    bad: (clientIp: string, headers: Record<string, string> = {}) => authRequest({ clientIp, headers: { authorization: `Bearer ${freshToken()}`, ...headers } }),
    advance: (ms: number) => (nowMs += ms),
  };
}

describe("failed-authentication limit", () => {
  it("after 20 failures within 60 s the next wrong attempt is a 429 with Retry-After; the right token still passes", async () => {
    const t = await setup();
    for (let i = 0; i < 20; i++) {
      expect(await t.auth.authenticate(t.bad("198.51.100.1"))).toMatchObject({ status: 401 });
      t.advance(1_000);
    }
    // The wait runs until the oldest failure (20 s ago) leaves the 60 s window.
    const expected = { ok: false, status: 429, error: "too many failed attempts", code: "ERR_AUTH_RATE_LIMITED", retryAfterSeconds: 40 };
    expect(await t.auth.authenticate(t.bad("198.51.100.1"))).toEqual(expected);
    // A correct credential is never throttled (a neighbour behind the same address cannot lock a caller out).
    expect(await t.auth.authenticate(t.good("198.51.100.1"))).toMatchObject({ ok: true });
    expect(await t.auth.authenticate(t.bad("198.51.100.1"))).toEqual(expected);
    // Another client is not affected; the blocked one's wrong attempts are 401 again once the window has passed.
    expect(await t.auth.authenticate(t.bad("198.51.100.2"))).toMatchObject({ status: 401 });
    t.advance(40_000);
    expect(await t.auth.authenticate(t.bad("198.51.100.1"))).toMatchObject({ status: 401 });
  });

  it("successes do not count; X-Forwarded-For / X-Real-IP do not open new buckets", async () => {
    const t = await setup();
    for (let i = 0; i < 50; i++) expect(await t.auth.authenticate(t.good("203.0.113.5"))).toMatchObject({ ok: true });
    for (let i = 0; i < 20; i++) {
      await t.auth.authenticate(t.bad("203.0.113.5", { "x-forwarded-for": `10.0.0.${i}`, "x-real-ip": `10.1.0.${i}` }));
    }
    expect(await t.auth.authenticate(t.bad("203.0.113.5", { "x-forwarded-for": "10.9.9.9" }))).toMatchObject({ status: 429 });
  });

  it("a limiter that fails never turns a refusal into an error (the 401 stands)", async () => {
    const broken: FailureLimiter = {
      blockedFor: () => 0,
      recordFailure: async () => {
        throw new Error("store unavailable");
      },
    };
    const t = await setup(broken);
    expect(await t.auth.authenticate(t.bad("192.0.2.9"))).toEqual({ ok: false, status: 401, error: "unauthorized", code: "ERR_AUTH_BEARER" });
    expect(await t.auth.authenticate(t.good("192.0.2.9"))).toMatchObject({ ok: true });
  });

  it("the memory limiter forgets the oldest clients first under a spray of addresses (bounded memory)", async () => {
    const limiter = createMemoryFailureLimiter({ maxFailures: 2, windowMs: 60_000 }, 3);
    await limiter.recordFailure("a", 0);
    await limiter.recordFailure("a", 1);
    expect(limiter.blockedFor("a", 2)).toBe(60);
    for (const c of ["b", "c", "d"]) await limiter.recordFailure(c, 3);
    expect(limiter.blockedFor("a", 4)).toBe(0);
  });
});
