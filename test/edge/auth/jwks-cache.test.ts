/**
 * The shared remote key set in workerd: when an isolate's copy goes stale it first looks in the store, so a
 * set another isolate already refreshed is adopted instead of fetched again (one fetch per max-age overall).
 */
import { exportJWK, generateKeyPair } from "jose";
import { expect, it } from "vitest";
import { createMemoryJwksStore, createSharedRemoteKeySet } from "../../../edge/auth/jwks-cache.ts";

it("a stale isolate adopts the set another isolate refreshed instead of fetching it again", async () => {
  const pair = await generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
  let fetches = 0;
  const fetch = (async () => {
    fetches++;
    return Response.json({ keys: [jwk] });
  }) as typeof globalThis.fetch;
  const store = createMemoryJwksStore();
  const maxAgeMs = 300;
  const url = "https://idp.example.com/jwks";
  const isolateA = createSharedRemoteKeySet(url, { store, fetch, maxAgeMs });
  const isolateB = createSharedRemoteKeySet(url, { store, fetch, maxAgeMs });
  const header = { alg: "ES256", kid: "k1" };

  await isolateA(header, { payload: "", signature: "" });
  await isolateB(header, { payload: "", signature: "" });
  expect(fetches).toBe(1);
  const firstUat = (await store.load(url))!.uat;

  // Both copies go stale once max-age has passed (jose's own clock); wait for that, bounded.
  const deadline = Date.now() + 5_000;
  while (Date.now() <= firstUat + maxAgeMs) {
    if (Date.now() > deadline) throw new Error("clock did not advance");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await isolateA(header, { payload: "", signature: "" });
  expect(fetches).toBe(2);
  expect((await store.load(url))!.uat).toBeGreaterThan(firstUat);
  // B's copy is stale too, but the store now holds A's fresh set: adopted, not fetched.
  await isolateB(header, { payload: "", signature: "" });
  expect(fetches).toBe(2);
});
