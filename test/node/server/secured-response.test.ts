/**
 * The daemon's response class (node/server/secured-response.ts) on a real loopback server: every way Node lets a
 * handler write its head — an object, the flat array form, a reason phrase, setHeader then an implicit head —
 * carries nosniff and no-referrer, JSON gains its charset (other types are kept), and no-store is added under the
 * admin prefix and on /metrics only.
 */
import { type IncomingHttpHeaders, type Server, createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_PREFIX } from "../../../shared/constants.ts";
import { SecuredResponse } from "../../../node/server/secured-response.ts";

let server: Server;
let port: number;

beforeAll(async () => {
  server = createServer({ ServerResponse: SecuredResponse }, (req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    if (path.endsWith("/object")) return res.writeHead(200, { "Content-Type": "application/json" }).end("{}");
    if (path.endsWith("/array")) return res.writeHead(201, ["content-type", "application/json", "x-extra", "1"]).end("{}");
    if (path.endsWith("/reason")) return res.writeHead(202, "Taken", { "content-type": "text/plain; charset=utf-8" }).end("ok");
    if (path.endsWith("/implicit")) {
      res.setHeader("content-type", "application/json");
      res.statusCode = 404;
      return res.end("{}");
    }
    if (path.endsWith("/capitals")) return res.writeHead(200, { "Content-Type": "application/json", "Referrer-Policy": "no-referrer", "X-Extra": "2" }).end("{}");
    if (path.endsWith("/charset")) return res.writeHead(200, { "content-type": "application/json; charset=latin1" }).end("{}");
    res.writeHead(204).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

function get(path: string): Promise<{ status: number; message: string; headers: IncomingHttpHeaders; raw: string[] }> {
  return new Promise((resolve, reject) => {
    httpRequest({ host: "127.0.0.1", port, path, agent: false }, (res) => {
      res.resume().on("end", () => resolve({ status: res.statusCode!, message: res.statusMessage!, headers: res.headers, raw: res.rawHeaders }));
    })
      .on("error", reject)
      .end();
  });
}

describe("SecuredResponse", () => {
  it("adds the security headers and JSON's charset however the head is written", async () => {
    const cases: [string, number, string | undefined][] = [
      ["/object", 200, "application/json; charset=utf-8"],
      ["/array", 201, "application/json; charset=utf-8"],
      ["/reason", 202, "text/plain; charset=utf-8"],
      ["/implicit", 404, "application/json; charset=utf-8"],
      ["/charset", 200, "application/json; charset=latin1"],
      ["/none", 204, undefined],
    ];
    for (const [path, status, type] of cases) {
      const answer = await get(path);
      expect({ path, status: answer.status, type: answer.headers["content-type"], nosniff: answer.headers["x-content-type-options"], referrer: answer.headers["referrer-policy"], cache: answer.headers["cache-control"] }).toEqual({
        path,
        status,
        type,
        nosniff: "nosniff",
        referrer: "no-referrer",
        cache: undefined,
      });
    }
    expect((await get("/reason")).message).toBe("Taken");
    expect((await get("/array")).headers["x-extra"]).toBe("1");
  });

  it("never sends a header twice when the handler names one of them in other letter case", async () => {
    const answer = await get(`${ADMIN_PREFIX}/capitals`);
    const names = answer.raw.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    expect(names.filter((n) => n === "content-type" || n === "referrer-policy" || n === "x-content-type-options" || n === "cache-control")).toEqual(
      expect.arrayContaining(["content-type", "referrer-policy", "x-content-type-options", "cache-control"]),
    );
    expect(new Set(names).size).toBe(names.length);
    expect(answer.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(answer.headers["cache-control"]).toBe("no-store");
    expect(answer.headers["x-extra"]).toBe("2");
  });

  it("says no-store under the admin prefix and on /metrics, whatever the query", async () => {
    expect((await get(`${ADMIN_PREFIX}/object?x=1`)).headers["cache-control"]).toBe("no-store");
    expect((await get("/metrics")).headers["cache-control"]).toBe("no-store");
    expect((await get("/metricsx/object")).headers["cache-control"]).toBeUndefined();
    // The app's router decodes the path: a percent-encoded or absolute-form admin target is an admin answer.
    expect((await get(`${ADMIN_PREFIX.replace("admin", "%61dmin")}/object`)).headers["cache-control"]).toBe("no-store");
    expect((await get(`http://127.0.0.1:${port}${ADMIN_PREFIX}/object`)).headers["cache-control"]).toBe("no-store");
  });
});
