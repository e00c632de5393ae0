/** The shared envelope module runs inside workerd, where the edge signs: a round trip and a tampered body. */
import { exportJWK, generateKeyPair } from "jose";
import { expect, it } from "vitest";
import { createEnvelopeSigner, createEnvelopeVerifier, createMemoryReplayCache } from "../../shared/envelope.ts";

it("signs in workerd and verifies the binding", async () => {
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const kid = "edge-test";
  const signer = await createEnvelopeSigner({ privateJwk: { ...(await exportJWK(privateKey)), alg: "EdDSA", kid }, nodeId: "node-1" });
  const verifier = await createEnvelopeVerifier({
    publicJwks: [{ ...(await exportJWK(publicKey)), alg: "EdDSA", kid }],
    nodeId: "node-1",
    replayCache: createMemoryReplayCache(),
    now: Date.now,
  });
  const request = { method: "POST", path: "/hooks/wake", body: '{"text":"hi"}' };
  const token = await signer.sign({ ...request, principal: "cron:heartbeat" });
  expect((await verifier.verify(token, request)).sub).toBe("cron:heartbeat");
  await expect(verifier.verify(token, { ...request, body: '{"text":"bye"}' })).rejects.toMatchObject({ code: "ERR_ENVELOPE_BINDING" });
});
