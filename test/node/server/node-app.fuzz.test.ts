/** Property test (fast-check, fixed seed): malformed input at every node route never yields a 5xx, and the app stays ready. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { pino } from "pino";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ConfigSchema } from "../../../node/config/config-schema.ts";
import { createFailureLimiter } from "../../../node/hooks/failure-limiter.ts";
import { compileHooksPolicy } from "../../../node/hooks/hooks-policy.ts";
import { createHooksRoutes } from "../../../node/hooks/hooks-routes.ts";
import { type IntakeJournal, openIntakeJournal } from "../../../node/intake/intake-journal.ts";
import { createSecretsRuntime } from "../../../node/secrets/secrets-runtime.ts";
import { createNodeApp } from "../../../node/server/node-app.ts";
import { createNodeMetrics } from "../../../node/server/node-metrics.ts";
import { ENVELOPE_HEADER } from "../../../shared/envelope.ts";

const TOKEN = "hook-token-fuzz-0123456789abcdef";
let dir: string;
let journal: IntakeJournal;
let app: ReturnType<typeof createNodeApp>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "clawgate-fuzz-"));
  journal = openIntakeJournal(dir);
  const configPath = join(dir, "openclaw.json");
  const raw = { hooks: { enabled: true, token: "${HOOK_TOKEN}", maxBodyBytes: 4096, allowRequestSessionKey: true, allowedSessionKeyPrefixes: ["hook:"] } };
  await writeFile(configPath, JSON.stringify(raw));
  const secrets = createSecretsRuntime({ configPath, providerIo: { env: { HOOK_TOKEN: TOKEN } } });
  await secrets.activate();
  const policy = compileHooksPolicy(ConfigSchema.parse(raw), { hookToken: TOKEN });
  const logger = pino({ level: "silent" });
  const hooks = createHooksRoutes({
    policy,
    journal,
    hookToken: () => TOKEN,
    // A fresh client per request keeps the 429 limiter from hiding the later checks.
    limiter: createFailureLimiter(1_000_000),
    logger,
    clientOf: () => "fuzz",
    bodyTimeoutMs: 1_000,
  });
  app = createNodeApp({ secrets, adminToken: "admin", logger, journal, metrics: createNodeMetrics({ secrets, journal }), hooks: { path: policy.path, app: hooks } });
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
);
const bodyBytes = fc.oneof(
  jsonish.map((s) => new TextEncoder().encode(s)),
  fc.uint8Array({ maxLength: 512 }), // includes invalid UTF-8
);
// Weighted toward authenticated POSTs to the hook routes, so most runs get past auth to the parsers.
const path = fc.oneof(
  { arbitrary: fc.constantFrom("/hooks/wake", "/hooks/agent"), weight: 8 },
  {
    arbitrary: fc.constantFrom("/hooks", "/hooks/", "/hooks/x", "/healthz", "/readyz", "/metrics", "/_clawgate/admin/secrets/reload", "/_clawgate/admin/intake", "/"),
    weight: 2,
  },
  { arbitrary: fc.webPath(), weight: 1 },
  { arbitrary: fc.constantFrom("/hooks/wake?token=x", "/hooks/%2e%2e/wake", "/hooks//wake", "/_clawgate/admin/intake?limit=-5"), weight: 1 },
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

it("never answers 5xx to malformed methods, paths, headers or bodies", async () => {
  const statuses = new Set<number>();
  await fc.assert(
    fc.asyncProperty(method, path, headers, bodyBytes, async (m, p, h, body) => {
      const init: RequestInit = { method: m, headers: Object.fromEntries(Object.entries(h).filter(([, v]) => v !== undefined)) as Record<string, string> };
      if (m !== "GET" && m !== "HEAD") init.body = body;
      const res = await app.request(p, init);
      expect(res.status, `${m} ${p}`).toBeLessThan(500);
      statuses.add(res.status);
    }),
    { seed: 20261123, numRuns: 400 },
  );
  // The runs reached the parsers and the journal, not only the auth gate.
  expect([...statuses]).toEqual(expect.arrayContaining([200, 202, 400, 401, 404, 405, 413]));
  expect((await app.request("/readyz")).status).toBe(200);
});
