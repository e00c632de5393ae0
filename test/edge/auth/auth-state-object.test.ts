/**
 * The CallerAuthState Durable Object behind AUTH_STATE, in workerd with real DO storage: failure counts
 * shared by every isolate (a fresh limiter sees the count another one built), forgotten by alarm after the
 * window; key sets shared across isolates so a fresh one does not refetch; a stale save never wins.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { type JWK, SignJWT, exportJWK, generateKeyPair } from "jose";
import { describe, expect, it } from "vitest";
import { createDurableFailureLimiter, createDurableJwksStore } from "../../../edge/auth/auth-state-client.ts";
import type { CallerAuthState } from "../../../edge/auth/auth-state-object.ts";
import { compileCallerAuth } from "../../../edge/auth/caller-auth.ts";
import { DEFAULT_FAILURE_LIMIT } from "../../../edge/auth/failure-limiter.ts";
import { authRequest, freshToken, sha256Hex } from "./auth-test-helpers.ts";

const ns = env.AUTH_STATE;
const bindings = env as unknown as Record<string, unknown>;

describe("failure counts in the AUTH_STATE Durable Object", () => {
  it("is the default store when bound: 20 failures, then 429 — and a fresh isolate's limiter sees the same count", async () => {
    const token = freshToken();
    let nowMs = 1_800_000_000_000;
    // No failureLimiter injected: compileCallerAuth picks AUTH_STATE from env.
    const auth = await compileCallerAuth([{ type: "bearer", tokens: [{ name: "ci", sha256: await sha256Hex(token) }] }], { env: bindings, now: () => nowMs });
    const bad = () => auth.authenticate(authRequest({ clientIp: "198.51.100.77", headers: { authorization: `Bearer ${freshToken()}` } }));
    for (let i = 0; i < 20; i++) {
      expect(await bad()).toMatchObject({ status: 401 });
      nowMs += 100;
    }
    // The oldest failure leaves the window in 58 s; this isolate remembers the wait rounded up to whole seconds.
    const limited = await bad();
    expect(limited).toMatchObject({ status: 429, code: "ERR_AUTH_RATE_LIMITED" });
    expect((limited as { retryAfterSeconds: number }).retryAfterSeconds).toBeGreaterThanOrEqual(58);
    expect((limited as { retryAfterSeconds: number }).retryAfterSeconds).toBeLessThanOrEqual(59);
    // Another isolate knows nothing in memory, but its first failure asks the DO, which holds the count.
    const other = createDurableFailureLimiter(ns, DEFAULT_FAILURE_LIMIT);
    expect(other.blockedFor("198.51.100.77", nowMs)).toBe(0);
    expect(await other.recordFailure("198.51.100.77", nowMs)).toBeGreaterThan(0);
    expect(other.blockedFor("198.51.100.77", nowMs)).toBeGreaterThan(0);
    // A different client has its own object and count.
    expect(await other.recordFailure("198.51.100.78", nowMs)).toBe(0);
  });

  it("keeps at most the last 20 failure times and deletes itself by alarm once the window has passed", async () => {
    const limiter = createDurableFailureLimiter(ns, DEFAULT_FAILURE_LIMIT);
    const before = Date.now();
    for (let i = 0; i < 25; i++) await limiter.recordFailure("192.0.2.44", 1_000 + i);
    const after = Date.now();
    const stub = ns.get(ns.idFromName("failures:192.0.2.44"));
    await runInDurableObject<CallerAuthState, void>(stub, async (_instance, state) => {
      expect(((await state.storage.get<number[]>("failures")) ?? []).length).toBe(20);
      const alarm = (await state.storage.getAlarm())!;
      expect(alarm).toBeGreaterThanOrEqual(before + 61_000);
      expect(alarm).toBeLessThanOrEqual(after + 61_000);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await runInDurableObject<CallerAuthState, void>(stub, async (_instance, state) => {
      expect(await state.storage.get("failures")).toBeUndefined();
    });
  });
});

describe("remote key sets in the AUTH_STATE Durable Object", () => {
  it("a second isolate (a fresh store client) verifies from the stored set without fetching", async () => {
    const pair = await generateKeyPair("ES256", { extractable: true });
    const jwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
    const url = "https://idp.example.com/shared-jwks.json";
    let fetches = 0;
    const fetch = (async () => {
      fetches++;
      return Response.json({ keys: [jwk] });
    }) as typeof globalThis.fetch;
    const nowS = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({}).setProtectedHeader({ alg: "ES256", kid: "k1" }).setIssuer("iss").setAudience("aud").setSubject("svc").setExpirationTime(nowS + 600).sign(pair.privateKey);
    const isolate = () =>
      compileCallerAuth([{ type: "jwt", jwksUrl: url, issuer: "iss", audience: "aud", algorithms: ["ES256"] }], {
        env: bindings,
        fetch,
        jwksStore: createDurableJwksStore(ns),
        failureLimiter: { blockedFor: () => 0, recordFailure: async () => 0 },
      });
    const req = authRequest({ headers: { authorization: `Bearer ${token}` } });
    expect(await (await isolate()).authenticate(req)).toEqual({ ok: true, principal: "jwt:iss#svc" });
    expect(fetches).toBe(1);
    const second = await isolate();
    expect(await second.authenticate(req)).toEqual({ ok: true, principal: "jwt:iss#svc" });
    // Unknown kids inside the stored set's cooldown do not refetch either.
    for (let i = 0; i < 10; i++) {
      const forged = await new SignJWT({}).setProtectedHeader({ alg: "ES256", kid: crypto.randomUUID() }).setIssuer("iss").setAudience("aud").setSubject("x").setExpirationTime(nowS + 600).sign(pair.privateKey);
      await second.authenticate(authRequest({ headers: { authorization: `Bearer ${forged}` } }));
    }
    expect(fetches).toBe(1);
  });

  it("an older save never replaces a newer set", async () => {
    const store = createDurableJwksStore(ns);
    const url = "https://idp.example.com/order.json";
    await store.save(url, { jwks: { keys: [{ kty: "oct", kid: "new" }] }, uat: 2_000 });
    await store.save(url, { jwks: { keys: [{ kty: "oct", kid: "old" }] }, uat: 1_000 });
    expect((await store.load(url))?.jwks.keys[0]?.kid).toBe("new");
  });
});
