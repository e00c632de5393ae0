/**
 * The edge is the only way in from outside once edge keys are configured (docs/security.md, "Anyone reaching
 * the tunnel hostname"): a call authenticated by the hook token alone that carries the headers Cloudflare adds
 * to tunnelled traffic came around the edge, so it is refused unless the operator opts out
 * (`clawgate.edge.allowTunnelledHookToken`).
 */

/** Headers Cloudflare sets on every request its network hands to an origin (cloudflared included). */
const CLOUDFLARE_HEADERS = ["cf-connecting-ip", "cf-ray", "cf-visitor", "cf-ipcountry", "cf-warp-tag-id"] as const;

export const TUNNELLED_TOKEN_TEXT =
  "hook token refused through the tunnel: with clawgate.edge.publicKeys set, outside callers go through the edge (or set clawgate.edge.allowTunnelledHookToken)";

/** True when the request passed through Cloudflare's network (a header only Cloudflare adds is present). */
export function cameThroughCloudflare(header: (name: string) => string | undefined): boolean {
  for (const name of CLOUDFLARE_HEADERS) if (header(name) !== undefined) return true;
  return /(^|,)\s*cloudflare\s*(,|$)/i.test(header("cdn-loop") ?? "");
}
