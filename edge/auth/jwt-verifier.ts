/**
 * JWT callers (jose): an HS* shared secret or a remote JWKS (RS/PS/ES/EdDSA) with required `iss`/`aud`, an
 * explicit algorithm allowlist, `exp` and `sub` required, and clock tolerance; and Cloudflare Access's
 * `Cf-Access-Jwt-Assertion` against the team key set. The key is always ours — a secret or the configured
 * key set — so header tricks (`alg: none`, an embedded `jwk`, `jku`/`x5u`, HS256 signed with a public key)
 * have nothing to select (RFC 8725 §2.1–2.4, §3.1); unknown `crit` is refused by jose (RFC 7515 §4.1.11).
 */
import { type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions, errors, jwtVerify } from "jose";
import type { AccessMethod, JwtMethod } from "./auth-config.ts";
import { ABSENT, type AuthErrorCode, type CompiledMethod, type MethodOutcome, bearerCredential, fieldError, readSecret, refused } from "./auth-method.ts";
import { type JwksCacheStore, createSharedRemoteKeySet } from "./jwks-cache.ts";

/** A longer token is refused before it is parsed (base64 decoding and JSON parsing cost CPU). */
export const MAX_JWT_BYTES = 8192;
export const DEFAULT_CLOCK_TOLERANCE_S = 30;
/** Header Cloudflare Access adds to every request it lets through to the origin. */
export const ACCESS_HEADER = "cf-access-jwt-assertion";

const HMAC_ALGS = new Set(["HS256", "HS384", "HS512"]);
/** RFC 7518 §3.2: an HMAC key at least as long as the hash output. */
const MIN_HMAC_SECRET_BYTES = 32;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;
const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/**
 * Strict compact serialization (RFC 7515 §3.1, §2 BASE64URL: no padding, no whitespace, canonical): jose
 * decodes leniently (Wycheproof's "base64" group: spaces, `=` padding and non-zero unused bits pass its
 * decoder), so the edge refuses any token that is not canonical before it reaches jose.
 */
export function isStrictCompactJws(token: string): boolean {
  if (!JWT_SHAPE.test(token)) return false;
  for (const part of token.split(".")) {
    const rest = part.length % 4;
    if (rest === 1) return false;
    if (rest === 0 || part.length === 0) continue;
    // The last character carries 4 (rest 2) or 2 (rest 3) unused bits, which must be zero.
    const bits = B64URL.indexOf(part[part.length - 1]!);
    if ((rest === 2 && (bits & 0x0f) !== 0) || (rest === 3 && (bits & 0x03) !== 0)) return false;
  }
  return true;
}

export interface JwtDeps {
  readonly env: Record<string, unknown>;
  readonly now: () => number;
  readonly fetch?: typeof fetch;
  readonly jwksStore: JwksCacheStore;
  readonly jwksCooldownMs?: number;
}

const list = (value: string | readonly string[]) => (typeof value === "string" ? [value] : [...value]);

function refusalOf(error: unknown): AuthErrorCode {
  if (error instanceof errors.JWTExpired) return "ERR_AUTH_JWT_EXPIRED";
  if (error instanceof errors.JWTClaimValidationFailed) return "ERR_AUTH_JWT_CLAIMS";
  if (error instanceof errors.JWKSTimeout) return "ERR_AUTH_JWKS_UNAVAILABLE";
  // Network failures and non-200 answers from the key set host are not the caller's fault, but still no entry.
  if (!(error instanceof errors.JOSEError) || error.code === "ERR_JOSE_GENERIC") return "ERR_AUTH_JWKS_UNAVAILABLE";
  return "ERR_AUTH_JWT";
}

async function verify(token: string, key: Uint8Array | JWTVerifyGetKey, options: JWTVerifyOptions): Promise<{ payload: JWTPayload } | { code: AuthErrorCode }> {
  if (token.length > MAX_JWT_BYTES) return { code: "ERR_AUTH_JWT_TOO_LARGE" };
  if (!isStrictCompactJws(token)) return { code: "ERR_AUTH_JWT" };
  try {
    const { payload } = typeof key === "function" ? await jwtVerify(token, key, options) : await jwtVerify(token, key, options);
    return { payload };
  } catch (error) {
    return { code: refusalOf(error) };
  }
}

export async function compileJwt(method: JwtMethod, field: string, deps: JwtDeps): Promise<CompiledMethod> {
  const hmacAlgs = method.algorithms.filter((a) => HMAC_ALGS.has(a));
  let key: Uint8Array | JWTVerifyGetKey;
  if ((method.secretBinding === undefined) === (method.jwksUrl === undefined)) {
    throw fieldError(field, "needs exactly one of secretBinding (HS256) or jwksUrl");
  }
  if (method.secretBinding !== undefined) {
    // Only HMAC algorithms with a secret; a public-key alg here could never verify anyway.
    if (hmacAlgs.length !== method.algorithms.length) throw fieldError(`${field}.algorithms`, "a secretBinding allows only HS256, HS384, HS512");
    key = new TextEncoder().encode(readSecret(deps.env, method.secretBinding, `${field}.secretBinding`));
    if (key.length < MIN_HMAC_SECRET_BYTES) throw fieldError(`${field}.secretBinding`, `Worker secret ${method.secretBinding} is shorter than ${MIN_HMAC_SECRET_BYTES} bytes`);
  } else {
    // Key confusion (RFC 8725 §2.1): a key set of public keys never verifies an HMAC algorithm.
    if (hmacAlgs.length > 0) throw fieldError(`${field}.algorithms`, "a jwksUrl allows only public-key algorithms (RS*, PS*, ES*, EdDSA)");
    key = createSharedRemoteKeySet(method.jwksUrl!, {
      store: deps.jwksStore,
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
      ...(deps.jwksCooldownMs !== undefined ? { cooldownMs: deps.jwksCooldownMs } : {}),
    });
  }
  const base: JWTVerifyOptions = {
    algorithms: [...method.algorithms],
    issuer: list(method.issuer),
    audience: list(method.audience),
    clockTolerance: method.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_S,
    requiredClaims: ["exp", "sub"],
    ...(method.maxTokenAgeSeconds !== undefined ? { maxTokenAge: method.maxTokenAgeSeconds } : {}),
  };
  return {
    type: "jwt",
    async check(req): Promise<MethodOutcome> {
      const token = bearerCredential(req.headers);
      // An opaque bearer token (`cg_…`, no dots) is the bearer method's business, not a malformed JWT.
      if (token === undefined || !token.includes(".")) return ABSENT;
      const result = await verify(token, key, { ...base, currentDate: new Date(deps.now()) });
      if ("code" in result) return refused(result.code);
      const sub = result.payload.sub;
      if (typeof sub !== "string" || sub === "") return refused("ERR_AUTH_JWT_CLAIMS");
      // The issuer is part of the name: two issuers may both have a user "42", and they are not one caller.
      return { kind: "ok", principal: `jwt:${String(result.payload.iss)}#${sub}` };
    },
  };
}

/** The team's key set and issuer (developers.cloudflare.com: "Validate JWTs"). */
export function accessEndpoints(team: string): { jwksUrl: string; issuer: string } {
  const domain = team.endsWith(".cloudflareaccess.com") ? team : `${team}.cloudflareaccess.com`;
  return { jwksUrl: `https://${domain}/cdn-cgi/access/certs`, issuer: `https://${domain}` };
}

export async function compileAccess(method: AccessMethod, _field: string, deps: JwtDeps): Promise<CompiledMethod> {
  const { jwksUrl, issuer } = accessEndpoints(method.team);
  // The team is part of the name (`access:<team>#<who>`): two Access teams may both hold "ops@example.com".
  const teamName = method.team.replace(/\.cloudflareaccess\.com$/, "");
  const keySet = createSharedRemoteKeySet(jwksUrl, {
    store: deps.jwksStore,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
    ...(deps.jwksCooldownMs !== undefined ? { cooldownMs: deps.jwksCooldownMs } : {}),
  });
  const emails = method.emails ? new Set(method.emails.map((e) => e.toLowerCase())) : undefined;
  const commonNames = method.commonNames ? new Set(method.commonNames) : undefined;
  // Access signs with RS256; service-token JWTs have no `nbf` and no `email`, so neither is required.
  const base: JWTVerifyOptions = {
    algorithms: ["RS256"],
    issuer,
    audience: list(method.audience),
    clockTolerance: method.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_S,
    requiredClaims: ["exp"],
  };
  return {
    type: "access",
    async check(req): Promise<MethodOutcome> {
      const token = req.headers.get(ACCESS_HEADER);
      if (token === null || token === "") return ABSENT;
      const result = await verify(token, keySet, { ...base, currentDate: new Date(deps.now()) });
      if ("code" in result) return refused(result.code === "ERR_AUTH_JWT" ? "ERR_AUTH_ACCESS" : result.code);
      const { email, common_name: commonName } = result.payload as { email?: unknown; common_name?: unknown };
      // Either list narrows both kinds: with only `emails` configured, no service token gets in.
      const restricted = emails !== undefined || commonNames !== undefined;
      if (typeof email === "string" && email !== "") {
        if (restricted && !emails?.has(email.toLowerCase())) return refused("ERR_AUTH_ACCESS");
        return { kind: "ok", principal: `access:${teamName}#${email}` };
      }
      if (typeof commonName === "string" && commonName !== "") {
        if (restricted && !commonNames?.has(commonName)) return refused("ERR_AUTH_ACCESS");
        return { kind: "ok", principal: `access:${teamName}#${commonName}` };
      }
      return refused("ERR_AUTH_ACCESS");
    },
  };
}
