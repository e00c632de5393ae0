/** A per-test edge env: the workerd env (outbox binding) with this test's config and secrets, and the Worker with injected I/O. */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { createEdgeWorker } from "../../../edge/edge-app.ts";
import { productionEdgeIo } from "../../../edge/edge-io.ts";
import type { EdgeKeys } from "./fake-node.ts";

export const CALLER_TOKEN = "cg_test-caller-token-0123456789";
export const OPERATOR_TOKEN = "operator-token-for-tests-0123456789";

export async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The caller auth every test route uses: one named bearer token (edge/auth's bearer method). */
export async function bearerAuth(): Promise<unknown[]> {
  return [{ type: "bearer", tokens: [{ name: "ci", sha256: await sha256Hex(CALLER_TOKEN) }] }];
}

export async function baseConfig(overrides: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const auth = await bearerAuth();
  return {
    nodes: [
      { id: "node-1", origin: "https://node-1.test", agents: ["main"], primary: true },
      { id: "node-2", origin: "https://node-2.test", hooksPath: "/openclaw/hooks", agents: ["research"] },
    ],
    routes: { wake: { auth }, agent: { auth }, github: { auth, node: "node-2" } },
    hooks: { maxBodyBytes: 1024, allowedAgentIds: ["main", "research"] },
    forward: { timeoutMs: 200 },
    ...overrides,
  };
}

export function edgeEnv(config: unknown, keys: EdgeKeys, secrets: Record<string, string> = {}): Env {
  return {
    ...env,
    CLAWGATE_EDGE_CONFIG: typeof config === "string" ? config : JSON.stringify(config),
    CLAWGATE_EDGE_SIGNING_KEY: JSON.stringify(keys.privateJwk),
    ...secrets,
  } as unknown as Env;
}

export interface TestWorker {
  readonly logs: string[];
  readonly events: Record<string, unknown>[];
  request(path: string, init?: RequestInit): Promise<Response>;
}

/** The Worker with the node's network injected; each request runs to completion, waitUntil work included. */
export function testWorker(testEnv: Env, nodeFetch: typeof fetch, uuids: string[] = []): TestWorker {
  const logs: string[] = [];
  const events: Record<string, unknown>[] = [];
  let n = 0;
  const worker = createEdgeWorker({
    ...productionEdgeIo(),
    fetch: nodeFetch,
    log: (line) => logs.push(line),
    logEvent: (event) => events.push(event),
    newDeliveryId: () => uuids[n++] ?? crypto.randomUUID(),
  });
  return {
    logs,
    events,
    async request(path, init) {
      const ctx = createExecutionContext();
      const res = await worker.fetch(new Request(`https://edge.test${path}`, init), testEnv, ctx);
      await waitOnExecutionContext(ctx);
      return res;
    },
  };
}

export const post = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: "POST",
  headers: { authorization: `Bearer ${CALLER_TOKEN}`, "content-type": "application/json", ...headers },
  body: typeof body === "string" ? body : JSON.stringify(body),
});
