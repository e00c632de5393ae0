/** HMAC webhook signatures in workerd: known-answer vectors, rotation, timestamp windows both ways, malformed headers. */
import { describe, expect, it } from "vitest";
import type { AuthMethod } from "../../../edge/auth/auth-config.ts";
import { compileCallerAuth } from "../../../edge/auth/caller-auth.ts";
import { createMemoryFailureLimiter } from "../../../edge/auth/failure-limiter.ts";
import { authRequest } from "./auth-test-helpers.ts";

const KAT = {
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
};

const compile = (method: AuthMethod, env: Record<string, unknown>, nowSeconds: number) =>
  compileCallerAuth([method], { env, now: () => nowSeconds * 1000, failureLimiter: createMemoryFailureLimiter() });

async function hmac(key: Uint8Array<ArrayBuffer> | string, content: string, encoding: "hex" | "base64"): Promise<string> {
  const raw = typeof key === "string" ? new TextEncoder().encode(key) : key;
  const k = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", k, new TextEncoder().encode(content)));
  return encoding === "hex" ? Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join("") : btoa(String.fromCharCode(...mac));
}

describe("Standard Webhooks", () => {
  const method: AuthMethod = { type: "hmac", scheme: "standard", name: "svix", secretBinding: ["WH_NEW", "WH_OLD"] };
  const headers = (over: Record<string, string> = {}) => ({
    "webhook-id": KAT.id,
    "webhook-timestamp": String(KAT.timestamp),
    "webhook-signature": KAT.signature,
    ...over,
  });
  const otherSecret = "whsec_" + btoa("another-secret-of-32-bytes-long!");

  it("accepts the spec's known-answer vector, under either secret of a rotation, and returns the signed webhook-id", async () => {
    for (const env of [{ WH_NEW: KAT.secret, WH_OLD: otherSecret }, { WH_NEW: otherSecret, WH_OLD: KAT.secret }]) {
      const auth = await compile(method, env, KAT.timestamp);
      expect(await auth.authenticate(authRequest({ headers: headers(), body: KAT.body }))).toEqual({
        ok: true,
        principal: "hmac:standard:svix",
        deliveryId: KAT.id,
      });
    }
  });

  it("accepts when one of several v1 signatures matches (sender-side rotation), ignoring other versions", async () => {
    const auth = await compile(method, { WH_NEW: otherSecret, WH_OLD: KAT.secret }, KAT.timestamp);
    const header = `v1a,AAAA v1,${btoa("x".repeat(32))} ${KAT.signature}`;
    expect(await auth.authenticate(authRequest({ headers: headers({ "webhook-signature": header }), body: KAT.body }))).toMatchObject({ ok: true });
  });

  it("refuses a changed body, id or timestamp, and a bad signature encoding", async () => {
    const auth = await compile(method, { WH_NEW: KAT.secret, WH_OLD: otherSecret }, KAT.timestamp);
    const cases = [
      authRequest({ headers: headers(), body: '{"test": 2432232315}' }),
      authRequest({ headers: headers({ "webhook-id": "msg_other" }), body: KAT.body }),
      authRequest({ headers: headers({ "webhook-timestamp": String(KAT.timestamp + 1) }), body: KAT.body }),
      authRequest({ headers: headers({ "webhook-signature": "v1,not base64!" }), body: KAT.body }),
      authRequest({ headers: headers({ "webhook-signature": KAT.signature.replace("v1,", "v2,") }), body: KAT.body }),
      authRequest({ headers: { "webhook-signature": KAT.signature, "webhook-timestamp": String(KAT.timestamp) }, body: KAT.body }),
    ];
    for (const req of cases) expect(await auth.authenticate(req)).toMatchObject({ ok: false, status: 401 });
    expect(await auth.authenticate(cases[0]!)).toMatchObject({ code: "ERR_AUTH_SIGNATURE" });
  });

  it("refuses a correctly signed webhook-id longer than a delivery id may be (256)", async () => {
    const key = Uint8Array.from(atob(KAT.secret.slice(6)), (c) => c.charCodeAt(0));
    const auth = await compile(method, { WH_NEW: KAT.secret, WH_OLD: otherSecret }, KAT.timestamp);
    for (const [len, ok] of [[256, true], [257, false]] as const) {
      const id = "m".repeat(len);
      const sig = await hmac(key, `${id}.${KAT.timestamp}.${KAT.body}`, "base64");
      const result = await auth.authenticate(authRequest({ headers: headers({ "webhook-id": id, "webhook-signature": `v1,${sig}` }), body: KAT.body }));
      expect(result.ok).toBe(ok);
    }
  });

  it("allows 5 minutes of skew in both directions and refuses beyond, and NaN or non-decimal timestamps", async () => {
    const env = { WH_NEW: KAT.secret, WH_OLD: otherSecret };
    const req = authRequest({ headers: headers(), body: KAT.body });
    expect(await (await compile(method, env, KAT.timestamp + 300)).authenticate(req)).toMatchObject({ ok: true });
    expect(await (await compile(method, env, KAT.timestamp - 300)).authenticate(req)).toMatchObject({ ok: true });
    expect(await (await compile(method, env, KAT.timestamp + 301)).authenticate(req)).toMatchObject({ ok: false, code: "ERR_AUTH_TIMESTAMP" });
    expect(await (await compile(method, env, KAT.timestamp - 301)).authenticate(req)).toMatchObject({ ok: false, code: "ERR_AUTH_TIMESTAMP" });
    const auth = await compile(method, env, KAT.timestamp);
    for (const ts of ["NaN", "", "1614265330.0", "-1614265330", "0x603", "1e9", "Infinity"]) {
      expect(await auth.authenticate(authRequest({ headers: headers({ "webhook-timestamp": ts }), body: KAT.body }))).toMatchObject({
        ok: false,
        code: "ERR_AUTH_TIMESTAMP",
      });
    }
  });

  it("refuses a secret that is not whsec_ base64, naming the binding and not the value", async () => {
    const error = await compile(method, { WH_NEW: "whsec_***not-base64***", WH_OLD: otherSecret }, 0).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toMatch(/^auth\[0\]\.secretBinding: Worker secret WH_NEW is not a whsec_/);
    expect((error as Error).message).not.toContain("not-base64");
    await expect(compile(method, { WH_NEW: KAT.secret }, 0)).rejects.toThrow(/^auth\[0\]\.secretBinding: Worker secret WH_OLD is not set$/);
  });
});

describe("GitHub X-Hub-Signature-256", () => {
  // GitHub's documented example ("Validating webhook deliveries").
  const secret = "It's a Secret to Everybody";
  const method: AuthMethod = { type: "hmac", scheme: "github", name: "repo", secretBinding: "GH_SECRET" };
  it("accepts GitHub's documented vector and refuses a tampered body or a malformed header", async () => {
    const auth = await compile(method, { GH_SECRET: secret }, 0);
    const sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    expect(await auth.authenticate(authRequest({ headers: { "x-hub-signature-256": sig }, body: "Hello, World!" }))).toEqual({
      ok: true,
      principal: "hmac:github:repo",
      // GitHub signs only the body, so the body's digest is the delivery (base64url SHA-256 of "Hello, World!").
      deliveryId: "signed:3_1gIbsr1bCvZ2KQgJ7DpTGR3YHH9wpLKGiKNiGCmG8",
    });
    expect(await auth.authenticate(authRequest({ headers: { "x-hub-signature-256": sig }, body: "Hello, World?" }))).toMatchObject({ code: "ERR_AUTH_SIGNATURE" });
    for (const bad of ["757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", "sha1=abc", "sha256=zz"]) {
      expect(await auth.authenticate(authRequest({ headers: { "x-hub-signature-256": bad }, body: "Hello, World!" }))).toMatchObject({ ok: false });
    }
    // No GitHub header at all: "missing", not "bad signature".
    expect(await auth.authenticate(authRequest({ body: "Hello, World!" }))).toMatchObject({ code: "ERR_AUTH_MISSING" });
  });
});

describe("Stripe-Signature", () => {
  const secret = "whsec_stripe_test_secret_value";
  const method: AuthMethod = { type: "hmac", scheme: "stripe", name: "billing", secretBinding: "STRIPE_SECRET" };
  const body = '{"id":"evt_1","object":"event"}';
  const t = 1_700_000_000;
  it("accepts any of several v1 signatures at t, within tolerance both ways; refuses outside, v0-only and NaN t", async () => {
    const good = await hmac(secret, `${t}.${body}`, "hex");
    const header = `t=${t},v1=${"0".repeat(64)},v1=${good},v0=${"1".repeat(64)}`;
    const req = authRequest({ headers: { "stripe-signature": header }, body });
    expect(await (await compile(method, { STRIPE_SECRET: secret }, t + 299)).authenticate(req)).toEqual({ ok: true, principal: "hmac:stripe:billing", deliveryId: "event:evt_1" });
    expect(await (await compile(method, { STRIPE_SECRET: secret }, t - 299)).authenticate(req)).toMatchObject({ ok: true });
    expect(await (await compile(method, { STRIPE_SECRET: secret }, t + 301)).authenticate(req)).toMatchObject({ code: "ERR_AUTH_TIMESTAMP" });
    const auth = await compile(method, { STRIPE_SECRET: secret }, t);
    expect(await auth.authenticate(authRequest({ headers: { "stripe-signature": `t=${t},v0=${good}` }, body }))).toMatchObject({ code: "ERR_AUTH_SIGNATURE" });
    expect(await auth.authenticate(authRequest({ headers: { "stripe-signature": `t=NaN,v1=${good}` }, body }))).toMatchObject({ code: "ERR_AUTH_TIMESTAMP" });
    // The signature binds t: the same v1 with another t fails.
    expect(await auth.authenticate(authRequest({ headers: { "stripe-signature": `t=${t + 1},v1=${good}` }, body }))).toMatchObject({ code: "ERR_AUTH_SIGNATURE" });
  });
});

describe("Slack X-Slack-Signature v0", () => {
  const secret = "8f742231b10e8888abcd99yyyzzz85a5";
  const method: AuthMethod = { type: "hmac", scheme: "slack", name: "workspace", secretBinding: "SLACK_SECRET" };
  it("accepts v0 over v0:<timestamp>:<body>; refuses a stale timestamp, a missing one and another body", async () => {
    const ts = 1_531_420_618;
    const body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&command=%2Fwebhook-collect";
    const sig = `v0=${await hmac(secret, `v0:${ts}:${body}`, "hex")}`;
    const auth = await compile(method, { SLACK_SECRET: secret }, ts + 10);
    const headers = { "x-slack-signature": sig, "x-slack-request-timestamp": String(ts) };
    expect(await auth.authenticate(authRequest({ headers, body }))).toMatchObject({ ok: true, principal: "hmac:slack:workspace", deliveryId: expect.stringMatching(/^signed:[A-Za-z0-9_-]{43}$/) });
    expect(await auth.authenticate(authRequest({ headers, body: body + "&x=1" }))).toMatchObject({ code: "ERR_AUTH_SIGNATURE" });
    expect(await auth.authenticate(authRequest({ headers: { "x-slack-signature": sig }, body }))).toMatchObject({ code: "ERR_AUTH_TIMESTAMP" });
    expect(await (await compile(method, { SLACK_SECRET: secret }, ts + 301)).authenticate(authRequest({ headers, body }))).toMatchObject({
      code: "ERR_AUTH_TIMESTAMP",
    });
  });
});
