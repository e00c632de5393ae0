/** The limiter's client key in workerd: IPv4 as is, IPv6 by its /64, IPv4-mapped IPv6 as IPv4, anything else one bucket. */
import { describe, expect, it } from "vitest";
import { limiterClientKey } from "../../../edge/auth/client-key.ts";

describe("limiterClientKey", () => {
  it("keeps IPv4, folds IPv6 into its /64, and puts the unparsable in one bucket", () => {
    expect(limiterClientKey("203.0.113.7")).toBe("203.0.113.7");
    expect(limiterClientKey("2001:db8:1:2::1")).toBe("2001:db8:1:2::/64");
    expect(limiterClientKey("2001:0db8:0001:0002:ffff:ffff:ffff:ffff")).toBe("2001:db8:1:2::/64");
    expect(limiterClientKey("2001:db8:1:3::1")).toBe("2001:db8:1:3::/64");
    expect(limiterClientKey("::ffff:192.0.2.1")).toBe("192.0.2.1");
    for (const odd of [undefined, "", "not an ip", "fe80::1%eth0", "1.2.3"]) expect(limiterClientKey(odd)).toBe("unknown");
  });
});
