/** The Worker entry answers inside real workerd. */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

describe("edge entry", () => {
  it("answers GET /healthz with the configured node id", async () => {
    const res = await exports.default.fetch("http://edge.test/healthz");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, nodeId: "node-1" });
  });

  it("answers 404 for an unknown route", async () => {
    const res = await exports.default.fetch("http://edge.test/nope");
    expect(res.status).toBe(404);
  });
});
