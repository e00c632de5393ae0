/**
 * Project Wycheproof's JWS vectors (test/fixtures/wycheproof, Apache-2.0) through jose inside workerd, the
 * way the edge selects keys: the group's key in a key set (createLocalJWKSet — the selection the remote set
 * uses, honoring `use`, `key_ops`, `kid`, `alg`) or, for HMAC, the secret's bytes as the edge passes a
 * `secretBinding` — and an explicit algorithm allowlist, behind the edge's strict compact-serialization
 * check. No `invalid` case may verify; every `valid` one must, except the listed cases refused by design
 * (printed with the reason). A last test shows why the strict check exists: jose alone accepts some invalid ones.
 */
import { type JWK, compactVerify, createLocalJWKSet } from "jose";
import { describe, expect, it } from "vitest";
import { isStrictCompactJws } from "../../../edge/auth/jwt-verifier.ts";
import vectors from "../../fixtures/wycheproof/json_web_signature_test.json";

interface Case {
  tcId: number;
  comment: string;
  jws: string;
  result: "valid" | "invalid" | "acceptable";
  flags: string[];
}
interface Group {
  comment: string;
  public?: JWK;
  private?: JWK;
  tests: Case[];
}

/** Valid cases jose does not verify, and why (each is asserted to fail, so the list cannot go stale silently). */
const REFUSED_VALID: Record<number, string> = {
  346: "RFC 7520 Figure 20 signs PS384 with a key whose JWK says alg PS256; jose requires the JWK's alg to equal the header's",
  350: "RFC 7520 Figure 20 signs PS384 with a key whose JWK says alg PS256; jose requires the JWK's alg to equal the header's",
  372: "a '?' inside the header segment: the edge refuses any character outside base64url (RFC 7515 §2)",
  373: "a '?' inside the payload segment: the edge refuses any character outside base64url (RFC 7515 §2)",
};

/**
 * In the copy handed to us, these "invalid" cases are byte-for-byte the JWS of valid tcId 357 (their padding
 * characters are not in the file), so they cannot be told apart from it.
 */
const CONTRADICTORY_INVALID: Record<number, string> = {
  367: "invalidBase64Padding: identical to valid tcId 357 in this copy of the vectors (no padding present)",
  370: "invalidBase64PaddingInPayload: identical to valid tcId 357 in this copy of the vectors (no padding present)",
};

function headerAlg(jws: string): string | undefined {
  try {
    const b64 = jws.split(".")[0]!.replace(/-/g, "+").replace(/_/g, "/");
    return (JSON.parse(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4))) as { alg?: unknown }).alg as string | undefined;
  } catch {
    return undefined;
  }
}

/** The allowlist an operator would configure for this key: its `alg`, or the family default when it has none. */
function allowlist(group: Group, key: JWK): string[] {
  const algs = new Set<string>();
  if (key.alg) algs.add(key.alg);
  else if (key.kty === "RSA") algs.add("RS256");
  else if (key.kty === "EC") algs.add("ES256");
  for (const t of group.tests) if (t.result === "valid") algs.add(headerAlg(t.jws) ?? "");
  algs.delete("");
  return [...algs];
}

/** The group's verification key as a key set member; RFC 7520's P-521 key says "ES521" for the JWA name ES512. */
function verificationKey(group: Group): JWK {
  const key = { ...(group.public ?? group.private!) };
  if (key.alg === "ES521") key.alg = "ES512";
  return key;
}

function base64urlBytes(text: string): Uint8Array<ArrayBuffer> {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0));
}

async function verifies(jws: string, key: JWK, algorithms: string[], strict = true): Promise<boolean> {
  if (strict && !isStrictCompactJws(jws)) return false;
  try {
    if (key.kty === "oct") await compactVerify(jws, base64urlBytes(key.k!), { algorithms });
    else await compactVerify(jws, createLocalJWKSet({ keys: [key] }), { algorithms });
    return true;
  } catch {
    return false;
  }
}

const groups = (vectors as { testGroups: Group[] }).testGroups;

describe("Wycheproof JWS", () => {
  it("covers the whole file (401 cases in 23 groups); the contradictory pair is exactly as described", () => {
    expect(groups.length).toBe(23);
    expect(groups.reduce((n, g) => n + g.tests.length, 0)).toBe(401);
    const all = groups.flatMap((g) => g.tests);
    const twin = all.find((t) => t.tcId === 357)!;
    for (const id of Object.keys(CONTRADICTORY_INVALID)) expect(all.find((t) => t.tcId === Number(id))!.jws).toBe(twin.jws);
  });

  for (const [i, group] of groups.entries()) {
    it(`group ${i} (${group.comment}): no invalid case verifies; valid ones do`, async () => {
      const key = verificationKey(group);
      const algorithms = allowlist(group, key);
      const wronglyAccepted: number[] = [];
      const wronglyRefused: number[] = [];
      const validJws = new Set(group.tests.filter((t) => t.result === "valid").map((t) => t.jws));
      for (const t of group.tests) {
        const ok = await verifies(t.jws, key, algorithms);
        if (t.result === "invalid" && validJws.has(t.jws)) {
          // No verifier can refuse this and accept its identical valid twin; asserted to be exactly the known pair.
          expect(CONTRADICTORY_INVALID).toHaveProperty(String(t.tcId));
          console.log(`wycheproof tcId ${t.tcId} skipped: ${CONTRADICTORY_INVALID[t.tcId]}`);
          continue;
        }
        if (t.result === "invalid" && ok) wronglyAccepted.push(t.tcId);
        if (t.result === "valid" && !ok) wronglyRefused.push(t.tcId);
      }
      expect(wronglyAccepted, `invalid cases accepted with allowlist ${algorithms.join(",")}`).toEqual([]);
      const expectedRefusals = group.tests.filter((t) => t.result === "valid" && t.tcId in REFUSED_VALID).map((t) => t.tcId);
      for (const id of expectedRefusals) console.log(`wycheproof tcId ${id} not verified: ${REFUSED_VALID[id]}`);
      expect(wronglyRefused).toEqual(expectedRefusals);
    });
  }

  it("jose alone (without the strict check) accepts malformed base64 that Wycheproof marks invalid — why the check exists", async () => {
    const group = groups.find((g) => g.comment === "base64")!;
    const key = verificationKey(group);
    const lenient: number[] = [];
    for (const t of group.tests) {
      if (t.result === "invalid" && !(t.tcId in CONTRADICTORY_INVALID) && (await verifies(t.jws, key, ["HS256"], false))) lenient.push(t.tcId);
    }
    console.log(`wycheproof: jose's decoder alone accepts invalid tcIds ${lenient.join(", ")}; the edge's strict check refuses them`);
    expect(lenient.length).toBeGreaterThan(0);
  });

  it("an empty allowlist or `none` never verifies anything, even the valid cases", async () => {
    for (const group of groups) {
      const key = verificationKey(group);
      for (const t of group.tests.filter((c) => c.result === "valid")) {
        expect(await verifies(t.jws, key, ["none"])).toBe(false);
      }
    }
  });
});
