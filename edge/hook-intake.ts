/**
 * The edge's hook routes: `POST /hooks/wake`, `/hooks/agent` and configured pass-through `/hooks/<name>`.
 * Order of checks: query token (400) → route (404) → body size (413) → caller auth (401/403/429) → method
 * (405) → JSON and payload (400, the node's texts) → node → envelope room (400/414) → signed forward; an unavailable
 * node → outbox, 202.
 */
import { Hono, type Context } from "hono";
import { MAX_DELIVERY_ID } from "../shared/envelope.ts";
import { JSON_CONTENT_TYPE, METHOD_NOT_ALLOWED, NOT_FOUND, PAYLOAD_TOO_LARGE, QUERY_TOKEN_REFUSED, textAnswer } from "../shared/hook-answers.ts";
import {
  AGENT_ID_NOT_ALLOWED,
  hookPayloadOf,
  normalizeAgentId,
  normalizeAgentPayload,
  normalizeWakePayload,
  parseHookBody,
  sessionKeyProblem,
} from "../shared/hook-payloads.ts";
import { sessionScopeProblem } from "../shared/session-scope.ts";
import { scopedDeliveryId } from "./delivery-id.ts";
import type { EdgeNode } from "./edge-config.ts";
import type { EdgeSetup } from "./edge-setup.ts";
import type { NodeCall, NodeAnswer } from "./node-forwarder.ts";

/** The outbox as the Worker calls it (RPC on the Durable Object stub). */
export interface OutboxClient {
  enqueue(delivery: NodeCall, failure: { reason: string; status?: number; retryAfterSeconds?: number }): Promise<{ deliveryId: string; status: string }>;
  recordRejected(delivery: NodeCall, answer: NodeAnswer): Promise<void> | void;
  nodeRecovered(nodeId: string): Promise<number>;
}

export interface HookIntakeDeps {
  readonly setup: (c: Context) => EdgeSetup;
  readonly outbox: (c: Context) => OutboxClient;
  /** A fresh delivery id for a call that brings no key of its own. */
  readonly newDeliveryId: () => string;
  readonly log: (event: Record<string, unknown>) => void;
}

type Status = 200 | 202 | 400 | 401 | 403 | 404 | 405 | 413 | 414 | 429 | 502 | 503;

/**
 * UTF-8 bytes the envelope's caller-shaped claims (`sub`, `htu`, `did`) may take as JSON: an envelope with
 * the longest fixed claims (64-character kid and node id) and empty ones is 246 bytes of header and signature
 * plus 267 of payload JSON, so 2,048 more stays under MAX_ENVELOPE_BYTES (4,096) after base64url.
 */
export const MAX_CALLER_CLAIM_BYTES = 2048;
const encoder = new TextEncoder();
/** The bytes a string takes inside the envelope's JSON payload (jose: JSON.stringify, then UTF-8). */
const jsonBytes = (text: string) => encoder.encode(JSON.stringify(text)).length;
const json = (status: number, body: object, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": JSON_CONTENT_TYPE, ...headers } });

export function createHookIntake(deps: HookIntakeDeps): Hono {
  /**
   * Nodes this isolate saw fail: the next direct success to one of them tells the outbox the node is back,
   * so what waits for it goes out now rather than at a retry hours away. Healthy traffic never calls the outbox.
   */
  const suspectNodes = new Set<string>();
  const app = new Hono();
  app.all("/hooks/*", async (c) => {
    const setup = deps.setup(c);
    const url = new URL(c.req.url);
    const fail = (status: Status, error: string, headers?: Record<string, string>) => json(status, { ok: false, error }, headers);
    // 1. A token in the query string ends up in logs: refused with the node's (OpenClaw's) text.
    if (url.searchParams.has("token")) return textAnswer(400, QUERY_TOKEN_REFUSED);
    // 2. Only configured routes exist; each one names the caller auth it accepts.
    const name = url.pathname.slice("/hooks/".length);
    const route = setup.config.routes.get(name);
    const auth = setup.routeAuth.get(name);
    if (!route || !auth) return textAnswer(404, NOT_FOUND);
    // 3. The body, bounded: HMAC schemes sign the raw bytes, so it is read before authentication.
    const body = await readBody(c.req.raw, setup.config.hooks.maxBodyBytes);
    if (body === undefined) return fail(413, PAYLOAD_TOO_LARGE);
    // 4. Who is calling (CF-Connecting-IP is the only client address Cloudflare vouches for).
    const who = await auth.authenticate({
      method: c.req.method,
      url: c.req.url,
      headers: c.req.raw.headers,
      rawBody: body,
      clientIp: c.req.header("cf-connecting-ip") ?? "",
    });
    if (!who.ok) {
      deps.log({ event: "hook.refused", route: name, status: who.status, code: who.code });
      const headers: Record<string, string> = who.retryAfterSeconds !== undefined ? { "retry-after": String(who.retryAfterSeconds) } : {};
      return json(who.status, { ok: false, error: who.error, code: who.code }, headers);
    }
    // 5. Method.
    if (c.req.method !== "POST") return textAnswer(405, METHOD_NOT_ALLOWED, { allow: "POST" });
    // 6. Delivery id: the one a verified signature covers (an unsigned key never overrides it), else
    // Idempotency-Key, else the payload's (each scoped by the principal below, so two callers never share one),
    // else a fresh one.
    const headerKey = c.req.header("idempotency-key") ?? c.req.header("webhook-id");
    if (headerKey !== undefined && (headerKey === "" || headerKey.length > MAX_DELIVERY_ID)) {
      return fail(400, `Idempotency-Key must be 1 to ${MAX_DELIVERY_ID} characters`);
    }
    let callerKey = who.deliveryId ?? headerKey;
    let node: EdgeNode | undefined;
    if (name === "wake" || name === "agent") {
      // The node's reading of the body (OpenClaw's): trimmed, empty = {}, U+FFFD for bad UTF-8, the parser's message.
      const parsed = parseHookBody(body);
      if (!parsed.ok) return fail(400, parsed.error);
      const payload = hookPayloadOf(parsed.value);
      if (name === "wake") {
        const wake = normalizeWakePayload(payload);
        if (!wake.ok) return fail(400, wake.error);
        // `?node=<id>` picks the node for a wake; the payload stays OpenClaw's.
        const wanted = url.searchParams.get("node");
        node = wanted === null ? setup.config.primary : setup.config.nodes.get(wanted);
        if (!node) return fail(400, "node is not configured");
      } else {
        // The node checks the channel (it knows its channels) and sends unknown agent ids to its default agent.
        const agent = normalizeAgentPayload(payload, "any");
        if (!agent.ok) return fail(400, agent.error);
        const problem = knownAgentProblem(setup, agent.value.agentId) ?? sessionKeyProblem(setup.config.hooks, agent.value.sessionKey);
        // A key naming another agent is refused here when the target is an agent a node lists; the node, which knows
        // its default agent (where unknown ids go), checks the rest.
        const target = listedAgent(setup, agent.value.agentId);
        const scope = target !== undefined && agent.value.sessionKey !== undefined ? sessionScopeProblem(agent.value.sessionKey, target) : undefined;
        if (scope) return fail(400, scope);
        if (problem) return fail(400, problem);
        node = nodeForAgent(setup, agent.value.agentId);
        callerKey ??= agent.value.idempotencyKey;
      }
    } else {
      node = route.nodeId !== undefined ? setup.config.nodes.get(route.nodeId)! : setup.config.primary;
    }
    const passThrough = name !== "wake" && name !== "agent";
    const delivery: NodeCall = {
      deliveryId: callerKey !== undefined ? await scopedDeliveryId(who.principal, callerKey) : deps.newDeliveryId(),
      nodeId: node.id,
      // A pass-through call keeps its query (`{{query.x}}` in node mappings); the envelope binds it too.
      path: `${node.hooksPath}/${name}${passThrough ? url.search : ""}`,
      body,
      contentType: c.req.header("content-type") ?? "application/json",
      principal: who.principal,
      ...(passThrough ? { headers: passThroughHeaders(c.req.raw.headers) } : {}),
    };
    // The node refuses an envelope over MAX_ENVELOPE_BYTES, and some of its claims are the caller's to lengthen:
    // a call whose claims cannot fit is refused here, naming its longest part, rather than signed into a certain 401.
    const tooLong = envelopeOverflow(delivery, passThrough ? url.search : "");
    if (tooLong) return fail(tooLong === "query string" ? 414 : 400, `${tooLong} is too long to forward in the node's envelope`);
    // 7. Forward; the caller gets the node's answer when it arrives in time.
    const outcome = await setup.forwarder.forward(node, delivery);
    if (outcome.kind === "delivered" || outcome.kind === "rejected") {
      if (outcome.kind === "rejected") c.executionCtx.waitUntil(Promise.resolve(deps.outbox(c).recordRejected(delivery, outcome.answer)));
      if (outcome.kind === "delivered" && suspectNodes.delete(node.id)) {
        c.executionCtx.waitUntil(deps.outbox(c).nodeRecovered(node.id).catch(() => suspectNodes.add(node!.id)));
      }
      deps.log({ event: "hook.forwarded", route: name, principal: who.principal, nodeId: node.id, deliveryId: delivery.deliveryId, status: outcome.answer.status });
      if (outcome.kind === "rejected" && outcome.answer.status < 400) {
        // Not the node's answer but something in front of it (Access's login redirect): say so, don't relay it.
        return fail(502, "the node's tunnel redirected the call; check its Cloudflare Access service token");
      }
      return new Response(outcome.answer.body, {
        status: outcome.answer.status,
        headers: { "content-type": outcome.answer.contentType, "clawgate-delivery-id": delivery.deliveryId },
      });
    }
    // 8. The node is unavailable: keep the call durably and say so.
    suspectNodes.add(node.id);
    try {
      await deps.outbox(c).enqueue(delivery, outcome);
    } catch {
      deps.log({ event: "hook.outbox_unavailable", route: name, deliveryId: delivery.deliveryId });
      return fail(503, "node unavailable and the outbox could not store the call", { "retry-after": "5" });
    }
    deps.log({ event: "hook.queued", route: name, principal: who.principal, nodeId: node.id, deliveryId: delivery.deliveryId, reason: outcome.reason });
    return json(202, { ok: true, queued: true, deliveryId: delivery.deliveryId });
  });
  return app;
}

/**
 * The caller's headers a node mapping may template (`{{headers.x-github-event}}`), minus credentials,
 * hop-by-hop and Cloudflare's own headers; bounded so a stored delivery stays small.
 */
const DROPPED_HEADERS = new Set([
  "authorization", "proxy-authorization", "cookie", "x-openclaw-token", "host", "content-length", "content-type", "connection",
  "transfer-encoding", "keep-alive", "upgrade", "te", "trailer", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-real-ip",
]);
const MAX_PASSED_HEADERS = 32;
const MAX_PASSED_HEADER_BYTES = 8192;

function passThroughHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  let count = 0;
  let bytes = 0;
  headers.forEach((value, name) => {
    if (DROPPED_HEADERS.has(name) || name.startsWith("cf-") || name.startsWith("clawgate-")) return;
    bytes += name.length + value.length;
    if (++count > MAX_PASSED_HEADERS || bytes > MAX_PASSED_HEADER_BYTES) return;
    out[name] = value;
  });
  return out;
}

/** The longest caller-shaped part of a delivery whose envelope claims (`htu`, `sub`, `did`) would not fit, else undefined. */
function envelopeOverflow(delivery: NodeCall, query: string): string | undefined {
  const principal = jsonBytes(delivery.principal);
  const deliveryId = jsonBytes(delivery.deliveryId);
  if (jsonBytes(delivery.path) + principal + deliveryId <= MAX_CALLER_CLAIM_BYTES) return undefined;
  const parts: [string, number][] = [["query string", jsonBytes(query)], ["caller identity (JWT sub or Access email)", principal], ["delivery id", deliveryId]];
  return parts.reduce((a, b) => (b[1] > a[1] ? b : a))[0];
}

/** The node that lists the agent (ids compared as OpenClaw normalizes them), else the primary (which serves the default agent). */
function nodeForAgent(setup: EdgeSetup, agentId: string | undefined): EdgeNode {
  if (agentId === undefined) return setup.config.primary;
  const id = normalizeAgentId(agentId);
  for (const node of setup.config.nodes.values()) if (node.agents.some((a) => normalizeAgentId(a) === id)) return node;
  return setup.config.primary;
}

/**
 * hooks.allowedAgentIds at the edge, as defense in depth: only an agent some node lists can be refused here; an id
 * no node lists goes to the node, which runs it on its default agent (OpenClaw) and checks that one.
 */
/** The agent id as a node lists it, when one does; undefined for no agentId or one no node lists. */
function listedAgent(setup: EdgeSetup, agentId: string | undefined): string | undefined {
  if (agentId === undefined) return undefined;
  const id = normalizeAgentId(agentId);
  for (const node of setup.config.nodes.values()) if (node.agents.some((a) => normalizeAgentId(a) === id)) return id;
  return undefined;
}

function knownAgentProblem(setup: EdgeSetup, agentId: string | undefined): string | undefined {
  const allowed = setup.config.hooks.allowedAgentIds;
  if (agentId === undefined || allowed === undefined || allowed.some((a) => a.trim() === "*")) return undefined;
  const id = normalizeAgentId(agentId);
  const listed = [...setup.config.nodes.values()].some((node) => node.agents.some((a) => normalizeAgentId(a) === id));
  return listed && !allowed.some((a) => a.trim() && normalizeAgentId(a) === id) ? AGENT_ID_NOT_ALLOWED : undefined;
}

/** The body bytes, or undefined when they exceed `max`; never reads more than `max` + one chunk. */
async function readBody(request: Request, max: number): Promise<Uint8Array | undefined> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > max) return undefined;
  if (!request.body) return new Uint8Array();
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const next = await reader.read();
    if (next.done) break;
    total += next.value.byteLength;
    if (total > max) {
      void reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(next.value);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}
