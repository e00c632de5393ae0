/** The types every compiled authentication method shares: the request it sees and the outcome it reports. */
import { bearerToken } from "../../shared/bearer.ts";

export { equalBytes } from "../../shared/constant-time.ts";

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

/** The `Authorization: Bearer` credential, if any (the shared reading, shared/bearer.ts). */
export const bearerCredential = (headers: Headers): string | undefined => bearerToken(headers.get("authorization"));
