/**
 * Property test (fast-check) in workerd: the hook routes — wake, agent and pass-through `/hooks/<name>` —
 * behind every caller auth method, with valid, oddly written and broken credentials over malformed bodies,
 * queries and headers, while the node is up, down, failing, refusing or behind an Access login. Never a 5xx
 * (but the documented 502 for Access's redirect), never a throw; nothing reaches the node without a good
 * credential, and what reaches it carries a valid envelope for it, the authenticated principal, and a body
 * the node's shared validation accepts. CI: fixed seed; `npm run fuzz` sets CLAWGATE_FUZZ_SEED / _RUNS.
 */
import fc from "fast-check";
import { beforeAll, expect, it } from "vitest";
import { hookPayloadOf, normalizeAgentId, parseHookBody } from "../../shared/hook-payloads.ts";
import { type EdgeKeys, edgeKeys } from "./support/fake-node.ts";
import { ALLOWED_V4, METHOD_OF, SECRETS, type SigningKeys, authMethods, buildCredential, credentialSpec, signingKeys } from "./support/fuzz-credentials.ts";
import { type FuzzNetwork, type FuzzNodeMode, fuzzNetwork } from "./support/fuzz-network.ts";
import { fuzzParameters, fuzzTimeoutMs } from "./support/fuzz-settings.ts";
import { OPERATOR_TOKEN, edgeEnv, sha256Hex, testWorker, type TestWorker } from "./support/edge-env.ts";

const MAX_BODY = 2048;
const NODES = { "https://node-1.test": "node-1", "https://node-2.test": "node-2" };
/** Route → the methods it accepts (METHOD_OF keys), and for a pass-through route the node it goes to. */
const ROUTES: Record<string, { methods: string[]; node: string; passThrough: boolean }> = {
  wake: { methods: ["bearer", "jwt-hs", "jwt-jwks", "access", "standard", "github", "stripe", "slack", "ip"], node: "node-1", passThrough: false },
  agent: { methods: ["bearer", "jwt-hs", "jwt-jwks", "access", "standard", "github", "stripe", "slack", "ip"], node: "node-1", passThrough: false },
  github: { methods: ["github", "bearer"], node: "node-2", passThrough: true },
  events: { methods: ["standard", "stripe", "slack", "ip"], node: "node-1", passThrough: true },
  ops: { methods: ["access", "jwt-jwks"], node: "node-1", passThrough: true },
};

let keys: EdgeKeys;
let signing: SigningKeys;
let network: FuzzNetwork;
let worker: TestWorker;

beforeAll(async () => {
  keys = await edgeKeys();
  signing = await signingKeys();
  network = await fuzzNetwork({ keys, origins: NODES, keySets: signing.keySets });
  const methods = await authMethods();
  const routes = Object.fromEntries(
    Object.entries(ROUTES).map(([name, r]) => [name, { auth: r.methods.map((m) => methods[m]), ...(r.passThrough && r.node !== "node-1" ? { node: r.node } : {}) }]),
  );
  const config = {
    nodes: [
      { id: "node-1", origin: "https://node-1.test", agents: ["main"], primary: true },
      { id: "node-2", origin: "https://node-2.test", hooksPath: "/openclaw/hooks", agents: ["research"] },
    ],
    routes,
    hooks: { maxBodyBytes: MAX_BODY, allowedAgentIds: ["main", "research"], allowRequestSessionKey: true, allowedSessionKeyPrefixes: ["hook:"] },
    // Generous: the in-process node answers at once, but a loaded 2-core machine must not turn a refusal into a timeout.
    forward: { timeoutMs: 10_000 },
  };
  worker = testWorker(edgeEnv(config, keys, { ...SECRETS, CLAWGATE_OPERATOR_TOKEN_SHA256: await sha256Hex(OPERATOR_TOKEN) }), network.fetch);
});

const encoder = new TextEncoder();
const headerText = (maxLength: number) => fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength });

/** Agent payloads the node accepts, with odd values where OpenClaw allows any string (keys, messages, names). */
const validAgentBody: fc.Arbitrary<Uint8Array> = fc
  .record(
    {
      message: fc.string({ unit: "binary", minLength: 1, maxLength: 30 }).filter((m) => m.trim() !== ""),
      agentId: fc.constantFrom("main", "research"),
      sessionKey: fc.string({ maxLength: 10 }).map((k) => `hook:${k}`),
      idempotencyKey: fc.oneof(
        fc.string({ unit: "binary", minLength: 1, maxLength: 12 }),
        fc.string({ unit: fc.constantFrom("a", " ", "\n", "\r", "\t", "\u0000", "\u007f", "é", "/", "%"), minLength: 1, maxLength: 8 }),
        fc.constantFrom(" padded ", "line\nbreak", "ünï"),
      ),
      name: fc.string({ unit: "binary", maxLength: 10 }),
      timeoutSeconds: fc.integer({ min: 1, max: 3600 }),
      deliver: fc.boolean(),
    },
    { requiredKeys: ["message"] },
  )
  .map((v) => encoder.encode(JSON.stringify(v)));

/** Bodies: the payloads the node accepts, near misses, any JSON, non-JSON, invalid UTF-8, too large. */
const body: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.constantFrom('{"text":"hello"}', '{"text":"x","mode":"next-heartbeat"}', '{"message":"m","agentId":"research"}', '{"message":"m","sessionKey":"hook:a"}').map((s) => encoder.encode(s)),
  fc
    .record(
      {
        text: fc.oneof(fc.string(), fc.constant("  "), fc.integer(), fc.constant(null)),
        mode: fc.oneof(fc.constantFrom("now", "next-heartbeat", "later"), fc.integer()),
        message: fc.oneof(fc.string({ maxLength: 30 }), fc.constant(""), fc.boolean()),
        agentId: fc.oneof(fc.constantFrom("main", "research", "evil", ""), fc.string({ maxLength: 10 }), fc.integer()),
        sessionKey: fc.oneof(fc.constantFrom("hook:x", "agent:main", ""), fc.string({ maxLength: 12 })),
        timeoutSeconds: fc.oneof(fc.integer({ min: -5, max: 5 }), fc.double(), fc.constant("10")),
        deliver: fc.oneof(fc.boolean(), fc.constant("yes")),
        wakeMode: fc.constantFrom("now", "next-heartbeat", "soon"),
        idempotencyKey: fc.oneof(
          fc.string({ maxLength: 20 }),
          fc.string({ unit: "binary", maxLength: 12 }),
          fc.constantFrom(" padded ", "line\nbreak", "nul\u0000", "tab\t"),
          fc.integer({ min: 250, max: 300 }).map((n) => "k".repeat(n)),
        ),
        channel: fc.oneof(fc.string({ maxLength: 8 }), fc.constant(7)),
      },
      { requiredKeys: [] },
    )
    .map((v) => encoder.encode(JSON.stringify(v))),
  { weight: 3, arbitrary: validAgentBody },
  fc.record({ text: fc.string({ unit: "binary", minLength: 1, maxLength: 30 }).filter((t) => t.trim() !== ""), mode: fc.constantFrom("now", "next-heartbeat") }).map((v) => encoder.encode(JSON.stringify(v))),
  fc.jsonValue({ maxDepth: 3 }).map((v) => encoder.encode(JSON.stringify(v))),
  fc.string({ maxLength: 80 }).map((s) => encoder.encode(s)),
  fc.uint8Array({ maxLength: 64 }),
  fc.integer({ min: MAX_BODY - 16, max: MAX_BODY + 64 }).map((n) => encoder.encode(`{"text":"${"b".repeat(Math.max(0, n - 11))}"}`)),
);

const request = fc.record({
  route: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom("wake", "agent") },
    { weight: 3, arbitrary: fc.constantFrom("github", "events", "ops") },
    { weight: 1, arbitrary: fc.oneof(fc.constantFrom("", "nope", "wake/x", "%77ake", "WAKE", "wake%2F..", "..%2Fwake"), fc.webSegment()) },
  ),
  method: fc.oneof({ weight: 8, arbitrary: fc.constant("POST") }, { weight: 1, arbitrary: fc.constantFrom("GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD") }),
  query: fc.oneof(
    { weight: 5, arbitrary: fc.constant("") },
    { weight: 2, arbitrary: fc.constantFrom("?node=node-2", "?node=node-1", "?node=node-9", "?node=%00", "?token=x", "?a=%zz", "?q=1&q=2") },
    { weight: 1, arbitrary: fc.webQueryParameters().map((q) => `?${q}`) },
    { weight: 1, arbitrary: fc.integer({ min: 1000, max: 6000 }).map((n) => `?q=${"a".repeat(n)}`) },
  ),
  body,
  credential: credentialSpec,
  idempotencyKey: fc.option(fc.oneof(headerText(40), fc.integer({ min: 250, max: 300 }).map((n) => "k".repeat(n))), { nil: undefined }),
  contentType: fc.constantFrom("application/json", "application/json; charset=utf-8", "application/x-www-form-urlencoded", "text/plain", "", "*/*"),
  extraHeaders: fc.dictionary(fc.stringMatching(/^x-[a-z0-9-]{1,16}$/), headerText(100), { maxKeys: 4 }),
  manyHeaders: fc.boolean(),
  // A bounded set of clients: the failure limiter keeps a Durable Object per client, and a long campaign with
  // random addresses opened one SQLite file each until workerd answered SQLITE_CANTOPEN (the refusals stood).
  clientIp: fc.oneof(
    { weight: 8, arbitrary: fc.nat(3999).map((n) => `198.18.${n >> 8}.${n & 255}`) },
    { weight: 2, arbitrary: fc.nat(499).map((n) => `2001:db9::${n.toString(16)}`) },
    { weight: 1, arbitrary: fc.constantFrom("", "not-an-ip", "10.0.0.1%eth0", "::1") },
  ),
  insideAllowlist: fc.nat(255),
  mode: fc.oneof({ weight: 6, arbitrary: fc.constant<FuzzNodeMode>("up") }, { weight: 1, arbitrary: fc.constantFrom<FuzzNodeMode>("down", "5xx", "reject", "busy", "access-login") }),
});

const PREFIX: Record<string, string> = { "node-1": "https://node-1.test/hooks", "node-2": "https://node-2.test/openclaw/hooks" };
/** The agent a forwarded call names, read as the edge reads it (OpenClaw's body reading, ids normalized). */
const agentIdOf = (bytes: Uint8Array): string | undefined => {
  const parsed = parseHookBody(bytes);
  const id = parsed.ok ? hookPayloadOf(parsed.value)["agentId"] : undefined;
  return typeof id === "string" && id.trim() ? normalizeAgentId(id) : undefined;
};
const CI_RUNS = 400;
const GOOD_CALL = {
  route: "wake",
  method: "POST",
  query: "",
  credential: { scheme: "bearer", variant: "valid", subject: "alice", useEmail: false, webhookId: "msg_1", junk: ["", "", ""], flaw: 0 },
  idempotencyKey: undefined,
  contentType: "application/json",
  extraHeaders: {},
  manyHeaders: false,
  clientIp: "198.51.100.20",
  insideAllowlist: 0,
  mode: "up",
} as const;
const inAllowlist = (ip: string) => ip.startsWith("192.0.2.") || /^2001:0?db8:/i.test(ip);

it("hook routes under every auth method never answer 5xx, and forward only good calls with valid envelopes", async () => {
  let reached = 0;
  await fc.assert(
    fc.asyncProperty(request, async (r) => {
      const route = Object.hasOwn(ROUTES, r.route) ? ROUTES[r.route] : undefined;
      const url = new URL(`https://edge.test/hooks/${r.route}${r.query}`);
      // The IP method's "valid" credential is a client inside its ranges; every other client is outside them.
      const ipAllowed = r.credential.scheme === "ip" && r.credential.variant !== "broken";
      const clientIp = ipAllowed ? `192.0.2.${r.insideAllowlist}` : inAllowlist(r.clientIp) ? "198.51.100.7" : r.clientIp;
      const hasBody = r.method !== "GET" && r.method !== "HEAD";
      const cred = await buildCredential(r.credential, hasBody ? r.body : new Uint8Array(), signing);
      const headers: Record<string, string> = { ...r.extraHeaders, ...cred.headers };
      if (r.manyHeaders) for (let i = 0; i < 40; i++) headers[`x-pad-${i}`] = "p".repeat(300);
      if (r.contentType) headers["content-type"] = r.contentType;
      if (clientIp) headers["cf-connecting-ip"] = clientIp;
      if (r.idempotencyKey !== undefined) headers["idempotency-key"] = r.idempotencyKey;
      const principals = new Set<string>();
      if (route && cred.principal && r.credential.scheme !== "none" && r.credential.scheme !== "ip" && route.methods.includes(METHOD_OF[r.credential.scheme])) principals.add(cred.principal);
      if (route?.methods.includes("ip") && ipAllowed) principals.add(`ip:${ALLOWED_V4}`);

      network.mode = r.mode;
      const before = network.calls.length;
      const problemsBefore = network.problems.length;
      const path = `/hooks/${r.route}${r.query}`;
      const res = await worker.request(path, { method: r.method, headers, ...(hasBody ? { body: r.body as Uint8Array<ArrayBuffer> } : {}) });
      const text = await res.text();
      const calls = network.calls.slice(before);
      const where = `${r.method} ${path.slice(0, 80)} [${r.credential.scheme}/${r.credential.variant}] mode=${r.mode} → ${res.status} ${text.slice(0, 160)}`;

      if (res.status === 502) expect(JSON.parse(text), where).toEqual({ ok: false, error: "the node's tunnel redirected the call; check its Cloudflare Access service token" });
      else expect(res.status, where).toBeLessThan(500);
      expect(network.problems.slice(problemsBefore), where).toEqual([]);
      // The edge's own answers are one JSON object with ok:false and a one-line reason, or one of OpenClaw's
      // plain-text refusals (the node's are relayed).
      if (calls.length === 0 && res.status >= 400 && r.method !== "HEAD" && res.headers.get("content-type") === "text/plain; charset=utf-8") {
        expect(text !== "" && !text.includes("\n"), where).toBe(true);
      } else if (calls.length === 0 && res.status >= 400 && r.method !== "HEAD") {
        const answer = JSON.parse(text) as { ok: unknown; error: unknown };
        expect(answer.ok, where).toBe(false);
        expect(typeof answer.error === "string" && answer.error !== "" && !answer.error.includes("\n"), where).toBe(true);
      }
      if (principals.size === 0) {
        expect(calls, `${where}: forwarded without a good credential`).toEqual([]);
        if (route && hasBody && r.body.byteLength <= MAX_BODY && !url.searchParams.has("token")) expect([401, 403, 429], where).toContain(res.status);
        return;
      }
      // A good credential is never refused as one, nor throttled (a client that failed 20 times still gets in).
      expect([401, 403, 429], where).not.toContain(res.status);
      expect(calls.length, where).toBeLessThanOrEqual(1);
      for (const call of calls) {
        reached++;
        expect(principals.has(call.claims.sub), `${where}: sub ${call.claims.sub}`).toBe(true);
        // The node: a wake's ?node=, the node serving an agent's agentId, a pass-through route's own node.
        const nodeId =
          r.route === "wake" ? (url.searchParams.get("node") ?? "node-1") : r.route === "agent" ? (agentIdOf(r.body) === "research" ? "node-2" : "node-1") : route!.node;
        expect(call.claims.aud, where).toBe(nodeId);
        expect(call.url, where).toBe(`${PREFIX[nodeId]}/${r.route}${route!.passThrough ? url.search : ""}`);
        expect(call.claims.htu, where).toBe(new URL(call.url).pathname + new URL(call.url).search);
        expect(call.headers.get("authorization") ?? call.headers.get("x-openclaw-token") ?? call.headers.get("cf-access-jwt-assertion"), where).toBeNull();
        if (res.status < 300 && r.mode === "up") expect(res.headers.get("clawgate-delivery-id"), where).toBe(call.claims.did ?? call.claims.jti);
      }
      if (r.mode === "down" && calls.length === 0 && res.status === 202) expect(JSON.parse(text), where).toMatchObject({ ok: true, queued: true });
    }),
    {
      ...fuzzParameters(CI_RUNS),
      // One good call first, so even a short run proves the path to the node is open.
      examples: [[{ ...GOOD_CALL, body: encoder.encode('{"text":"hello"}') }]],
    },
  );
  // The campaign is only worth something if good calls got through.
  expect(reached).toBeGreaterThan(0);
}, fuzzTimeoutMs(CI_RUNS));
