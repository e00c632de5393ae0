/**
 * The headers every answer of both halves carries (docs/security.md): no MIME sniffing, no Referer to follow a
 * link out, JSON labelled with its charset, and operator answers never stored by a cache.
 */

const JSON_TYPE = /^application\/json\s*(;|$)/i;

/** The two headers every answer carries, as a plain object for answers written without a Response. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = { "x-content-type-options": "nosniff", "referrer-policy": "no-referrer" };

/**
 * Sets the headers on `res` in place, or on a copy when its headers are immutable (a Response from `fetch`).
 * `noStore` adds `Cache-Control: no-store` (admin and operator answers).
 */
export function withSecurityHeaders(res: Response, noStore: boolean): Response {
  let out = res;
  try {
    apply(out.headers, noStore);
  } catch {
    out = new Response(res.body, res);
    apply(out.headers, noStore);
  }
  return out;
}

/** A Content-Type as answers carry it: JSON without a charset gains `charset=utf-8`; anything else is kept. */
export function securedContentType(type: string): string {
  return JSON_TYPE.test(type) && !/charset=/i.test(type) ? "application/json; charset=utf-8" : type;
}

function apply(headers: Headers, noStore: boolean): void {
  for (const name in SECURITY_HEADERS) headers.set(name, SECURITY_HEADERS[name]!);
  const type = headers.get("content-type");
  if (type !== null) headers.set("content-type", securedContentType(type));
  if (noStore) headers.set("cache-control", "no-store");
}
