/**
 * Sends one raw HTTP request (exact bytes, chunked or with a declared length, from a chosen loopback address) and
 * records what the differential compares: status, content type, body, Allow, Retry-After — or that the server closed
 * the connection without an answer.
 */
import { request } from "node:http";

export interface Probe {
  readonly method?: string;
  /** Path and query, sent as is. */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** A string is sent as UTF-8 with its Content-Length; `chunks` go out with Transfer-Encoding: chunked. */
  readonly body?: string | Uint8Array | { readonly chunks: readonly Uint8Array[] };
  /** The client address (127.0.0.0/8), so a limiter keyed by address sees a separate client. */
  readonly localAddress?: string;
}

export type Observed =
  | {
      readonly kind: "answer";
      readonly status: number;
      readonly contentType: string | null;
      readonly body: unknown;
      readonly allow: string | null;
      readonly retryAfter: string | null;
      /** Not compared per row: the security headers are checked as one rule over all answers. */
      readonly nosniff: string | null;
      readonly referrerPolicy: string | null;
    }
  | { readonly kind: "closed"; readonly error: string };

export function observe(baseUrl: string, probe: Probe, timeoutMs = 15_000): Promise<Observed> {
  const url = new URL(baseUrl);
  return new Promise((resolve) => {
    const headers: Record<string, string> = { ...probe.headers };
    const req = request({
      host: url.hostname,
      port: url.port,
      method: probe.method ?? "POST",
      path: probe.path,
      headers,
      ...(probe.localAddress ? { localAddress: probe.localAddress } : {}),
      agent: false,
      timeout: timeoutMs,
    });
    let settled = false;
    const done = (o: Observed) => {
      if (!settled) (settled = true), resolve(o);
    };
    req.on("timeout", () => (req.destroy(), done({ kind: "closed", error: "no answer in time" })));
    req.on("error", (error: NodeJS.ErrnoException) => done({ kind: "closed", error: error.code ?? error.message }));
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", () => done({ kind: "closed", error: "answer cut off" }));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        const contentType = res.headers["content-type"] ?? null;
        let body: unknown = text;
        if (contentType?.startsWith("application/json")) {
          try {
            body = JSON.parse(text);
          } catch {
            body = text;
          }
        }
        const header = (name: string) => {
          const v = res.headers[name];
          return v === undefined ? null : Array.isArray(v) ? v.join(", ") : v;
        };
        done({
          kind: "answer",
          status: res.statusCode ?? 0,
          contentType,
          body,
          allow: header("allow"),
          retryAfter: header("retry-after"),
          nosniff: header("x-content-type-options"),
          referrerPolicy: header("referrer-policy"),
        });
      });
    });
    const body = probe.body;
    if (body === undefined) return void req.end();
    if (typeof body === "string" || body instanceof Uint8Array) {
      const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : Buffer.from(body);
      if (!("content-length" in headers)) req.setHeader("content-length", bytes.length);
      req.on("error", () => {});
      return void req.end(bytes);
    }
    req.setHeader("transfer-encoding", "chunked");
    // A server that refuses mid-stream may reset the socket: writes after that are expected to fail.
    for (const chunk of body.chunks) req.write(chunk, () => {});
    req.end();
  });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Makes two servers' answers comparable: a fresh `runId` becomes "<runId>", one this server already gave for an
 * earlier row becomes "<runId of row N>" (how a duplicate delivery shows). `seen` is per server.
 */
export function normalize(o: Observed, seen: Map<string, string>, row: string): Observed {
  if (o.kind !== "answer" || typeof o.body !== "object" || o.body === null) return o;
  const body = { ...(o.body as Record<string, unknown>) };
  const runId = body["runId"];
  if (typeof runId === "string" && UUID.test(runId)) {
    const earlier = seen.get(runId);
    body["runId"] = earlier ? `<runId of ${earlier}>` : "<runId>";
    if (!earlier) seen.set(runId, row);
  }
  return { ...o, body };
}

/** The compared view: status, content type, body, Allow, Retry-After (or the closed connection). */
export function compared(o: Observed): unknown {
  if (o.kind === "closed") return { closed: true };
  return { status: o.status, contentType: o.contentType, body: o.body, allow: o.allow, retryAfter: o.retryAfter };
}
