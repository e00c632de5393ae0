/** The edge's hook routes in workerd: signed forwarding, routing across nodes, the node's 4xx texts, and the outbox on failure. */
import { env } from "cloudflare:test";
import { SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import type { EdgeConfig } from "../../edge/edge-config.ts";
import { type OutboxStub, createOutboxRouter } from "../../edge/outbox-router.ts";
import { type EdgeKeys, type FakeNode, edgeKeys, fakeNode } from "./support/fake-node.ts";
import { CALLER_TOKEN, baseConfig, edgeEnv, post, sha256Hex, testWorker } from "./support/edge-env.ts";

let keys: EdgeKeys;
beforeAll(async () => {
  keys = await edgeKeys();
});

async function setup(overrides: Record<string, unknown> = {}, uuids: string[] = []) {
  const node: FakeNode = await fakeNode(keys, { "https://node-1.test": "node-1", "https://node-2.test": "node-2" });
  const worker = testWorker(edgeEnv(await baseConfig(overrides), keys), node.fetch, uuids);
  return { node, worker };
}

/** Every outbox of the test's two nodes (one each) and the old single one, read as the operator API reads them. */
const outboxNodes = { nodes: new Map([["node-1", {}], ["node-2", {}]]), cron: { jobs: [] } } as unknown as EdgeConfig;
const outbox = () => createOutboxRouter(outboxNodes, (name) => env.OUTBOX.get(env.OUTBOX.idFromName(name)) as unknown as OutboxStub);

describe("forwarding", () => {
  it("forwards a wake to the primary node with an envelope bound to the exact body, and relays the node's answer", async () => {
    const { node, worker } = await setup();
    const body = '{ "text" : "deploy finished" }';
    const res = await worker.request("/hooks/wake", post(body, { "idempotency-key": "build-77" }));
    expect(res.status).toBe(200);
    expect(res.headers.get("clawgate-delivery-id")).toBe("token:ci/build-77");
    expect(await res.json()).toEqual({ ok: true, mode: "now" });
    expect(node.received).toHaveLength(1);
    const call = node.received[0]!;
    expect(call.url).toBe("https://node-1.test/hooks/wake");
    expect(call.body).toBe(body);
    expect(call.claims).toMatchObject({ aud: "node-1", htm: "POST", htu: "/hooks/wake", did: "token:ci/build-77" });
    expect(call.claims.sub).toContain("ci");
    // The caller's credential stays at the edge.
    expect(call.headers.get("authorization")).toBeNull();
  });

  it("routes /hooks/agent to the node serving its agent, a wake to ?node=, and a pass-through route to its node", async () => {
    const { node, worker } = await setup();
    expect((await worker.request("/hooks/agent", post({ message: "dig", agentId: "research" }))).status).toBe(202);
    expect((await worker.request("/hooks/agent", post({ message: "hi" }))).status).toBe(202);
    expect((await worker.request("/hooks/wake?node=node-2", post({ text: "t" }))).status).toBe(200);
    const gh = await worker.request("/hooks/github?source=gh", post("payload=%7B%7D", { "content-type": "application/x-www-form-urlencoded", "x-github-event": "push", "cf-connecting-ip": "203.0.113.9" }));
    expect(gh.status).toBe(200);
    expect(node.received.map((r) => r.url)).toEqual([
      "https://node-2.test/openclaw/hooks/agent",
      "https://node-1.test/hooks/agent",
      "https://node-2.test/openclaw/hooks/wake",
      "https://node-2.test/openclaw/hooks/github?source=gh",
    ]);
    // A pass-through call keeps the caller's own headers for the node's mappings, never its credential.
    const passed = node.received[3]!.headers;
    expect([passed.get("content-type"), passed.get("x-github-event"), passed.get("authorization"), passed.get("cf-connecting-ip")]).toEqual([
      "application/x-www-form-urlencoded",
      "push",
      null,
      null,
    ]);
    expect(node.received[0]!.headers.get("x-github-event")).toBeNull();
    const unknown = await worker.request("/hooks/wake?node=node-9", post({ text: "t" }));
    expect([unknown.status, await unknown.json()]).toEqual([400, { ok: false, error: "node is not configured" }]);
  });

  it("takes the delivery id from Idempotency-Key, else the agent payload's idempotencyKey (both scoped by the caller), else a fresh one", async () => {
    const { node, worker } = await setup({}, ["generated-1"]);
    await worker.request("/hooks/agent", post({ message: "m", idempotencyKey: "from-payload" }));
    await worker.request("/hooks/agent", post({ message: "m", idempotencyKey: "from-payload" }, { "idempotency-key": "from-header" }));
    await worker.request("/hooks/wake", post({ text: "t" }));
    expect(node.received.map((r) => r.claims.did)).toEqual(["token:ci/from-payload", "token:ci/from-header", "generated-1"]);
    const long = await worker.request("/hooks/wake", post({ text: "t" }, { "idempotency-key": "x".repeat(257) }));
    expect(await long.json()).toEqual({ ok: false, error: "Idempotency-Key must be 1 to 256 characters" });
  });
});

describe("caller keys are scoped by the authenticated caller", () => {
  const OTHER_TOKEN = "cg_other-caller-token-9876543210";
  /** Two named bearer tokens on every route: `token:ci` and `token:ops`. */
  async function twoCallers(uuids: string[] = []) {
    const auth = [{ type: "bearer", tokens: [{ name: "ci", sha256: await sha256Hex(CALLER_TOKEN) }, { name: "ops", sha256: await sha256Hex(OTHER_TOKEN) }] }];
    return setup({ routes: { wake: { auth }, agent: { auth } } }, uuids);
  }
  const asOther = (body: unknown, headers: Record<string, string> = {}) => post(body, { authorization: `Bearer ${OTHER_TOKEN}`, ...headers });

  it("two callers with the same Idempotency-Key are two deliveries on the node; the same caller again keeps its id", async () => {
    const { node, worker } = await twoCallers();
    const first = await worker.request("/hooks/agent", post({ message: "m" }, { "idempotency-key": "deploy-1" }));
    const other = await worker.request("/hooks/agent", asOther({ message: "m" }, { "idempotency-key": "deploy-1" }));
    const again = await worker.request("/hooks/agent", post({ message: "m" }, { "idempotency-key": "deploy-1" }));
    expect([first.status, other.status, again.status]).toEqual([202, 202, 202]);
    // Each caller gets the node's answer to its own call, not the other's runId.
    expect([await first.json(), await other.json()]).toEqual([{ ok: true, runId: "run-1" }, { ok: true, runId: "run-2" }]);
    expect(node.received.map((r) => [r.claims.sub, r.claims.did])).toEqual([
      ["token:ci", "token:ci/deploy-1"],
      ["token:ops", "token:ops/deploy-1"],
      // The repeat carries the first call's did, so the node's journal runs it once.
      ["token:ci", "token:ci/deploy-1"],
    ]);
    expect(again.headers.get("clawgate-delivery-id")).toBe(first.headers.get("clawgate-delivery-id"));
  });

  it("answers an agent payload idempotencyKey with a newline or edge spaces with a header equal to the node's did, never a 500", async () => {
    const { node, worker } = await twoCallers();
    for (const key of ["line\nbreak", " padded "]) {
      const res = await worker.request("/hooks/agent", post({ message: "m", idempotencyKey: key }));
      expect(res.status).toBe(202);
      expect(res.headers.get("clawgate-delivery-id")).toBe(node.received.at(-1)!.claims.did);
    }
  });

  it("scopes the agent payload's idempotencyKey too; a generated id stays a bare UUID", async () => {
    const { node, worker } = await twoCallers(["generated-9"]);
    await worker.request("/hooks/agent", post({ message: "m", idempotencyKey: "job-5" }));
    await worker.request("/hooks/agent", asOther({ message: "m", idempotencyKey: "job-5" }));
    await worker.request("/hooks/wake", asOther({ text: "t" }));
    expect(node.received.map((r) => r.claims.did)).toEqual(["token:ci/job-5", "token:ops/job-5", "generated-9"]);
  });

  it("scopes a verified Standard Webhooks webhook-id by the sender's secret: two senders' msg_1 are two deliveries", async () => {
    const secret = (seed: string) => "whsec_" + btoa(seed.padEnd(32, "!"));
    const senders = { a: secret("sender-a"), b: secret("sender-b") };
    const auth = [
      { type: "hmac", scheme: "standard", name: "a", secretBinding: "WH_A" },
      { type: "hmac", scheme: "standard", name: "b", secretBinding: "WH_B" },
    ];
    const node = await fakeNode(keys, { "https://node-1.test": "node-1", "https://node-2.test": "node-2" });
    const worker = testWorker(edgeEnv(await baseConfig({ routes: { events: { auth } } }), keys, { WH_A: senders.a, WH_B: senders.b }), node.fetch);
    const body = '{"type":"invoice.paid"}';
    const signed = async (whsec: string, id: string): Promise<RequestInit> => {
      const ts = String(Math.floor(Date.now() / 1000));
      const key = await crypto.subtle.importKey("raw", Uint8Array.from(atob(whsec.slice(6)), (ch) => ch.charCodeAt(0)), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
      const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${id}.${ts}.${body}`)));
      return { method: "POST", headers: { "content-type": "application/json", "webhook-id": id, "webhook-timestamp": ts, "webhook-signature": `v1,${btoa(String.fromCharCode(...mac))}` }, body };
    };
    for (const init of [await signed(senders.a, "msg_1"), await signed(senders.b, "msg_1"), await signed(senders.a, "msg_1")]) {
      expect((await worker.request("/hooks/events", init)).status).toBe(200);
    }
    expect(node.received.map((r) => r.claims.did)).toEqual(["hmac:standard:a/msg_1", "hmac:standard:b/msg_1", "hmac:standard:a/msg_1"]);
  });

  it("while the node is down: two callers, one key → two outbox rows; the same caller twice → still one", async () => {
    const { node, worker } = await twoCallers();
    node.mode = "down";
    const key = "nightly-report-2026-11-24";
    const answers = [];
    for (const init of [post({ text: "t" }, { "idempotency-key": key }), asOther({ text: "t" }, { "idempotency-key": key }), post({ text: "t" }, { "idempotency-key": key })]) {
      const res = await worker.request("/hooks/wake", init);
      answers.push([res.status, await res.json()]);
    }
    expect(answers).toEqual([
      [202, { ok: true, queued: true, deliveryId: `token:ci/${key}` }],
      [202, { ok: true, queued: true, deliveryId: `token:ops/${key}` }],
      [202, { ok: true, queued: true, deliveryId: `token:ci/${key}` }],
    ]);
    const rows = (await outbox().status(100)).pending.filter((d) => d.deliveryId.endsWith(key));
    expect(rows.map((d) => [d.deliveryId, d.attempts]).sort()).toEqual([
      [`token:ci/${key}`, 1],
      [`token:ops/${key}`, 1],
    ]);
  });
});

describe("refusals, with the node's (OpenClaw's) texts and nothing forwarded", () => {
  const text = (t: string) => ({ text: t });
  const cases: [string, string, RequestInit, number, unknown][] = [
    ["token in the query", "/hooks/wake?token=abc", post({ text: "t" }), 400, text("Hook token must be provided via Authorization: Bearer <token> or X-OpenClaw-Token header (query parameters are not allowed).")],
    ["unknown route", "/hooks/nope", post({ text: "t" }), 404, text("Not Found")],
    ["empty subpath", "/hooks/", post({ text: "t" }), 404, text("Not Found")],
    ["body over hooks.maxBodyBytes", "/hooks/wake", post({ text: "x".repeat(2000) }), 413, { ok: false, error: "payload too large" }],
    ["GET", "/hooks/wake", { headers: { authorization: `Bearer ${CALLER_TOKEN}` } }, 405, text("Method Not Allowed")],
    ["invalid JSON", "/hooks/wake", post("{nope"), 400, { ok: false, error: "Expected property name or '}' in JSON at position 1 (line 1 column 2)" }],
    ["not UTF-8 (read with U+FFFD)", "/hooks/wake", { ...post(""), body: new Uint8Array([0x7b, 0xff, 0x7d]) }, 400, { ok: false, error: "Expected property name or '}' in JSON at position 1 (line 1 column 2)" }],
    ["empty text", "/hooks/wake", post({ text: "  " }), 400, { ok: false, error: "text required" }],
    ["array body", "/hooks/wake", post([1]), 400, { ok: false, error: "text required" }],
    ["empty body", "/hooks/agent", post(""), 400, { ok: false, error: "message required" }],
    ["no message", "/hooks/agent", post({}), 400, { ok: false, error: "message required" }],
    ["empty model", "/hooks/agent", post({ message: "m", model: "" }), 400, { ok: false, error: "model required" }],
    [
      "session key from the request",
      "/hooks/agent",
      post({ message: "m", sessionKey: "hook:mine" }),
      400,
      { ok: false, error: "sessionKey is disabled for external /hooks/agent payloads; set hooks.allowRequestSessionKey=true to enable" },
    ],
  ];
  for (const [name, path, init, status, body] of cases) {
    it(`${name} → ${status}`, async () => {
      const { node, worker } = await setup();
      const res = await worker.request(path, init);
      expect(res.status).toBe(status);
      if (typeof body === "object" && body !== null && "text" in body) {
        expect([res.headers.get("content-type"), await res.text()]).toEqual(["text/plain; charset=utf-8", body.text]);
      } else {
        expect([res.headers.get("content-type"), await res.json()]).toEqual(["application/json; charset=utf-8", body]);
      }
      if (status === 405) expect(res.headers.get("allow")).toBe("POST");
      expect(node.attempts).toEqual([]);
    });
  }

  it("refuses an agent some node lists but hooks.allowedAgentIds does not (ids compared as OpenClaw normalizes them)", async () => {
    const { node, worker } = await setup({ hooks: { allowedAgentIds: ["main"] } });
    const res = await worker.request("/hooks/agent", post({ message: "m", agentId: " RESEARCH " }));
    expect([res.status, await res.json()]).toEqual([400, { ok: false, error: "agentId is not allowed by hooks.allowedAgentIds" }]);
    expect(node.attempts).toEqual([]);
  });

  it("forwards what OpenClaw accepts: a coerced mode, an id no node lists (the node runs it on its default agent)", async () => {
    const { node, worker } = await setup({ hooks: { allowedAgentIds: ["main"] } });
    expect((await worker.request("/hooks/wake", post({ text: "t", mode: "later" }))).status).toBe(200);
    expect((await worker.request("/hooks/agent", post({ message: "m", agentId: "ops" }))).status).toBe(202);
    expect(node.received.map((r) => r.url)).toEqual(["https://node-1.test/hooks/wake", "https://node-1.test/hooks/agent"]);
  });

  it("refuses a session key outside hooks.allowedSessionKeyPrefixes when request keys are enabled", async () => {
    const { node, worker } = await setup({ hooks: { allowRequestSessionKey: true, allowedSessionKeyPrefixes: ["hook:", "ops:"] } });
    const res = await worker.request("/hooks/agent", post({ message: "m", sessionKey: "agent:main:main" }));
    expect(await res.json()).toEqual({ ok: false, error: "sessionKey must start with one of: hook:, ops:" });
    expect((await worker.request("/hooks/agent", post({ message: "m", sessionKey: "ops:x" }))).status).toBe(202);
    expect(node.received).toHaveLength(1);
  });

  it("refuses a caller the route's auth does not accept, before anything is forwarded", async () => {
    const { node, worker } = await setup();
    const res = await worker.request("/hooks/wake", post({ text: "t" }, { authorization: "Bearer cg_wrong" }));
    expect(res.status).toBe(401);
    expect(node.attempts).toEqual([]);
  });
});

describe("calls whose envelope would be too large for the node", () => {
  // The longest fixed claims the config allows: a 64-character node id (`aud`) and signing key id (`kid`).
  const longId = "n".repeat(64);
  async function longNames() {
    const longKeys = await edgeKeys("k".repeat(64));
    const node = await fakeNode(longKeys, { "https://node-1.test": longId });
    const auth = [{ type: "bearer", tokens: [{ name: "ci", sha256: await sha256Hex(CALLER_TOKEN) }] }];
    const config = { nodes: [{ id: longId, origin: "https://node-1.test" }], routes: { wake: { auth }, events: { auth } }, forward: { timeoutMs: 200 } };
    return { node, worker: testWorker(edgeEnv(config, longKeys), node.fetch, ["00000000-0000-4000-8000-000000000000"]) };
  }
  // `"token:ci"` (10 bytes) + the 36-character generated id (38) + `"/hooks/events?q=…"` (18 + n): 2,048 at n = 1,982.
  const query = (n: number) => `?q=${"a".repeat(n)}`;

  it("forwards a pass-through call at the limit, and the node's verifier accepts its envelope", async () => {
    const { node, worker } = await longNames();
    const res = await worker.request(`/hooks/events${query(1982)}`, post("{}"));
    expect(res.status).toBe(200);
    expect(node.received).toHaveLength(1);
  });

  it("answers 414 naming the query string one byte past it, and forwards nothing", async () => {
    const { node, worker } = await longNames();
    const res = await worker.request(`/hooks/events${query(1983)}`, post("{}"));
    expect([res.status, await res.json()]).toEqual([414, { ok: false, error: "query string is too long to forward in the node's envelope" }]);
    expect(node.attempts).toEqual([]);
  });

  it("answers 400 naming the caller identity when a JWT's sub is what does not fit", async () => {
    const secret = "jwt-secret-for-the-long-sub-test-0123456789";
    const node = await fakeNode(keys, { "https://node-1.test": "node-1", "https://node-2.test": "node-2" });
    const auth = [{ type: "jwt", secretBinding: "LONG_SUB_SECRET", issuer: "i", audience: "a", algorithms: ["HS256"] }];
    const worker = testWorker(edgeEnv(await baseConfig({ routes: { wake: { auth } } }), keys, { LONG_SUB_SECRET: secret }), node.fetch);
    const nowS = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ sub: "s".repeat(2100) }).setProtectedHeader({ alg: "HS256" }).setIssuer("i").setAudience("a").setExpirationTime(nowS + 60).sign(new TextEncoder().encode(secret));
    const res = await worker.request("/hooks/wake", post({ text: "t" }, { authorization: `Bearer ${token}` }));
    expect([res.status, await res.json()]).toEqual([400, { ok: false, error: "caller identity (JWT sub or Access email) is too long to forward in the node's envelope" }]);
    expect(node.attempts).toEqual([]);
  });
});

describe("when the node is unavailable", () => {
  for (const mode of ["down", "5xx", "hang", "busy"] as const) {
    it(`stores the call in the outbox and answers 202 queued (node ${mode})`, async () => {
      const { node, worker } = await setup();
      node.mode = mode;
      const id = `queued-${mode}`;
      const res = await worker.request("/hooks/wake", post({ text: "t" }, { "idempotency-key": id }));
      expect(res.status).toBe(202);
      expect(await res.json()).toEqual({ ok: true, queued: true, deliveryId: `token:ci/${id}` });
      const status = await outbox().status(100);
      expect(status.pending.find((d) => d.deliveryId === `token:ci/${id}`)).toMatchObject({ nodeId: "node-1", path: "/hooks/wake", attempts: 1, status: "pending" });
    });
  }

  it("tells the outbox when a node that failed answers again, so what waits for it goes out now", async () => {
    const { node, worker } = await setup();
    node.mode = "down";
    await worker.request("/hooks/wake", post({ text: "t" }, { "idempotency-key": "waiting-for-node-1" }));
    const waiting = async () => (await outbox().status(100)).pending.find((d) => d.deliveryId === "token:ci/waiting-for-node-1");
    expect(await waiting()).toMatchObject({ attempts: 1 });
    node.mode = "up";
    expect((await worker.request("/hooks/wake", post({ text: "t" }))).status).toBe(200);
    // Its retry was 5 s away; now it is due (and, in this test's outbox, at once attempted against wrangler.toml's example origin).
    const deadline = Date.now() + 3_000;
    for (;;) {
      const entry = await waiting();
      if (entry && (entry.attempts >= 2 || Date.parse(entry.nextAttemptAt!) <= Date.now())) break;
      if (Date.now() > deadline) throw new Error("the waiting delivery was not pulled forward");
      await new Promise((r) => setTimeout(r, 20));
    }
  });

  it("treats a redirect in front of the node (Access login) as final: 502 naming the likely cause, recorded, not retried", async () => {
    const { node, worker } = await setup();
    node.mode = "access-login";
    const res = await worker.request("/hooks/wake", post({ text: "t" }, { "idempotency-key": "redirected-1" }));
    expect([res.status, await res.json()]).toEqual([502, { ok: false, error: "the node's tunnel redirected the call; check its Cloudflare Access service token" }]);
    expect((await outbox().deadLetters(100)).find((d) => d.deliveryId === "token:ci/redirected-1")).toMatchObject({ status: "rejected", lastStatus: 302 });
  });

  it("relays a node's 4xx to the caller as final and records it with the dead letters", async () => {
    const { node, worker } = await setup();
    node.mode = "reject";
    const res = await worker.request("/hooks/wake", post({ text: "t" }, { "idempotency-key": "refused-1" }));
    expect([res.status, await res.json()]).toEqual([400, { ok: false, error: "text required" }]);
    const dead = await outbox().deadLetters(100);
    expect(dead.find((d) => d.deliveryId === "token:ci/refused-1")).toMatchObject({ status: "rejected", lastStatus: 400, lastError: "node answered 400: text required" });
  });
});
