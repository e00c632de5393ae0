/**
 * The OpenClaw-compatible hook intake (docs/openclaw-compat.md §5): `POST <hooks.path>/wake` and `/agent`, in the
 * reference's order of checks — query token (400) → auth (401/429) → method (405) → empty subpath (404)
 * → body (413/408/400) → route (wake, agent, or a `hooks.mappings` entry) — and every accepted call
 * journaled before it is answered.
 */
import { Readable } from "node:stream";
import { Hono, type Context } from "hono";
import { ENVELOPE_HEADER, EnvelopeError, type EnvelopeVerifier } from "../../shared/envelope.ts";
import { MAX_IDEMPOTENCY_KEY, parseAgentPayload, parseWakePayload } from "../../shared/hook-payloads.ts";
import type { JournalEntry, IntakeJournal } from "./intake-journal.ts";
import { tokenMatches } from "../state/admin-token.ts";
import type { Logger } from "pino";
import type { FailureLimiter } from "./failure-limiter.ts";
import type { SessionKeySource } from "./hook-mappings.ts";
import type { HooksPolicy } from "./hooks-policy.ts";

export interface HooksRoutesOptions {
  readonly policy: HooksPolicy;
  readonly journal: IntakeJournal;
  /** The hook token from the current secrets snapshot (read per request, so a reload rotates it). */
  readonly hookToken: () => string | undefined;
  /** Present when edge public keys are configured. */
  readonly envelopes?: EnvelopeVerifier;
  readonly limiter: FailureLimiter;
  readonly logger: Logger;
  readonly clientOf: (c: Context) => string;
  readonly bodyTimeoutMs?: number;
  readonly now?: () => number;
  readonly randomUUID?: () => string;
  /**
   * Admission (the dispatcher's queue bound), asked after validation and before journaling, and only for
   * agent calls: OpenClaw coalesces wakes, it never drops one, so a wake is never refused. Not asked for a
   * duplicate delivery id either: a duplicate always gets the original's answer.
   */
  readonly admit?: (kind: "wake" | "agent") => Admission;
  /** Called after a NEW journal insert (never for a duplicate), so the dispatcher wakes at once instead of polling. */
  readonly onAccepted?: (delivery: JournalEntry) => void;
}

export type Admission = { readonly ok: true } | { readonly ok: false; readonly retryAfterSeconds: number };

type Status = 200 | 202 | 400 | 401 | 404 | 405 | 408 | 413 | 429 | 503;
/** `body` may be JSON text already (a journaled answer, replayed verbatim). */
const json = (c: Context, status: Status, body: object | string, headers?: Record<string, string>) =>
  c.body(typeof body === "string" ? body : JSON.stringify(body), status, { ...headers, "content-type": "application/json" });

export function createHooksRoutes(options: HooksRoutesOptions): Hono {
  const { policy, journal, limiter, logger } = options;
  const now = options.now ?? Date.now;
  const randomUUID = options.randomUUID ?? (() => crypto.randomUUID());
  const bodyTimeoutMs = options.bodyTimeoutMs ?? 10_000;
  const app = new Hono();

  app.all("*", async (c) => {
    const started = now();
    const client = options.clientOf(c);
    const url = new URL(c.req.url);
    const route = url.pathname.slice(policy.path.length).replace(/^\/+|\/+$/g, "");
    let status = 0;
    let principal = "anonymous";
    let deliveryId: string | undefined;
    let mappingId: string | undefined;
    let size = 0;
    const answer = (code: Status, body: object | string, headers?: Record<string, string>) => {
      status = code;
      return json(c, code, body, headers);
    };
    /**
     * Journal a validated delivery and answer. A duplicate delivery id answers like the original (same
     * runId, nothing new queued) and is never refused by admission; only a new agent run asks `admit`.
     */
    const enqueue = async (kind: "wake" | "agent", id: string, payload: object, response: object) => {
      if (kind === "agent" && options.admit) {
        const original = journal.get(id);
        if (original) return answer(statusOf(original.kind), original.response);
        const admission = options.admit(kind);
        if (!admission.ok) {
          const wait = Math.max(1, Math.ceil(admission.retryAfterSeconds));
          return answer(503, { ok: false, error: "queue full" }, { "retry-after": String(wait) });
        }
      }
      let accepted;
      try {
        // Shares one commit with the deliveries around it; resolves only once this row is durable.
        accepted = await journal.acceptGrouped({ deliveryId: id, kind, payload: JSON.stringify(payload), response: JSON.stringify(response), receivedAt: started });
      } catch (error) {
        // Nothing of this delivery is stored, so nothing may be acknowledged: the caller (or the edge's outbox) retries.
        logger.error({ err: error, deliveryId: id }, "intake journal commit failed");
        return answer(503, { ok: false, error: "the delivery could not be stored; retry" }, { "retry-after": "1" });
      }
      if (accepted.inserted && options.onAccepted) {
        // Already durable and about to be acknowledged: a failing listener must not turn that into a 5xx.
        try {
          options.onAccepted(accepted.delivery);
        } catch (error) {
          logger.error({ err: error, deliveryId: id }, "onAccepted listener failed");
        }
      }
      return answer(statusOf(accepted.delivery.kind), accepted.delivery.response);
    };
    try {
      // 1. A token in the query string ends up in proxy and shell logs: refuse it outright.
      if (url.searchParams.has("token")) {
        return answer(400, { ok: false, error: "hook token must be sent in a header (Authorization: Bearer or X-OpenClaw-Token), not in the query string" });
      }
      // 2. Who is calling.
      const wait = limiter.retryAfter(client, now());
      if (wait > 0) return answer(429, { ok: false, error: "too many failed attempts" }, { "retry-after": String(wait) });
      const envelope = c.req.header(ENVELOPE_HEADER);
      if (envelope === undefined) {
        const presented = bearer(c.req.header("authorization")) ?? c.req.header("x-openclaw-token");
        const token = options.hookToken();
        if (!presented || !token || !tokenMatches(presented, [token])) {
          limiter.recordFailure(client, now());
          return answer(401, { ok: false, error: "unauthorized" });
        }
        principal = "hook-token";
      } else if (!options.envelopes) {
        limiter.recordFailure(client, now());
        return answer(401, { ok: false, error: "unauthorized" });
      }
      // 3–4. Method, then a route at all.
      if (c.req.method !== "POST") return answer(405, { ok: false, error: "method not allowed" }, { allow: "POST" });
      if (route === "") return answer(404, { ok: false, error: "not found" });
      // 5. The body: bounded in size and time.
      const body = await readBody(c, policy.maxBodyBytes, bodyTimeoutMs);
      // The unread rest of a refused body is never read: the connection closes after the answer.
      if (body === "too-large") return answer(413, { ok: false, error: "payload too large" }, { connection: "close" });
      if (body === "timeout") return answer(408, { ok: false, error: "request body timeout" }, { connection: "close" });
      // The client went away mid-body: nobody reads this answer, but it must not count as a 5xx.
      if (body === "aborted") return answer(400, { ok: false, error: "request body aborted" }, { connection: "close" });
      size = body.byteLength;
      // The envelope binds the exact body, so its full check needs the bytes just read.
      if (envelope !== undefined) {
        try {
          const claims = await options.envelopes!.verify(envelope, { method: c.req.method, path: url.pathname + url.search, body });
          principal = claims.sub;
          deliveryId = claims.did ?? claims.jti;
        } catch (error) {
          limiter.recordFailure(client, now());
          const code = error instanceof EnvelopeError ? error.code : "ERR_ENVELOPE_MALFORMED";
          return answer(401, { ok: false, error: "unauthorized", code });
        }
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(utf8.decode(body));
      } catch {
        return answer(400, { ok: false, error: "invalid JSON" });
      }
      // 6. The route.
      const headerKey = c.req.header("idempotency-key") ?? c.req.header("webhook-id");
      if (headerKey !== undefined && (headerKey === "" || headerKey.length > MAX_IDEMPOTENCY_KEY)) {
        return answer(400, { ok: false, error: `Idempotency-Key must be 1 to ${MAX_IDEMPOTENCY_KEY} characters` });
      }
      // Direct and mapped requests meet here: same payload rules, same policy, same journal shape
      // (a mapped one adds only `mapping`), so the dispatcher consumes all three alike.
      const wake = (raw: unknown, extra: { mapping?: string } = {}) => {
        const parsedWake = parseWakePayload(raw);
        if (!parsedWake.ok) return answer(400, { ok: false, error: parsedWake.error });
        deliveryId ??= headerKey ?? randomUUID();
        return enqueue("wake", deliveryId, { ...parsedWake.value, ...extra }, { ok: true, mode: parsedWake.value.mode });
      };
      const agent = (raw: unknown, source: SessionKeySource, extra: { mapping?: string } = {}) => {
        const parsedAgent = parseAgentPayload(raw);
        if (!parsedAgent.ok) return answer(400, { ok: false, error: parsedAgent.error });
        const problem = policy.targetProblem(parsedAgent.value);
        if (problem) return answer(400, { ok: false, error: problem });
        const sessionKey = policy.sessionKeyFor(parsedAgent.value, randomUUID, source);
        if (!sessionKey.ok) return answer(400, { ok: false, error: sessionKey.error });
        deliveryId ??= headerKey ?? parsedAgent.value.idempotencyKey ?? randomUUID();
        return enqueue("agent", deliveryId, { ...parsedAgent.value, sessionKey: sessionKey.value, ...extra }, { ok: true, runId: randomUUID() });
      };
      if (route === "wake") return await wake(parsed);
      if (route === "agent") return await agent(parsed, "request");
      const payload = isObject(parsed) ? parsed : undefined;
      const mapping = policy.mappings.find(route, payload ?? {});
      if (!mapping) return answer(404, { ok: false, error: "not found" });
      mappingId = mapping.id;
      if (!payload) return answer(400, { ok: false, error: "body must be a JSON object" });
      const mapped = mapping.render({ route, payload, header: (name) => c.req.header(name), query: url.searchParams, nowMs: now() });
      if (!mapped.ok) return answer(400, { ok: false, error: mapped.error });
      return await (mapped.kind === "wake" ? wake(mapped.body, { mapping: mapped.mapping }) : agent(mapped.body, mapped.sessionKeySource, { mapping: mapped.mapping }));
    } finally {
      // The audit line: metadata only, never the payload or a token.
      logger.info({ audit: "hook", route: `/${route}`, mapping: mappingId, principal, client, status, deliveryId, size, ms: now() - started }, "hook request");
    }
  });
  return app;
}

/** Strict: bad UTF-8 is a 400, never silently replaced. Stateless between calls (no `stream` option). */
const utf8 = new TextDecoder("utf-8", { fatal: true });

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** OpenClaw answers a wake 200 and an agent run 202; a duplicate gets the status of its original. */
const statusOf = (kind: string): 200 | 202 => (kind === "wake" ? 200 : 202);

function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? "");
  return m?.[1]?.trim() || undefined;
}

type BodyResult = Uint8Array | "too-large" | "timeout" | "aborted";

/**
 * The body bytes, or why they were refused; never buffers more than `max` bytes. Under
 * @hono/node-server it reads Node's IncomingMessage directly (`c.env.incoming`): building a WHATWG
 * Request and stream per call costs more than the rest of the intake; in-process tests arrive as a
 * Request and are read through the same Node-stream path.
 */
function readBody(c: Context, max: number, timeoutMs: number): Promise<BodyResult> {
  const declared = Number(c.req.header("content-length") ?? "0");
  if (declared > max) return Promise.resolve("too-large");
  const incoming = (c.env as { incoming?: unknown } | undefined)?.incoming;
  let stream: Readable;
  if (incoming instanceof Readable) stream = incoming;
  else if (c.req.raw.body) stream = Readable.fromWeb(c.req.raw.body as import("node:stream/web").ReadableStream);
  else return Promise.resolve(new Uint8Array());
  return new Promise<BodyResult>((resolve) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const finish = (result: BodyResult) => {
      clearTimeout(timer);
      stream.off("data", onData).off("end", onEnd).off("error", onAbort).off("close", onAbort);
      // Stop reading; the answer carries `Connection: close`, so the rest is never read.
      if (typeof result === "string") stream.pause();
      resolve(result);
    };
    const onData = (chunk: Buffer | string) => {
      const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      total += bytes.byteLength;
      if (total > max) return finish("too-large");
      chunks.push(bytes);
    };
    const onEnd = () => finish(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total));
    const onAbort = () => finish("aborted");
    const timer = setTimeout(() => finish("timeout"), timeoutMs);
    stream.on("data", onData).once("end", onEnd).once("error", onAbort).once("close", onAbort);
  });
}
