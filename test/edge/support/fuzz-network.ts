/**
 * Cloudflare's network as the edge fuzz campaign sees it: one injected `fetch` that serves the JWKS and
 * Cloudflare Access key sets, and plays a node in any mode while checking every call that reaches it — a valid
 * envelope for that node (real verifier), bound to the exact path and body, and a body the node's shared
 * validation accepts — so a property only has to assert that `problems` stays empty.
 */
import type { JWK } from "jose";
import { ENVELOPE_HEADER, createEnvelopeVerifier, createMemoryReplayCache, type EnvelopeClaims } from "../../../shared/envelope.ts";
import { hookPayloadOf, normalizeAgentPayload, normalizeWakePayload, parseHookBody } from "../../../shared/hook-payloads.ts";
import type { EdgeKeys } from "./fake-node.ts";

export type FuzzNodeMode = "up" | "down" | "5xx" | "reject" | "busy" | "access-login";

export interface FuzzCall {
  readonly url: string;
  readonly headers: Headers;
  readonly body: Uint8Array;
  readonly claims: EnvelopeClaims;
}

export interface FuzzNetwork {
  mode: FuzzNodeMode;
  /** Calls that reached the node with a valid envelope, in order (every mode). */
  readonly calls: FuzzCall[];
  /** Anything a node would have refused: a bad envelope, a wake/agent body the shared validation refuses. */
  readonly problems: string[];
  readonly fetch: typeof fetch;
}

export interface FuzzNetworkOptions {
  readonly keys: EdgeKeys;
  /** Node origin → node id (the envelope's `aud`). */
  readonly origins: Record<string, string>;
  /** Key set URL → its public keys (a JWT method's `jwksUrl`, Access's team certs URL). */
  readonly keySets: Record<string, JWK[]>;
}


export async function fuzzNetwork(options: FuzzNetworkOptions): Promise<FuzzNetwork> {
  const verifiers = new Map<string, Awaited<ReturnType<typeof createEnvelopeVerifier>>>();
  for (const [origin, nodeId] of Object.entries(options.origins)) {
    verifiers.set(origin, await createEnvelopeVerifier({ publicJwks: [options.keys.publicJwk], nodeId, replayCache: createMemoryReplayCache(), now: Date.now }));
  }
  const network: FuzzNetwork = {
    mode: "up",
    calls: [],
    problems: [],
    fetch: async (input, init) => {
      const request = new Request(input as string, init as RequestInit);
      const keySet = options.keySets[request.url];
      if (keySet) return Response.json({ keys: keySet });
      const url = new URL(request.url);
      const verifier = verifiers.get(url.origin);
      if (!verifier) {
        network.problems.push(`fetch to an unknown host: ${url.origin}`);
        throw new TypeError("fetch failed: unknown host");
      }
      if (network.mode === "down") throw new TypeError("fetch failed: connection refused");
      const body = new Uint8Array(await request.arrayBuffer());
      const path = url.pathname + url.search;
      let claims: EnvelopeClaims;
      try {
        claims = await verifier.verify(request.headers.get(ENVELOPE_HEADER) ?? "", { method: request.method, path, body });
      } catch (error) {
        const code = (error as { code?: string }).code ?? String(error);
        network.problems.push(`${request.method} ${path.slice(0, 120)}: the node would refuse the envelope (${code})`);
        return Response.json({ ok: false, error: "unauthorized" }, { status: 401 });
      }
      const route = url.pathname.split("/").pop();
      if (route === "wake" || route === "agent") {
        const parsed = parseHookBody(body);
        const payload = hookPayloadOf(parsed.ok ? parsed.value : undefined);
        const check = route === "wake" ? normalizeWakePayload(payload) : normalizeAgentPayload(payload);
        if (!check.ok) network.problems.push(`${path}: the node's shared validation refuses the body (${check.error})`);
      }
      network.calls.push({ url: request.url, headers: request.headers, body, claims });
      switch (network.mode) {
        case "access-login":
          return new Response("<html>login</html>", { status: 302, headers: { location: "https://team.cloudflareaccess.com/login" } });
        case "5xx":
          return Response.json({ ok: false, error: "internal error" }, { status: 502 });
        case "busy":
          return Response.json({ ok: false, error: "queue full" }, { status: 503, headers: { "retry-after": "30" } });
        case "reject":
          return Response.json({ ok: false, error: "text required" }, { status: 400 });
        default:
          return route === "agent" ? Response.json({ ok: true, runId: `run-${network.calls.length}` }, { status: 202 }) : Response.json({ ok: true, mode: "now" });
      }
    },
  };
  return network;
}
