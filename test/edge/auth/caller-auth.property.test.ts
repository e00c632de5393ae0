/**
 * Property (fast-check; fixed seed in CI, CLAWGATE_FUZZ_SEED / _RUNS in `npm run fuzz`) in workerd: for
 * arbitrary credential-shaped headers, bodies and client addresses, a route accepting every method never
 * throws, never accepts a forgery, and answers only 401 with the node's text and a stable ERR_AUTH_* code.
 */
import fc from "fast-check";
import { expect, it } from "vitest";
import type { AuthMethod } from "../../../edge/auth/auth-config.ts";
import { compileCallerAuth } from "../../../edge/auth/caller-auth.ts";
import { createMemoryJwksStore } from "../../../edge/auth/jwks-cache.ts";
import { fuzzParameters, fuzzTimeoutMs } from "../support/fuzz-settings.ts";
import { authRequest, sha256Hex } from "./auth-test-helpers.ts";

const HEADERS = [
  "authorization",
  "x-openclaw-token",
  "cf-access-jwt-assertion",
  "webhook-id",
  "webhook-timestamp",
  "webhook-signature",
  "x-hub-signature-256",
  "stripe-signature",
  "x-slack-signature",
  "x-slack-request-timestamp",
  "x-forwarded-for",
] as const;

const nowS = 1_800_000_000;
const b64url = (s: string) => btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
/** Values shaped like each credential, so the parsers past the first check get exercised. */
const value = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.constantFrom("", " ", "Bearer", "Bearer ", "v1,", "v0=", "sha256=", "t=,v1=", "NaN", String(nowS), "whsec_"),
  fc.tuple(fc.constantFrom("Bearer ", "v1,", "v0=", "sha256=", `t=${nowS},v1=`, ""), fc.stringMatching(/^[A-Za-z0-9+/=_.-]{0,120}$/)).map(([a, b]) => a + b),
  fc.tuple(fc.json({ maxDepth: 2 }), fc.json({ maxDepth: 2 }), fc.stringMatching(/^[A-Za-z0-9_-]{0,90}$/)).map(
    ([h, p, s]) => `Bearer ${b64url(h)}.${b64url(p)}.${s}`,
  ),
  fc.constant(`Bearer ${b64url('{"alg":"none"}')}.${b64url(`{"sub":"x","exp":${nowS + 60},"iss":"i","aud":"a"}`)}.`),
);

it("never throws, never accepts a forgery, and refuses with 401 + the node's text", async () => {
  const methods: AuthMethod[] = [
    { type: "bearer", tokens: [{ name: "ci", sha256: await sha256Hex("cg_secret-token") }] },
    { type: "jwt", secretBinding: "JWT_SECRET", issuer: "i", audience: "a", algorithms: ["HS256"] },
    { type: "jwt", jwksUrl: "https://idp.example.com/jwks", issuer: "i", audience: "a", algorithms: ["RS256", "ES256", "EdDSA"] },
    { type: "access", team: "acme", audience: "aud" },
    { type: "hmac", scheme: "standard", name: "s", secretBinding: "WH" },
    { type: "hmac", scheme: "github", name: "g", secretBinding: "GH" },
    { type: "hmac", scheme: "stripe", name: "st", secretBinding: "ST" },
    { type: "hmac", scheme: "slack", name: "sl", secretBinding: "SL" },
    { type: "ip", cidrs: ["192.0.2.0/24"] },
  ];
  const env = { JWT_SECRET: "x".repeat(40), WH: `whsec_${btoa("k".repeat(24))}`, GH: "gh", ST: "st", SL: "sl" };
  const fetch = (async () => Response.json({ keys: [] })) as typeof globalThis.fetch;
  const auth = await compileCallerAuth(methods, {
    env,
    now: () => nowS * 1000,
    fetch,
    jwksStore: createMemoryJwksStore(),
    failureLimiter: { blockedFor: () => 0, recordFailure: async () => 0 },
  });
  await fc.assert(
    fc.asyncProperty(
      fc.dictionary(fc.constantFrom(...HEADERS), value, { maxKeys: 5 }),
      fc.uint8Array({ maxLength: 256 }),
      fc.option(fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ maxLength: 20 })), { nil: undefined }),
      async (headers, body, clientIp) => {
        // Header values must be valid ByteStrings; anything else never reaches the Worker.
        const safe = Object.fromEntries(Object.entries(headers).filter(([, v]) => /^[\x20-\x7e]*$/.test(v)));
        if (clientIp !== undefined && clientIp.startsWith("192.0.2.")) clientIp = "198.51.100.1";
        const result = await auth.authenticate(authRequest({ headers: safe, body, clientIp }));
        expect(result.ok).toBe(false);
        if (!result.ok) {
          expect(result.status).toBe(401);
          expect(result.error).toBe("unauthorized");
          expect(result.code).toMatch(/^ERR_AUTH_[A-Z_]+$/);
        }
      },
    ),
    fuzzParameters(400),
  );
}, fuzzTimeoutMs(400));
