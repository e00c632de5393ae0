/**
 * JWT callers in workerd: HS256 with a shared secret; a remote JWKS (RS256/ES256/EdDSA) fetched through an
 * injected fetch and cached across requests and "isolates" (two compilations sharing one store), with a flood
 * of random `kid`s causing at most one fetch per cooldown; Cloudflare Access user and service tokens.
 */
import { type JWK, SignJWT, exportJWK, generateKeyPair } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import type { AuthMethod } from "../../../edge/auth/auth-config.ts";
import { compileCallerAuth } from "../../../edge/auth/caller-auth.ts";
import { createMemoryFailureLimiter } from "../../../edge/auth/failure-limiter.ts";
import { createMemoryJwksStore } from "../../../edge/auth/jwks-cache.ts";
import { authRequest } from "./auth-test-helpers.ts";

const NOW_S = 1_800_000_000;
const now = () => NOW_S * 1000;
const JWKS_URL = "https://idp.example.com/.well-known/jwks.json";
const HS_SECRET = "hs256-shared-secret-of-at-least-32-bytes!";

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;
const keys: Record<"RS256" | "ES256" | "EdDSA", { pair: KeyPair; jwk: JWK }> = {} as never;

beforeAll(async () => {
  for (const alg of ["RS256", "ES256", "EdDSA"] as const) {
    const pair = await generateKeyPair(alg, { extractable: true });
    keys[alg] = { pair, jwk: { ...(await exportJWK(pair.publicKey)), kid: `k-${alg}`, alg, use: "sig" } };
  }
});

/** A key set host on "the network": counts fetches by URL. */
function jwksHost(jwks: () => JWK[]) {
  const fetched: string[] = [];
  const fetch = (async (input: RequestInfo | URL) => {
    fetched.push(String(input));
    return Response.json({ keys: jwks() });
  }) as typeof globalThis.fetch;
  return { fetch, fetched };
}

const jwtMethod = (over: Partial<Extract<AuthMethod, { type: "jwt" }>> = {}): AuthMethod => ({
  type: "jwt",
  jwksUrl: JWKS_URL,
  issuer: "https://idp.example.com/",
  audience: "clawgate-edge",
  algorithms: ["RS256", "ES256", "EdDSA"],
  ...over,
});

function token(alg: "RS256" | "ES256" | "EdDSA", claims: Record<string, unknown> = {}, kid = `k-${alg}`) {
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg, kid })
    .setIssuer("https://idp.example.com/")
    .setAudience("clawgate-edge")
    .setSubject("ci-bot")
    .setIssuedAt(NOW_S - 10)
    .setExpirationTime(NOW_S + 300)
    .sign(keys[alg].pair.privateKey);
}
const bearer = (t: string) => authRequest({ headers: { authorization: `Bearer ${t}` } });

describe("JWT with HS256", () => {
  const method: AuthMethod = { type: "jwt", secretBinding: "JWT_SECRET", issuer: "ci", audience: "edge", algorithms: ["HS256"] };
  const sign = (claims: Record<string, unknown>, secret = HS_SECRET) =>
    new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuer("ci").setAudience("edge").setSubject("deployer").setExpirationTime(NOW_S + 60).sign(new TextEncoder().encode(secret));

  it("accepts a token signed with the secret (principal jwt:<iss>#<sub>), refuses another secret and a missing sub", async () => {
    const auth = await compileCallerAuth([method], { env: { JWT_SECRET: HS_SECRET }, now, failureLimiter: createMemoryFailureLimiter() });
    expect(await auth.authenticate(bearer(await sign({})))).toEqual({ ok: true, principal: "jwt:ci#deployer" });
    expect(await auth.authenticate(bearer(await sign({}, "another-secret-that-is-32-bytes-long")))).toMatchObject({ ok: false, code: "ERR_AUTH_JWT" });
    const noSub = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setIssuer("ci").setAudience("edge").setExpirationTime(NOW_S + 60).sign(new TextEncoder().encode(HS_SECRET));
    expect(await auth.authenticate(bearer(noSub))).toMatchObject({ ok: false, code: "ERR_AUTH_JWT_CLAIMS" });
  });

  it("applies the clock tolerance to exp (default 30 s)", async () => {
    const t = await sign({});
    const at = (s: number) => compileCallerAuth([method], { env: { JWT_SECRET: HS_SECRET }, now: () => s * 1000, failureLimiter: createMemoryFailureLimiter() });
    expect(await (await at(NOW_S + 60 + 29)).authenticate(bearer(t))).toMatchObject({ ok: true });
    expect(await (await at(NOW_S + 60 + 31)).authenticate(bearer(t))).toMatchObject({ ok: false, code: "ERR_AUTH_JWT_EXPIRED" });
  });

  it("beside a bearer method, a refused JWT reports the JWT's reason, not the bearer's", async () => {
    const auth = await compileCallerAuth([{ type: "bearer", tokens: [{ name: "ci", sha256: "0".repeat(64) }] }, method], {
      env: { JWT_SECRET: HS_SECRET },
      now: () => (NOW_S + 3600) * 1000,
      failureLimiter: createMemoryFailureLimiter(),
    });
    expect(await auth.authenticate(bearer(await sign({})))).toEqual({ ok: false, status: 401, error: "unauthorized", code: "ERR_AUTH_JWT_EXPIRED" });
    expect(await auth.authenticate(bearer("cg_opaque"))).toMatchObject({ code: "ERR_AUTH_BEARER" });
  });

  it("refuses bad configurations with a TypeError naming the field", async () => {
    const deps = { env: { JWT_SECRET: HS_SECRET, SHORT: "short" } };
    await expect(compileCallerAuth([{ ...method, secretBinding: "SHORT" } as AuthMethod], deps)).rejects.toThrow(/^auth\[0\]\.secretBinding: Worker secret SHORT is shorter/);
    await expect(compileCallerAuth([{ ...method, algorithms: ["HS256", "RS256"] } as AuthMethod], deps)).rejects.toThrow(/^auth\[0\]\.algorithms: /);
    await expect(compileCallerAuth([{ ...method, jwksUrl: JWKS_URL } as AuthMethod], deps)).rejects.toThrow(/^auth\[0\]: needs exactly one/);
    await expect(compileCallerAuth([jwtMethod({ algorithms: ["RS256", "HS256"] })], deps)).rejects.toThrow(/^auth\[0\]\.algorithms: a jwksUrl allows only public-key/);
    await expect(compileCallerAuth([jwtMethod({ algorithms: ["none" as "RS256"] })], deps)).rejects.toThrow(/^auth\[0\]\.algorithms\[0\]: /);
    await expect(compileCallerAuth([jwtMethod({ jwksUrl: "http://idp.example.com/jwks" })], deps)).rejects.toThrow(/^auth\[0\]\.jwksUrl: must be an https URL/);
  });
});

describe("JWT with a remote JWKS", () => {
  it("verifies RS256, ES256 and EdDSA tokens from one key set, fetched once for all requests", async () => {
    const host = jwksHost(() => [keys.RS256.jwk, keys.ES256.jwk, keys.EdDSA.jwk]);
    const auth = await compileCallerAuth([jwtMethod()], { env: {}, now, fetch: host.fetch, jwksStore: createMemoryJwksStore(), failureLimiter: createMemoryFailureLimiter() });
    for (const alg of ["RS256", "ES256", "EdDSA"] as const) {
      expect(await auth.authenticate(bearer(await token(alg)))).toEqual({ ok: true, principal: "jwt:https://idp.example.com/#ci-bot" });
    }
    expect(host.fetched).toEqual([JWKS_URL]);
  });

  it("an algorithm outside the allowlist is refused even with a key for it in the set", async () => {
    const host = jwksHost(() => [keys.RS256.jwk, keys.ES256.jwk]);
    const auth = await compileCallerAuth([jwtMethod({ algorithms: ["ES256"] })], { env: {}, now, fetch: host.fetch, jwksStore: createMemoryJwksStore(), failureLimiter: createMemoryFailureLimiter() });
    expect(await auth.authenticate(bearer(await token("ES256")))).toMatchObject({ ok: true });
    expect(await auth.authenticate(bearer(await token("RS256")))).toMatchObject({ ok: false, code: "ERR_AUTH_JWT" });
  });

  it("a flood of random kids costs at most one key-set fetch per cooldown, in this isolate and a fresh one sharing the store", async () => {
    const host = jwksHost(() => [keys.ES256.jwk]);
    const store = createMemoryJwksStore();
    const compile = () => compileCallerAuth([jwtMethod()], { env: {}, now, fetch: host.fetch, jwksStore: store, failureLimiter: createMemoryFailureLimiter({ maxFailures: 1_000, windowMs: 60_000 }) });
    const first = await compile();
    expect(await first.authenticate(bearer(await token("ES256")))).toMatchObject({ ok: true });
    expect(host.fetched.length).toBe(1);
    for (let i = 0; i < 40; i++) {
      const kid = crypto.randomUUID();
      expect(await first.authenticate(bearer(await token("ES256", {}, kid)))).toMatchObject({ ok: false });
    }
    expect(host.fetched.length).toBe(1);
    // The same flood arriving concurrently.
    const forged = await Promise.all(Array.from({ length: 30 }, () => token("ES256", {}, crypto.randomUUID())));
    const results = await Promise.all(forged.map((t) => first.authenticate(bearer(t))));
    expect(results.every((r) => !r.ok)).toBe(true);
    expect(host.fetched.length).toBe(1);
    // A new isolate: it reads the stored set (fresh, inside its cooldown) instead of fetching again.
    const second = await compile();
    expect(await second.authenticate(bearer(await token("ES256")))).toMatchObject({ ok: true });
    for (let i = 0; i < 20; i++) await second.authenticate(bearer(await token("ES256", {}, crypto.randomUUID())));
    expect(host.fetched.length).toBe(1);
  });

  it("control: with no cooldown every unknown kid refetches (the counter above can fail)", async () => {
    const host = jwksHost(() => [keys.ES256.jwk]);
    const auth = await compileCallerAuth([jwtMethod()], { env: {}, now, fetch: host.fetch, jwksStore: createMemoryJwksStore(), jwksCooldownMs: 0, failureLimiter: createMemoryFailureLimiter() });
    for (let i = 0; i < 3; i++) await auth.authenticate(bearer(await token("ES256", {}, crypto.randomUUID())));
    // The first request loads the set and refetches on its unknown kid; each later one refetches once.
    expect(host.fetched.length).toBe(4);
  });

  it("a rotated-in key is picked up after the cooldown by the refetch its unknown kid triggers", async () => {
    let served = [keys.RS256.jwk];
    const host = jwksHost(() => served);
    const auth = await compileCallerAuth([jwtMethod()], { env: {}, now, fetch: host.fetch, jwksStore: createMemoryJwksStore(), jwksCooldownMs: 0, failureLimiter: createMemoryFailureLimiter() });
    expect(await auth.authenticate(bearer(await token("RS256")))).toMatchObject({ ok: true });
    served = [keys.RS256.jwk, keys.EdDSA.jwk];
    expect(await auth.authenticate(bearer(await token("EdDSA")))).toMatchObject({ ok: true });
    expect(host.fetched.length).toBe(2);
  });

  it("a key set host that is down refuses (ERR_AUTH_JWKS_UNAVAILABLE), never a throw", async () => {
    const fetch = (async () => new Response("oops", { status: 502 })) as typeof globalThis.fetch;
    const auth = await compileCallerAuth([jwtMethod()], { env: {}, now, fetch, jwksStore: createMemoryJwksStore(), failureLimiter: createMemoryFailureLimiter() });
    expect(await auth.authenticate(bearer(await token("RS256")))).toEqual({ ok: false, status: 401, error: "unauthorized", code: "ERR_AUTH_JWKS_UNAVAILABLE" });
  });
});

describe("Cloudflare Access", () => {
  const team = "acme";
  const certs = "https://acme.cloudflareaccess.com/cdn-cgi/access/certs";
  const aud = "4714c1358e65fe4b408ad6d432a5f878f08194bdb4752441fd56faefa9b2b6f2";
  const access = (claims: Record<string, unknown>, opts: { aud?: string; iss?: string; exp?: number } = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: "RS256", kid: "k-RS256" })
      .setIssuer(opts.iss ?? "https://acme.cloudflareaccess.com")
      .setAudience(opts.aud ?? aud)
      .setIssuedAt(NOW_S - 5)
      .setExpirationTime(opts.exp ?? NOW_S + 3600)
      .sign(keys.RS256.pair.privateKey);
  const req = (t: string) => authRequest({ headers: { "cf-access-jwt-assertion": t } });

  it("accepts a user token (access:<team>#<email>) and a service token without nbf or email (access:<team>#<common_name>) from the team certs", async () => {
    const host = jwksHost(() => [keys.RS256.jwk]);
    const auth = await compileCallerAuth([{ type: "access", team, audience: aud }], { env: {}, now, fetch: host.fetch, jwksStore: createMemoryJwksStore(), failureLimiter: createMemoryFailureLimiter() });
    const user = await access({ email: "ops@example.com", sub: "7335d417-61da-459d-899c-0a01c76a2f94", type: "app", nbf: NOW_S - 5 });
    expect(await auth.authenticate(req(user))).toEqual({ ok: true, principal: "access:acme#ops@example.com" });
    const service = await access({ common_name: "a1b2c3.access", sub: "", type: "app" });
    expect(await auth.authenticate(req(service))).toEqual({ ok: true, principal: "access:acme#a1b2c3.access" });
    expect(host.fetched).toEqual([certs]);
  });

  it("refuses another application's aud, another team's issuer, an expired token, and a token with neither email nor common_name", async () => {
    const host = jwksHost(() => [keys.RS256.jwk]);
    const auth = await compileCallerAuth([{ type: "access", team: "acme.cloudflareaccess.com", audience: [aud] }], { env: {}, now, fetch: host.fetch, jwksStore: createMemoryJwksStore(), failureLimiter: createMemoryFailureLimiter() });
    expect(await auth.authenticate(req(await access({ email: "a@b.c" }, { aud: "0".repeat(64) })))).toMatchObject({ ok: false, code: "ERR_AUTH_JWT_CLAIMS" });
    expect(await auth.authenticate(req(await access({ email: "a@b.c" }, { iss: "https://evil.cloudflareaccess.com" })))).toMatchObject({ ok: false, code: "ERR_AUTH_JWT_CLAIMS" });
    expect(await auth.authenticate(req(await access({ email: "a@b.c" }, { exp: NOW_S - 120 })))).toMatchObject({ ok: false, code: "ERR_AUTH_JWT_EXPIRED" });
    expect(await auth.authenticate(req(await access({ sub: "x" })))).toMatchObject({ ok: false, code: "ERR_AUTH_ACCESS" });
    // The same token in Authorization is not an Access assertion.
    expect(await auth.authenticate(bearer(await access({ email: "a@b.c" })))).toMatchObject({ ok: false, code: "ERR_AUTH_MISSING" });
  });

  it("emails / commonNames narrow both kinds of principal", async () => {
    const host = jwksHost(() => [keys.RS256.jwk]);
    const auth = await compileCallerAuth([{ type: "access", team, audience: aud, emails: ["Ops@Example.com"] }], { env: {}, now, fetch: host.fetch, jwksStore: createMemoryJwksStore(), failureLimiter: createMemoryFailureLimiter() });
    expect(await auth.authenticate(req(await access({ email: "ops@example.com" })))).toMatchObject({ ok: true });
    expect(await auth.authenticate(req(await access({ email: "intern@example.com" })))).toMatchObject({ ok: false, code: "ERR_AUTH_ACCESS" });
    expect(await auth.authenticate(req(await access({ common_name: "svc.access" })))).toMatchObject({ ok: false, code: "ERR_AUTH_ACCESS" });
  });
});
