/**
 * The node's security boundaries on a real agent process (docs/security.md): requests exactly as a browser sends
 * them (Origin, Sec-Fetch-*, a rebinding Host), raw dot-segment paths, the failure windows (token, envelope,
 * admin) that never lock out a correct credential, session keys kept inside their agent, the tunnel guard,
 * /readyz without the admin token, and the headers on every answer.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { type IncomingHttpHeaders, request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_PREFIX } from "../../../shared/constants.ts";
import { ENVELOPE_HEADER, createEnvelopeSigner } from "../../../shared/envelope.ts";
import { fileRef, writeNodeConfig } from "../../helpers/node-config.ts";
import { type NodeProcess, startNodeProcess } from "../../helpers/node-process.ts";

const HOOK_TOKEN = "hook-token-security-0123456789abcdef";
const NODE_ID = "node-sec";
const HOST_TEXT = "Host is not this node: send Host 127.0.0.1:<port>, localhost:<port>, [::1]:<port> or a name in clawgate.node.publicHostnames";
const ORIGIN_TEXT = "cross-origin request refused: Origin is not this node";
const FETCH_SITE_TEXT = "cross-site request refused: Sec-Fetch-Site is cross-site or same-site";
const PATH_TEXT = "request path may not contain '.' or '..' segments (also percent-encoded), '//' or '\\'";
const TUNNEL_TEXT =
  "hook token refused through the tunnel: with clawgate.edge.publicKeys set, outside callers go through the edge (or set clawgate.edge.allowTunnelledHookToken)";
const CHROME_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

let dir: string;
let node: NodeProcess;
let port: number;
let adminToken: string;
let sign: (path: string, body: string, deliveryId?: string) => Promise<string>;
/** Each test speaks from its own loopback source address, so the limiters' per-client counts stay apart. */
let nextSource = 10;
const source = () => `127.0.0.${nextSource++}`;

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** One HTTP/1.1 request with exactly these headers (Host included) and this raw request target. */
function send(target: string, init: { method?: string; headers?: Record<string, string>; body?: string; from?: string; host?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: "127.0.0.1",
        port,
        method: init.method ?? "GET",
        path: target,
        setHost: false,
        headers: { host: init.host ?? `127.0.0.1:${port}`, ...init.headers, ...(init.body !== undefined ? { "content-length": String(Buffer.byteLength(init.body)) } : {}) },
        ...(init.from ? { localAddress: init.from } : {}),
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (d: string) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, text }));
      },
    );
    req.on("error", reject);
    req.end(init.body);
  });
}

const json = (a: Answer) => JSON.parse(a.text) as Record<string, unknown>;
const wakeBody = (text: string) => JSON.stringify({ text });
const tokenWake = (from: string, token = HOOK_TOKEN, extra: Record<string, string> = {}) =>
  send("/hooks/wake", { method: "POST", from, headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...extra }, body: wakeBody("token wake") });
async function envelopeWake(from: string, deliveryId: string, tamper = false) {
  const body = wakeBody(`edge wake ${deliveryId}`);
  const envelope = await sign("/hooks/wake", tamper ? body + " " : body, deliveryId);
  return send("/hooks/wake", { method: "POST", from, headers: { [ENVELOPE_HEADER]: envelope, "content-type": "application/json" }, body });
}
const admin = (path: string, from: string, token = adminToken, extra: Record<string, string> = {}) =>
  send(`${ADMIN_PREFIX}${path}`, { from, headers: { authorization: `Bearer ${token}`, ...extra } });

/** What Chromium sends for `fetch(url, {method: "POST", mode: "no-cors", body})` from a page at `origin`. */
const noCorsPost = (origin: string, site: string) => ({
  origin,
  "sec-fetch-site": site,
  "sec-fetch-mode": "no-cors",
  "sec-fetch-dest": "empty",
  "content-type": "text/plain;charset=UTF-8",
  "user-agent": CHROME_UA,
  accept: "*/*",
});
/** What Chromium sends for `<img src=url>` on a page of another site (no Origin on a GET). */
const imgGet = (site: string) => ({
  "sec-fetch-site": site,
  "sec-fetch-mode": "no-cors",
  "sec-fetch-dest": "image",
  "user-agent": CHROME_UA,
  accept: "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "clawgate-sec-"));
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const kid = "edge-sec";
  await writeNodeConfig(dir, { hooks: HOOK_TOKEN }, {
    hooks: {
      enabled: true,
      token: fileRef("hooks"),
      allowRequestSessionKey: true,
      allowedAgentIds: ["main", "public"],
      mappings: [{ id: "scoped", match: { path: "scoped" }, action: "agent", agentId: "public", sessionKey: "agent:{{payload.who}}:inbox", messageTemplate: "hi" }],
    },
    // Two real agents (their model server listens nowhere: runs fail and are retried, which this file never waits for).
    models: { providers: { local: { baseUrl: "http://127.0.0.1:9/v1" } } },
    agents: {
      defaults: { model: "local/m", heartbeat: { every: "0m" }, models: { "local/m": { memoryGb: 1 } } },
      list: [{ id: "main", default: true }, { id: "public" }],
    },
    clawgate: {
      node: { id: NODE_ID, publicHostnames: ["node.example.com"] },
      edge: { publicKeys: [{ ...publicKey.export({ format: "jwk" }), kid, alg: "EdDSA" }] },
      dispatch: { memoryBudgetGb: 2, headroomGb: 0 },
    },
  });
  node = await startNodeProcess(["--config", join(dir, "openclaw.json"), "--port", "0", "--state-dir", join(dir, "state")], { env: { CLAWGATE_ALLOW_ROOT: "1" } });
  port = Number(new URL(node.url).port);
  adminToken = (await readFile(join(dir, "state", "admin.token"), "utf8")).trim();
  const signer = await createEnvelopeSigner({ privateJwk: { ...(privateKey.export({ format: "jwk" }) as JWK), kid, alg: "EdDSA" }, nodeId: NODE_ID });
  sign = (path, body, deliveryId) => signer.sign({ method: "POST", path, body: new TextEncoder().encode(body), principal: "token:edge-test", ...(deliveryId ? { deliveryId } : {}) });
}, 60_000);

afterAll(async () => {
  await node?.stop("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

describe("browser boundary", () => {
  it("refuses a DNS-rebinding Host (421) on hooks, admin and metrics, even with a valid credential", async () => {
    const from = source();
    const rebound = `evil.example:${port}`;
    // A page at http://evil.example:<port>, its name now resolving to 127.0.0.1: a same-origin request to itself.
    const browser = { origin: `http://${rebound}`, "sec-fetch-site": "same-origin", "user-agent": CHROME_UA };
    for (const answer of [
      await send("/hooks/wake", { method: "POST", from, host: rebound, headers: { ...browser, authorization: `Bearer ${HOOK_TOKEN}`, "content-type": "application/json" }, body: wakeBody("x") }),
      await send(`${ADMIN_PREFIX}/intake`, { from, host: rebound, headers: { authorization: `Bearer ${adminToken}` } }),
      await send("/metrics", { from, host: rebound, headers: { authorization: `Bearer ${adminToken}` } }),
      await send("/healthz", { from, host: "127.0.0.1" }),
      await send("/healthz", { from, host: `evil.example:99999` }),
      await send("/healthz", { from, host: "" }),
    ]) {
      expect(answer.status).toBe(421);
      expect(json(answer)).toEqual({ ok: false, error: HOST_TEXT });
    }
    // The loopback names with this port, and a configured public hostname, are this node.
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, "node.example.com"]) {
      expect((await send("/healthz", { from, host })).status).toBe(200);
    }
  });

  it("refuses a foreign Origin and Sec-Fetch-Site cross-site/same-site (403) on hooks, admin and metrics; same-origin passes", async () => {
    const from = source();
    const cases: [string, Record<string, string>, string][] = [
      ["/hooks/wake", noCorsPost("https://evil.example", "cross-site"), ORIGIN_TEXT],
      ["/hooks/wake", noCorsPost(`http://localhost:${port + 1}`, "cross-site"), ORIGIN_TEXT],
      // A sandboxed iframe or a file:// page sends the opaque origin "null".
      ["/hooks/wake", { origin: "null", "sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors" }, ORIGIN_TEXT],
      ["/hooks/wake", { "sec-fetch-site": "same-site", "sec-fetch-mode": "no-cors" }, FETCH_SITE_TEXT],
      [`${ADMIN_PREFIX}/intake`, imgGet("cross-site"), FETCH_SITE_TEXT],
      ["/metrics", imgGet("same-site"), FETCH_SITE_TEXT],
    ];
    for (const [path, headers, text] of cases) {
      const hook = path.startsWith("/hooks");
      const authorization = `Bearer ${hook ? HOOK_TOKEN : adminToken}`;
      const answer = await send(path, hook ? { method: "POST", from, headers: { ...headers, authorization }, body: wakeBody("x") } : { from, headers: { ...headers, authorization } });
      expect(answer.status).toBe(403);
      expect(json(answer)).toEqual({ ok: false, error: text });
    }
    // A console page served by the node itself: same-origin requests carry the node's own Origin.
    const own = { origin: `http://127.0.0.1:${port}`, "sec-fetch-site": "same-origin", "sec-fetch-mode": "cors" };
    expect((await admin("/intake", from, adminToken, own)).status).toBe(200);
    expect((await tokenWake(from, HOOK_TOKEN, own)).status).toBe(200);
    // A same-origin form post under Referrer-Policy no-referrer: Origin null, Sec-Fetch-Site same-origin.
    expect((await admin("/intake", from, adminToken, { origin: "null", "sec-fetch-site": "same-origin", "sec-fetch-mode": "navigate" })).status).toBe(200);
  });

  it("browser requests count in no limiter: 40 cross-site attempts, then the edge's envelope and the hook token still answer 200", async () => {
    const from = source();
    for (let i = 0; i < 20; i++) {
      expect((await send("/hooks/wake", { method: "POST", from, headers: noCorsPost("https://evil.example", "cross-site"), body: "x" })).status).toBe(403);
      expect((await send("/hooks/wake", { from, headers: imgGet("cross-site") })).status).toBe(403);
    }
    expect((await envelopeWake(from, "sec-browser-1")).status).toBe(200);
    expect((await tokenWake(from)).status).toBe(200);
    expect((await admin("/intake", from)).status).toBe(200);
  });
});

describe("raw paths", () => {
  it("refuses dot segments (also %2e), // and \\ with 400 before routing, even with the admin token", async () => {
    const from = source();
    for (const target of [
      "/hooks/../_clawgate/admin/intake",
      "/hooks/%2e%2e/_clawgate/admin/intake",
      "/hooks/%2E./_clawgate/admin/intake",
      "/hooks/./wake",
      "//hooks/wake",
      "/hooks//wake",
      "/hooks\\..\\_clawgate/admin/intake",
    ]) {
      const answer = await send(target, { from, headers: { authorization: `Bearer ${adminToken}` } });
      expect(answer.status, target).toBe(400);
      expect(json(answer)).toEqual({ ok: false, error: PATH_TEXT });
    }
  });
});

describe("no lockout of legitimate traffic", () => {
  it("after 25 wrong hook tokens from one client: wrong ones get 429 + Retry-After, the edge's envelope and the right token 200, and the right token clears the count", async () => {
    const from = source();
    for (let i = 0; i < 20; i++) expect((await tokenWake(from, "wrong-token")).status).toBe(401);
    for (let i = 0; i < 5; i++) {
      const limited = await tokenWake(from, "wrong-token");
      expect(limited.status).toBe(429);
      expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
    }
    expect((await envelopeWake(from, "sec-lockout-1")).status).toBe(200);
    expect((await tokenWake(from)).status).toBe(200);
    // Cleared: the next wrong token is an ordinary 401 again.
    expect((await tokenWake(from, "wrong-token")).status).toBe(401);
  });

  it("envelope failures are counted apart from token failures, and a verified envelope is never throttled", async () => {
    const from = source();
    for (let i = 0; i < 20; i++) expect((await envelopeWake(from, `sec-bad-${i}`, true)).status).toBe(401);
    expect((await envelopeWake(from, "sec-bad-x", true)).status).toBe(429);
    // The token window of this client is untouched, and a good envelope still passes.
    expect((await tokenWake(from, "wrong-token")).status).toBe(401);
    expect((await tokenWake(from)).status).toBe(200);
    expect((await envelopeWake(from, "sec-good-1")).status).toBe(200);
  });

  it("the admin API has its own limiter: 20 failures / 60 s, then 429 + Retry-After; the admin token still works and clears the count", async () => {
    const from = source();
    for (let i = 0; i < 20; i++) expect((await admin("/intake", from, "wrong-admin-token")).status).toBe(401);
    const limited = await admin("/intake", from, "wrong-admin-token");
    expect(limited.status).toBe(429);
    expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
    expect(json(limited)).toEqual({ ok: false, error: "too many failed attempts" });
    expect((await send("/metrics", { from, headers: { authorization: "Bearer wrong-admin-token" } })).status).toBe(429);
    expect((await admin("/intake", from)).status).toBe(200);
    // The right token cleared this client's count: a wrong one is an ordinary 401 again.
    expect((await admin("/intake", from, "wrong-admin-token")).status).toBe(401);
  });
});

describe("session keys stay inside their agent", () => {
  const agentCall = (from: string, payload: Record<string, unknown>, path = "/hooks/agent") =>
    send(path, { method: "POST", from, headers: { authorization: `Bearer ${HOOK_TOKEN}`, "content-type": "application/json" }, body: JSON.stringify(payload) });

  it("refuses agent:<other>:… from the caller or a mapping template (400 naming the rule); the target's own key passes", async () => {
    const from = source();
    const other = await agentCall(from, { message: "m", agentId: "public", sessionKey: "agent:private:main" });
    expect(other.status).toBe(400);
    expect(json(other)).toEqual({ ok: false, error: 'sessionKey must stay inside its agent: it names agent "private", but the call runs as agent "public"' });
    // Without agentId the call runs as the default agent ("main").
    const implicit = await agentCall(from, { message: "m", sessionKey: "agent:public:main" });
    expect(implicit.status).toBe(400);
    expect(json(implicit)).toEqual({ ok: false, error: 'sessionKey must stay inside its agent: it names agent "public", but the call runs as agent "main"' });
    const templated = await agentCall(from, { who: "main" }, "/hooks/scoped");
    expect(templated.status).toBe(400);
    expect(json(templated)).toEqual({ ok: false, error: 'sessionKey must stay inside its agent: it names agent "main", but the call runs as agent "public"' });
    expect((await agentCall(from, { message: "m", agentId: "public", sessionKey: "agent:public:main" })).status).toBe(202);
    expect((await agentCall(from, { who: "public" }, "/hooks/scoped")).status).toBe(202);
    expect((await agentCall(from, { message: "m", agentId: "public", sessionKey: "hook:x" })).status).toBe(202);
  });
});

describe("the edge is the only way in from outside", () => {
  it("with edge keys set, a hook-token call carrying Cloudflare's tunnel headers is refused 403; the same call from the host passes", async () => {
    const from = source();
    const tunnelled: Record<string, string>[] = [{ "cf-connecting-ip": "203.0.113.9", "cf-ray": "8f1e2d3c4b5a6978-AMS" }, { "cf-warp-tag-id": "b2a1" }, { "cdn-loop": "cloudflare" }];
    for (const headers of tunnelled) {
      const answer = await tokenWake(from, HOOK_TOKEN, headers);
      expect(answer.status).toBe(403);
      expect(json(answer)).toEqual({ ok: false, error: TUNNEL_TEXT });
    }
    expect((await tokenWake(from)).status).toBe(200);
    // Not counted as failures: the right token from the host is not throttled afterwards either.
    for (let i = 0; i < 25; i++) await tokenWake(from, HOOK_TOKEN, { "cf-ray": "x" });
    expect((await tokenWake(from, "wrong-token")).status).toBe(401);
  });

  it("/readyz without the admin token says only ready or not; the problems need the token", async () => {
    const from = source();
    // Secrets degrade: the file provider's file turns unreadable JSON and a reload fails (last-known-good kept).
    const secretsPath = join(dir, "secrets.json");
    const good = await readFile(secretsPath, "utf8");
    await writeFile(secretsPath, "{ not json", { mode: 0o600 });
    try {
      expect((await send(`${ADMIN_PREFIX}/secrets/reload`, { method: "POST", from, headers: { authorization: `Bearer ${adminToken}` } })).status).toBe(200);
      const open = await send("/readyz", { from });
      const detailed = await send("/readyz", { from, headers: { authorization: `Bearer ${adminToken}` } });
      expect(detailed.status).toBe(503);
      expect(json(detailed)).toEqual({ ok: false, problems: ["secrets degraded"] });
      expect(open.status).toBe(503);
      expect(json(open)).toEqual({ ok: false });
    } finally {
      await writeFile(secretsPath, good, { mode: 0o600 });
      await send(`${ADMIN_PREFIX}/secrets/reload`, { method: "POST", from, headers: { authorization: `Bearer ${adminToken}` } });
    }
    expect(json(await send("/readyz", { from }))).toEqual({ ok: true });
  });
});

describe("headers on every answer", () => {
  it("nosniff, no-referrer and charset=utf-8 on hooks, health and refusals; no-store on admin and metrics", async () => {
    const from = source();
    const answers = {
      hook: await tokenWake(from),
      refused: await tokenWake(from, "wrong-token"),
      health: await send("/healthz", { from }),
      rebound: await send("/healthz", { from, host: "evil.example" }),
      admin: await admin("/intake", from),
      metrics: await send("/metrics", { from, headers: { authorization: `Bearer ${adminToken}` } }),
    };
    for (const [name, answer] of Object.entries(answers)) {
      expect(answer.headers["x-content-type-options"], name).toBe("nosniff");
      expect(answer.headers["referrer-policy"], name).toBe("no-referrer");
      expect(answer.headers["content-type"], name).toMatch(/; charset=utf-8$/i);
      if (String(answer.headers["content-type"]).startsWith("application/json")) expect(answer.headers["content-type"], name).toBe("application/json; charset=utf-8");
    }
    expect(answers.admin.headers["cache-control"]).toBe("no-store");
    expect(answers.metrics.headers["cache-control"]).toBe("no-store");
  });
});
