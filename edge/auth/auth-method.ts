/** The types every compiled authentication method shares: the request it sees and the outcome it reports. */

/** What a method may look at: the request line, headers, the exact body bytes, and Cloudflare's client IP. */
export interface AuthRequest {
  readonly method: string;
  /** The request URL (a string is accepted too, as `Request.url`). */
  readonly url: URL | string;
  readonly headers: Headers;
  /** The exact bytes received: HMAC schemes sign these, never a re-serialized JSON. */
  readonly rawBody: Uint8Array;
  /** `CF-Connecting-IP` — the only client address Cloudflare vouches for; undefined or "" when absent. */
  readonly clientIp: string | undefined;
}

/** Stable codes of a refusal (the HTTP body carries them; they never contain a credential). */
export type AuthErrorCode =
  | "ERR_AUTH_MISSING"
  | "ERR_AUTH_BEARER"
  | "ERR_AUTH_JWT"
  | "ERR_AUTH_JWT_EXPIRED"
  | "ERR_AUTH_JWT_CLAIMS"
  | "ERR_AUTH_JWT_TOO_LARGE"
  | "ERR_AUTH_JWKS_UNAVAILABLE"
  | "ERR_AUTH_ACCESS"
  | "ERR_AUTH_SIGNATURE"
  | "ERR_AUTH_TIMESTAMP"
  | "ERR_AUTH_IP_FORBIDDEN"
  | "ERR_AUTH_RATE_LIMITED";

export type MethodOutcome =
  /** This method accepts the caller. */
  | { readonly kind: "ok"; readonly principal: string; readonly deliveryId?: string }
  /** The request carries no credential of this kind (another method may still accept it). */
  | { readonly kind: "absent" }
  /** A credential of this kind was presented and is wrong. */
  | { readonly kind: "refused"; readonly code: AuthErrorCode };

export interface CompiledMethod {
  readonly type: string;
  check(req: AuthRequest): Promise<MethodOutcome> | MethodOutcome;
}

export const ABSENT: MethodOutcome = Object.freeze({ kind: "absent" });
export const refused = (code: AuthErrorCode): MethodOutcome => ({ kind: "refused", code });

/** A TypeError naming the field at fault (never its value when it could be a secret). */
export function fieldError(field: string, problem: string): TypeError {
  return new TypeError(`${field}: ${problem}`);
}

/** Reads a Worker secret binding once, at compile time; a missing or empty one names the binding. */
export function readSecret(env: Record<string, unknown>, binding: string, field: string): string {
  const value = env[binding];
  if (typeof value !== "string" || value === "") throw fieldError(field, `Worker secret ${binding} is not set`);
  return value;
}

/** Constant-time equality of two byte strings of public length (digests, MACs): no early exit. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** The `Authorization: Bearer` credential, if any (RFC 6750 §2.1; scheme case-insensitive). */
export function bearerCredential(headers: Headers): string | undefined {
  const value = headers.get("authorization");
  if (value === null) return undefined;
  const match = /^Bearer[ ]+([^\s]+)[ ]*$/i.exec(value);
  return match?.[1];
}
