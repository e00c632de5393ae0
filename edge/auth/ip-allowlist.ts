/**
 * IP allowlists on `CF-Connecting-IP` only: CIDRs are parsed once (hono's address parser, the one its
 * ip-restriction middleware uses) into prefix/mask pairs; a request costs one parse of its address.
 * `X-Forwarded-For` / `X-Real-IP` are never read — any caller can write them; Cloudflare sets
 * CF-Connecting-IP itself and overwrites a client-sent one.
 */
import { convertIPv4MappedIPv6ToIPv4, convertIPv4ToBinary, convertIPv6ToBinary, distinctRemoteAddr, isIPv4MappedIPv6 } from "hono/utils/ipaddr";
import type { IpMethod } from "./auth-config.ts";
import { type CompiledMethod, fieldError, refused } from "./auth-method.ts";

interface Rule {
  readonly v4: boolean;
  readonly network: bigint;
  readonly mask: bigint;
  readonly principal: string;
}

/** Parses an address into (family, 32- or 128-bit value); IPv4-mapped IPv6 counts as IPv4. Undefined if invalid. */
export function parseIp(address: string): { v4: boolean; value: bigint } | undefined {
  try {
    const family = distinctRemoteAddr(address);
    if (family === "IPv4") return { v4: true, value: convertIPv4ToBinary(address) };
    if (family !== "IPv6" || address.includes("%")) return undefined;
    const value = convertIPv6ToBinary(address);
    return isIPv4MappedIPv6(value) ? { v4: true, value: convertIPv4MappedIPv6ToIPv4(value) } : { v4: false, value };
  } catch {
    return undefined;
  }
}

export function compileIpAllowlist(method: IpMethod, field: string): CompiledMethod {
  const rules: Rule[] = method.cidrs.map((cidr, i) => {
    const where = `${field}.cidrs[${i}]`;
    const [address, prefixText, extra] = cidr.split("/");
    const ip = extra === undefined && address !== undefined ? parseIp(address) : undefined;
    if (!ip) throw fieldError(where, `${cidr} is not an IPv4 or IPv6 address or CIDR`);
    const bits = address!.includes(":") ? 128 : 32;
    if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) throw fieldError(where, `${cidr} has an invalid prefix length`);
    let prefix = prefixText === undefined ? bits : Number(prefixText);
    if (prefix > bits) throw fieldError(where, `${cidr} has a prefix longer than ${bits}`);
    // ::ffff:a.b.c.d/n is an IPv4 rule of n − 96 bits.
    if (bits === 128 && ip.v4) {
      if (prefix < 96) throw fieldError(where, `${cidr} mixes IPv4-mapped and IPv6 ranges`);
      prefix -= 96;
    }
    const width = ip.v4 ? 32n : 128n;
    const mask = prefix === 0 ? 0n : ((1n << BigInt(prefix)) - 1n) << (width - BigInt(prefix));
    if ((ip.value & ~mask & ((1n << width) - 1n)) !== 0n) throw fieldError(where, `${cidr} has host bits set below its prefix`);
    return { v4: ip.v4, network: ip.value & mask, mask, principal: `ip:${cidr}` };
  });
  return {
    type: "ip",
    check(req) {
      const client = req.clientIp;
      if (client === undefined || client === "") return refused("ERR_AUTH_IP_FORBIDDEN");
      const ip = parseIp(client);
      if (!ip) return refused("ERR_AUTH_IP_FORBIDDEN");
      for (const rule of rules) if (rule.v4 === ip.v4 && (ip.value & rule.mask) === rule.network) return { kind: "ok", principal: rule.principal };
      return refused("ERR_AUTH_IP_FORBIDDEN");
    },
  };
}
