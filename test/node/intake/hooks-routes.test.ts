/**
 * The hook intake in-process (app.request): docs/openclaw-compat.md §5's order of checks, texts, content types and
 * statuses, OpenClaw's lenient payload reading, idempotency, envelopes. (test/compat/ compares the same rules against
 * the real gateway.)
 */
import { fdatasync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { exportJWK, generateKeyPair } from "jose";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigSchema } from "../../../node/config/config-schema.ts";
import { createFailureWindow } from "../../../shared/failure-window.ts";
import { compileHooksPolicy } from "../../../node/intake/hooks-policy.ts";
import { type HooksRoutesOptions, createHooksRoutes } from "../../../node/intake/hooks-routes.ts";
import { type JournalEntry, type IntakeJournal, openIntakeJournal } from "../../../node/intake/intake-journal.ts";
import { ENVELOPE_HEADER, createEnvelopeSigner, createEnvelopeVerifier, createMemoryReplayCache } from "../../../shared/envelope.ts";

const TOKEN = "hook-token-0123456789abcdef";
let dir: string;
let journal: IntakeJournal;
let clock: number;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "clawgate-hooks-"));
  journal = openIntakeJournal(dir);
  clock = Date.UTC(2026, 10, 23, 12);
});
afterEach(async () => {
  journal.close();
  await rm(dir, { recursive: true, force: true });
});

interface Extra {
  journal?: IntakeJournal;
  envelopes?: Awaited<ReturnType<typeof createEnvelopeVerifier>>;
  bodyTimeoutMs?: number;
  agents?: unknown;
  admit?: HooksRoutesOptions["admit"];
  onAccepted?: HooksRoutesOptions["onAccepted"];
}

function makeApp(hooks: Record<string, unknown> = {}, extra: Extra = {}) {
  const config = ConfigSchema.parse({
    hooks: { enabled: true, allowedAgentIds: ["main", "hooks"], ...hooks },
    // The agents OpenClaw resolves ids against (an id no agent has runs on the default one).
    agents: extra.agents ?? { list: [{ id: "main", default: true }, { id: "hooks" }, { id: "root" }] },
  });
  const policy = compileHooksPolicy(config, { hookToken: TOKEN, gatewayToken: "gw-token" });
  let n = 0;
  const routes = createHooksRoutes({
    policy,
    journal: extra.journal ?? journal,
    hookToken: () => TOKEN,
    limiter: createFailureWindow(),
    logger: pino({ level: "silent" }),
    clientOf: (c) => c.req.header("x-test-client") ?? "127.0.0.1",
    io: { now: () => clock, randomUUID: () => `00000000-0000-4000-8000-${String(++n).padStart(12, "0")}` },
    ...(extra.envelopes ? { envelopes: extra.envelopes } : {}),
    ...(extra.bodyTimeoutMs ? { bodyTimeoutMs: extra.bodyTimeoutMs } : {}),
    ...(extra.admit ? { admit: extra.admit } : {}),
    ...(extra.onAccepted ? { onAccepted: extra.onAccepted } : {}),
  });
  return new Hono().route(policy.path, routes);
}

const auth = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
const post = (app: Hono, path: string, body: unknown, headers: Record<string, string> = auth) =>
  app.request(path, { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body) });
async function expectAnswer(res: Response | Promise<Response>, status: number, body: unknown) {
  const r = await res;
  expect({ status: r.status, type: r.headers.get("content-type"), body: await r.json() }).toEqual({ status, type: "application/json; charset=utf-8", body });
  return r;
}
/** OpenClaw's plain-text refusals (401, 404, 405, 429, the query token). */
async function expectText(res: Response | Promise<Response>, status: number, text: string) {
  const r = await res;
  expect({ status: r.status, type: r.headers.get("content-type"), text: await r.text() }).toEqual({ status, type: "text/plain; charset=utf-8", text });
  return r;
}

describe("order of checks", () => {
  it("refuses a query token first, even with valid auth and a bad method", async () => {
    const res = makeApp().request(`/hooks/wake?token=${TOKEN}`, { method: "GET", headers: auth });
    await expectText(res, 400, "Hook token must be provided via Authorization: Bearer <token> or X-OpenClaw-Token header (query parameters are not allowed).");
  });

  it("401 without or with a wrong token, before the method", async () => {
    await expectText(makeApp().request("/hooks/wake", { method: "GET" }), 401, "Unauthorized");
    await expectText(post(makeApp(), "/hooks/wake", { text: "x" }, { authorization: "Bearer nope" }), 401, "Unauthorized");
  });

  it("accepts Authorization: Bearer and X-OpenClaw-Token", async () => {
    const app = makeApp();
    await expectAnswer(post(app, "/hooks/wake", { text: "a" }), 200, { ok: true, mode: "now" });
    await expectAnswer(post(app, "/hooks/wake", { text: "b" }, { "x-openclaw-token": TOKEN }), 200, { ok: true, mode: "now" });
    // OpenClaw's reading: scheme in any case, the token trimmed; a wrong Bearer falls back to X-OpenClaw-Token.
    await expectAnswer(post(app, "/hooks/wake", { text: "c" }, { authorization: `bearer   ${TOKEN} ` }), 200, { ok: true, mode: "now" });
    await expectAnswer(post(app, "/hooks/wake", { text: "d" }, { authorization: "Basic x", "x-openclaw-token": ` ${TOKEN}` }), 200, { ok: true, mode: "now" });
  });

  it("429 with Retry-After after 20 failures from one client in 60 s; other clients unaffected; lifts after the window", async () => {
    const app = makeApp();
    const bad = { authorization: "Bearer bad" };
    for (let i = 0; i < 20; i++) expect((await post(app, "/hooks/wake", { text: "x" }, bad)).status).toBe(401);
    const limited = await expectText(post(app, "/hooks/wake", { text: "x" }, bad), 429, "Too Many Requests");
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await post(app, "/hooks/wake", { text: "x" }, { ...bad, "x-test-client": "10.0.0.2" })).status).toBe(401);
    clock += 61_000;
    expect((await post(app, "/hooks/wake", { text: "x" }, bad)).status).toBe(401);
  });

  it("a valid token succeeds during a lockout and clears that client's count", async () => {
    const app = makeApp();
    const bad = { authorization: "Bearer bad" };
    for (let i = 0; i < 20; i++) await post(app, "/hooks/wake", { text: "x" }, bad);
    expect((await post(app, "/hooks/wake", { text: "x" }, bad)).status).toBe(429);
    expect((await post(app, "/hooks/wake", { text: "x" })).status).toBe(200);
    expect((await post(app, "/hooks/wake", { text: "x" }, bad)).status).toBe(401);
  });

  it("405 with Allow: POST for other methods, then 404 for an empty or unknown subpath", async () => {
    const res = await expectText(makeApp().request("/hooks/wake", { method: "PUT", headers: auth, body: "{}" }), 405, "Method Not Allowed");
    expect(res.headers.get("allow")).toBe("POST");
    // A trailing slash is another subpath (OpenClaw): `wake/` is looked up as a mapping, and none matches.
    for (const path of ["/hooks", "/hooks/", "/hooks/nope", "/hooks/wake/", "/hooks/agent/"]) await expectText(post(makeApp(), path, { text: "x" }), 404, "Not Found");
  });

  it("413 over hooks.maxBodyBytes, declared or streamed", async () => {
    const app = makeApp({ maxBodyBytes: 64 });
    await expectAnswer(post(app, "/hooks/wake", { text: "x".repeat(100) }), 413, { ok: false, error: "payload too large" });
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(`{"text":"${"y".repeat(200)}"}`));
        controller.close();
      },
    });
    const res = await app.request("/hooks/wake", { method: "POST", headers: auth, body: stream, duplex: "half" } as RequestInit);
    expect(res.status).toBe(413);
  });

  it("408 when the body never finishes", async () => {
    const stream = new ReadableStream({ start: (controller) => controller.enqueue(new TextEncoder().encode('{"te')) });
    const res = await makeApp({}, { bodyTimeoutMs: 50 }).request("/hooks/wake", { method: "POST", headers: auth, body: stream, duplex: "half" } as RequestInit);
    await expectAnswer(res, 408, { ok: false, error: "request body timeout" });
  });

  it("400 with the parser's message for malformed JSON; bad UTF-8 is read with U+FFFD; empty and blank bodies are {}", async () => {
    await expectAnswer(post(makeApp(), "/hooks/wake", "{nope"), 400, { ok: false, error: `Expected property name or '}' in JSON at position 1 (line 1 column 2)` });
    const res = await makeApp().request("/hooks/wake", { method: "POST", headers: auth, body: new Uint8Array([0x7b, 0xff, 0x7d]) });
    await expectAnswer(res, 400, { ok: false, error: `Expected property name or '}' in JSON at position 1 (line 1 column 2)` });
    const app = makeApp();
    const text = new TextEncoder().encode('{"text":"a');
    await expectAnswer(app.request("/hooks/wake", { method: "POST", headers: auth, body: new Uint8Array([...text, 0xff, 0x22, 0x7d]) }), 200, { ok: true, mode: "now" });
    expect(JSON.parse(journal.pending()[0]!.payload).text).toBe("a\uFFFD");
    for (const body of ["", "  \n\t "]) await expectAnswer(post(app, "/hooks/wake", body), 400, { ok: false, error: "text required" });
    for (const body of ["[]", '"x"', "42", "null"]) await expectAnswer(post(app, "/hooks/agent", body), 400, { ok: false, error: "message required" });
  });
});

describe("POST /hooks/wake", () => {
  it("requires text and takes mode now | next-heartbeat", async () => {
    const app = makeApp();
    await expectAnswer(post(app, "/hooks/wake", { text: "  " }), 400, { ok: false, error: "text required" });
    await expectAnswer(post(app, "/hooks/wake", { text: 5 }), 400, { ok: false, error: "text required" });
    // Any other mode is "now" (OpenClaw coerces, it does not refuse); the text is trimmed.
    await expectAnswer(post(app, "/hooks/wake", { text: "t", mode: "later" }), 200, { ok: true, mode: "now" });
    await expectAnswer(post(app, "/hooks/wake", { text: " t ", mode: "next-heartbeat" }), 200, { ok: true, mode: "next-heartbeat" });
    expect(journal.pending().map((d) => [d.kind, JSON.parse(d.payload)])).toEqual([
      ["wake", { text: "t", mode: "now" }],
      ["wake", { text: "t", mode: "next-heartbeat" }],
    ]);
  });
});

describe("group commit", () => {
  it("concurrent wakes share journal commits, each answered 200 only once its row is durable", async () => {
    const app = makeApp();
    const before = journal.stats().commits;
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => post(app, "/hooks/wake", { text: `w${i}` }, { ...auth, "idempotency-key": `k-${i}` })));
    expect(answers.map((r) => r.status)).toEqual(Array(40).fill(200));
    const commits = journal.stats().commits - before;
    // 40 requests, far fewer commits (in-process they all reach the journal within a turn or two of the loop).
    expect(commits).toBeGreaterThanOrEqual(1);
    expect(commits).toBeLessThanOrEqual(4);
    expect(journal.counts().pending).toBe(40);
  });

  it("a failed commit answers every request of its group 503 with Retry-After, and journals none of them", async () => {
    let fail = true;
    await mkdir(join(dir, "failing"));
    const failing = openIntakeJournal(join(dir, "failing"), { commit: (db) => (fail ? (() => { throw new Error("disk I/O error"); })() : db.exec("COMMIT")) });
    try {
      const app = makeApp({}, { journal: failing });
      const answers = await Promise.all(
        ["a", "b", "c"].map((k) => post(app, k === "c" ? "/hooks/agent" : "/hooks/wake", k === "c" ? { message: "m" } : { text: k }, { ...auth, "idempotency-key": k })),
      );
      for (const r of answers) {
        expect({ status: r.status, retryAfter: r.headers.get("retry-after"), body: await r.json() }).toEqual({
          status: 503,
          retryAfter: "1",
          body: { ok: false, error: "the delivery could not be stored; retry" },
        });
      }
      expect(failing.counts()).toEqual({ pending: 0, done: 0, dead: 0 });
      // The retry of the same delivery id is new, not a duplicate of something never stored.
      fail = false;
      await expectAnswer(post(app, "/hooks/wake", { text: "a" }, { ...auth, "idempotency-key": "a" }), 200, { ok: true, mode: "now" });
      expect(failing.counts().pending).toBe(1);
    } finally {
      failing.close();
    }
  });
});

describe("POST /hooks/agent", () => {
  it("answers 202 with a runId and journals the run with its defaults", async () => {
    await expectAnswer(post(makeApp(), "/hooks/agent", { message: "summarize" }), 202, { ok: true, runId: "00000000-0000-4000-8000-000000000003" });
    expect(JSON.parse(journal.pending()[0]!.payload)).toEqual({
      message: "summarize",
      name: "Hook",
      wakeMode: "now",
      deliver: true,
      channel: "last",
      sessionKey: "hook:00000000-0000-4000-8000-000000000001",
    });
  });

  it.each([
    [{}, "message required"],
    [{ message: 5 }, "message required"],
    [{ message: "m", agentId: "root" }, "agentId is not allowed by hooks.allowedAgentIds"],
    [{ message: "m", agentId: "ROOT" }, "agentId is not allowed by hooks.allowedAgentIds"],
    [{ message: "m", sessionKey: "hook:x" }, "sessionKey is disabled for external /hooks/agent payloads; set hooks.allowRequestSessionKey=true to enable"],
    [{ message: "m", model: "" }, "model required"],
    [{ message: "m", model: 5 }, "model required"],
    [{ message: "m", channel: "telegram" }, "channel must be last"],
    [{ message: "m", channel: 1 }, "channel must be last"],
  ])("400 for %j", async (body, error) => {
    await expectAnswer(post(makeApp({}, { agents: { list: [{ id: "main", default: true }, { id: "hooks" }, { id: "root" }] } }), "/hooks/agent", body), 400, { ok: false, error });
  });

  it("coerces or ignores what OpenClaw coerces or ignores, and journals the meaning", async () => {
    const app = makeApp({}, { agents: { list: [{ id: "main", default: true }, { id: "hooks" }] } });
    const body = { message: " m ", name: 5, wakeMode: "soon", deliver: "no", channel: " LAST ", to: 7, thinking: "", timeoutSeconds: 30.9, agentId: " HOOKS ", sessionKey: "" };
    expect((await post(app, "/hooks/agent", body)).status).toBe(202);
    expect((await post(app, "/hooks/agent", { message: "m", agentId: "no-such-agent", timeoutSeconds: -1, deliver: false })).status).toBe(202);
    expect(journal.pending().map((d) => JSON.parse(d.payload))).toEqual([
      { message: "m", name: "Hook", wakeMode: "now", deliver: true, channel: "last", agentId: "hooks", timeoutSeconds: 30, sessionKey: "hook:00000000-0000-4000-8000-000000000001" },
      // An unknown agent runs on the default agent, which the allowlist allows.
      { message: "m", name: "Hook", wakeMode: "now", deliver: false, channel: "last", agentId: "main", sessionKey: "hook:00000000-0000-4000-8000-000000000004" },
    ]);
  });

  it("reads hooks.allowedAgentIds as OpenClaw does: omitted or '*' = any agent, [] = no explicit agentId", async () => {
    for (const allowedAgentIds of [undefined, ["*"]]) {
      expect((await post(makeApp({ allowedAgentIds }), "/hooks/agent", { message: "m", agentId: "anyone" })).status).toBe(202);
    }
    const none = makeApp({ allowedAgentIds: [] });
    await expectAnswer(post(none, "/hooks/agent", { message: "m", agentId: "main" }), 400, { ok: false, error: "agentId is not allowed by hooks.allowedAgentIds" });
    expect((await post(none, "/hooks/agent", { message: "m" })).status).toBe(202);
  });

  it("enforces session-key prefixes and the model allowlist", async () => {
    const app = makeApp(
      { allowRequestSessionKey: true, allowedSessionKeyPrefixes: ["hook:", "ci:"] },
      { agents: { defaults: { models: { "openai/gpt-5.2-mini": { alias: "mini" } } } } },
    );
    await expectAnswer(post(app, "/hooks/agent", { message: "m", sessionKey: "agent:main:main" }), 400, { ok: false, error: "sessionKey must start with one of: hook:, ci:" });
    // Prefixes compare case-insensitively on the trimmed key; a model outside the allowlist is accepted and the
    // run uses the agent's own model (OpenClaw checks the allowlist at run time and falls back); an alias names its model.
    expect((await post(app, "/hooks/agent", { message: "m", sessionKey: " CI:build-1 ", model: "openai/gpt-9" })).status).toBe(202);
    expect((await post(app, "/hooks/agent", { message: "m", model: "mini" })).status).toBe(202);
    const [first, second] = journal.pending().map((d) => JSON.parse(d.payload) as Record<string, unknown>);
    expect([first!["sessionKey"], first!["model"], second!["model"]]).toEqual(["CI:build-1", undefined, "openai/gpt-5.2-mini"]);
  });

  it("runs a delivery id at most once: a duplicate answers like the original", async () => {
    const app = makeApp();
    const headers = { ...auth, "idempotency-key": "order-42" };
    const first = await (await post(app, "/hooks/agent", { message: "m" }, headers)).json();
    const second = await (await post(app, "/hooks/agent", { message: "m" }, headers)).json();
    expect(second).toEqual(first);
    expect(journal.counts().pending).toBe(1);
    await expectAnswer(post(app, "/hooks/agent", { message: "m" }, { ...auth, "idempotency-key": "k".repeat(257) }), 400, {
      ok: false,
      error: "Idempotency-Key must be 1 to 256 characters",
    });
  });
});

describe("mapped hooks (hooks.mappings)", () => {
  const mappings = [
    { id: "gh-push", match: { path: "github", source: "push" }, action: "wake", wakeMode: "next-heartbeat", textTemplate: "push to {{payload.repo.name}} by {{headers.x-actor}}" },
    {
      id: "gh",
      match: { path: "github" },
      action: "agent",
      name: "GitHub",
      agentId: "hooks",
      sessionKey: "hook:gh:{{payload.number}}",
      messageTemplate: "{{payload.action}} #{{payload.number}} in {{query.repo}}",
      model: "{{payload.model}}",
    },
    { id: "static", match: { path: "ci" }, sessionKey: "ops:ci", messageTemplate: "build {{payload.id}}" },
    { id: "rogue", match: { path: "rogue" }, agentId: "root", messageTemplate: "x" },
  ];
  const app = (extra: Record<string, unknown> = {}, more: Extra = {}) =>
    makeApp({ allowRequestSessionKey: true, allowedSessionKeyPrefixes: ["hook:"], mappings, ...extra }, more);

  it("a wake mapping answers like /hooks/wake and journals the direct shape plus the mapping name", async () => {
    await expectAnswer(post(app(), "/hooks/github", { source: "push", repo: { name: "clawgate" } }, { ...auth, "x-actor": "ana" }), 200, { ok: true, mode: "next-heartbeat" });
    expect(journal.pending().map((d) => [d.kind, JSON.parse(d.payload)])).toEqual([["wake", { text: "push to clawgate by ana", mode: "next-heartbeat", mapping: "gh-push" }]]);
  });

  it("an agent mapping answers like /hooks/agent and journals the direct shape plus the mapping name", async () => {
    await expectAnswer(post(app(), "/hooks/github?repo=clawgate", { action: "opened", number: 42 }), 202, { ok: true, runId: "00000000-0000-4000-8000-000000000002" });
    expect(JSON.parse(journal.pending()[0]!.payload)).toEqual({
      message: "opened #42 in clawgate",
      name: "GitHub",
      agentId: "hooks",
      wakeMode: "now",
      deliver: true,
      channel: "last",
      sessionKey: "hook:gh:42",
      mapping: "gh",
    });
  });

  it("holds mapped runs to the same policy: agent allowlist, session keys, model allowlist", async () => {
    await expectAnswer(post(app(), "/hooks/rogue", {}), 400, { ok: false, error: "agentId is not allowed by hooks.allowedAgentIds" });
    // A static mapping key is the operator's choice, but still needs an allowed prefix.
    await expectAnswer(post(app(), "/hooks/ci", { id: 1 }), 400, { ok: false, error: "sessionKey must start with one of: hook:" });
    expect((await post(app({ allowedSessionKeyPrefixes: ["hook:", "ops:"] }), "/hooks/ci", { id: 1 })).status).toBe(202);
    // A key a mapping renders is the operator's template: OpenClaw does not ask for allowRequestSessionKey.
    expect((await post(app({ allowRequestSessionKey: false }), "/hooks/github", { action: "a", number: 1 })).status).toBe(202);
    const withModels = app({}, { agents: { defaults: { models: { "openai/gpt-5.2-mini": {} } } } });
    const keyed = { ...auth, "idempotency-key": "model-run" };
    expect((await post(withModels, "/hooks/github", { action: "a", number: 1, model: "openai/gpt-9" }, keyed)).status).toBe(202);
    expect(JSON.parse(journal.get("model-run")!.payload)).toMatchObject({ message: "a #1 in", name: "GitHub" });
    expect(JSON.parse(journal.get("model-run")!.payload).model).toBeUndefined();
  });

  it("404 for a path no mapping matches; a non-object body renders as {}; 400 for an empty rendering", async () => {
    await expectText(post(app(), "/hooks/stripe", { source: "push" }), 404, "Not Found");
    await expectAnswer(post(app(), "/hooks/ci/", "42", { ...auth }), 400, { ok: false, error: "sessionKey must start with one of: hook:" });
    await expectAnswer(post(app(), "/hooks/github", { source: "push" }, { ...auth, "x-actor": "" }), 200, { ok: true, mode: "next-heartbeat" });
    await expectAnswer(post(makeApp({ mappings: [{ match: { path: "empty" }, action: "wake", textTemplate: "{{payload.t}}" }] }), "/hooks/empty", {}), 400, {
      ok: false,
      error: "hook mapping requires text",
    });
  });

  it("keeps the order of checks ahead of the mapping: auth, method, body limit", async () => {
    await expectText(post(app(), "/hooks/github", {}, { authorization: "Bearer nope" }), 401, "Unauthorized");
    await expectText(app().request("/hooks/github", { method: "GET", headers: auth }), 405, "Method Not Allowed");
    await expectAnswer(post(app({ maxBodyBytes: 16 }), "/hooks/github", { action: "x".repeat(50) }), 413, { ok: false, error: "payload too large" });
  });

  it("is idempotent by webhook-id and asks admit for agent mappings only", async () => {
    const asked: string[] = [];
    const a = app({}, { admit: (kind) => (asked.push(kind), { ok: true }) });
    const headers = { ...auth, "webhook-id": "msg_2Lh" };
    const first = await (await post(a, "/hooks/github", { action: "a", number: 1 }, headers)).json();
    expect(await (await post(a, "/hooks/github", { action: "a", number: 1 }, headers)).json()).toEqual(first);
    await post(a, "/hooks/github", { source: "push", repo: { name: "r" } });
    expect(asked).toEqual(["agent"]);
    expect(journal.counts().pending).toBe(2);
  });
});

describe("dispatcher hook points", () => {
  it("admit refuses a new agent run with 503 queue full + Retry-After, before anything is journaled", async () => {
    const asked: string[] = [];
    const app = makeApp({}, { admit: (kind) => (asked.push(kind), { ok: false, retryAfterSeconds: 2.2 }) });
    const res = await expectAnswer(post(app, "/hooks/agent", { message: "m" }), 503, { ok: false, error: "queue full" });
    expect(res.headers.get("retry-after")).toBe("3");
    expect(asked).toEqual(["agent"]);
    expect(journal.counts().pending).toBe(0);
  });

  it("admit is never asked for a wake, nor before validation", async () => {
    const asked: string[] = [];
    const app = makeApp({}, { admit: (kind) => (asked.push(kind), { ok: false, retryAfterSeconds: 1 }) });
    await expectAnswer(post(app, "/hooks/wake", { text: "t" }), 200, { ok: true, mode: "now" });
    await expectAnswer(post(app, "/hooks/agent", {}), 400, { ok: false, error: "message required" });
    expect(asked).toEqual([]);
  });

  it("a duplicate agent call is answered only once a sync covers the original's row, admission or not", async () => {
    const held: (() => void)[] = [];
    await mkdir(join(dir, "slow"));
    const slow = openIntakeJournal(join(dir, "slow"), { sync: (fd, done) => held.push(() => fdatasync(fd, done)) });
    try {
      const app = makeApp({}, { journal: slow, admit: () => ({ ok: true }) });
      const headers = { ...auth, "idempotency-key": "dup-1" };
      const settled: string[] = [];
      const first = Promise.resolve(post(app, "/hooks/agent", { message: "m" }, headers)).then((r) => (settled.push("first"), r));
      const deadline = Date.now() + 5_000;
      while (held.length === 0 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
      expect(held).toHaveLength(1); // the original is committed, its sync held
      const second = Promise.resolve(post(app, "/hooks/agent", { message: "m" }, headers)).then((r) => (settled.push("second"), r));
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      expect(settled).toEqual([]); // nobody answered: the row is not durable yet
      while (held.length > 0 || settled.length < 2) {
        held.shift()?.();
        if (Date.now() > deadline) throw new Error("answers did not arrive");
        await new Promise((r) => setImmediate(r));
      }
      const [a, b] = await Promise.all([first, second]);
      expect(a.status).toBe(202);
      expect(await b.json()).toEqual(await a.json());
    } finally {
      slow.close();
    }
  });

  it("a duplicate delivery gets the original answer without asking admit or calling onAccepted", async () => {
    let full = false;
    const asked: string[] = [];
    const accepted: JournalEntry[] = [];
    const app = makeApp({}, {
      admit: (kind) => (asked.push(kind), full ? { ok: false, retryAfterSeconds: 5 } : { ok: true }),
      onAccepted: (d) => accepted.push(d),
    });
    const headers = { ...auth, "idempotency-key": "job-1" };
    const first = await expectAnswer(post(app, "/hooks/agent", { message: "m" }, headers), 202, { ok: true, runId: "00000000-0000-4000-8000-000000000002" });
    expect(first.status).toBe(202);
    full = true;
    await expectAnswer(post(app, "/hooks/agent", { message: "m" }, headers), 202, { ok: true, runId: "00000000-0000-4000-8000-000000000002" });
    expect(asked).toEqual(["agent"]);
    expect(accepted.map((d) => [d.deliveryId, d.kind, d.state])).toEqual([["job-1", "agent", "pending"]]);
  });

  it("onAccepted fires once per new insert, for wakes too, and a throwing listener still gets the caller its answer", async () => {
    const accepted: string[] = [];
    const app = makeApp({}, {
      onAccepted: (d) => {
        accepted.push(`${d.kind}:${d.deliveryId}`);
        throw new Error("listener bug");
      },
    });
    const headers = { ...auth, "idempotency-key": "w-1" };
    await expectAnswer(post(app, "/hooks/wake", { text: "t" }, headers), 200, { ok: true, mode: "now" });
    await expectAnswer(post(app, "/hooks/wake", { text: "t" }, headers), 200, { ok: true, mode: "now" });
    expect(accepted).toEqual(["wake:w-1"]);
  });
});

describe("edge envelopes", () => {
  /** An edge signing key and the node's verifier for it, both on the test clock. */
  async function edgeKeys() {
    const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    const kid = "edge-1";
    const signer = await createEnvelopeSigner({ privateJwk: { ...(await exportJWK(privateKey)), alg: "EdDSA", kid }, nodeId: "node-1", now: () => clock });
    const envelopes = await createEnvelopeVerifier({
      publicJwks: [{ ...(await exportJWK(publicKey)), alg: "EdDSA", kid }],
      nodeId: "node-1",
      replayCache: createMemoryReplayCache(),
      now: () => clock,
    });
    return { signer, envelopes };
  }

  it("accept a signed request, use its jti as the delivery id, and refuse tampering and replay", async () => {
    const { signer, envelopes } = await edgeKeys();
    const app = makeApp({}, { envelopes });
    const body = JSON.stringify({ text: "from the edge" });
    const token = await signer.sign({ method: "POST", path: "/hooks/wake", body, principal: "cron:heartbeat", jti: "tick-1" });
    const headers = { [ENVELOPE_HEADER]: token, "content-type": "application/json" };
    await expectAnswer(app.request("/hooks/wake", { method: "POST", headers, body }), 200, { ok: true, mode: "now" });
    expect(journal.get("tick-1")?.kind).toBe("wake");
    await expectAnswer(app.request("/hooks/wake", { method: "POST", headers, body }), 401, { ok: false, error: "unauthorized", code: "ERR_ENVELOPE_REPLAYED" });
    const other = await signer.sign({ method: "POST", path: "/hooks/wake", body, principal: "cron:heartbeat" });
    await expectAnswer(app.request("/hooks/wake", { method: "POST", headers: { [ENVELOPE_HEADER]: other }, body: '{"text":"swapped"}' }), 401, {
      ok: false,
      error: "unauthorized",
      code: "ERR_ENVELOPE_BINDING",
    });
  });

  it("take the signed delivery id over the jti and over the caller's keys, as is, so a re-signed retry answers like the original", async () => {
    const { signer, envelopes } = await edgeKeys();
    const app = makeApp({}, { envelopes });
    // The edge already scoped the caller's key by its principal (`did` = token:ci/order-42); a pass-through
    // call still carries the raw key in its headers and payload, which the node must neither use nor re-scope.
    const body = JSON.stringify({ message: "run once", idempotencyKey: "order-42" });
    const send = async () => {
      const token = await signer.sign({ method: "POST", path: "/hooks/agent", body, principal: "token:ci", deliveryId: "token:ci/order-42" });
      const res = await app.request("/hooks/agent", { method: "POST", headers: { [ENVELOPE_HEADER]: token, "idempotency-key": "order-42" }, body });
      expect(res.status).toBe(202);
      return ((await res.json()) as { runId: string }).runId;
    };
    const runId = await send();
    expect(await send()).toBe(runId);
    expect(journal.get("token:ci/order-42")?.kind).toBe("agent");
    expect(journal.get("order-42")).toBeUndefined();
    expect(journal.counts().pending).toBe(1);
  });

  it("refuse an envelope when no edge keys are configured", async () => {
    await expectText(makeApp().request("/hooks/wake", { method: "POST", headers: { [ENVELOPE_HEADER]: "x.y.z" }, body: "{}" }), 401, "Unauthorized");
  });
});

describe("startup policy errors", () => {
  it.each([
    [{ enabled: true }, {}, "hooks.enabled requires hooks.token"],
    [{ enabled: true, path: "/" }, { hookToken: TOKEN }, "hooks.path may not be '/'"],
    [{ enabled: true, allowedSessionKeyPrefixes: ["ci:"] }, { hookToken: TOKEN }, "hooks.allowedSessionKeyPrefixes must include 'hook:' when hooks.defaultSessionKey is unset"],
    [{ enabled: true, allowedSessionKeyPrefixes: ["ci:"], defaultSessionKey: "hook:in" }, { hookToken: TOKEN }, "hooks.defaultSessionKey must match hooks.allowedSessionKeyPrefixes"],
    [{ enabled: true }, { hookToken: TOKEN, gatewayToken: TOKEN }, "hooks.token must differ from gateway.auth.token"],
  ])("%j refuses to start", (hooks, tokens, message) => {
    expect(() => compileHooksPolicy(ConfigSchema.parse({ hooks }), tokens)).toThrow(message);
  });
});
