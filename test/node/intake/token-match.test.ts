/**
 * The node's synchronous credential digests (node/intake/token-match.ts) agree with the shared Web Crypto ones:
 * the token matcher with shared/constant-time.ts `secretMatches`, the body digest with shared/envelope.ts `bodySha256`.
 */
import { describe, expect, it } from "vitest";
import { createTokenMatcher, nodeBodySha256 } from "../../../node/intake/token-match.ts";
import { secretMatches } from "../../../shared/constant-time.ts";
import { bodySha256 } from "../../../shared/envelope.ts";

describe("createTokenMatcher", () => {
  it("accepts exactly the accepted token, whatever the lengths, like secretMatches", async () => {
    const matches = createTokenMatcher();
    const token = "hook-token-0123456789abcdef";
    for (const presented of [token, `${token}x`, token.slice(0, -1), "", " ", "HOOK-TOKEN-0123456789ABCDEF", "é", token.replace("0", "1")]) {
      expect(matches(presented, token)).toBe(await secretMatches(presented, [token]));
    }
    expect(matches(token, token)).toBe(true);
    expect(matches(`${token} `, token)).toBe(false);
  });

  it("follows a rotated token: the old one stops matching at the next call", () => {
    const matches = createTokenMatcher();
    expect(matches("first-token", "first-token")).toBe(true);
    expect(matches("first-token", "second-token")).toBe(false);
    expect(matches("second-token", "second-token")).toBe(true);
    expect(matches("first-token", "first-token")).toBe(true);
  });
});

describe("nodeBodySha256", () => {
  it("is bodySha256's text for bytes and strings, empty and non-ASCII included", async () => {
    for (const body of ["", '{"text":"bench wake","mode":"now"}', "wake ✓ é 🦞", new Uint8Array([0, 255, 1, 254]), new TextEncoder().encode("x".repeat(70_000))]) {
      expect(nodeBodySha256(body)).toBe(await bodySha256(body));
    }
  });
});
