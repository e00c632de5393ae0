/**
 * The edge → node envelope: a short-lived JWT (EdDSA or ES256) that binds one forwarded request — method,
 * path, SHA-256 of the exact body, target node, caller — so the node can trust what the edge decided.
 * Web-standard APIs only: the edge signs with it inside workerd, the node verifies with it in Node.
 */
// jose's per-feature entry points: the node agent loads only these modules (not JWE and the rest), and the
// Worker bundle is tree-shaken either way.
import { MAX_DELIVERY_ID } from "./limits.ts";
import { timeOrderedId } from "./time-ordered-id.ts";
import { decodeProtectedHeader } from "jose/decode/protected_header";
import * as errors from "jose/errors";
import { importJWK } from "jose/key/import";
import { jwtVerify } from "jose/jwt/verify";
import type { JWK } from "jose";

/** The request header that carries the envelope. */
export const ENVELOPE_HEADER = "clawgate-envelope";
/** `typ` header (RFC 8725 §3.11: explicit typing keeps an envelope from passing as any other JWT). */
export const ENVELOPE_TYP = "clawgate-envelope+jwt";
export const ENVELOPE_ISSUER = "clawgate-edge";
export const ENVELOPE_ALGORITHMS = ["EdDSA", "ES256"] as const;
export type EnvelopeAlgorithm = (typeof ENVELOPE_ALGORITHMS)[number];
/** Longest lifetime a verifier accepts (exp − iat), in seconds. */
export const MAX_ENVELOPE_LIFETIME_S = 60;
/** Longest token a verifier parses; a real envelope is well under 1 KiB. */
export const MAX_ENVELOPE_BYTES = 4096;

export interface EnvelopeClaims {
  readonly iss: string;
  /** The node id the request is for. */
  readonly aud: string;
  /** The caller identity the edge authenticated, e.g. `token:github-ci` or `cron:*\/15 * * * *`. */
  readonly sub: string;
  readonly iat: number;
  readonly exp: number;
  /** Unique per envelope: the node rejects a second use, and uses it as the delivery id by default. */
  readonly jti: string;
  /** HTTP method (DPoP's claim name, RFC 9449 §4.2). */
  readonly htm: string;
  /** Path and query of the request on the node. */
  readonly htu: string;
  /** base64url SHA-256 of the exact body bytes. */
  readonly bsh: string;
  /**
   * Delivery id, when it differs from `jti`: the edge re-signs every retry of an outbox delivery with a
   * fresh `jti` (so replay protection stays strict) but the same `did`, so the node runs it once.
   */
  readonly did?: string;
}

export type EnvelopeErrorCode =
  | "ERR_ENVELOPE_MALFORMED"
  | "ERR_ENVELOPE_TOO_LARGE"
  | "ERR_ENVELOPE_KEY_UNKNOWN"
  | "ERR_ENVELOPE_SIGNATURE"
  | "ERR_ENVELOPE_EXPIRED"
  | "ERR_ENVELOPE_CLAIMS"
  | "ERR_ENVELOPE_BINDING"
  | "ERR_ENVELOPE_REPLAYED";

/** Why an envelope was refused. The message names the check, never the token or its claims' values. */
export class EnvelopeError extends Error {
  override readonly name = "EnvelopeError";
  readonly code: EnvelopeErrorCode;
  constructor(code: EnvelopeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export interface EnvelopeRequest {
  readonly method: string;
  /** Path plus query string, exactly as sent to the node. */
  readonly path: string;
  readonly body: Uint8Array | string;
}

const encoder = new TextEncoder();

/** base64url (no padding) SHA-256 of the body bytes. */
export async function bodySha256(body: Uint8Array | string): Promise<string> {
  const bytes = typeof body === "string" ? encoder.encode(body) : body;
  return base64url(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>)));
}

export interface EnvelopeSignerOptions {
  /** The edge's private key as a JWK (a Worker secret); `alg` and `kid` are taken from it or given here. */
  readonly privateJwk: JWK;
  readonly kid?: string;
  readonly alg?: EnvelopeAlgorithm;
  readonly nodeId: string;
  /** Seconds until expiry, 1–60; default 30. */
  readonly lifetimeSeconds?: number;
  readonly now?: () => number;
  /** The random bits of a default `jti` (a time-ordered id, shared/time-ordered-id.ts). */
  readonly randomUUID?: () => string;
}

export { MAX_DELIVERY_ID };

export interface EnvelopeSigner {
  sign(request: EnvelopeRequest & { readonly principal: string; readonly jti?: string; readonly deliveryId?: string }): Promise<string>;
}

export async function createEnvelopeSigner(options: EnvelopeSignerOptions): Promise<EnvelopeSigner> {
  const alg = options.alg ?? (options.privateJwk.alg as EnvelopeAlgorithm | undefined);
  if (!alg || !ENVELOPE_ALGORITHMS.includes(alg)) throw new TypeError(`envelope alg must be one of ${ENVELOPE_ALGORITHMS.join(", ")}`);
  const kid = options.kid ?? options.privateJwk.kid;
  if (!kid) throw new TypeError("envelope signing key needs a kid");
  if (!options.nodeId) throw new TypeError("envelope nodeId must not be empty");
  const lifetime = options.lifetimeSeconds ?? 30;
  if (!Number.isInteger(lifetime) || lifetime < 1 || lifetime > MAX_ENVELOPE_LIFETIME_S) {
    throw new TypeError(`envelope lifetimeSeconds must be an integer from 1 to ${MAX_ENVELOPE_LIFETIME_S}`);
  }
  // Everything that is the same for every envelope is done here, once: the key imported (jose checks the JWK),
  // the protected header serialised and encoded. A signature is then one JSON.stringify, one body digest and one
  // WebCrypto sign — the compact JWS of RFC 7515 §7.1, which jose's jwtVerify on the node checks as before.
  const key = await importJWK(options.privateJwk, alg);
  if (!(key instanceof CryptoKey)) throw new TypeError("envelope signing key must be an asymmetric private JWK");
  const signParams: { name: string; hash?: string } = alg === "EdDSA" ? { name: "Ed25519" } : { name: "ECDSA", hash: "SHA-256" };
  const header = base64url(encoder.encode(JSON.stringify({ alg, kid, typ: ENVELOPE_TYP })));
  const now = options.now ?? Date.now;
  const randomUUID = options.randomUUID ?? (() => crypto.randomUUID());

  return {
    async sign(request) {
      const iat = Math.floor(now() / 1000);
      const did = request.deliveryId;
      if (did !== undefined && (did === "" || did.length > MAX_DELIVERY_ID)) {
        throw new TypeError(`envelope deliveryId must be 1 to ${MAX_DELIVERY_ID} characters`);
      }
      const claims: Omit<EnvelopeClaims, "did"> & { did?: string } = {
        htm: request.method.toUpperCase(),
        htu: request.path,
        bsh: await bodySha256(request.body),
        iss: ENVELOPE_ISSUER,
        aud: options.nodeId,
        sub: request.principal,
        jti: request.jti ?? timeOrderedId(now(), randomUUID),
        iat,
        exp: iat + lifetime,
      };
      if (did !== undefined) claims.did = did;
      const input = `${header}.${base64url(encoder.encode(JSON.stringify(claims)))}`;
      const signature = new Uint8Array(await crypto.subtle.sign(signParams, key, encoder.encode(input)));
      return `${input}.${base64url(signature)}`;
    },
  };
}

/** base64url without padding (RFC 7515 §2). */
function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Remembers envelope ids until they expire, so each envelope is accepted once. */
export interface ReplayCache {
  /** Records `jti` until `expiresAt` (epoch seconds); false when it was already recorded and unexpired. */
  checkAndRecord(jti: string, expiresAt: number, nowSeconds: number): boolean;
}

/** In-memory replay cache, bounded: expired ids are dropped first, then the oldest. */
export function createMemoryReplayCache(maxEntries = 100_000): ReplayCache {
  const seen = new Map<string, number>();
  return {
    checkAndRecord(jti, expiresAt, nowSeconds) {
      const known = seen.get(jti);
      if (known !== undefined && known >= nowSeconds) return false;
      if (seen.size >= maxEntries) {
        for (const [id, exp] of seen) if (exp < nowSeconds) seen.delete(id);
        // Still full of live ids: forget the oldest. A lifetime ≤ 60 s bounds what that can let through.
        for (const id of seen.keys()) {
          if (seen.size < maxEntries) break;
          seen.delete(id);
        }
      }
      seen.set(jti, expiresAt);
      return true;
    },
  };
}

export interface EnvelopeVerifierOptions {
  /** The edge's public keys by kid (several at once during a rotation); each JWK names its alg. */
  readonly publicJwks: readonly JWK[];
  readonly nodeId: string;
  readonly replayCache: ReplayCache;
  readonly clockToleranceSeconds?: number;
  /** The verifier's clock (ms): `iat`/`exp` are checked against it. */
  readonly now: () => number;
  /**
   * The body's base64url SHA-256, as `bodySha256` computes it (the default). A runtime with a synchronous hash
   * (node:crypto) passes one to skip a Web Crypto job per request; it must return the same text.
   */
  readonly bodyDigest?: (body: Uint8Array | string) => string | Promise<string>;
}

export interface EnvelopeVerifier {
  /** The verified claims, or an EnvelopeError naming the failed check. */
  verify(token: string, request: EnvelopeRequest): Promise<EnvelopeClaims>;
}

export async function createEnvelopeVerifier(options: EnvelopeVerifierOptions): Promise<EnvelopeVerifier> {
  if (!options.nodeId) throw new TypeError("envelope nodeId must not be empty");
  if (options.publicJwks.length === 0) throw new TypeError("envelope verifier needs at least one public key");
  const keys = new Map<string, { key: Awaited<ReturnType<typeof importJWK>>; alg: EnvelopeAlgorithm }>();
  for (const [i, jwk] of options.publicJwks.entries()) {
    const alg = jwk.alg as EnvelopeAlgorithm | undefined;
    if (!jwk.kid) throw new TypeError(`publicJwks[${i}] needs a kid`);
    if (!alg || !ENVELOPE_ALGORITHMS.includes(alg)) throw new TypeError(`publicJwks[${i}].alg must be one of ${ENVELOPE_ALGORITHMS.join(", ")}`);
    if ("d" in jwk) throw new TypeError(`publicJwks[${i}] is a private key; give the node only the public half`);
    keys.set(jwk.kid, { key: await importJWK(jwk, alg), alg });
  }
  const tolerance = options.clockToleranceSeconds ?? 5;
  const { now } = options;
  const bodyDigest = options.bodyDigest ?? bodySha256;

  return {
    async verify(token, request) {
      if (token.length > MAX_ENVELOPE_BYTES) throw new EnvelopeError("ERR_ENVELOPE_TOO_LARGE", "envelope is too large");
      let header;
      try {
        header = decodeProtectedHeader(token);
      } catch (cause) {
        throw new EnvelopeError("ERR_ENVELOPE_MALFORMED", "envelope is not a compact JWS", { cause });
      }
      const entry = typeof header.kid === "string" ? keys.get(header.kid) : undefined;
      if (!entry) throw new EnvelopeError("ERR_ENVELOPE_KEY_UNKNOWN", "envelope key id is not a configured edge key");
      const currentDate = new Date(now());
      let claims: EnvelopeClaims;
      try {
        const result = await jwtVerify(token, entry.key, {
          // Exactly the key's own algorithm: no `none`, no HMAC with a public key, no cross-alg confusion.
          algorithms: [entry.alg],
          typ: ENVELOPE_TYP,
          issuer: ENVELOPE_ISSUER,
          audience: options.nodeId,
          maxTokenAge: MAX_ENVELOPE_LIFETIME_S,
          clockTolerance: tolerance,
          currentDate,
          requiredClaims: ["exp", "iat", "jti", "sub", "htm", "htu", "bsh"],
        });
        claims = result.payload as unknown as EnvelopeClaims;
      } catch (cause) {
        throw mapJoseError(cause);
      }
      for (const name of ["jti", "sub", "htm", "htu", "bsh"] as const) {
        if (typeof claims[name] !== "string" || claims[name] === "") {
          throw new EnvelopeError("ERR_ENVELOPE_CLAIMS", `envelope claim "${name}" must be a non-empty string`);
        }
      }
      if (claims.did !== undefined && (typeof claims.did !== "string" || claims.did === "" || claims.did.length > MAX_DELIVERY_ID)) {
        throw new EnvelopeError("ERR_ENVELOPE_CLAIMS", `envelope claim "did" must be a string of 1 to ${MAX_DELIVERY_ID} characters`);
      }
      if (claims.exp - claims.iat > MAX_ENVELOPE_LIFETIME_S) {
        throw new EnvelopeError("ERR_ENVELOPE_CLAIMS", `envelope lifetime exceeds ${MAX_ENVELOPE_LIFETIME_S} s`);
      }
      if (claims.htm !== request.method.toUpperCase()) throw new EnvelopeError("ERR_ENVELOPE_BINDING", "envelope was signed for another method");
      if (claims.htu !== request.path) throw new EnvelopeError("ERR_ENVELOPE_BINDING", "envelope was signed for another path");
      if (claims.bsh !== (await bodyDigest(request.body))) {
        throw new EnvelopeError("ERR_ENVELOPE_BINDING", "envelope was signed for another body");
      }
      // Only a fully verified envelope may occupy the replay cache, so forged ids cannot flood it.
      if (!options.replayCache.checkAndRecord(claims.jti, claims.exp + tolerance, Math.floor(currentDate.getTime() / 1000))) {
        throw new EnvelopeError("ERR_ENVELOPE_REPLAYED", "envelope was already used");
      }
      return claims;
    },
  };
}

function mapJoseError(cause: unknown): EnvelopeError {
  if (cause instanceof errors.JWTExpired) return new EnvelopeError("ERR_ENVELOPE_EXPIRED", "envelope has expired", { cause });
  if (cause instanceof errors.JWTClaimValidationFailed) {
    return new EnvelopeError("ERR_ENVELOPE_CLAIMS", `envelope claim check failed: ${cause.claim}`, { cause });
  }
  if (cause instanceof errors.JWSSignatureVerificationFailed || cause instanceof errors.JOSEAlgNotAllowed) {
    return new EnvelopeError("ERR_ENVELOPE_SIGNATURE", "envelope signature is not valid for its key", { cause });
  }
  return new EnvelopeError("ERR_ENVELOPE_MALFORMED", "envelope could not be verified", { cause });
}
