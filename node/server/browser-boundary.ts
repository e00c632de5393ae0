/**
 * The node's first check, before authentication, limiters or the body (docs/security.md, "A web page in the
 * host's browser"): loopback is no trust boundary, so a request must name this node in `Host` (DNS rebinding
 * sends the attacker's name), must not come from another origin (`Origin`, `Sec-Fetch-Site`), and must have a
 * raw path that no parser resolves to another route. Path and Host are checked in front of the HTTP adapter
 * (`guard`), Origin and Sec-Fetch-Site as the app's first middleware. Refused requests reach no limiter and
 * change nothing.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { MiddlewareHandler } from "hono";
import { SECURITY_HEADERS } from "../../shared/security-headers.ts";
import { UNSAFE_PATH_TEXT, isSafeRequestPath } from "../../shared/path-safety.ts";

export interface BrowserBoundaryOptions {
  /** The loopback address the node binds (127.0.0.1, ::1, …); also accepted as a Host. */
  readonly bindHost: string;
  /** `clawgate.node.publicHostnames`: names a tunnel delivers under (cloudflared keeps the caller's Host). */
  readonly publicHostnames?: readonly string[];
}

export interface BrowserBoundary {
  /**
   * Wraps the HTTP server's request listener: the raw path rule and the Host check run before the adapter
   * parses a URL (it would resolve `..` silently, and answer a backslash or an odd Host with an empty 400).
   */
  guard(listener: RequestListener): RequestListener;
  /** The Origin and Sec-Fetch-Site checks (and Host again, for apps served without `guard`). */
  readonly middleware: MiddlewareHandler;
  /** The same checks for a request served without Hono: the refusal, or undefined when the request may go on. */
  refusal(header: (name: string) => string | undefined): BoundaryRefusal | undefined;
  /** Called once the listener has its port (port 0 = chosen by the OS). Until then every request is refused. */
  listening(port: number): void;
}

export interface BoundaryRefusal {
  readonly status: 403 | 421;
  readonly error: string;
}

export const HOST_TEXT = "Host is not this node: send Host 127.0.0.1:<port>, localhost:<port>, [::1]:<port> or a name in clawgate.node.publicHostnames";
export const ORIGIN_TEXT = "cross-origin request refused: Origin is not this node";
export const FETCH_SITE_TEXT = "cross-site request refused: Sec-Fetch-Site is cross-site or same-site";

const HOSTNAME_RE = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

export function createBrowserBoundary(options: BrowserBoundaryOptions): BrowserBoundary {
  const publicNames = new Set<string>();
  for (const [i, name] of (options.publicHostnames ?? []).entries()) {
    const lower = name.toLowerCase();
    if (!HOSTNAME_RE.test(lower)) throw new TypeError(`clawgate.node.publicHostnames[${i}] is not a DNS name`);
    publicNames.add(lower);
  }
  const bind = options.bindHost.includes(":") ? `[${options.bindHost}]` : options.bindHost;
  let loopbackHosts: ReadonlySet<string> = new Set();

  /** The request's own origin when its Host names this node, else undefined. */
  const ownOrigins = (host: string): readonly string[] | undefined => {
    if (loopbackHosts.has(host)) return [`http://${host}`];
    const name = host.replace(/:\d{1,5}$/, "");
    // A tunnel serves the public name over https; cloudflared may pass the name with or without a port.
    if (publicNames.has(name)) return [`https://${name}`, `https://${host}`, `http://${host}`];
    return undefined;
  };

  const refusal = (header: (name: string) => string | undefined): BoundaryRefusal | undefined => {
    const host = (header("host") ?? "").toLowerCase();
    const origins = ownOrigins(host);
    if (!origins) return { status: 421, error: HOST_TEXT };
    const origin = header("origin");
    const site = header("sec-fetch-site")?.toLowerCase();
    // Under Referrer-Policy no-referrer a browser's own form post says `Origin: null`; Sec-Fetch-Site, which no
    // page can set, then tells whether it came from this origin.
    const sameOrigin = origin === undefined || origins.includes(origin.toLowerCase()) || (origin === "null" && site === "same-origin");
    if (!sameOrigin) return { status: 403, error: ORIGIN_TEXT };
    if (site === "cross-site" || site === "same-site") return { status: 403, error: FETCH_SITE_TEXT };
    return undefined;
  };

  return {
    guard(listener) {
      return (incoming, outgoing) => {
        if (!isSafeRequestPath(incoming.url ?? "/")) return refuseRaw(outgoing, 400, UNSAFE_PATH_TEXT);
        if (!ownOrigins((incoming.headers.host ?? "").toLowerCase())) return refuseRaw(outgoing, 421, HOST_TEXT);
        listener(incoming, outgoing);
      };
    },
    listening(port) {
      loopbackHosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `${bind}:${port}`]);
    },
    refusal,
    async middleware(c, next) {
      const refused = refusal((name) => c.req.header(name));
      if (refused) return c.json({ ok: false, error: refused.error }, refused.status);
      await next();
    },
  };
}

type RequestListener = (incoming: IncomingMessage, outgoing: ServerResponse) => void;

/** A refusal written straight to the socket: one JSON line with the shared headers; the body is never read. */
function refuseRaw(outgoing: ServerResponse, status: 400 | 421, error: string): void {
  const body = JSON.stringify({ ok: false, error });
  outgoing.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    ...SECURITY_HEADERS,
    "cache-control": "no-store",
    connection: "close",
  });
  outgoing.end(body);
}
