/**
 * The daemon's door to the hook intake: requests under `hooks.path` go from Node's IncomingMessage straight to
 * the intake (node/intake/hook-intake.ts) and its answer straight to the ServerResponse, with no WHATWG Request,
 * Response or Headers on the wake path (docs/benchmarks.md: they cost more than the rest of a wake). Everything
 * the node app does around a hook answer happens here the same way: the browser boundary's Origin checks, the
 * request metrics, `Connection: close` while draining, and a generic 500 for a bug; the security headers come
 * with the daemon's response class (node/server/secured-response.ts).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { JSON_CONTENT_TYPE } from "../../shared/hook-answers.ts";
import { type HookAnswer, type HookIntake, readBodyStream } from "../intake/hook-intake.ts";
import type { BrowserBoundary } from "./browser-boundary.ts";
import type { NodeMetrics } from "./node-metrics.ts";

export interface HooksListenerOptions {
  /** `hooks.path` (normalized by the hooks policy: a leading slash, none trailing). */
  readonly path: string;
  readonly intake: HookIntake;
  readonly boundary: Pick<BrowserBoundary, "refusal">;
  readonly metrics: NodeMetrics;
  readonly logger: Logger;
  /** True once the agent is stopping: answers then close their connection. */
  readonly draining: () => boolean;
}

type Listener = (incoming: IncomingMessage, outgoing: ServerResponse) => void;

/** The headers of which Node's `IncomingMessage.headers` keeps only the first (node:http's documented list). */
const FIRST_ONLY: ReadonlySet<string> = new Set([
  "age", "authorization", "content-length", "content-type", "etag", "expires", "from", "host", "if-modified-since",
  "if-unmodified-since", "last-modified", "location", "max-forwards", "proxy-authorization", "referer", "retry-after",
  "server", "user-agent",
]);

/** Every value of `key` in Node's raw header list, comma-joined; undefined when absent. */
function joinedRaw(raw: readonly string[], key: string): string | undefined {
  let out: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === key.length && name.toLowerCase() === key) out = out === undefined ? raw[i + 1]! : `${out}, ${raw[i + 1]!}`;
  }
  return out;
}

/**
 * Wraps the app's listener: a request whose raw path is `hooks.path` or below it is served here, anything else
 * (including a percent-encoded spelling of the path, which the app's router decodes) goes on to `next`.
 */
export function routeHooks(options: HooksListenerOptions, next: Listener): Listener {
  const { path, intake, boundary, metrics, logger, draining } = options;
  const below = `${path}/`;
  const write = (outgoing: ServerResponse, status: number, contentType: string, body: string, extra?: Readonly<Record<string, string>>) => {
    metrics.countRequest("hooks", status);
    outgoing.writeHead(status, {
      ...extra,
      "content-type": contentType,
      "content-length": Buffer.byteLength(body),
      // A body still arriving (a refusal before it was read) is not read to its end: the connection closes.
      ...(draining() || !outgoing.req.complete ? { connection: "close" } : {}),
    });
    outgoing.end(body);
  };

  return (incoming, outgoing) => {
    const target = incoming.url ?? "/";
    const query = target.indexOf("?");
    const pathname = query === -1 ? target : target.slice(0, query);
    if (pathname !== path && !pathname.startsWith(below)) return next(incoming, outgoing);
    // Repeated headers read comma-joined, as WHATWG Headers (and so the app's routes) read them; Node's own
    // `headers` keeps only the first Authorization, Host, Content-Type…, so those come from the raw list.
    const header = (name: string): string | undefined => {
      const key = name.toLowerCase();
      if (FIRST_ONLY.has(key)) return joinedRaw(incoming.rawHeaders, key);
      const value = incoming.headers[key];
      return Array.isArray(value) ? value.join(", ") : value;
    };
    const refused = boundary.refusal(header);
    if (refused) return write(outgoing, refused.status, JSON_CONTENT_TYPE, JSON.stringify({ ok: false, error: refused.error }));
    intake
      .handle({
        method: incoming.method ?? "GET",
        target,
        header,
        client: incoming.socket.remoteAddress ?? "unknown",
        readBody: (max, timeoutMs) => readBodyStream(incoming, Number(incoming.headers["content-length"] ?? "0"), max, timeoutMs),
      })
      .then((answer: HookAnswer) => write(outgoing, answer.status, answer.contentType, answer.body, answer.headers))
      .catch((error: unknown) => {
        // The node app's rule: the one place a bug becomes an answer, generic so nothing internal leaks.
        logger.error({ err: error, route: pathname }, "request failed");
        if (outgoing.headersSent) outgoing.destroy();
        else write(outgoing, 500, JSON_CONTENT_TYPE, JSON.stringify({ ok: false, error: "internal error" }));
      });
  };
}
