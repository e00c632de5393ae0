/** The edge → node envelope: a signed request verifies once; every attack on the list is refused with its own code. */
import { createHmac } from "node:crypto";
import { type JWK, SignJWT, exportJWK, generateKeyPair } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import {
  ENVELOPE_TYP,
  MAX_ENVELOPE_BYTES,
  createEnvelopeSigner,
  createEnvelopeVerifier,
  createMemoryReplayCache,
} from "../../shared/envelope.ts";

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);
const req = { method: "POST", path: "/hooks/wake", body: '{"text":"Cron heartbeat","mode":"now"}' };
let edPriv: JWK;
let edPub: JWK;
let esPriv: JWK;
let esPub: JWK;
let otherPriv: JWK;

async function pair(alg: "EdDSA" | "ES256", kid: string) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { crv: alg === "EdDSA" ? "Ed25519" : undefined, extractable: true });
  return { priv: { ...(await exportJWK(privateKey)), alg, kid }, pub: { ...(await exportJWK(publicKey)), alg, kid } };
}

beforeAll(async () => {
  ({ priv: edPriv, pub: edPub } = await pair("EdDSA", "edge-2026-11"));
  ({ priv: esPriv, pub: esPub } = await pair("ES256", "edge-2026-05"));
  ({ priv: otherPriv } = await pair("EdDSA", "edge-2026-11")); // an attacker's key under the real kid
});

const signer = (privateJwk: JWK, extra: Partial<Parameters<typeof createEnvelopeSigner>[0]> = {}) =>
  createEnvelopeSigner({ privateJwk, nodeId: "node-1", now: () => T0, ...extra });
const verifier = (extra: Partial<Parameters<typeof createEnvelopeVerifier>[0]> = {}) =>
  createEnvelopeVerifier({ publicJwks: [edPub, esPub], nodeId: "node-1", replayCache: createMemoryReplayCache(), now: () => T0 + 1_000, ...extra });

async function refusal(token: string, request = req, v?: Awaited<ReturnType<typeof verifier>>) {
  const error = await (v ?? (await verifier())).verify(token, request).then(
    () => undefined,
    (e: { code: string; message: string }) => e,
  );
  expect(error, "the envelope should have been refused").toBeDefined();
  if (token.length > 16) expect(error!.message).not.toContain(token);
  return error!.code;
}

const b64url = (s: string | Buffer) => Buffer.from(s).toString("base64url");

describe("a genuine envelope", () => {
  it("verifies with either rotated key and yields the bound claims", async () => {
    for (const priv of [edPriv, esPriv]) {
      const token = await (await signer(priv)).sign({ ...req, principal: "token:github-ci", jti: `id-${priv.kid}` });
      const claims = await (await verifier()).verify(token, req);
      expect(claims).toMatchObject({ iss: "clawgate-edge", aud: "node-1", sub: "token:github-ci", jti: `id-${priv.kid}`, htm: "POST", htu: "/hooks/wake" });
      expect(claims.exp - claims.iat).toBe(30);
    }
  });

  it("carries a signed delivery id that survives re-signing with a fresh jti", async () => {
    const s = await signer(edPriv);
    const first = await (await verifier()).verify(await s.sign({ ...req, principal: "p", deliveryId: "dlv-1" }), req);
    const retry = await (await verifier()).verify(await s.sign({ ...req, principal: "p", deliveryId: "dlv-1" }), req);
    expect(first.did).toBe("dlv-1");
    expect(retry.did).toBe("dlv-1");
    expect(retry.jti).not.toBe(first.jti);
    await expect(s.sign({ ...req, principal: "p", deliveryId: "x".repeat(257) })).rejects.toThrow("envelope deliveryId must be 1 to 256 characters");
  });

  it("binds the exact body bytes, as bytes or as text", async () => {
    const token = await (await signer(edPriv)).sign({ ...req, principal: "p" });
    expect((await (await verifier()).verify(token, { ...req, body: new TextEncoder().encode(req.body) })).sub).toBe("p");
  });
});

describe("attacks", () => {
  it("alg none", async () => {
    const token = `${b64url(JSON.stringify({ alg: "none", kid: "edge-2026-11", typ: ENVELOPE_TYP }))}.${b64url(JSON.stringify({ iss: "clawgate-edge", aud: "node-1", sub: "x", jti: "n", iat: T0 / 1000, exp: T0 / 1000 + 30, htm: "POST", htu: "/hooks/wake", bsh: "x" }))}.`;
    expect(await refusal(token)).toBe("ERR_ENVELOPE_SIGNATURE");
  });

  it("HS256 signed with the public key as the HMAC secret", async () => {
    const header = b64url(JSON.stringify({ alg: "HS256", kid: "edge-2026-11", typ: ENVELOPE_TYP }));
    const payload = b64url(JSON.stringify({ iss: "clawgate-edge", aud: "node-1", sub: "x", jti: "h", iat: T0 / 1000, exp: T0 / 1000 + 30, htm: "POST", htu: "/hooks/wake", bsh: "x" }));
    for (const secret of [JSON.stringify(edPub), edPub.x!]) {
      const sig = createHmac("sha256", secret).update(`${header}.${payload}`).digest("base64url");
      expect(await refusal(`${header}.${payload}.${sig}`)).toBe("ERR_ENVELOPE_SIGNATURE");
    }
  });

  it("a signature by another key under a known kid, with an embedded jwk header", async () => {
    const { importJWK } = await import("jose");
    const token = await new SignJWT({ htm: "POST", htu: "/hooks/wake", bsh: "x" })
      .setProtectedHeader({ alg: "EdDSA", kid: "edge-2026-11", typ: ENVELOPE_TYP, jwk: { kty: "OKP", crv: "Ed25519", x: otherPriv.x! } })
      .setIssuer("clawgate-edge").setAudience("node-1").setSubject("x").setJti("j").setIssuedAt(T0 / 1000).setExpirationTime(T0 / 1000 + 30)
      .sign(await importJWK(otherPriv, "EdDSA"));
    expect(await refusal(token)).toBe("ERR_ENVELOPE_SIGNATURE");
  });

  it("expired", async () => {
    const token = await (await signer(edPriv, { now: () => T0 - 120_000 })).sign({ ...req, principal: "p" });
    expect(await refusal(token)).toBe("ERR_ENVELOPE_EXPIRED");
  });

  it("issued in the future", async () => {
    const token = await (await signer(edPriv, { now: () => T0 + 120_000 })).sign({ ...req, principal: "p" });
    expect(await refusal(token)).toBe("ERR_ENVELOPE_CLAIMS");
  });

  it("for another node", async () => {
    const token = await (await signer(edPriv, { nodeId: "node-2" })).sign({ ...req, principal: "p" });
    expect(await refusal(token)).toBe("ERR_ENVELOPE_CLAIMS");
  });

  it.each([
    ["body swapped after signing", { ...req, body: '{"text":"rm -rf","mode":"now"}' }],
    ["path swapped", { ...req, path: "/hooks/agent" }],
    ["method swapped", { ...req, method: "PUT" }],
  ])("%s", async (_, tampered) => {
    const token = await (await signer(edPriv)).sign({ ...req, principal: "p" });
    expect(await refusal(token, tampered)).toBe("ERR_ENVELOPE_BINDING");
  });

  it("replayed", async () => {
    const v = await verifier();
    const token = await (await signer(edPriv)).sign({ ...req, principal: "p" });
    await v.verify(token, req);
    expect(await refusal(token, req, v)).toBe("ERR_ENVELOPE_REPLAYED");
  });

  it("unknown kid", async () => {
    const token = await (await signer({ ...edPriv, kid: "edge-1999" })).sign({ ...req, principal: "p" });
    expect(await refusal(token)).toBe("ERR_ENVELOPE_KEY_UNKNOWN");
  });

  it("oversized", async () => {
    const token = await (await signer(edPriv)).sign({ ...req, principal: "p".repeat(MAX_ENVELOPE_BYTES) });
    expect(await refusal(token)).toBe("ERR_ENVELOPE_TOO_LARGE");
  });

  it("a lifetime over 60 s, even when correctly signed", async () => {
    const { importJWK } = await import("jose");
    const token = await new SignJWT({ htm: "POST", htu: "/hooks/wake", bsh: "x" })
      .setProtectedHeader({ alg: "EdDSA", kid: "edge-2026-11", typ: ENVELOPE_TYP })
      .setIssuer("clawgate-edge").setAudience("node-1").setSubject("x").setJti("l").setIssuedAt(T0 / 1000).setExpirationTime(T0 / 1000 + 3600)
      .sign(await importJWK(edPriv, "EdDSA"));
    expect(await refusal(token)).toBe("ERR_ENVELOPE_CLAIMS");
  });

  it("a JWT of another type signed by the edge key", async () => {
    const { importJWK } = await import("jose");
    const token = await new SignJWT({ htm: "POST", htu: "/hooks/wake", bsh: "x" })
      .setProtectedHeader({ alg: "EdDSA", kid: "edge-2026-11", typ: "JWT" })
      .setIssuer("clawgate-edge").setAudience("node-1").setSubject("x").setJti("t").setIssuedAt(T0 / 1000).setExpirationTime(T0 / 1000 + 30)
      .sign(await importJWK(edPriv, "EdDSA"));
    expect(await refusal(token)).toBe("ERR_ENVELOPE_CLAIMS");
  });

  it("garbage", async () => {
    for (const token of ["", "a.b", "not-a-jwt", "..."]) expect(await refusal(token)).toMatch(/ERR_ENVELOPE_(MALFORMED|KEY_UNKNOWN)/);
  });
});

describe("factories validate once", () => {
  it("refuse bad options with a TypeError naming the option", async () => {
    await expect(signer(edPriv, { lifetimeSeconds: 61 })).rejects.toThrow("lifetimeSeconds must be an integer from 1 to 60");
    await expect(verifier({ publicJwks: [edPriv] })).rejects.toThrow("publicJwks[0] is a private key");
    await expect(verifier({ publicJwks: [] })).rejects.toThrow("needs at least one public key");
    await expect(verifier({ publicJwks: [{ ...edPub, alg: "RS256" }] })).rejects.toThrow("publicJwks[0].alg must be one of EdDSA, ES256");
  });
});

describe("replay cache", () => {
  it("forgets expired ids and stays bounded", () => {
    const cache = createMemoryReplayCache(2);
    expect(cache.checkAndRecord("a", 100, 50)).toBe(true);
    expect(cache.checkAndRecord("a", 100, 60)).toBe(false);
    expect(cache.checkAndRecord("a", 200, 101)).toBe(true);
    expect(cache.checkAndRecord("b", 300, 101)).toBe(true);
    expect(cache.checkAndRecord("c", 300, 101)).toBe(true);
    expect(cache.checkAndRecord("c", 300, 102)).toBe(false);
  });
});
