/**
 * Cloudflare's network as the edge tests see it: an injected `fetch` that plays the node (up, down, slow,
 * refusing) and verifies every envelope it receives with the real verifier, plus an edge key pair per file.
 */
import { exportJWK, generateKeyPair, type JWK } from "jose";
import { ENVELOPE_HEADER, createEnvelopeVerifier, createMemoryReplayCache, type EnvelopeClaims } from "../../../shared/envelope.ts";

export interface EdgeKeys {
  readonly privateJwk: JWK & { kid: string; alg: "EdDSA" };
  readonly publicJwk: JWK;
}

export async function edgeKeys(kid = "edge-test-file"): Promise<EdgeKeys> {
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  return {
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: "EdDSA" },
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: "EdDSA" },
  };
}

export type NodeMode = "up" | "down" | "5xx" | "reject" | "hang" | "busy" | "access-login";

export interface ReceivedCall {
  readonly url: string;
  readonly headers: Headers;
  readonly body: string;
  readonly claims: EnvelopeClaims;
}

export interface FakeNode {
  mode: NodeMode;
  /** Calls that carried a valid envelope for their node, in order. */
  readonly received: ReceivedCall[];
  /** Every call, valid or not. */
  readonly attempts: string[];
  readonly fetch: typeof fetch;
}

/** `origins` maps each node origin to its node id; each call's envelope is verified for that id. */
export async function fakeNode(keys: EdgeKeys, origins: Record<string, string>, now?: () => number): Promise<FakeNode> {
  const verifiers = new Map<string, Awaited<ReturnType<typeof createEnvelopeVerifier>>>();
  for (const [origin, nodeId] of Object.entries(origins)) {
    verifiers.set(origin, await createEnvelopeVerifier({ publicJwks: [keys.publicJwk], nodeId, replayCache: createMemoryReplayCache(), now: now ?? Date.now }));
  }
  const node: FakeNode = {
    mode: "up",
    received: [],
    attempts: [],
    fetch: async (input, init) => {
      const request = new Request(input as string, init as RequestInit);
      const url = new URL(request.url);
      node.attempts.push(request.url);
      if (node.mode === "down") throw new TypeError("fetch failed: connection refused");
      if (node.mode === "hang") {
        return new Promise<Response>((_, reject) => request.signal.addEventListener("abort", () => reject(request.signal.reason)));
      }
      if (node.mode === "access-login") return new Response("<html>login</html>", { status: 302, headers: { location: "https://team.cloudflareaccess.com/login" } });
      if (node.mode === "5xx") return Response.json({ ok: false, error: "internal error" }, { status: 502 });
      if (node.mode === "busy") return Response.json({ ok: false, error: "queue full" }, { status: 503, headers: { "retry-after": "30" } });
      const verifier = verifiers.get(url.origin);
      const body = new Uint8Array(await request.arrayBuffer());
      let claims: EnvelopeClaims;
      try {
        claims = await verifier!.verify(request.headers.get(ENVELOPE_HEADER) ?? "", { method: request.method, path: url.pathname + url.search, body });
      } catch {
        return Response.json({ ok: false, error: "unauthorized" }, { status: 401 });
      }
      if (node.mode === "reject") return Response.json({ ok: false, error: "text required" }, { status: 400 });
      node.received.push({ url: request.url, headers: request.headers, body: new TextDecoder().decode(body), claims });
      return url.pathname.endsWith("/agent")
        ? Response.json({ ok: true, runId: `run-${node.received.length}` }, { status: 202 })
        : Response.json({ ok: true, mode: "now" });
    },
  };
  return node;
}
