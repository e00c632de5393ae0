/** Bearer tokens in workerd: only SHA-256 hashes are configured; each token has a name; revocation is per name. */
import { describe, expect, it } from "vitest";
import { compileCallerAuth } from "../../../edge/auth/caller-auth.ts";
import { createMemoryFailureLimiter } from "../../../edge/auth/failure-limiter.ts";
import { authRequest, freshToken, sha256Hex } from "./auth-test-helpers.ts";

const deps = () => ({ env: {}, failureLimiter: createMemoryFailureLimiter() });

describe("bearer tokens", () => {
  it("accepts each configured token under its own name, via Authorization or X-OpenClaw-Token", async () => {
    const ci = freshToken();
    const cron = freshToken();
    const auth = await compileCallerAuth(
      [{ type: "bearer", tokens: [{ name: "ci", sha256: await sha256Hex(ci) }, { name: "cron", sha256: (await sha256Hex(cron)).toUpperCase() }] }],
      deps(),
    );
    expect(await auth.authenticate(authRequest({ headers: { authorization: `Bearer ${ci}` } }))).toEqual({ ok: true, principal: "token:ci" });
    expect(await auth.authenticate(authRequest({ headers: { authorization: `bearer ${cron}` } }))).toEqual({ ok: true, principal: "token:cron" });
    expect(await auth.authenticate(authRequest({ headers: { "x-openclaw-token": cron } }))).toEqual({ ok: true, principal: "token:cron" });
  });

  it("refuses a wrong, a missing and an oversized token with the node's 401 text, and a revoked one", async () => {
    const ci = freshToken();
    const other = freshToken();
    const auth = await compileCallerAuth([{ type: "bearer", tokens: [{ name: "other", sha256: await sha256Hex(other) }] }], deps());
    const wrong = await auth.authenticate(authRequest({ headers: { authorization: `Bearer ${ci}` } }));
    expect(wrong).toEqual({ ok: false, status: 401, error: "unauthorized", code: "ERR_AUTH_BEARER" });
    expect(await auth.authenticate(authRequest())).toEqual({ ok: false, status: 401, error: "unauthorized", code: "ERR_AUTH_MISSING" });
    expect(await auth.authenticate(authRequest({ headers: { authorization: `Bearer ${"a".repeat(600)}` } }))).toMatchObject({ status: 401, code: "ERR_AUTH_BEARER" });
    // The token itself (not its hash) configured as the "hash" never matches: only digests are compared.
    const raw = await compileCallerAuth([{ type: "bearer", tokens: [{ name: "x", sha256: await sha256Hex(await sha256Hex(ci)) }] }], deps());
    expect(await raw.authenticate(authRequest({ headers: { authorization: `Bearer ${ci}` } }))).toMatchObject({ ok: false });
  });

  it("rejects a bad configuration with a TypeError naming the field, never echoing a value", async () => {
    await expect(compileCallerAuth([{ type: "bearer", tokens: [{ name: "ci", sha256: "cg_notahash" }] }], deps())).rejects.toThrow(
      /^auth\[0\]\.tokens\[0\]\.sha256: /,
    );
    await expect(compileCallerAuth([], deps())).rejects.toThrow(TypeError);
    const h = await sha256Hex("x");
    await expect(compileCallerAuth([{ type: "bearer", tokens: [{ name: "a", sha256: h }, { name: "a", sha256: h }] }], deps())).rejects.toThrow(
      /^auth\[0\]\.tokens\[1\]\.name: duplicate/,
    );
  });
});
