/**
 * The OpenClaw-compatible hook intake (docs/openclaw-compat.md §5): `POST <hooks.path>/wake` and `/agent`, in
 * OpenClaw's order of checks — query token (400) → auth (401/429) → method (405) → empty subpath (404) → body
 * (413/408/400) → route (wake, agent, a `hooks.mappings` entry, else 404) — with OpenClaw's statuses, content
 * types and texts (shared/hook-answers.ts), and every accepted call journaled before it is answered.
 *
 * Framework-free: a call is a method, a request target, a header lookup, the client and a bounded body read; an
 * answer is a status, a content type, a text and extra headers. Two doors lead here: the daemon's listener for
 * `hooks.path` (node/server/hooks-listener.ts, no WHATWG Request or Response on the wake path) and the Hono
 * routes (node/intake/hooks-routes.ts, for the app served in-process).
 */
import type { Readable } from "node:stream";
import type { Logger } from "pino";
import type { DaemonIo } from "../io/daemon-io.ts";
import { ENVELOPE_HEADER, EnvelopeError, type EnvelopeVerifier } from "../../shared/envelope.ts";
import {
  BODY_CONNECTION_CLOSED,
  BODY_TIMEOUT,
  JSON_CONTENT_TYPE,
  METHOD_NOT_ALLOWED,
  NOT_FOUND,
  PAYLOAD_TOO_LARGE,
  QUERY_TOKEN_REFUSED,
  TEXT_CONTENT_TYPE,
  TOO_MANY_REQUESTS,
  UNAUTHORIZED,
} from "../../shared/hook-answers.ts";
import { MAX_IDEMPOTENCY_KEY, hookChannelError, hookPayloadOf, normalizeAgentPayload, normalizeWakePayload, parseHookBody } from "../../shared/hook-payloads.ts";
import type { JournalEntry, IntakeJournal } from "./intake-journal.ts";
import { bearerToken } from "../../shared/bearer.ts";
import { createTokenMatcher } from "./token-match.ts";
import { type FailureWindow, createFailureWindow } from "../../shared/failure-window.ts";
import { sessionScopeProblem } from "../../shared/session-scope.ts";
import { timeOrderedId } from "../../shared/time-ordered-id.ts";
import { TUNNELLED_TOKEN_TEXT, cameThroughCloudflare } from "./tunnel-guard.ts";
import type { SessionKeySource } from "./hook-mappings.ts";
import type { HooksPolicy } from "./hooks-policy.ts";

export interface HookIntakeOptions {
  readonly policy: HooksPolicy;
  readonly journal: IntakeJournal;
  /** The hook token from the current secrets snapshot (read per request, so a reload rotates it). */
  readonly hookToken: () => string | undefined;
  /** Present when edge public keys are configured. */
  readonly envelopes?: EnvelopeVerifier;
  /** Failed hook-token attempts per client; a correct token always passes and clears its client's count. */
  readonly limiter: FailureWindow;
  /** Failed envelopes per client, counted apart from token failures; a verified envelope is never throttled. */
  readonly envelopeLimiter?: FailureWindow;
  /** The agent a call without `agentId` runs as (session keys stay inside their agent); default "main". */
  readonly defaultAgentId?: string;
  /** Refuse a hook-token call that came through Cloudflare (edge keys configured, no opt-out). */
  readonly refuseTunnelledToken?: boolean;
  readonly logger: Logger;
  readonly bodyTimeoutMs?: number;
  /** The clock (limiter windows, timings) and the ids of deliveries that bring no key. */
  readonly io: Pick<DaemonIo, "now" | "randomUUID">;
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

type Status = 200 | 202 | 400 | 401 | 403 | 404 | 405 | 408 | 413 | 429 | 503;

/** One request to the intake, whichever door it came through. */
export interface HookCall {
  readonly method: string;
  /** The request target as sent: path and query. */
  readonly target: string;
  /** A request header by lower-case name. */
  readonly header: (name: string) => string | undefined;
  /** The client the failure windows count (the TCP peer). */
  readonly client: string;
  /** The body bytes, or why they were refused; never buffers more than `max` bytes. */
  readonly readBody: (max: number, timeoutMs: number) => Promise<BodyResult>;
}

/** The intake's answer: OpenClaw's status, content type and text, and any extra headers (Retry-After, Allow, Connection). */
export interface HookAnswer {
  readonly status: Status;
  readonly contentType: string;
  readonly body: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface HookIntake {
  /** Never rejects for a caller's input: every refusal is an answer. */
  handle(call: HookCall): Promise<HookAnswer>;
}

export function createHookIntake(options: HookIntakeOptions): HookIntake {
  const { policy, journal, limiter, logger } = options;
  const envelopeLimiter = options.envelopeLimiter ?? createFailureWindow();
  const defaultAgentId = options.defaultAgentId ?? "main";
  const { now, randomUUID } = options.io;
  const bodyTimeoutMs = options.bodyTimeoutMs ?? 10_000;
  const tokenMatches = createTokenMatcher();
  // The audit line's fields are fixed metadata, never a value a redaction path names; redaction (~6 µs a line,
  // docs/benchmarks.md) could only cost here. Every other line of this logger stays redacted.
  const audit = logger.child({}, { redact: [] });

  async function handle(call: HookCall): Promise<HookAnswer> {
    const started = now();
    const { client } = call;
    const url = new URL(call.target, "http://node.invalid");
    // OpenClaw's subpath: only leading slashes go, so `wake/` is not `wake` (it is looked up as a mapping).
    const route = url.pathname.slice(policy.path.length).replace(/^\/+/, "");
    let status = 0;
    let principal = "anonymous";
    let deliveryId: string | undefined;
    let mappingId: string | undefined;
    let size = 0;
    const answer = (code: Status, body: object | string, headers?: Record<string, string>): HookAnswer => {
      status = code;
      return { status: code, contentType: JSON_CONTENT_TYPE, body: typeof body === "string" ? body : JSON.stringify(body), ...(headers ? { headers } : {}) };
    };
    const answerText = (code: Status, body: string, headers?: Record<string, string>): HookAnswer => {
      status = code;
      return { status: code, contentType: TEXT_CONTENT_TYPE, body, ...(headers ? { headers } : {}) };
    };
    /**
     * Journal a validated delivery and answer. A duplicate delivery id answers like the original (same
     * runId, nothing new queued) and is never refused by admission; only a new agent run asks `admit`.
     */
    const enqueue = async (kind: "wake" | "agent", id: string, payload: object, response: object) => {
      // A known id skips admission; its answer still waits below for a sync that covers the original's row.
      if (kind === "agent" && options.admit && journal.get(id) === undefined) {
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
        // Not known durable, so not acknowledged: the caller (or the edge's outbox) retries. After a failed sync the
        // journal refuses every delivery until the node restarts (docs/intake.md), so no retry is answered from it.
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
      if (url.searchParams.has("token")) return answerText(400, QUERY_TOKEN_REFUSED);
      // 2. Who is calling. A failure is counted in its own window (token or envelope); a correct credential is
      // never throttled, so nothing without one can lock out the edge or the token's holder (docs/security.md).
      const refuse = (window: FailureWindow, refusal: () => HookAnswer) => {
        const wait = window.blockedFor(client, now());
        if (wait > 0) return answerText(429, TOO_MANY_REQUESTS, { "retry-after": String(wait) });
        window.recordFailure(client, now());
        return refusal();
      };
      const envelope = call.header(ENVELOPE_HEADER);
      if (envelope === undefined) {
        if (options.refuseTunnelledToken && cameThroughCloudflare(call.header)) return answer(403, { ok: false, error: TUNNELLED_TOKEN_TEXT });
        const presented = bearerToken(call.header("authorization")) ?? (call.header("x-openclaw-token")?.trim() || undefined);
        const token = options.hookToken();
        if (!presented || !token || !tokenMatches(presented, token)) return refuse(limiter, () => answerText(401, UNAUTHORIZED));
        limiter.clear(client);
        principal = "hook-token";
      } else if (!options.envelopes) {
        return refuse(envelopeLimiter, () => answerText(401, UNAUTHORIZED));
      }
      // 3–4. Method, then a route at all.
      if (call.method !== "POST") return answerText(405, METHOD_NOT_ALLOWED, { allow: "POST" });
      if (route === "") return answerText(404, NOT_FOUND);
      // 5. The body: bounded in size and time.
      const body = await call.readBody(policy.maxBodyBytes, bodyTimeoutMs);
      // The unread rest of a refused body is never read: the connection closes after the answer.
      if (body === "too-large") return answer(413, { ok: false, error: PAYLOAD_TOO_LARGE }, { connection: "close" });
      if (body === "timeout") return answer(408, { ok: false, error: BODY_TIMEOUT }, { connection: "close" });
      // The client went away mid-body: nobody reads this answer, but it must not count as a 5xx.
      if (body === "aborted") return answer(400, { ok: false, error: BODY_CONNECTION_CLOSED }, { connection: "close" });
      size = body.byteLength;
      // The envelope binds the exact body, so its full check needs the bytes just read.
      if (envelope !== undefined) {
        try {
          const claims = await options.envelopes!.verify(envelope, { method: call.method, path: url.pathname + url.search, body });
          principal = claims.sub;
          deliveryId = claims.did ?? claims.jti;
        } catch (error) {
          const code = error instanceof EnvelopeError ? error.code : "ERR_ENVELOPE_MALFORMED";
          return refuse(envelopeLimiter, () => answer(401, { ok: false, error: "unauthorized", code }));
        }
      }
      const parsed = parseHookBody(body);
      if (!parsed.ok) return answer(400, { ok: false, error: parsed.error });
      const payload = hookPayloadOf(parsed.value);
      // 6. The route. An Idempotency-Key (clawgate's; OpenClaw 2026.2.26 ignores it) names the delivery.
      const headerKey = (call.header("idempotency-key") ?? call.header("webhook-id"))?.trim() || undefined;
      if (headerKey !== undefined && headerKey.length > MAX_IDEMPOTENCY_KEY) {
        return answer(400, { ok: false, error: `Idempotency-Key must be 1 to ${MAX_IDEMPOTENCY_KEY} characters` });
      }
      // Direct and mapped requests meet here: same payload rules, same policy, same journal shape
      // (a mapped one adds only `mapping`), so the dispatcher consumes all three alike.
      const wake = (raw: Record<string, unknown>, extra: { mapping?: string } = {}) => {
        const normalized = normalizeWakePayload(raw);
        if (!normalized.ok) return answer(400, { ok: false, error: normalized.error });
        deliveryId ??= headerKey ?? timeOrderedId(now(), randomUUID);
        return enqueue("wake", deliveryId, { ...normalized.value, ...extra }, { ok: true, mode: normalized.value.mode });
      };
      const agent = (raw: Record<string, unknown>, source: SessionKeySource, extra: { mapping?: string } = {}) => {
        const normalized = normalizeAgentPayload(raw, policy.channels);
        if (!normalized.ok) return answer(400, { ok: false, error: normalized.error });
        const problem = policy.targetProblem(normalized.value);
        if (problem) return answer(400, { ok: false, error: problem });
        const sessionKey = policy.sessionKeyFor(normalized.value, randomUUID, source);
        if (!sessionKey.ok) return answer(400, { ok: false, error: sessionKey.error });
        const { agentId: _requested, model: requestedModel, ...rest } = normalized.value;
        const agentId = policy.agentFor(normalized.value);
        // A key the caller chose (directly or by template) stays inside the agent the call runs as.
        const scope = source === "mapping-static" || normalized.value.sessionKey === undefined ? undefined : sessionScopeProblem(sessionKey.value, agentId ?? defaultAgentId);
        if (scope) return answer(400, { ok: false, error: scope });
        const model = policy.modelFor(normalized.value);
        if (requestedModel !== undefined && model === undefined) {
          logger.warn({ model: requestedModel }, "hook model is not allowed by agents.defaults.models; the run uses the agent's model");
        }
        deliveryId ??= headerKey ?? normalized.value.idempotencyKey ?? timeOrderedId(now(), randomUUID);
        const journaled = { ...rest, ...(agentId !== undefined ? { agentId } : {}), ...(model !== undefined ? { model } : {}), sessionKey: sessionKey.value, ...extra };
        return enqueue("agent", deliveryId, journaled, { ok: true, runId: randomUUID() });
      };
      if (route === "wake") return await wake(payload);
      if (route === "agent") return await agent(payload, "request");
      // Mappings match the subpath without its edge slashes (OpenClaw's normalizeMatchPath).
      const mapping = policy.mappings.find(route.replace(/\/+$/, ""), payload);
      if (!mapping) return answerText(404, NOT_FOUND);
      mappingId = mapping.id;
      const mapped = mapping.render({ route, payload, header: call.header, query: url.searchParams, nowMs: now() });
      if (!mapped.ok) return answer(400, { ok: false, error: mapped.error });
      if (mapped.kind === "agent" && typeof mapped.body["channel"] === "string" && !["last", ...policy.channels].includes(mapped.body["channel"].trim().toLowerCase())) {
        return answer(400, { ok: false, error: hookChannelError(policy.channels) });
      }
      return await (mapped.kind === "wake" ? wake(mapped.body, { mapping: mapped.mapping }) : agent(mapped.body, mapped.sessionKeySource, { mapping: mapped.mapping }));
    } finally {
      // The audit line: metadata only, never the payload or a token.
      audit.info({ audit: "hook", route: `/${route}`, mapping: mappingId, principal, client, status, deliveryId, size, ms: now() - started }, "hook request");
    }
  }
  return { handle };
}

/** OpenClaw answers a wake 200 and an agent run 202; a duplicate gets the status of its original. */
const statusOf = (kind: string): 200 | 202 => (kind === "wake" ? 200 : 202);

export type BodyResult = Uint8Array | "too-large" | "timeout" | "aborted";

/**
 * Reads a request body from a Node stream, bounded in size (`declared` is the Content-Length, checked first) and
 * in time. A stream already destroyed mid-body (the client hung up before the read began) is "aborted".
 */
export function readBodyStream(stream: Readable, declared: number, max: number, timeoutMs: number): Promise<BodyResult> {
  if (declared > max) return Promise.resolve("too-large");
  // The client may have hung up mid-body before the body is read (any await before it): no event will come.
  if (stream.destroyed && (stream as { complete?: boolean }).complete === false) return Promise.resolve("aborted");
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
