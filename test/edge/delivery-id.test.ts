/** Caller-scoped delivery ids in workerd: readable while they fit (length and header), else a digest, one-to-one per (principal, key). */
import { describe, expect, it } from "vitest";
import { HASHED_DELIVERY_ID_PREFIX, scopedDeliveryId } from "../../edge/delivery-id.ts";

describe("scopedDeliveryId", () => {
  it("is <principal>/<key> while that fits in 256 characters", async () => {
    expect(await scopedDeliveryId("token:ci", "build-77")).toBe("token:ci/build-77");
    const key = "k".repeat(256 - "token:ci/".length);
    expect(await scopedDeliveryId("token:ci", key)).toBe(`token:ci/${key}`);
  });

  it("escapes the principal so a '/' in a JWT sub or a CIDR cannot make two callers meet", async () => {
    expect(await scopedDeliveryId("ip:10.0.0.0/8", "x")).toBe("ip:10.0.0.0%2F8/x");
    const a = await scopedDeliveryId("jwt:a/b", "c");
    const b = await scopedDeliveryId("jwt:a", "b/c");
    expect([a, b]).toEqual(["jwt:a%2Fb/c", "jwt:a/b/c"]);
    // '%' itself is escaped, so an already-escaped-looking principal stays distinct.
    expect(await scopedDeliveryId("jwt:a%2Fb", "c")).toBe("jwt:a%252Fb/c");
    expect(await scopedDeliveryId("jwt:a\nb", "c")).toBe("jwt:a%0Ab/c");
  });

  it("is the sha256: form when the readable id would not survive as the clawgate-delivery-id header", async () => {
    for (const key of ["a\nb", "a\u0000b", " padded ", "tab\t", "ünï", "😀"]) {
      const id = await scopedDeliveryId("token:ci", key);
      expect([key, id]).toEqual([key, expect.stringMatching(new RegExp(`^${HASHED_DELIVERY_ID_PREFIX}[A-Za-z0-9_-]{43}$`))]);
      expect(await scopedDeliveryId("token:ci", key)).toBe(id);
      expect(await scopedDeliveryId("token:ops", key)).not.toBe(id);
    }
    // A non-ASCII principal (a JWT sub) too; inner spaces stay readable.
    expect(await scopedDeliveryId("jwt:renée", "k")).toMatch(/^sha256:/);
    expect(await scopedDeliveryId("token:ci", "nightly report 7")).toBe("token:ci/nightly report 7");
  });

  it("past 256 characters is sha256: + 43 base64url characters, stable for the same caller and key, distinct across callers", async () => {
    const key = "k".repeat(256);
    const ci = await scopedDeliveryId("token:ci", key);
    expect(ci).toMatch(new RegExp(`^${HASHED_DELIVERY_ID_PREFIX}[A-Za-z0-9_-]{43}$`));
    expect(await scopedDeliveryId("token:ci", key)).toBe(ci);
    expect(await scopedDeliveryId("token:ops", key)).not.toBe(ci);
    expect(await scopedDeliveryId("token:ci", `${key.slice(1)}j`)).not.toBe(ci);
    // The digest is of the escaped text: the '/'-ambiguous pair from above stays apart at this length too.
    const long = "z".repeat(300);
    expect(await scopedDeliveryId("jwt:a/b", long)).not.toBe(await scopedDeliveryId("jwt:a", `b/${long}`));
  });
});
