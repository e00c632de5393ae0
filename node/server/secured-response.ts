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
    const path = (this.req.url ?? "/").split("?", 1)[0]!;
    if (path.startsWith(ADMIN_PREFIX) || path === "/metrics") this.setHeader("cache-control", "no-store");
    const secured = secureType(headers);
    const type = this.getHeader("content-type");
    if (typeof type === "string") this.setHeader("content-type", securedContentType(type));
    return reason === undefined ? super.writeHead(statusCode, secured) : super.writeHead(statusCode, reason, secured);
  }
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
