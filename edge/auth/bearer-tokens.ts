/**
 * Bearer tokens known only by their SHA-256: the presented token is hashed and its digest compared with every
 * configured digest in constant time, so neither the stored hashes nor the comparison leak a usable token.
 */
import type { BearerMethod } from "./auth-config.ts";
import { ABSENT, type CompiledMethod, bearerCredential, equalBytes, fieldError, refused } from "./auth-method.ts";

/** Longer than any token clawgate prints (`cg_` + 43 base64url chars); bounds the hashing work. */
export const MAX_BEARER_TOKEN_LENGTH = 512;

export function compileBearerTokens(method: BearerMethod, field: string): CompiledMethod {
  const entries: { name: string; digest: Uint8Array }[] = [];
  const seen = new Set<string>();
  for (const [i, token] of method.tokens.entries()) {
    const hex = token.sha256.toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(hex)) throw fieldError(`${field}.tokens[${i}].sha256`, "must be 64 hex digits");
    if (seen.has(token.name)) throw fieldError(`${field}.tokens[${i}].name`, `duplicate token name ${token.name}`);
    seen.add(token.name);
    entries.push({ name: token.name, digest: Uint8Array.from(hex.match(/../g)!, (h) => parseInt(h, 16)) });
  }
  const encoder = new TextEncoder();
  return {
    type: "bearer",
    async check(req) {
      // OpenClaw callers send X-OpenClaw-Token; both headers carry the same kind of secret.
      const presented = bearerCredential(req.headers) ?? req.headers.get("x-openclaw-token") ?? undefined;
      if (presented === undefined || presented === "") return ABSENT;
      if (presented.length > MAX_BEARER_TOKEN_LENGTH) return refused("ERR_AUTH_BEARER");
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(presented)));
      // Every entry is compared (no early exit): the time does not depend on which one matched.
      let match: string | undefined;
      for (const entry of entries) if (equalBytes(digest, entry.digest) && match === undefined) match = entry.name;
      return match === undefined ? refused("ERR_AUTH_BEARER") : { kind: "ok", principal: `token:${match}` };
    },
  };
}
