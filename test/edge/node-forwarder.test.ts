/** Signed forwarding in workerd: an attempt's timeout, and timers released as soon as an answer is read. */
import { expect, it } from "vitest";
import type { EdgeNode } from "../../edge/edge-config.ts";
import { type NodeCall, createNodeForwarder } from "../../edge/node-forwarder.ts";

const node: EdgeNode = { id: "node-1", origin: "https://node-1.test", hooksPath: "/hooks", agents: [], primary: true };
const delivery: NodeCall = { deliveryId: "d-1", nodeId: "node-1", path: "/hooks/wake", body: new TextEncoder().encode('{"text":"t"}'), contentType: "application/json", principal: "token:ci" };
// The envelope is shared/envelope.ts's business (test/shared); here any string will do.
const signer = { sign: async () => "envelope" };

it("keeps no timer after an answer: 10,050 forwards in one request context with a 60 s timeout are all delivered", async () => {
  // workerd allows 10,000 active timeouts per request context; AbortSignal.timeout's stayed active 60 s each.
  const forwarder = createNodeForwarder({ signer, timeoutMs: 60_000, accessHeaders: {}, fetch: async () => Response.json({ ok: true }) });
  const kinds = new Map<string, number>();
  for (let i = 0; i < 10_050; i++) {
    const { kind } = await forwarder.forward(node, delivery);
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  expect(Object.fromEntries(kinds)).toEqual({ delivered: 10_050 });
});

it("gives up on a node that does not answer within the timeout, with a reason naming it", async () => {
  const hang: typeof fetch = (_input, init) => new Promise((_, reject) => init!.signal!.addEventListener("abort", () => reject(init!.signal!.reason)));
  const forwarder = createNodeForwarder({ signer, timeoutMs: 100, accessHeaders: {}, fetch: hang });
  expect(await forwarder.forward(node, delivery)).toEqual({ kind: "retry", reason: "node did not answer within 100 ms" });
  const refused = createNodeForwarder({ signer, timeoutMs: 100, accessHeaders: {}, fetch: async () => Promise.reject(new TypeError("fetch failed")) });
  expect(await refused.forward(node, delivery)).toEqual({ kind: "retry", reason: "node unreachable" });
});
