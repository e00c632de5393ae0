/**
 * The key a failure limiter counts a client under: an IPv4 address as is, an IPv6 address by its /64 (one
 * subscriber's allocation, RFC 6177), so a client rotating addresses inside its prefix stays one client and
 * creates one Durable Object, not one per address. Anything unparsable shares the `unknown` bucket.
 */
import { parseIp } from "./ip-allowlist.ts";

export const UNKNOWN_CLIENT = "unknown";

export function limiterClientKey(clientIp: string | undefined): string {
  if (clientIp === undefined || clientIp === "") return UNKNOWN_CLIENT;
  const ip = parseIp(clientIp);
  if (!ip) return UNKNOWN_CLIENT;
  if (ip.v4) return [24, 16, 8, 0].map((shift) => Number((ip.value >> BigInt(shift)) & 255n)).join(".");
  const prefix = ip.value >> 64n;
  const groups = [48, 32, 16, 0].map((shift) => Number((prefix >> BigInt(shift)) & 0xffffn).toString(16));
  return `${groups.join(":")}::/64`;
}
