/**
 * The delivery id of a caller-keyed call (the envelope's signed `did`, the outbox key, the node's journal key):
 * the caller's own key (`Idempotency-Key`, the id a verified signature covers (edge/auth/hmac-signatures.ts), or the agent payload's
 * `idempotencyKey`) scoped by the principal the edge authenticated. Without the scope, two callers that pick
 * the same key would be deduplicated together and the second one answered with the first one's runId.
 */
import { MAX_DELIVERY_ID, bodySha256 } from "../shared/envelope.ts";

/** Marks a digest id; it holds no `/`, so it can never equal a readable `<principal>/<key>` id. */
export const HASHED_DELIVERY_ID_PREFIX = "sha256:";

/**
 * `<principal>/<key>` while that fits the 256-character `did` limit and an HTTP header (HEADER_SAFE): readable
 * in the outbox, the node's journal and its audit lines. The principal is escaped (`%`, `/` and control characters as `%XX`) so the
 * first `/` always ends it: a JWT `sub` or an `ip:<cidr>` principal may itself hold a `/`, and without the
 * escape `jwt:a/b` + `c` and `jwt:a` + `b/c` would meet. Otherwise: `sha256:` + base64url SHA-256 of that same
 * unambiguous text (50 characters), so the mapping stays one-to-one per (principal, key) and the same caller
 * repeating its key still gets the same id. Generated (UUID) and cron ids never pass through here: the first
 * holds no `/` and the second is the edge's own, and no authenticated principal starts with `cron:`.
 */
export async function scopedDeliveryId(principal: string, key: string): Promise<string> {
  const scoped = `${escapePrincipal(principal)}/${key}`;
  if (scoped.length <= MAX_DELIVERY_ID && HEADER_SAFE.test(scoped)) return scoped;
  return HASHED_DELIVERY_ID_PREFIX + (await bodySha256(scoped));
}

/**
 * A readable id is also the `clawgate-delivery-id` answer header, so it must survive as an HTTP field value
 * unchanged: visible ASCII with inner spaces, nothing a client trims (RFC 9110 §5.5). An agent payload's
 * `idempotencyKey` may hold a newline (the header would throw after the node had the call), edge spaces (a client
 * trims them, so the operator could not replay by the id it was told) or non-ASCII: such ids take the digest form.
 */
const HEADER_SAFE = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;

function escapePrincipal(principal: string): string {
  return principal.replace(/[%/\u0000-\u001f\u007f]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`);
}
