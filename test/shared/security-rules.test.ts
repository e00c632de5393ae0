/** The rules both halves share (docs/security.md): Bearer parsing, constant-time comparison, the failure window, raw paths, session scope, headers. */
import { describe, expect, it } from "vitest";
import { bearerToken } from "../../shared/bearer.ts";
import { equalBytes, secretMatches } from "../../shared/constant-time.ts";
import { createFailureWindow } from "../../shared/failure-window.ts";
import { isSafeRequestPath } from "../../shared/path-safety.ts";
import { withSecurityHeaders } from "../../shared/security-headers.ts";
import { sessionScopeProblem } from "../../shared/session-scope.ts";

describe("bearerToken", () => {
  it("reads the scheme case-insensitively and the trimmed rest as the credential (OpenClaw's reading)", () => {
    for (const header of ["Bearer abc", "bearer abc", "BEARER   abc", "Bearer abc  ", "  Bearer abc"]) expect(bearerToken(header)).toBe("abc");
    expect(bearerToken("Bearer a b")).toBe("a b");
    for (const header of [undefined, null, "", "Bearer", "Bearer ", "Bearer    ", "Basic abc", "Bearer\tabc", "Bearerabc"]) expect(bearerToken(header)).toBeUndefined();
  });
});

describe("constant-time comparison", () => {
  it("compares bytes of equal length and secrets of any length", async () => {
    expect(equalBytes(new Uint8Array([1, 2]), new Uint8Array([1, 2]))).toBe(true);
    expect(equalBytes(new Uint8Array([1, 2]), new Uint8Array([1, 3]))).toBe(false);
    expect(equalBytes(new Uint8Array([1]), new Uint8Array([1, 0]))).toBe(false);
    expect(await secretMatches("b", ["a", "b"])).toBe(true);
    expect(await secretMatches("c", ["a", "b"])).toBe(false);
    expect(await secretMatches("", [])).toBe(false);
  });
});

describe("failure window", () => {
  it("20 failures in 60 s block until the oldest leaves the window; clear forgets the client", () => {
    const window = createFailureWindow();
    for (let i = 0; i < 19; i++) expect(window.recordFailure("c", i * 1000)).toBe(0);
    expect(window.recordFailure("c", 19_000)).toBe(41);
    expect(window.blockedFor("c", 19_000)).toBe(41);
    expect(window.blockedFor("other", 19_000)).toBe(0);
    expect(window.blockedFor("c", 60_001)).toBe(0);
    window.clear("c");
    expect(window.blockedFor("c", 20_000)).toBe(0);
    expect(() => createFailureWindow({ maxFailures: 0, windowMs: 1 })).toThrow("maxFailures must be a positive integer");
  });
});

describe("raw request paths", () => {
  it("refuses dot segments (also percent-encoded), // and \\ in the path, not in the query", () => {
    for (const bad of ["/hooks/../x", "/hooks/%2e%2e/x", "/hooks/.%2E/x", "/hooks/%2E", "/./x", "//x", "/a//b", "/a\\b", "http://h/a/../b", "http://h//a"]) {
      expect(isSafeRequestPath(bad), bad).toBe(false);
    }
    for (const good of ["/", "/hooks/wake", "/hooks/wake?x=../y", "/a/.b/c..d/...", "/intake/a%2Fb/replay", "http://h:1/hooks/wake?q=//", "*"]) {
      expect(isSafeRequestPath(good), good).toBe(true);
    }
  });
});

describe("session scope", () => {
  it("a key naming an agent must name the target agent", () => {
    expect(sessionScopeProblem("agent:main:x", "main")).toBeUndefined();
    expect(sessionScopeProblem("Agent:MAIN:x", "main")).toBeUndefined();
    expect(sessionScopeProblem("hook:agent:other", "main")).toBeUndefined();
    expect(sessionScopeProblem("agent:other:x", "main")).toBe('sessionKey must stay inside its agent: it names agent "other", but the call runs as agent "main"');
    expect(sessionScopeProblem(`agent:${"z".repeat(100)}:x`, "main")).toContain(`"${"z".repeat(64)}…"`);
  });
});

describe("security headers", () => {
  it("adds nosniff, no-referrer, the JSON charset, and no-store on request; copies an immutable response", async () => {
    const res = withSecurityHeaders(Response.json({ ok: true }), true);
    expect(Object.fromEntries(res.headers)).toMatchObject({
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "content-type": "application/json; charset=utf-8",
      "cache-control": "no-store",
    });
    const immutable = Response.redirect("http://127.0.0.1/x", 302);
    const copied = withSecurityHeaders(immutable, false);
    expect(copied.headers.get("x-content-type-options")).toBe("nosniff");
    expect(copied.headers.get("cache-control")).toBeNull();
  });
});
