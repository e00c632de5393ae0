/**
 * The hook token check on the node, synchronous: the presented token's SHA-256 against the accepted token's,
 * compared in constant time (node:crypto), the accepted digest computed once per token value (a reload that
 * rotates the token recomputes it on the next request). Same rule as shared/constant-time.ts `secretMatches`
 * (digests compared, so neither content nor length leaks), without a Web Crypto job per call.
 */
import { createHash, timingSafeEqual } from "node:crypto";

const sha256 = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest();

/** Returns `matches(presented, accepted)`: true when the two are equal; the last accepted value's digest is kept. */
export function createTokenMatcher(): (presented: string, accepted: string) => boolean {
  let known: string | undefined;
  let knownDigest: Buffer | undefined;
  return (presented, accepted) => {
    if (known !== accepted || knownDigest === undefined) {
      known = accepted;
      knownDigest = sha256(accepted);
    }
    return timingSafeEqual(sha256(presented), knownDigest);
  };
}

/** The envelope body digest (shared/envelope.ts `bodySha256`'s text: base64url SHA-256, no padding), synchronous. */
export const nodeBodySha256 = (body: Uint8Array | string): string =>
  createHash("sha256").update(body).digest("base64url");
