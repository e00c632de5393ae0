/**
 * End to end, the attacks of docs/security.md against the real edge Worker in workerd (Miniflare) and a real node
 * agent process: a hostile page in a real headless Chromium cannot lock the edge out of the node; signed webhooks
 * (signed with the senders' own libraries) replayed are the same delivery; principals name their issuer; the
 * edge keeps session keys inside their agent, refuses ambiguous raw paths, keys IPv6 clients by /64, escapes
 * alerts, and sets the security headers on every answer.
 */
import { createHash, createHmac, generateKeyPairSync } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sign as githubSign } from "@octokit/webhooks-methods";
import { SignJWT } from "jose";
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_PREFIX } from "../../shared/constants.ts";
import { fileRef, writeNodeConfig } from "../helpers/node-config.ts";
import { type NodeProcess, pollUntil, startNodeProcess } from "../helpers/node-process.ts";
import { type AlertSink, startAlertSink } from "./support/alert-sink.ts";
import { type EdgeInstance, startEdge } from "./support/edge-miniflare.ts";

const CALLER_TOKEN = "cg_security-caller-token-0123456789abcdef";
const OPERATOR_TOKEN = "operator-security-token-0123456789abcdef";
const HOOK_TOKEN = "hook-token-security-e2e-0123456789abcdef";
const GITHUB_SECRET = "github-webhook-secret-for-the-e2e";
const STRIPE_SECRET = "whsec_stripe_e2e_secret_0123456789";
const SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5";
const JWT_SECRET_A = "jwt-secret-of-issuer-a-0123456789abcdef";
const JWT_SECRET_B = "jwt-secret-of-issuer-b-0123456789abcdef";
const CHROMIUM = "/usr/bin/chromium";
const PATH_TEXT = "request path may not contain '.' or '..' segments (also percent-encoded), '//' or '\\'";

let dir: string;
let node: NodeProcess;
let nodePort: number;
let edge: EdgeInstance;
let alertSink: AlertSink;

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** The node's journal as its admin API reports it: every delivery id, pending or done. */
async function journalIds(): Promise<string[]> {
  const token = (await readFile(join(dir, "state", "admin.token"), "utf8")).trim();
  const ids: string[] = [];
  for (const state of ["pending", "done", "dead"]) {
    const res = await fetch(`http://127.0.0.1:${nodePort}${ADMIN_PREFIX}/intake?state=${state}&limit=1000`, { headers: { authorization: `Bearer ${token}` } });
    const body = (await res.json()) as Record<string, { deliveryId: string }[]>;
    ids.push(...body[state]!.map((d) => d.deliveryId));
  }
  return ids;
}

const post = (path: string, body: string, headers: Record<string, string>, ip = "203.0.113.7") =>
  edge.fetch(path, { method: "POST", headers: { "content-type": "application/json", "cf-connecting-ip": ip, ...headers }, body });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "clawgate-sec-e2e-"));
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const kid = "edge-sec-e2e";
  const mapping = (path: string) => ({ id: path, match: { path }, action: "wake", textTemplate: `${path} event` });
  await writeNodeConfig(dir, { hooks: HOOK_TOKEN }, {
    hooks: { enabled: true, token: fileRef("hooks"), allowRequestSessionKey: true, mappings: ["github", "stripe", "slack"].map(mapping) },
    clawgate: { node: { id: "node-1" }, edge: { publicKeys: [{ ...publicKey.export({ format: "jwk" }), kid, alg: "EdDSA" }] } },
  });
  node = await startNodeProcess(["--config", join(dir, "openclaw.json"), "--port", "0", "--state-dir", join(dir, "state")], { env: { CLAWGATE_ALLOW_ROOT: "1" } });
  nodePort = Number(new URL(node.url).port);

  alertSink = await startAlertSink();

  const bearer = { type: "bearer", tokens: [{ name: "sec", sha256: sha256(CALLER_TOKEN) }] };
  const config = {
    // node-down listens nowhere (port 9 is discard, closed here): what reaches it is queued and gives up.
    nodes: [
      { id: "node-1", origin: `http://127.0.0.1:${nodePort}`, agents: ["main", "public"], primary: true },
      { id: "node-down", origin: "http://127.0.0.1:9", agents: ["ghost"] },
    ],
    routes: {
      wake: {
        auth: [
          bearer,
          { type: "jwt", secretBinding: "JWT_A", issuer: "https://idp-a.example/", audience: "edge", algorithms: ["HS256"] },
          { type: "jwt", secretBinding: "JWT_B", issuer: "https://idp-b.example/", audience: "edge", algorithms: ["HS256"] },
        ],
      },
      agent: { auth: [bearer] },
      github: { auth: [{ type: "hmac", scheme: "github", name: "repo", secretBinding: "GITHUB_SECRET" }] },
      stripe: { auth: [{ type: "hmac", scheme: "stripe", name: "billing", secretBinding: "STRIPE_SECRET" }] },
      slack: { auth: [{ type: "hmac", scheme: "slack", name: "team", secretBinding: "SLACK_SECRET" }] },
    },
    hooks: { allowRequestSessionKey: true },
    forward: { timeoutMs: 2_000 },
    outbox: { retryScheduleSeconds: [1] },
  };
  edge = await startEdge({
    CLAWGATE_EDGE_CONFIG: JSON.stringify(config),
    CLAWGATE_EDGE_SIGNING_KEY: JSON.stringify({ ...privateKey.export({ format: "jwk" }), kid, alg: "EdDSA" }),
    CLAWGATE_OPERATOR_TOKEN_SHA256: sha256(OPERATOR_TOKEN),
    CLAWGATE_ALERT_WEBHOOK_URL: alertSink.url,
    GITHUB_SECRET,
    STRIPE_SECRET,
    SLACK_SECRET,
    JWT_A: JWT_SECRET_A,
    JWT_B: JWT_SECRET_B,
  });
}, 60_000);

afterAll(async () => {
  await edge?.dispose();
  await node?.stop("SIGKILL");
  await alertSink?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("a hostile page in the host's browser", () => {
  it("a real Chromium page firing no-cors POSTs and <img> loads at the node cannot lock out the edge: its next envelope is answered 200", async (ctx) => {
    if (!existsSync(CHROMIUM)) {
      console.log(`skipped: ${CHROMIUM} is not installed (CI installs Debian's chromium)`);
      ctx.skip();
    }
    const { chromium } = await import("playwright-core");
    const target = `http://127.0.0.1:${nodePort}/hooks/wake`;
    // The attacker's page, served from another local origin, as any site the operator visits could be.
    const page = `<!doctype html><title>loading</title><script>
      const target = ${JSON.stringify(target)};
      const shots = [];
      for (let i = 0; i < 30; i++) {
        shots.push(fetch(target, { method: "POST", mode: "no-cors", body: JSON.stringify({ text: "from a web page" }) }).catch(() => {}));
        shots.push(new Promise((done) => { const img = new Image(); img.onload = img.onerror = done; img.src = target + "?n=" + i; }));
      }
      Promise.all(shots).then(() => { document.title = "done"; });
    </script>`;
    const pageServer = createServer((_req, res) => res.writeHead(200, { "content-type": "text/html" }).end(page));
    await new Promise<void>((resolve) => pageServer.listen(0, "127.0.0.1", resolve));
    const pagePort = (pageServer.address() as { port: number }).port;
    const before = await journalIds();
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    try {
      const tab = await browser.newPage();
      await tab.goto(`http://localhost:${pagePort}/`);
      await tab.waitForFunction('document.title === "done"', undefined, { timeout: 15_000 });
    } finally {
      await browser.close();
      await new Promise((resolve) => pageServer.close(resolve));
    }
    // The 60 requests did reach the node (its request counter saw them on the hooks route) …
    const token = (await readFile(join(dir, "state", "admin.token"), "utf8")).trim();
    const metrics = await (await fetch(`http://127.0.0.1:${nodePort}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
    const hookRequests = [...metrics.matchAll(/^clawgate_http_requests_total\{route="hooks",status="(\d+)"\} (\d+)$/gm)].reduce((n, m) => n + Number(m[2]), 0);
    expect(hookRequests).toBeGreaterThanOrEqual(60);
    // … ran nothing, and the edge's next envelope is answered at once.
    expect(await journalIds()).toEqual(before);
    const res = await post("/hooks/wake", JSON.stringify({ text: "after the page" }), { authorization: `Bearer ${CALLER_TOKEN}`, "idempotency-key": "after-browser-1" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, mode: "now" });
  }, 60_000);
});

describe("replayed signed webhooks are the same delivery", () => {
  /** Sends the same signed request twice, the copy with fresh unsigned ids; returns both delivery ids. */
  async function twice(path: string, body: string, headers: Record<string, string>, unsigned: Record<string, string>) {
    const first = await post(path, body, { ...headers, "idempotency-key": "first-key" });
    expect(first.status).toBe(200);
    const again = await post(path, body, { ...headers, ...unsigned, "idempotency-key": "replayed-with-a-new-key" });
    expect(again.status).toBe(200);
    return [first.headers.get("clawgate-delivery-id"), again.headers.get("clawgate-delivery-id")];
  }

  it("GitHub (@octokit/webhooks-methods): a copy with a new X-GitHub-Delivery and Idempotency-Key runs once", async () => {
    const body = JSON.stringify({ action: "opened", number: 7, repository: { full_name: "acme/app" } });
    const signature = await githubSign(GITHUB_SECRET, body);
    const before = (await journalIds()).length;
    const [a, b] = await twice("/hooks/github", body, { "x-hub-signature-256": signature, "x-github-delivery": "d-1" }, { "x-github-delivery": "d-2" });
    expect(a).toBe(b);
    expect(a).toMatch(/^hmac:github:repo\/signed:[A-Za-z0-9_-]{43}$/);
    expect((await journalIds()).length).toBe(before + 1);
  });

  it("Stripe (stripe.webhooks.generateTestHeaderString): the same event again runs once", async () => {
    const stripe = new Stripe("sk_test_security_e2e");
    const body = JSON.stringify({ id: "evt_sec_1", object: "event", type: "invoice.paid" });
    const header = stripe.webhooks.generateTestHeaderString({ payload: body, secret: STRIPE_SECRET, timestamp: Math.floor(Date.now() / 1000) });
    const before = (await journalIds()).length;
    const [a, b] = await twice("/hooks/stripe", body, { "stripe-signature": header }, {});
    expect(a).toBe(b);
    expect(a).toBe("hmac:stripe:billing/event:evt_sec_1");
    expect((await journalIds()).length).toBe(before + 1);
  });

  it("Slack (the documented v0 algorithm): the same request again runs once", async () => {
    const ts = String(Math.floor(Date.now() / 1000));
    const body = JSON.stringify({ type: "event_callback", event_id: "Ev0SEC1", event: { type: "app_mention", text: "hi" } });
    const signature = `v0=${createHmac("sha256", SLACK_SECRET).update(`v0:${ts}:${body}`).digest("hex")}`;
    const before = (await journalIds()).length;
    const [a, b] = await twice("/hooks/slack", body, { "x-slack-signature": signature, "x-slack-request-timestamp": ts }, {});
    expect(a).toBe(b);
    expect(a).toBe("hmac:slack:team/event:Ev0SEC1");
    expect((await journalIds()).length).toBe(before + 1);
  });
});

describe("principals name their issuer", () => {
  it("two JWT issuers with the same sub and the same Idempotency-Key are two callers, two deliveries", async () => {
    const jwt = (issuer: string, secret: string) =>
      new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setIssuer(issuer).setAudience("edge").setSubject("42").setIssuedAt().setExpirationTime("5m").sign(new TextEncoder().encode(secret));
    const call = async (issuer: string, secret: string, text: string) =>
      post("/hooks/wake", JSON.stringify({ text }), { authorization: `Bearer ${await jwt(issuer, secret)}`, "idempotency-key": "same-key" });
    const a = await call("https://idp-a.example/", JWT_SECRET_A, "from issuer a");
    const b = await call("https://idp-b.example/", JWT_SECRET_B, "from issuer b");
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.headers.get("clawgate-delivery-id")).toBe("jwt:https:%2F%2Fidp-a.example%2F#42/same-key");
    expect(b.headers.get("clawgate-delivery-id")).toBe("jwt:https:%2F%2Fidp-b.example%2F#42/same-key");
    const ids = await journalIds();
    expect(ids).toContain("jwt:https:%2F%2Fidp-a.example%2F#42/same-key");
    expect(ids).toContain("jwt:https:%2F%2Fidp-b.example%2F#42/same-key");
  });
});

describe("the edge's own checks", () => {
  it("refuses a session key of another agent (400 naming the rule) without forwarding it", async () => {
    const before = (await journalIds()).length;
    const res = await post("/hooks/agent", JSON.stringify({ message: "m", agentId: "public", sessionKey: "agent:main:main" }), { authorization: `Bearer ${CALLER_TOKEN}` });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ ok: false, error: 'sessionKey must stay inside its agent: it names agent "main", but the call runs as agent "public"' });
    expect(res.headers.get("clawgate-delivery-id")).toBeNull();
    expect((await journalIds()).length).toBe(before);
  });

  // workerd (like Cloudflare in front of it) resolves dot segments and turns `\` into `/` before the Worker runs, so
  // the one parser the edge routes by is the one it checks; what it can still see, `//`, is refused.
  it("refuses an empty path segment (//) with 400 before routing", async () => {
    const base = new URL(String(await edge.mf.ready));
    for (const target of ["//hooks/wake", "/hooks//wake", "/hooks\\\\wake", "/_clawgate//outbox"]) {
      const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = httpRequest({ host: base.hostname, port: base.port, method: "POST", path: target, headers: { authorization: `Bearer ${CALLER_TOKEN}`, "content-type": "application/json" } }, (res) => {
          let text = "";
          res.setEncoding("utf8").on("data", (d: string) => (text += d));
          res.on("end", () => resolve({ status: res.statusCode!, text }));
        });
        req.on("error", reject);
        req.end(JSON.stringify({ text: "x" }));
      });
      expect(answer.status, target).toBe(400);
      expect(JSON.parse(answer.text)).toEqual({ ok: false, error: PATH_TEXT });
    }
  });

  it("keys IPv6 clients by /64: failures spread over one /64 add up, another /64 is another client, a good credential still passes", async () => {
    const bad = { authorization: "Bearer cg_wrong-token" };
    for (let i = 1; i <= 20; i++) expect((await post("/hooks/wake", "{}", bad, `2001:db8:5:6::${i.toString(16)}`)).status).toBe(401);
    const limited = await post("/hooks/wake", "{}", bad, "2001:db8:5:6:ffff:ffff:ffff:1");
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await post("/hooks/wake", "{}", bad, "2001:db8:5:7::1")).status).toBe(401);
    // A correct credential from the blocked /64 is never throttled: a neighbour cannot lock a caller out.
    const good = await post("/hooks/wake", JSON.stringify({ text: "neighbour" }), { authorization: `Bearer ${CALLER_TOKEN}` }, "2001:db8:5:6::beef");
    expect(good.status).toBe(200);
  });

  it("escapes caller text in alerts: a dead letter whose id holds Slack markup reaches the webhook as plain text", async () => {
    const key = "<!channel> & <https://evil.example|click>";
    const res = await post("/hooks/agent", JSON.stringify({ message: "m", agentId: "ghost" }), { authorization: `Bearer ${CALLER_TOKEN}`, "idempotency-key": key });
    expect(res.status).toBe(202);
    const alert = await pollUntil(() => alertSink.alerts.find((a) => a.text.includes("gave up")), 20_000, "the dead-letter alert");
    expect(alert.text).toContain("token:sec/&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;");
    expect(alert.text).not.toMatch(/[<>]/);
  }, 30_000);

  it("sets nosniff, no-referrer and charset=utf-8 on every answer, and no-store on operator answers", async () => {
    const answers = {
      forwarded: await post("/hooks/wake", JSON.stringify({ text: "headers" }), { authorization: `Bearer ${CALLER_TOKEN}` }),
      refused: await post("/hooks/wake", "{}", { authorization: "Bearer cg_nope" }, "198.51.100.1"),
      notFound: await edge.fetch("/nowhere"),
      health: await edge.fetch("/healthz"),
      operator: await edge.fetch("/_clawgate/outbox", { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } }),
      operatorRefused: await edge.fetch("/_clawgate/outbox", { headers: { "cf-connecting-ip": "198.51.100.2" } }),
    };
    for (const [name, res] of Object.entries(answers)) {
      expect(res.headers.get("x-content-type-options"), name).toBe("nosniff");
      expect(res.headers.get("referrer-policy"), name).toBe("no-referrer");
      expect(res.headers.get("content-type"), name).toMatch(/; charset=utf-8$/i);
      await res.body?.cancel();
    }
    expect(answers.operator.headers.get("cache-control")).toBe("no-store");
    expect(answers.operatorRefused.headers.get("cache-control")).toBe("no-store");
  });
});
