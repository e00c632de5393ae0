/**
 * Property test (fast-check, fixed seed) in workerd: malformed methods, paths, headers and bodies at the
 * edge's routes — authenticated or not — never yield a 5xx, and whatever reaches the node is well-formed.
 */
import fc from "fast-check";
import { beforeAll, expect, it } from "vitest";
import { parseAgentPayload, parseWakePayload } from "../../shared/hook-payloads.ts";
import { type EdgeKeys, edgeKeys, fakeNode } from "./support/fake-node.ts";
import { CALLER_TOKEN, OPERATOR_TOKEN, baseConfig, edgeEnv, sha256Hex, testWorker } from "./support/edge-env.ts";

let keys: EdgeKeys;
beforeAll(async () => {
  keys = await edgeKeys();
});

const json = fc.oneof(
  fc.constantFrom('{"text":"hello"}', '{"message":"m","agentId":"research"}', '{"message":"m"}'),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.record({ text: fc.oneof(fc.string(), fc.integer(), fc.constant(null)), mode: fc.oneof(fc.constant("now"), fc.string()) }).map((v) => JSON.stringify(v)),
  fc
    .record({ message: fc.string(), agentId: fc.oneof(fc.constant("main"), fc.constant("research"), fc.string()), sessionKey: fc.option(fc.string()), timeoutSeconds: fc.oneof(fc.integer(), fc.double()) })
    .map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 64 }),
);

it("never answers 5xx to malformed input, and forwards only what the node would accept", async () => {
  const node = await fakeNode(keys, { "https://node-1.test": "node-1", "https://node-2.test": "node-2" });
  const worker = testWorker(edgeEnv(await baseConfig(), keys, { CLAWGATE_OPERATOR_TOKEN_SHA256: await sha256Hex(OPERATOR_TOKEN) }), node.fetch);
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(fc.constant("POST"), fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")),
      fc.oneof(
        fc.constantFrom("/hooks/wake", "/hooks/agent", "/hooks/github", "/hooks/", "/hooks", "/hooks/wake/x", "/_clawgate/outbox", "/_clawgate/dead-letters/replay", "/_clawgate/cron"),
        fc.webPath(),
      ),
      fc.constantFrom("", "?node=node-2", "?node=%00", "?token=x", "?a=%zz"),
      fc.oneof(fc.constant(`Bearer ${CALLER_TOKEN}`), fc.constantFrom(`Bearer ${OPERATOR_TOKEN}`, "Bearer", "Basic x", "")),
      fc.option(fc.string({ maxLength: 300 }), { nil: undefined }),
      json,
      fc.ipV4(),
      async (method, path, query, authorization, idempotencyKey, body, clientIp) => {
        // Many clients, so the failed-auth limiter (20 per client per minute) does not end the run early.
        const headers: Record<string, string> = { "content-type": "application/json", "cf-connecting-ip": clientIp };
        if (authorization) headers["authorization"] = authorization;
        if (idempotencyKey !== undefined && /^[\x20-\x7e]*$/.test(idempotencyKey)) headers["idempotency-key"] = idempotencyKey;
        let url = `${path.startsWith("/") ? path : `/${path}`}${query}`;
        if (!URL.canParse(`https://edge.test${url}`)) url = "/hooks/wake";
        const res = await worker.request(url, { method, headers, ...(method === "GET" ? {} : { body }) });
        expect(res.status, `${method} ${url} → ${res.status}`).toBeLessThan(500);
        await res.body?.cancel();
      },
    ),
    { seed: 20261124, numRuns: 300 },
  );
  // Everything the node received passes the shared validation the node runs.
  for (const call of node.received) {
    const route = new URL(call.url).pathname.split("/").pop();
    if (route === "wake") expect(parseWakePayload(JSON.parse(call.body)).ok).toBe(true);
    if (route === "agent") expect(parseAgentPayload(JSON.parse(call.body)).ok).toBe(true);
  }
  expect(node.received.length).toBeGreaterThan(0);
});
