/** IP allowlists in workerd: IPv4/IPv6 CIDRs on CF-Connecting-IP only; forwarded-for headers are never believed. */
import { describe, expect, it } from "vitest";
import type { AuthMethod } from "../../../edge/auth/auth-config.ts";
import { compileCallerAuth } from "../../../edge/auth/caller-auth.ts";
import { createMemoryFailureLimiter } from "../../../edge/auth/failure-limiter.ts";
import { authRequest, freshToken, sha256Hex } from "./auth-test-helpers.ts";

const compile = (methods: AuthMethod[]) => compileCallerAuth(methods, { env: {}, failureLimiter: createMemoryFailureLimiter() });
const office: AuthMethod = { type: "ip", cidrs: ["203.0.113.0/24", "2001:db8:abcd::/48", "198.51.100.7"] };

describe("IP allowlist", () => {
  it("matches IPv4 and IPv6 CIDRs, a bare address, and IPv4-mapped IPv6, naming the matching rule", async () => {
    const auth = await compile([office]);
    const cases: [string, string][] = [
      ["203.0.113.9", "ip:203.0.113.0/24"],
      ["2001:db8:abcd:12::1", "ip:2001:db8:abcd::/48"],
      ["2001:0DB8:ABCD:0000:0000:0000:0000:0001", "ip:2001:db8:abcd::/48"],
      ["198.51.100.7", "ip:198.51.100.7"],
      ["::ffff:203.0.113.200", "ip:203.0.113.0/24"],
    ];
    for (const [clientIp, principal] of cases) expect(await auth.authenticate(authRequest({ clientIp }))).toEqual({ ok: true, principal });
  });

  it("answers 403 outside the list, for a missing or garbage CF-Connecting-IP", async () => {
    const auth = await compile([office]);
    for (const clientIp of ["203.0.114.1", "198.51.100.8", "2001:db8:abce::1", undefined, "", "not-an-ip", "203.0.113.9/24", "fe80::1%eth0"]) {
      expect(await auth.authenticate(authRequest({ clientIp }))).toEqual({ ok: false, status: 403, error: "forbidden", code: "ERR_AUTH_IP_FORBIDDEN" });
    }
  });

  it("never believes X-Forwarded-For or X-Real-IP (spoofing)", async () => {
    const auth = await compile([office]);
    const spoofed = authRequest({ clientIp: "192.0.2.66", headers: { "x-forwarded-for": "203.0.113.9", "x-real-ip": "203.0.113.9", "true-client-ip": "203.0.113.9" } });
    expect(await auth.authenticate(spoofed)).toMatchObject({ ok: false, status: 403 });
    expect(await auth.authenticate(authRequest({ headers: { "x-forwarded-for": "203.0.113.9" } }))).toMatchObject({ ok: false, status: 403 });
  });

  it("with a credential method beside it, a refusal is 401 (a credential could fix it) and either method suffices", async () => {
    const token = freshToken();
    const auth = await compile([office, { type: "bearer", tokens: [{ name: "ci", sha256: await sha256Hex(token) }] }]);
    expect(await auth.authenticate(authRequest({ clientIp: "192.0.2.1" }))).toMatchObject({ ok: false, status: 401 });
    expect(await auth.authenticate(authRequest({ clientIp: "192.0.2.1", headers: { authorization: `Bearer ${token}` } }))).toEqual({ ok: true, principal: "token:ci" });
    expect(await auth.authenticate(authRequest({ clientIp: "203.0.113.1" }))).toEqual({ ok: true, principal: "ip:203.0.113.0/24" });
  });

  it("refuses bad CIDRs at compile time, naming the entry", async () => {
    for (const [cidr, why] of [
      ["10.0.0.0/33", /prefix longer than 32/],
      ["10.0.0.1/8", /host bits/],
      ["10.0.0/8", /not an IPv4 or IPv6/],
      ["2001:db8::/129", /prefix longer than 128/],
      ["10.0.0.0/x", /invalid prefix/],
      ["::ffff:10.0.0.0/64", /mixes/],
    ] as const) {
      await expect(compile([{ type: "ip", cidrs: ["192.0.2.0/24", cidr] }])).rejects.toThrow(new RegExp(`^auth\\[0\\]\\.cidrs\\[1\\]: .*${why.source}`));
    }
    const all = await compile([{ type: "ip", cidrs: ["0.0.0.0/0", "::/0"] }]);
    expect(await all.authenticate(authRequest({ clientIp: "8.8.8.8" }))).toMatchObject({ ok: true, principal: "ip:0.0.0.0/0" });
    expect(await all.authenticate(authRequest({ clientIp: "2606:4700::1" }))).toMatchObject({ ok: true, principal: "ip:::/0" });
  });
});
