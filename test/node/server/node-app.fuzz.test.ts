/**
 * Property test (fast-check, fixed seed): malformed input at every node route — direct and mapped hooks,
 * token or edge envelope (valid signatures over malformed bodies, tampered and replayed envelopes) — never
 * yields a 5xx, and the app stays ready. CI runs the short fixed-seed property; `npm run fuzz` runs a long
 * campaign through CLAWGATE_FUZZ_SEED / CLAWGATE_FUZZ_RUNS (see fuzz-campaign.ts).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { exportJWK, generateKeyPair } from "jose";
import { pino } from "pino";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ConfigSchema } from "../../../node/config/config-schema.ts";
import { createFailureWindow } from "../../../shared/failure-window.ts";
import { compileHooksPolicy } from "../../../node/intake/hooks-policy.ts";
import { createHooksRoutes } from "../../../node/intake/hooks-routes.ts";
import { type IntakeJournal, openIntakeJournal } from "../../../node/intake/intake-journal.ts";
import { createSecretsReloader } from "../../../node/secrets/secrets-reloader.ts";
import { createNodeApp } from "../../../node/server/node-app.ts";
import { createNodeMetrics } from "../../../node/server/node-metrics.ts";
import { ENVELOPE_HEADER, type EnvelopeSigner, createEnvelopeSigner, createEnvelopeVerifier, createMemoryReplayCache } from "../../../shared/envelope.ts";
import { realIo } from "../../helpers/daemon-io.ts";

/** Fixed for CI; a campaign sets both (fuzz-campaign.ts prints the seed so a failure can be replayed). */
const SEED = envInt("CLAWGATE_FUZZ_SEED", 20261123);
const RUNS = envInt("CLAWGATE_FUZZ_RUNS", 400);
/** Below this many runs the random inputs may not reach every answer, so the coverage check only reports. */
const COVERAGE_MIN_RUNS = 400;

/** The runs reached the parsers and the journal, not only the auth gate (checked at CI size and above). */
function expectCoverage(statuses: Set<number>, wanted: number[]): void {
  if (RUNS >= COVERAGE_MIN_RUNS) {
    expect([...statuses]).toEqual(expect.arrayContaining(wanted));
    return;
  }
  const missing = wanted.filter((s) => !statuses.has(s));
  console.log(`coverage check not applied at ${RUNS} runs (needs ${COVERAGE_MIN_RUNS}); statuses not reached: ${missing.join(", ") || "none"}`);
}

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw)) throw new TypeError(`${name} must be a non-negative integer, got "${raw}"`);
  return Number(raw);
}

const TOKEN = "hook-token-fuzz-0123456789abcdef";
let dir: string;
let journal: IntakeJournal;
let app: ReturnType<typeof createNodeApp>;
let signer: EnvelopeSigner;
const NODE_ID = "node-fuzz";

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "clawgate-fuzz-"));
  journal = openIntakeJournal(dir);
  const configPath = join(dir, "openclaw.json");
  const mappings = [
    { id: "gh", match: { path: "gh" }, action: "agent", sessionKey: "hook:{{payload.id}}", model: "{{payload.model}}", messageTemplate: "{{payload.a.b[0].c}} {{headers.x-e}} {{query.q}} {{now}}" },
    { id: "w", match: { path: "w", source: "s" }, action: "wake", textTemplate: "{{payload.text}}{{payload.text[0]}}" },
    { id: "any", match: { path: "any" }, agentId: "{{payload.agent}}", messageTemplate: "{{payload}}" },
  ];
  const raw = {
    hooks: { enabled: true, token: "${HOOK_TOKEN}", maxBodyBytes: 4096, allowRequestSessionKey: true, allowedSessionKeyPrefixes: ["hook:"], allowedAgentIds: ["main"], mappings },
  };
  await writeFile(configPath, JSON.stringify(raw));
  const secrets = createSecretsReloader({ io: realIo, configPath, providerIo: { env: { HOOK_TOKEN: TOKEN } } });
  await secrets.activate();
  const policy = compileHooksPolicy(ConfigSchema.parse(raw), { hookToken: TOKEN });
  const logger = pino({ level: "silent" });
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  signer = await createEnvelopeSigner({ privateJwk: { ...(await exportJWK(privateKey)), alg: "EdDSA", kid: "edge-1" }, nodeId: NODE_ID });
  const envelopes = await createEnvelopeVerifier({
    publicJwks: [{ ...(await exportJWK(publicKey)), alg: "EdDSA", kid: "edge-1" }],
    nodeId: NODE_ID,
    replayCache: createMemoryReplayCache(),
    now: realIo.now,
  });
  const hooks = createHooksRoutes({
    io: realIo,
    envelopes,
    policy,
    journal,
    hookToken: () => TOKEN,
    // A fresh client per request keeps the 429 limiter from hiding the later checks.
    limiter: createFailureWindow({ maxFailures: 1_000_000, windowMs: 60_000 }),
    logger,
    clientOf: () => "fuzz",
    bodyTimeoutMs: 1_000,
  });
  app = createNodeApp({ io: realIo, secrets, adminToken: "admin", logger, journal, metrics: createNodeMetrics({ secrets, journal }), hooks: { path: policy.path, app: hooks } });
});
afterAll(async () => {
  journal.close();
  await rm(dir, { recursive: true, force: true });
});

const jsonish = fc.oneof(
  fc.record({ text: fc.string({ minLength: 1 }), mode: fc.constantFrom("now", "next-heartbeat") }).map((v) => JSON.stringify(v)),
  fc.record({ message: fc.string({ minLength: 1 }), name: fc.string(), sessionKey: fc.constantFrom("hook:a", "bad") }, { requiredKeys: ["message"] }).map((v) => JSON.stringify(v)),
  fc.json(),
  fc.jsonValue().map((v) => JSON.stringify({ text: v, message: v, mode: v, wakeMode: v, sessionKey: v, agentId: v, timeoutSeconds: v, deliver: v })),
  fc.string(),
  fc.constant('{"text":"' + "x".repeat(5000) + '"}'),
  fc.integer({ min: 1, max: 200 }).map((d) => "[".repeat(d) + "]".repeat(d)),
  fc.constant(`{"a":${"[".repeat(5000)}`),
  // Shapes the mapped routes read, with hostile values at the templated paths.
  fc
    .record(
      {
        source: fc.constantFrom("s", "x", undefined),
        text: fc.oneof(fc.string(), fc.jsonValue()),
        id: fc.oneof(fc.string(), fc.integer(), fc.constant("__proto__")),
        model: fc.string(),
        agent: fc.constantFrom("main", "root", ""),
        a: fc.oneof(fc.jsonValue(), fc.constant({ b: [{ c: "deep" }] }), fc.constant(JSON.parse('{"__proto__":{"b":[{"c":"polluted"}]}}'))),
      },
      { requiredKeys: [] },
    )
    .map((v) => JSON.stringify(v)),
);
const bodyBytes = fc.oneof(
  jsonish.map((s) => new TextEncoder().encode(s)),
  fc.uint8Array({ maxLength: 512 }), // includes invalid UTF-8
);
// Weighted toward authenticated POSTs to the hook routes, so most runs get past auth to the parsers.
const path = fc.oneof(
  { arbitrary: fc.constantFrom("/hooks/wake", "/hooks/agent"), weight: 6 },
  { arbitrary: fc.constantFrom("/hooks/gh", "/hooks/gh?q=%00%ff", "/hooks/w", "/hooks/any", "/hooks/w/", "/hooks/gh?q=a&q=b"), weight: 4 },
  {
    arbitrary: fc.constantFrom("/hooks", "/hooks/", "/hooks/x", "/healthz", "/readyz", "/metrics", "/_clawgate/admin/secrets/reload", "/_clawgate/admin/intake", "/"),
    weight: 2,
  },
  { arbitrary: fc.webPath(), weight: 1 },
  { arbitrary: fc.constantFrom("/hooks/wake?token=x", "/hooks/%2e%2e/wake", "/hooks//wake", "/_clawgate/admin/intake?limit=-5",
    "/_clawgate/admin/intake?state=nope", "/_clawgate/admin/intake/x/replay", "/_clawgate/admin/intake/a%2Fb/replay", "/_clawgate/admin/intake/%E0%A4%A/replay"), weight: 1 },
);
const method = fc.oneof({ arbitrary: fc.constant("POST"), weight: 8 }, { arbitrary: fc.constantFrom("GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"), weight: 2 });
const headers = fc.record({
  authorization: fc.oneof(
    { arbitrary: fc.constant(`Bearer ${TOKEN}`), weight: 8 },
    { arbitrary: fc.constant("Bearer admin"), weight: 1 },
    { arbitrary: fc.string({ maxLength: 80 }).filter((s) => !/[\r\n\0]/.test(s)), weight: 1 },
  ),
  "content-type": fc.constantFrom("application/json", "text/plain", "application/json; charset=latin1"),
  "idempotency-key": fc.option(fc.string({ maxLength: 300 }).filter((s) => /^[\x21-\x7e]*$/.test(s)), { freq: 2, nil: undefined }),
  [ENVELOPE_HEADER]: fc.oneof(
    { arbitrary: fc.constant(undefined), weight: 8 },
    { arbitrary: fc.constantFrom("x.y.z", "", "eyJhbGciOiJub25lIn0.e30."), weight: 1 },
  ),
});

/** How an envelope-carrying request is made from a valid signature (over exactly what is sent, unless tampered). */
const envelopeAttack = fc.oneof(
  { arbitrary: fc.constant("valid" as const), weight: 6 },
  {
    arbitrary: fc.constantFrom(
      "flip-signature" as const,
      "flip-claims" as const,
      "flip-header" as const,
      "truncate" as const,
      "body-swapped" as const,
      "path-swapped" as const,
      "method-swapped" as const,
      "replayed" as const,
      "oversized" as const,
      "two-dots" as const,
    ),
    weight: 4,
  },
);

function tamper(token: string, at: number, position: number): string {
  const [h, c, sig] = token.split(".") as [string, string, string];
  const flip = (part: string) => {
    // Never the last character: its low bits may be base64url padding, so flipping them changes nothing.
    const i = position % (part.length - 1);
    return part.slice(0, i) + (part[i] === "A" ? "B" : "A") + part.slice(i + 1);
  };
  return [at === 0 ? flip(h) : h, at === 1 ? flip(c) : c, at === 2 ? flip(sig) : sig].join(".");
}

it("never answers 5xx to malformed methods, paths, headers or bodies", { timeout: Math.max(20_000, RUNS * 40) }, async () => {
  const statuses = new Set<number>();
  await fc.assert(
    fc.asyncProperty(method, path, headers, bodyBytes, async (m, p, h, body) => {
      const init: RequestInit = { method: m, headers: Object.fromEntries(Object.entries(h).filter(([, v]) => v !== undefined)) as Record<string, string> };
      if (m !== "GET" && m !== "HEAD") init.body = body;
      const res = await app.request(p, init);
      expect(res.status, `${m} ${p}`).toBeLessThan(500);
      statuses.add(res.status);
    }),
    { seed: SEED, numRuns: RUNS },
  );
  expectCoverage(statuses, [200, 202, 400, 401, 404, 405, 413]);
  expect((await app.request("/readyz")).status).toBe(200);
});

it("never answers 5xx to edge envelopes: valid signatures over malformed bodies, tampered and replayed envelopes", { timeout: Math.max(20_000, RUNS * 40) }, async () => {
  const statuses = new Set<number>();
  await fc.assert(
    fc.asyncProperty(path, bodyBytes, envelopeAttack, fc.nat(), async (p, body, attack, position) => {
      const signedPath = attack === "path-swapped" ? "/hooks/wake" : p;
      const signedBody = attack === "body-swapped" ? new Uint8Array([...body, 0x20]) : body;
      let token = await signer.sign({ method: attack === "method-swapped" ? "PUT" : "POST", path: signedPath, body: signedBody, principal: "token:fuzz" });
      if (attack === "flip-signature") token = tamper(token, 2, position);
      if (attack === "flip-claims") token = tamper(token, 1, position);
      if (attack === "flip-header") token = tamper(token, 0, position);
      if (attack === "truncate") token = token.slice(0, position % token.length);
      if (attack === "oversized") token = token + "A".repeat(5000);
      if (attack === "two-dots") token = token.replace(/\.[^.]*$/, "");
      const send = () => app.request(attack === "path-swapped" ? "/hooks/agent" : p, { method: "POST", headers: { [ENVELOPE_HEADER]: token }, body });
      const res = await send();
      expect(res.status, `${attack} ${p}`).toBeLessThan(500);
      // A tampered envelope is never accepted (paths outside the hook routes answer 404 before any check).
      if (attack !== "valid" && attack !== "replayed") expect([200, 202], `${attack} ${p}`).not.toContain(res.status);
      statuses.add(res.status);
      if (attack === "replayed") {
        const again = await send();
        // Whatever the first use got, a replay is never accepted.
        expect([200, 202], `replay of ${p}`).not.toContain(again.status);
        if (res.status === 200 || res.status === 202) expect(again.status, `replay of ${p}`).toBe(401);
      }
    }),
    { seed: SEED + 1, numRuns: RUNS },
  );
  expectCoverage(statuses, [200, 202, 400, 401, 404]);
  expect((await app.request("/readyz")).status).toBe(200);
});
