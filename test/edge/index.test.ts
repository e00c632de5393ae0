/** The deployed entry (wrangler.toml's example config, the test signing key) answers inside real workerd. */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

describe("edge entry", () => {
  it("answers GET /healthz with the number of configured nodes", async () => {
    const res = await exports.default.fetch("http://edge.test/healthz");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, nodes: 1 });
  });

  it("answers 404 for an unknown route, and for a hook route the config does not list", async () => {
    expect((await exports.default.fetch("http://edge.test/nope")).status).toBe(404);
    const res = await exports.default.fetch("http://edge.test/hooks/wake", { method: "POST", body: "{}" });
    expect([res.status, res.headers.get("content-type"), await res.text()]).toEqual([404, "text/plain; charset=utf-8", "Not Found"]);
  });
});
