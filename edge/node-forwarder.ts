/**
 * Signed forwarding to a node: each attempt signs a fresh envelope (new `jti`, same `did`) over the exact
 * body bytes, adds the optional Cloudflare Access service-token headers, and classifies the node's answer.
 */
import { ENVELOPE_HEADER, type EnvelopeSigner } from "../shared/envelope.ts";
import { MAX_NODE_ANSWER_BYTES } from "./edge-defaults.ts";
import type { EdgeNode } from "./edge-config.ts";

/** One call to a node as the edge forwards it and the outbox stores it: everything needed to sign and send it again. */
export interface NodeCall {
  readonly deliveryId: string;
  readonly nodeId: string;
  /** Path on the node, e.g. `/hooks/wake` (the envelope's `htu`). */
  readonly path: string;
  readonly body: Uint8Array;
  readonly contentType: string;
  /** Who the edge authenticated (the envelope's `sub`). */
  readonly principal: string;
  /** Pass-through routes only: the caller's own headers the node's mappings may read (`{{headers.x}}`). */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface NodeAnswer {
  readonly status: number;
  readonly body: string;
  readonly contentType: string;
}

export type ForwardOutcome =
  /** 2xx: the node has it (journaled and idempotent by delivery id). */
  | { readonly kind: "delivered"; readonly answer: NodeAnswer }
  /** A 3xx, or a 4xx other than 408/429: final, never retried, recorded. */
  | { readonly kind: "rejected"; readonly answer: NodeAnswer }
  /** Unreachable, timed out, 5xx, 408 or 429: keep it and try again later. */
  | { readonly kind: "retry"; readonly reason: string; readonly status?: number; readonly retryAfterSeconds?: number };

export interface NodeForwarderOptions {
  readonly signer: EnvelopeSigner;
  readonly timeoutMs: number;
  /** `CF-Access-Client-Id`/`-Secret` for an Access-protected tunnel; empty when not configured. */
  readonly accessHeaders: Readonly<Record<string, string>>;
  readonly fetch: typeof fetch;
}

export interface NodeForwarder {
  forward(node: EdgeNode, delivery: NodeCall): Promise<ForwardOutcome>;
}

export function createNodeForwarder(options: NodeForwarderOptions): NodeForwarder {
  if (!Number.isInteger(options.timeoutMs) || options.timeoutMs <= 0) throw new TypeError("timeoutMs must be a positive integer");
  const doFetch = options.fetch;
  return {
    async forward(node, delivery) {
      const envelope = await options.signer.sign({
        method: "POST",
        path: delivery.path,
        body: delivery.body,
        principal: delivery.principal,
        deliveryId: delivery.deliveryId,
      });
      // One timer per attempt, cleared once the answer is read: AbortSignal.timeout's timer stays active for the
      // whole timeout, and workerd allows 10,000 active timeouts per request context: past that, every later call in
      // the context would read as "node unreachable".
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(new DOMException("node timeout", "TimeoutError")), options.timeoutMs);
      let response: Response;
      let answer: NodeAnswer;
      try {
        try {
          response = await doFetch(`${node.origin}${delivery.path}`, {
            method: "POST",
            headers: { ...delivery.headers, ...options.accessHeaders, "content-type": delivery.contentType, [ENVELOPE_HEADER]: envelope },
            body: delivery.body as Uint8Array<ArrayBuffer>,
            signal: controller.signal,
            redirect: "manual",
          });
        } catch {
          return { kind: "retry", reason: controller.signal.aborted ? `node did not answer within ${options.timeoutMs} ms` : "node unreachable" };
        }
        answer = await readAnswer(response);
      } finally {
        clearTimeout(timer);
      }
      if (response.status >= 200 && response.status < 300) return { kind: "delivered", answer };
      // A 3xx (e.g. Cloudflare Access sending an unauthenticated call to its login page) is a configuration
      // problem that no retry fixes, so like a 4xx it is final and recorded for replay once fixed.
      if (response.status === 408 || response.status === 429 || response.status >= 500 || response.status < 200) {
        const retryAfter = Number(response.headers.get("retry-after"));
        return {
          kind: "retry",
          reason: `node answered ${response.status}`,
          status: response.status,
          ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {}),
        };
      }
      return { kind: "rejected", answer };
    },
  };
}

/** At most MAX_NODE_ANSWER_BYTES of the node's answer; a longer one is cut (and cannot be JSON any more). */
async function readAnswer(response: Response): Promise<NodeAnswer> {
  const contentType = response.headers.get("content-type") ?? "application/json";
  if (!response.body) return { status: response.status, body: "", contentType };
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const next = await reader.read();
      if (next.done) break;
      chunks.push(next.value);
      total += next.value.byteLength;
      if (total >= MAX_NODE_ANSWER_BYTES) {
        void reader.cancel().catch(() => {});
        break;
      }
    }
  } catch {
    // A connection cut mid-answer still carried a status; keep what arrived.
  }
  const bytes = new Uint8Array(Math.min(total, MAX_NODE_ANSWER_BYTES));
  let offset = 0;
  for (const chunk of chunks) {
    const take = Math.min(chunk.byteLength, bytes.byteLength - offset);
    bytes.set(chunk.subarray(0, take), offset);
    offset += take;
    if (offset >= bytes.byteLength) break;
  }
  return { status: response.status, body: new TextDecoder().decode(bytes), contentType };
}
