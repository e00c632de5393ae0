/**
 * The daemon's `http.ServerResponse` (createServer's `ServerResponse` option): every answer it writes — the app's,
 * the hook listener's, a refusal's — carries shared/security-headers.ts's headers, JSON labelled with its
 * charset, and `Cache-Control: no-store` under the admin prefix and on /metrics. Set as the head is written, so
 * no answer builds WHATWG Headers for them (docs/benchmarks.md: that cost /healthz its p99 under load).
 */
import { type OutgoingHttpHeader, type OutgoingHttpHeaders, ServerResponse } from "node:http";
import { ADMIN_PREFIX } from "../../shared/constants.ts";
import { SECURITY_HEADERS, securedContentType } from "../../shared/security-headers.ts";

type HeadersArgument = OutgoingHttpHeaders | OutgoingHttpHeader[] | undefined;

export class SecuredResponse extends ServerResponse {
  override writeHead(statusCode: number, reasonOrHeaders?: string | HeadersArgument, maybeHeaders?: HeadersArgument): this {
    const reason = typeof reasonOrHeaders === "string" ? reasonOrHeaders : undefined;
    const headers = typeof reasonOrHeaders === "string" ? maybeHeaders : reasonOrHeaders;
    for (const name in SECURITY_HEADERS) this.setHeader(name, SECURITY_HEADERS[name]!);
    const path = routedPath(this.req.url ?? "/");
    if (path.startsWith(ADMIN_PREFIX) || path === "/metrics") this.setHeader("cache-control", "no-store");
    const secured = secureType(headers);
    const type = this.getHeader("content-type");
    if (typeof type === "string") this.setHeader("content-type", securedContentType(type));
    return reason === undefined ? super.writeHead(statusCode, secured) : super.writeHead(statusCode, reason, secured);
  }
}

/**
 * The path the app's router matches for a request target: an absolute-form target's path, without the query,
 * percent-decoded (the router decodes it, so `/_clawgate/%61dmin/…` reaches the admin routes).
 */
function routedPath(target: string): string {
  let path = target;
  if (!path.startsWith("/")) {
    try {
      path = new URL(path).pathname;
    } catch {
      return path;
    }
  }
  const query = path.indexOf("?");
  if (query !== -1) path = path.slice(0, query);
  if (path.includes("%")) {
    try {
      path = decodeURIComponent(path);
    } catch {
      // a malformed escape: the router would not decode it either
    }
  }
  return path;
}

/** The head's own headers (which win over setHeader's), their Content-Type secured; a copy when it changes. */
function secureType(headers: HeadersArgument): HeadersArgument {
  if (headers === undefined) return headers;
  if (Array.isArray(headers)) {
    // Node's flat [name, value, name, value, …] form.
    const out = [...headers];
    for (let i = 0; i + 1 < out.length; i += 2) {
      if (String(out[i]).toLowerCase() === "content-type" && typeof out[i + 1] === "string") out[i + 1] = securedContentType(out[i + 1] as string);
    }
    return out;
  }
  for (const name in headers) {
    const value = headers[name];
    if (name.length === 12 && name.toLowerCase() === "content-type" && typeof value === "string") {
      const type = securedContentType(value);
      return type === value ? headers : { ...headers, [name]: type };
    }
  }
  return headers;
}
