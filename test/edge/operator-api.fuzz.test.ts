/**
 * Property test (fast-check) in workerd: the operator API and the outbox Durable Object behind it, driven by
 * random action sequences — calls queued while the node is down or refused by it, listings with odd limits,
 * replays of known, unknown and malformed ids, retry-now, cron status, wrong tokens and paths. Never a 5xx;
 * every answer is the documented one, and a model of what was queued or refused predicts what replay says:
 * a refused call is replayed once (202) and then waits (404), a queued one waits (404) until it dies.
 */
import fc from "fast-check";
import { beforeAll, expect, it } from "vitest";
import { type EdgeKeys, edgeKeys } from "./support/fake-node.ts";
import { type FuzzNetwork, type FuzzNodeMode, fuzzNetwork } from "./support/fuzz-network.ts";
import { fuzzParameters, fuzzTimeoutMs } from "./support/fuzz-settings.ts";
import { OPERATOR_TOKEN, baseConfig, edgeEnv, post, sha256Hex, testWorker, type TestWorker } from "./support/edge-env.ts";

const CI_RUNS = 150;
/** A run is a sequence of up to 6 actions: a campaign runs half as many sequences. */
const CAMPAIGN_SHARE = 0.5;
const OPERATOR_IP = "203.0.113.1";

let keys: EdgeKeys;
let network: FuzzNetwork;
let worker: TestWorker;

beforeAll(async () => {
  keys = await edgeKeys();
  network = await fuzzNetwork({ keys, origins: { "https://node-1.test": "node-1", "https://node-2.test": "node-2" }, keySets: {} });
  // A generous forward timeout: on a loaded machine a 200 ms one turned the node's refusal into a queued call.
  worker = testWorker(edgeEnv(await baseConfig({ hooks: { maxBodyBytes: 4096 }, forward: { timeoutMs: 10_000 } }), keys, { CLAWGATE_OPERATOR_TOKEN_SHA256: await sha256Hex(OPERATOR_TOKEN) }), network.fetch);
});

const headerText = (maxLength: number) => fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength });
const limit = fc.oneof(fc.constant(undefined), fc.integer({ min: -5, max: 2000 }).map(String), fc.constantFrom("", "NaN", "1e9", "-0", "0x10", "%zz", "1.5", " 3"), headerText(12));
const oddId = fc.oneof(headerText(60), fc.string({ unit: "grapheme", maxLength: 20 }), fc.constantFrom("", " ", "cron:heartbeat:*/30 * * * *@2026-11-24T08:00:00.000Z", "token:ci/x", "sha256:", "a/b/c"));

const action = fc.oneof(
  fc.record({ kind: fc.constant("hook" as const), mode: fc.constantFrom<FuzzNodeMode>("down", "busy", "5xx", "reject", "up"), route: fc.constantFrom("wake", "agent"), key: fc.oneof(headerText(40), fc.string({ unit: "grapheme", maxLength: 12 })), inBody: fc.boolean() }),
  fc.record({ kind: fc.constant("list" as const), what: fc.constantFrom("outbox", "dead-letters"), limit }),
  fc.record({ kind: fc.constant("replay-known" as const), pick: fc.nat() }),
  fc.record({
    kind: fc.constant("replay-odd" as const),
    body: fc.oneof(
      oddId.map((deliveryId) => JSON.stringify({ deliveryId })),
      fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
      fc.string({ maxLength: 40 }),
      fc.constantFrom("", "{", "null", "[]", '{"deliveryId":7}', '{"deliveryId":""}'),
    ),
  }),
  fc.record({ kind: fc.constant("retry" as const) }),
  fc.record({ kind: fc.constant("cron" as const) }),
  fc.record({
    kind: fc.constant("stray" as const),
    method: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH"),
    path: fc.oneof(fc.constantFrom("/outbox", "/outbox/retry", "/dead-letters", "/dead-letters/replay", "/cron", "", "/", "/nope", "/outbox/x"), fc.webPath()),
    auth: fc.constantFrom("operator", "caller", "wrong", "none", "lowercase-scheme"),
    clientIp: fc.ipV4(),
  }),
);

/** What the model knows: ids queued (pending, or dead once their schedule is spent) and ids the node refused. */
const queued = new Set<string>();
const rejected = new Set<string>();
let counter = 0;

async function op(path: string, init: RequestInit = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await worker.request(`/_clawgate${path}`, {
    ...init,
    headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, "cf-connecting-ip": OPERATOR_IP, ...(init.headers as Record<string, string>) },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const isoOrNull = (v: unknown) => v === null || (typeof v === "string" && !Number.isNaN(Date.parse(v)));

it("operator API and outbox: never a 5xx, the documented answers, and replay as the model predicts", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 6 }), async (actions) => {
      for (const a of actions) {
        const where = JSON.stringify(a).slice(0, 200);
        switch (a.kind) {
          case "hook": {
            network.mode = a.mode;
            // A fresh key per call (the counter), so the model never confuses two runs' deliveries.
            const key = `fz${++counter}:${a.key}`;
            const payload = a.route === "wake" ? { text: "t" } : { message: "m", ...(a.inBody ? { idempotencyKey: key } : {}) };
            const headers: Record<string, string> = a.inBody && a.route === "agent" ? {} : { "idempotency-key": key.replace(/[^\x20-\x7e]/g, "?") };
            const res = await worker.request(`/hooks/${a.route}`, post(payload, headers));
            const body = (await res.json()) as Record<string, unknown>;
            const id = res.headers.get("clawgate-delivery-id") ?? (body["deliveryId"] as string | undefined);
            expect(res.status, where).toBeLessThan(500);
            if (a.mode === "up") expect([200, 202], where).toContain(res.status);
            else if (a.mode === "reject") {
              expect([res.status, body], where).toEqual([400, { ok: false, error: "text required" }]);
              rejected.add(id!);
            } else {
              expect([res.status, body], where).toEqual([202, { ok: true, queued: true, deliveryId: id }]);
              queued.add(id!);
            }
            break;
          }
          case "list": {
            const { status, body } = await op(`/${a.what}${a.limit === undefined ? "" : `?limit=${encodeURIComponent(a.limit)}`}`);
            expect(status, where).toBe(200);
            const rows = (a.what === "outbox" ? body["pending"] : body["deadLetters"]) as Record<string, unknown>[];
            expect(rows.length, where).toBeLessThanOrEqual(1000);
            for (const row of rows) {
              expect(typeof row["deliveryId"] === "string" && typeof row["attempts"] === "number", where).toBe(true);
              expect([row["createdAt"], row["updatedAt"], row["nextAttemptAt"]].every(isoOrNull), where).toBe(true);
              // Metadata only: a listing never holds a body.
              expect(Object.keys(row), where).not.toContain("body");
              expect(a.what === "outbox" ? row["status"] === "pending" : row["status"] === "dead" || row["status"] === "rejected", where).toBe(true);
            }
            if (a.what === "outbox") {
              const counts = body["counts"] as Record<string, number>;
              expect(Object.keys(counts).sort(), where).toEqual(["dead", "delivered", "pending", "rejected"]);
              expect(counts["pending"]! >= rows.length, where).toBe(true);
            }
            break;
          }
          case "replay-known": {
            const known = [...rejected, ...queued];
            if (known.length === 0) break;
            const id = known[a.pick % known.length]!;
            const { status, body } = await op("/dead-letters/replay", { method: "POST", body: JSON.stringify({ deliveryId: id }) });
            if (rejected.has(id)) {
              // Replayed once: it is pending again, like a queued call.
              expect([status, body], where).toEqual([202, { ok: true, deliveryId: id, replayed: true }]);
              rejected.delete(id);
              queued.add(id);
            } else if (status === 202) {
              // A queued call replays only once its schedule is spent (dead).
              expect(body, where).toEqual({ ok: true, deliveryId: id, replayed: true });
            } else {
              expect([status, body], where).toEqual([404, { ok: false, error: "no dead letter with that deliveryId" }]);
            }
            break;
          }
          case "replay-odd": {
            const { status, body } = await op("/dead-letters/replay", { method: "POST", body: a.body });
            let parsed: unknown;
            try {
              parsed = JSON.parse(a.body);
            } catch {
              expect([status, body], where).toEqual([400, { ok: false, error: "invalid JSON" }]);
              break;
            }
            const id = typeof parsed === "object" && parsed !== null ? (parsed as { deliveryId?: unknown }).deliveryId : undefined;
            if (typeof id !== "string" || id === "") expect([status, body], where).toEqual([400, { ok: false, error: "deliveryId required" }]);
            else if (rejected.has(id) || queued.has(id)) expect([202, 404], where).toContain(status);
            else expect([status, body], where).toEqual([404, { ok: false, error: "no dead letter with that deliveryId" }]);
            if (status === 202 && rejected.delete(id as string)) queued.add(id as string);
            break;
          }
          case "retry": {
            const { status, body } = await op("/outbox/retry", { method: "POST" });
            expect(status, where).toBe(202);
            expect(body["ok"] === true && Number.isInteger(body["pulledForward"]), where).toBe(true);
            break;
          }
          case "cron": {
            const { status, body } = await op("/cron");
            expect([status, body["ok"]], where).toEqual([200, true]);
            break;
          }
          case "stray": {
            const authorization = { operator: `Bearer ${OPERATOR_TOKEN}`, caller: "Bearer cg_test-caller-token-0123456789", wrong: "Bearer nope", none: "", "lowercase-scheme": `bearer ${OPERATOR_TOKEN}` }[a.auth];
            const path = a.path.startsWith("/") || a.path === "" ? a.path : `/${a.path}`;
            if (!URL.canParse(`https://edge.test/_clawgate${path}`)) break;
            const res = await worker.request(`/_clawgate${path}`, {
              method: a.method,
              headers: { "cf-connecting-ip": a.clientIp, ...(authorization ? { authorization } : {}) },
              ...(a.method === "GET" ? {} : { body: "{}" }),
            });
            const body = (await res.json()) as Record<string, unknown>;
            expect(res.status, where).toBeLessThan(500);
            const good = a.auth === "operator" || a.auth === "lowercase-scheme";
            const pathname = new URL(`https://edge.test/_clawgate${path}`).pathname;
            // An empty path segment is refused before routing (docs/security.md), whoever asks.
            if (pathname.includes("//")) {
              expect([res.status, body], where).toEqual([400, { ok: false, error: "request path may not contain '.' or '..' segments (also percent-encoded), '//' or '\\'" }]);
              break;
            }
            // Everything under the prefix asks for the operator token first (a dot segment may leave it: 404).
            if (!good && (pathname === "/_clawgate" || pathname.startsWith("/_clawgate/"))) expect([401, 429], where).toContain(res.status);
            if (res.status === 401) expect(body, where).toEqual({ ok: false, error: "unauthorized" });
            if (res.status === 404) expect(body, where).toEqual({ ok: false, error: "not found" });
            break;
          }
        }
      }
    }),
    fuzzParameters(CI_RUNS, CAMPAIGN_SHARE),
  );
  expect(queued.size + rejected.size).toBeGreaterThan(0);
  // Nothing accepted is lost: every queued call is pending or a dead letter, every refused one a rejected dead letter
  // (checked while the listings can hold them all; a long campaign's outbox outgrows the 1000-row limit).
  const pending = ((await op("/outbox?limit=1000")).body["pending"] as { deliveryId: string }[]).map((d) => d.deliveryId);
  const dead = (await op("/dead-letters?limit=1000")).body["deadLetters"] as { deliveryId: string; status: string }[];
  if (pending.length < 1000 && dead.length < 1000) {
    const listed = new Set([...pending, ...dead.map((d) => d.deliveryId)]);
    expect([...queued].filter((id) => !listed.has(id))).toEqual([]);
    const refused = new Set(dead.filter((d) => d.status === "rejected").map((d) => d.deliveryId));
    expect([...rejected].filter((id) => !refused.has(id))).toEqual([]);
  }
}, fuzzTimeoutMs(CI_RUNS, 80, CAMPAIGN_SHARE));
