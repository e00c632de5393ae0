/**
 * Caller credentials for the edge fuzz campaign: one route auth list holding every method (bearer, JWT HS256
 * and JWKS, Cloudflare Access, HMAC standard/github/stripe/slack, IP allowlist), its Worker secrets and key
 * sets, and fast-check arbitraries for a credential of one scheme that is valid, valid but oddly written, or
 * broken — signed over whatever body the property sends, so valid signatures meet malformed bodies.
 */
import fc from "fast-check";
import { type CryptoKey, type JWK, SignJWT, exportJWK, generateKeyPair } from "jose";
import { CALLER_TOKEN, sha256Hex } from "./edge-env.ts";

export const SCHEMES = ["bearer", "openclaw-token", "jwt-hs", "jwt-jwks", "access", "standard", "github", "stripe", "slack", "ip", "none"] as const;
export type Scheme = (typeof SCHEMES)[number];
export type Variant = "valid" | "decorated" | "broken";

const ISSUER = "https://idp.fuzz.test";
const AUDIENCE = "clawgate";
const JWKS_URL = "https://idp.fuzz.test/jwks";
const ACCESS_TEAM = "acme";
const ACCESS_CERTS = "https://acme.cloudflareaccess.com/cdn-cgi/access/certs";
const ACCESS_ISSUER = "https://acme.cloudflareaccess.com";
const ACCESS_AUD = "access-aud-tag";
/** The IP method's ranges; the property draws a client inside them now and then. */
export const ALLOWED_V4 = "192.0.2.0/24";
const ALLOWED_V6 = "2001:db8::/32";

export const SECRETS = {
  FUZZ_JWT_SECRET: "fuzz-jwt-shared-secret-of-at-least-32-bytes!",
  FUZZ_WH: `whsec_${btoa("standard-webhooks-fuzz-key!!")}`,
  FUZZ_GH: "github-fuzz-secret",
  FUZZ_ST: "whsec_stripe_fuzz_secret",
  FUZZ_SL: "slack-fuzz-signing-secret",
} as const;

/** Which route methods accept which scheme (a credential for a method the route lacks is no credential there). */
export const METHOD_OF: Record<Exclude<Scheme, "none">, string> = {
  bearer: "bearer",
  "openclaw-token": "bearer",
  "jwt-hs": "jwt-hs",
  "jwt-jwks": "jwt-jwks",
  access: "access",
  standard: "standard",
  github: "github",
  stripe: "stripe",
  slack: "slack",
  ip: "ip",
};

/** Every method, keyed as in METHOD_OF; a route lists any subset. */
export async function authMethods(): Promise<Record<string, unknown>> {
  return {
    bearer: { type: "bearer", tokens: [{ name: "ci", sha256: await sha256Hex(CALLER_TOKEN) }] },
    "jwt-hs": { type: "jwt", secretBinding: "FUZZ_JWT_SECRET", issuer: ISSUER, audience: AUDIENCE, algorithms: ["HS256"] },
    "jwt-jwks": { type: "jwt", jwksUrl: JWKS_URL, issuer: ISSUER, audience: AUDIENCE, algorithms: ["ES256", "EdDSA"] },
    access: { type: "access", team: ACCESS_TEAM, audience: ACCESS_AUD },
    standard: { type: "hmac", scheme: "standard", name: "std", secretBinding: "FUZZ_WH" },
    github: { type: "hmac", scheme: "github", name: "gh", secretBinding: "FUZZ_GH" },
    stripe: { type: "hmac", scheme: "stripe", name: "st", secretBinding: "FUZZ_ST" },
    slack: { type: "hmac", scheme: "slack", name: "sl", secretBinding: "FUZZ_SL" },
    ip: { type: "ip", cidrs: [ALLOWED_V4, ALLOWED_V6] },
  };
}

export interface SigningKeys {
  readonly jwks: { key: CryptoKey; kid: string; alg: "ES256" | "EdDSA" }[];
  readonly access: CryptoKey;
  /** Not in any key set: signs the forgeries. */
  readonly stranger: CryptoKey;
  /** Key set URL → public JWKs, for fuzzNetwork. */
  readonly keySets: Record<string, JWK[]>;
}

export async function signingKeys(): Promise<SigningKeys> {
  const es = await generateKeyPair("ES256", { extractable: true });
  const ed = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const rsa = await generateKeyPair("RS256", { extractable: true });
  const stranger = await generateKeyPair("ES256", { extractable: true });
  return {
    jwks: [
      { key: es.privateKey, kid: "es-1", alg: "ES256" },
      { key: ed.privateKey, kid: "ed-1", alg: "EdDSA" },
    ],
    access: rsa.privateKey,
    stranger: stranger.privateKey,
    keySets: {
      [JWKS_URL]: [
        { ...(await exportJWK(es.publicKey)), kid: "es-1", alg: "ES256" },
        { ...(await exportJWK(ed.publicKey)), kid: "ed-1", alg: "EdDSA" },
      ],
      [ACCESS_CERTS]: [{ ...(await exportJWK(rsa.publicKey)), kid: "access-1", alg: "RS256" }],
    },
  };
}

/** A header-safe string (a ByteString without control characters, as a client can send it). */
const headerText = (maxLength: number) => fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength });

export interface CredentialSpec {
  readonly scheme: Scheme;
  readonly variant: Variant;
  /** The JWT `sub` / Access email or common name; may be long or odd. */
  readonly subject: string;
  readonly useEmail: boolean;
  /** Standard Webhooks webhook-id. */
  readonly webhookId: string;
  /** Junk for broken headers and decorations. */
  readonly junk: readonly string[];
  /** Which way a credential is broken. */
  readonly flaw: number;
}

export const credentialSpec: fc.Arbitrary<CredentialSpec> = fc.record({
  scheme: fc.constantFrom(...SCHEMES),
  variant: fc.constantFrom<Variant>("valid", "valid", "decorated", "broken"),
  subject: fc.oneof(
    fc.constantFrom("alice", "svc/deploy", "a%2Fb", "ops@example.com"),
    fc.string({ minLength: 1, maxLength: 40 }),
    fc.string({ unit: "grapheme", minLength: 1, maxLength: 20 }),
    fc.integer({ min: 200, max: 6000 }).map((n) => "s".repeat(n)),
  ),
  useEmail: fc.boolean(),
  webhookId: fc.oneof(fc.stringMatching(/^msg_[A-Za-z0-9]{1,24}$/), headerText(40).filter((s) => s.trim() === s && s !== ""), fc.integer({ min: 250, max: 300 }).map((n) => "i".repeat(n))),
  junk: fc.array(fc.oneof(headerText(60), fc.constantFrom("", " ", "v1,", "v1a,abc", "v0=", "sha256=", "t=,v1=", "NaN", "whsec_", "Bearer", "=", ",,")), { minLength: 3, maxLength: 3 }),
  flaw: fc.nat(5),
});

const encoder = new TextEncoder();

async function hmac(key: Uint8Array, content: Uint8Array): Promise<Uint8Array> {
  const k = await crypto.subtle.importKey("raw", key as Uint8Array<ArrayBuffer>, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, content as Uint8Array<ArrayBuffer>));
}
const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const concat = (prefix: string, body: Uint8Array) => {
  const head = encoder.encode(prefix);
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
};

export interface BuiltCredential {
  readonly headers: Record<string, string>;
  /** The principal the edge must authenticate, when the credential is good. */
  readonly principal: string | undefined;
}

/** The headers of one credential over `body`, and the principal it proves (undefined when broken or none). */
export async function buildCredential(spec: CredentialSpec, body: Uint8Array, keys: SigningKeys): Promise<BuiltCredential> {
  const good = spec.variant !== "broken";
  const [j0 = "", j1 = "", j2 = ""] = spec.junk;
  const nowS = Math.floor(Date.now() / 1000);
  const ts = good || spec.flaw !== 1 ? nowS : nowS - 3600;
  switch (spec.scheme) {
    case "none":
      return { headers: {}, principal: undefined };
    case "ip":
      return { headers: {}, principal: undefined };
    case "bearer":
    case "openclaw-token": {
      const token = good ? CALLER_TOKEN : spec.flaw === 0 ? `${CALLER_TOKEN}x` : j0;
      const headers: Record<string, string> =
        spec.scheme === "bearer" ? { authorization: `${spec.variant === "decorated" ? "bEaReR  " : "Bearer "}${token}` } : { "x-openclaw-token": token };
      return { headers, principal: good ? "token:ci" : undefined };
    }
    case "jwt-hs":
    case "jwt-jwks":
    case "access": {
      const access = spec.scheme === "access";
      const claims: Record<string, unknown> = access ? (spec.useEmail ? { email: spec.subject } : { common_name: spec.subject }) : { sub: spec.subject };
      const jwt = new SignJWT(claims)
        .setIssuer(access ? ACCESS_ISSUER : ISSUER)
        .setAudience(good || spec.flaw !== 2 ? (access ? ACCESS_AUD : AUDIENCE) : "someone-else")
        .setIssuedAt(nowS)
        .setExpirationTime(good || spec.flaw !== 1 ? nowS + 300 : nowS - 3600);
      let token: string;
      const signer = keys.jwks[spec.flaw % 2]!;
      // flaw 3 is a forgery: another secret, or the stranger's ES256 key under a kid the key set holds.
      const forged = !good && spec.flaw === 3;
      if (spec.scheme === "jwt-hs") token = await jwt.setProtectedHeader({ alg: "HS256" }).sign(encoder.encode(forged ? "another-secret-of-at-least-32-bytes!!" : SECRETS.FUZZ_JWT_SECRET));
      else if (forged) token = await jwt.setProtectedHeader({ alg: "ES256", kid: access ? "access-1" : signer.kid }).sign(keys.stranger);
      else if (spec.scheme === "jwt-jwks") token = await jwt.setProtectedHeader({ alg: signer.alg, kid: signer.kid }).sign(signer.key);
      else token = await jwt.setProtectedHeader({ alg: "RS256", kid: "access-1" }).sign(keys.access);
      if (!good && spec.flaw === 0) token = token.slice(0, -2) + (token.endsWith("AA") ? "BA" : "AA");
      if (!good && spec.flaw >= 4) token = `${j0}.${j1}.${j2}`;
      const headers: Record<string, string> = access ? { "cf-access-jwt-assertion": token } : { authorization: `Bearer ${token}` };
      // An empty or >8 KiB token, or a `sub` the JWT cannot carry, proves nothing.
      const principal = good && token.length <= 8192 ? (access ? `access:${ACCESS_TEAM}#${spec.subject}` : `jwt:${ISSUER}#${spec.subject}`) : undefined;
      return { headers, principal };
    }
    case "standard": {
      const key = Uint8Array.from(atob(SECRETS.FUZZ_WH.slice(6)), (c) => c.charCodeAt(0));
      const id = spec.webhookId;
      const sig = b64(await hmac(key, concat(`${id}.${ts}.`, body)));
      let signature = spec.variant === "decorated" ? `v1a,${b64(encoder.encode(j0))} v1,${b64(encoder.encode(j1))} v1,${sig}` : `v1,${sig}`;
      if (!good && spec.flaw === 0) signature = `v1,${sig.slice(1)}A`;
      if (!good && spec.flaw >= 2) signature = j0;
      const headers: Record<string, string> = { "webhook-id": id, "webhook-timestamp": !good && spec.flaw === 3 ? j1 : String(ts), "webhook-signature": signature };
      if (!good && spec.flaw === 4) delete headers["webhook-timestamp"];
      // A webhook-id past 256 characters is refused: it would become the delivery id.
      return { headers, principal: good && id.length <= 256 ? "hmac:standard:std" : undefined };
    }
    case "github": {
      const sig = hex(await hmac(encoder.encode(SECRETS.FUZZ_GH), !good && spec.flaw === 1 ? concat("x", body) : body));
      let header = `sha256=${spec.variant === "decorated" ? sig.toUpperCase() : sig}`;
      if (!good && spec.flaw === 0) header = `sha256=${sig.slice(0, 63)}`;
      if (!good && spec.flaw >= 2) header = j0;
      return { headers: { "x-hub-signature-256": header }, principal: good ? "hmac:github:gh" : undefined };
    }
    case "stripe": {
      const sig = hex(await hmac(encoder.encode(SECRETS.FUZZ_ST), concat(`${ts}.`, body)));
      let header = spec.variant === "decorated" ? ` t=${ts} , v0=${j0.replace(/,/g, "")},v1=${hex(encoder.encode(j1)).slice(0, 64)}, v1=${sig}` : `t=${ts},v1=${sig}`;
      if (!good && spec.flaw === 0) header = `t=${ts},v1=${sig.replace(/^./, (c) => (c === "0" ? "1" : "0"))}`;
      if (!good && spec.flaw >= 2) header = `${j0},${j1}`;
      return { headers: { "stripe-signature": header }, principal: good ? "hmac:stripe:st" : undefined };
    }
    case "slack": {
      const sig = hex(await hmac(encoder.encode(SECRETS.FUZZ_SL), concat(`v0:${ts}:`, body)));
      let header = `v0=${spec.variant === "decorated" ? sig.toUpperCase() : sig}`;
      if (!good && spec.flaw === 0) header = `v0=${sig.slice(2)}ff`;
      if (!good && spec.flaw >= 2) header = j0;
      const headers: Record<string, string> = { "x-slack-signature": header, "x-slack-request-timestamp": !good && spec.flaw === 3 ? j1 : String(ts) };
      return { headers, principal: good ? "hmac:slack:sl" : undefined };
    }
  }
}
