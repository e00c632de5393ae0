/**
 * The hook request matrix the differential suite sends to the real OpenClaw gateway and to clawgate's node agent:
 * two configs, and for each a list of rows. A row without `difference` must get the identical answer from both;
 * a row with one names an entry of docs/openclaw-compat.md "Differences from OpenClaw" and says what clawgate
 * answers instead.
 */
import type { Probe } from "./support/observe.ts";

export const HOOK_TOKEN = "hook-token-compat-0123456789abcdef0123456789";
export const GATEWAY_TOKEN = "gateway-token-compat-0123456789abcdef01234567";
const MAX_BODY = 4096;

/** What both servers read besides `hooks`: a local gateway, no update check, three agents and a model allowlist. */
const base = {
  gateway: { mode: "local", bind: "loopback", auth: { mode: "token", token: GATEWAY_TOKEN } },
  update: { checkOnStart: false },
  agents: {
    defaults: { models: { "openai/gpt-5.2-mini": { alias: "mini" }, "openai/gpt-5.2": {} } },
    list: [{ id: "main", default: true }, { id: "hooks" }, { id: "private" }],
  },
};

/** Config A: the hooks a typical operator runs (allowlists, caller session keys with prefixes, mappings, a small body limit). */
export const CONFIG_A = {
  ...base,
  hooks: {
    enabled: true,
    token: HOOK_TOKEN,
    path: "/hooks",
    maxBodyBytes: MAX_BODY,
    allowedAgentIds: ["main", "Hooks"],
    allowRequestSessionKey: true,
    allowedSessionKeyPrefixes: ["hook:", "Ops:", "agent:"],
    presets: ["gmail", "no-such-preset"],
    mappings: [
      {
        id: "github",
        match: { path: "github" },
        action: "agent",
        name: "GitHub {{headers.x-github-event}}",
        agentId: "hooks",
        sessionKey: "hook:github:{{payload.repository.id}}",
        messageTemplate: "{{headers.x-github-event}} on {{payload.repository.full_name}}: {{action}} at {{query.ref}}",
      },
      { id: "wake-me", match: { path: "/wake-me/" }, action: "wake", wakeMode: "next-heartbeat", textTemplate: "{{payload.text}} via {{path}}" },
      { id: "stripe", match: { source: "stripe" }, action: "agent", messageTemplate: "stripe {{type}} {{data.object.id}}" },
      { id: "bad-channel", match: { path: "bad-channel" }, messageTemplate: "x", channel: "telegram" },
      { id: "private", match: { path: "private" }, messageTemplate: "x", agentId: "private" },
      { id: "keyed", match: { path: "keyed" }, messageTemplate: "x {{id}}", sessionKey: "other:{{id}}" },
      { id: "empty", match: { path: "empty" }, messageTemplate: "{{missing}}" },
      { id: "empty-wake", match: { path: "empty-wake" }, action: "wake", textTemplate: "  {{missing}}  " },
      { id: "items", match: { path: "items" }, messageTemplate: "first {{items[0].name}} all {{items}} n {{n}} flag {{flag}} nothing {{nil}}" },
    ],
  },
};

/** Config B: another path, no caller session keys, a default session key, any agent. */
export const CONFIG_B = {
  ...base,
  hooks: { enabled: true, token: HOOK_TOKEN, path: "/in/", defaultSessionKey: "hook:ingress", allowedAgentIds: ["*"] },
};

/** Config C: caller session keys on without a prefix list, and `allowedAgentIds: []` (no explicit agent routing). */
export const CONFIG_C = {
  ...base,
  hooks: { enabled: true, token: HOOK_TOKEN, allowRequestSessionKey: true, allowedAgentIds: [] },
};

export interface Row extends Probe {
  readonly name: string;
  /** A deliberate difference (docs/openclaw-compat.md "Differences from OpenClaw"): its id, and clawgate's answer. */
  readonly difference?: { readonly id: string; readonly ours: Readonly<Record<string, unknown>> };
  /** Differs until another engineer's change lands; printed, not failed. */
  readonly pending?: string;
}

const bearer = { authorization: `Bearer ${HOOK_TOKEN}` };
const post = (name: string, path: string, body: unknown, extra: Partial<Row> = {}): Row => ({
  name,
  path,
  headers: { ...bearer, "content-type": "application/json", ...extra.headers },
  body: typeof body === "string" ? body : JSON.stringify(body),
  ...extra,
});
const wake = (name: string, body: unknown, extra: Partial<Row> = {}) => post(`wake: ${name}`, "/hooks/wake", body, extra);
const agent = (name: string, body: unknown, extra: Partial<Row> = {}) => post(`agent: ${name}`, "/hooks/agent", body, extra);

const enc = new TextEncoder();
const LONG_KEY = "k".repeat(257);

/** Values of the wrong type for any field. */
const WRONG_TYPES: Record<string, unknown> = { number: 5, boolean: true, null: null, array: ["x"], object: { a: 1 } };

export function rowsA(): Row[] {
  const rows: Row[] = [];
  // --- /hooks/wake: every field.
  rows.push(wake("valid", { text: "hello" }));
  rows.push(wake("text with spaces trimmed", { text: "  hello  " }));
  rows.push(wake("text missing", {}));
  rows.push(wake("text empty", { text: "" }));
  rows.push(wake("text whitespace", { text: " \n\t " }));
  for (const [t, v] of Object.entries(WRONG_TYPES)) rows.push(wake(`text ${t}`, { text: v }));
  rows.push(wake("text long unicode", { text: "ü€😀".repeat(300) }));
  for (const mode of ["now", "next-heartbeat", "NOW", "Next-Heartbeat", " next-heartbeat", "later", "", 1, null, true]) {
    rows.push(wake(`mode ${JSON.stringify(mode)}`, { text: "x", mode }));
  }
  rows.push(wake("unknown fields ignored", { text: "x", extra: { deep: [1, 2] }, sessionKey: "whatever" }));
  // --- /hooks/agent: every field.
  rows.push(agent("minimal", { message: "hi" }));
  rows.push(agent("message trimmed", { message: "  hi  " }));
  rows.push(agent("message missing", {}));
  rows.push(agent("message empty", { message: "" }));
  rows.push(agent("message whitespace", { message: "   " }));
  for (const [t, v] of Object.entries(WRONG_TYPES)) rows.push(agent(`message ${t}`, { message: v }));
  const fields: Record<string, unknown[]> = {
    name: ["Build", "  Build  ", "", "   ", ...Object.values(WRONG_TYPES)],
    wakeMode: ["now", "next-heartbeat", "NEXT-HEARTBEAT", "soon", "", 0, null],
    deliver: [true, false, "false", "no", 0, null, []],
    channel: ["last", "LAST", " last ", "Last", "telegram", "nowhere", "", "  ", 5, null, true],
    to: ["+15551234567", "", "  ", 5, null],
    model: ["openai/gpt-5.2-mini", "mini", " openai/gpt-5.2 ", "anthropic/not-allowed", "", "   ", 5, null, false],
    thinking: ["high", "HIGH", "bogus", "", 3, null],
    timeoutSeconds: [30, 30.9, 0.5, 0, -5, 1e12, "30", null, Number.MAX_SAFE_INTEGER],
    agentId: ["main", "MAIN", " hooks ", "Hooks", "private", "PRIVATE", "unknown-agent", "No Such Agent!", "", "   ", 7, null],
    sessionKey: ["hook:abc", "HOOK:abc", "  hook:padded  ", "ops:x", "OPS:Y", "Ops:z", "other:x", "hooks", "", "   ", 9, null, "agent:main:hook:a", "AGENT:MAIN:Hook:B"],
    idempotencyKey: ["idem-1", "", 5, null],
  };
  for (const [field, values] of Object.entries(fields)) {
    for (const value of values) rows.push(agent(`${field} ${JSON.stringify(value)}`, { message: "hi", [field]: value }));
  }
  rows.push(agent("agentId hooks + sessionKey agent:hooks:…", { message: "hi", agentId: "hooks", sessionKey: "agent:hooks:hook:x" }));
  rows.push({
    ...agent("sessionKey agent:hooks:… on the default agent", { message: "hi", sessionKey: "agent:hooks:x" }),
    difference: { id: "cross-agent-session-key", ours: { status: 400, body: { ok: false, error: 'sessionKey must stay inside its agent: it names agent "hooks", but the call runs as agent "main"' } } },
  });
  // A web page in the host's browser: OpenClaw serves it; clawgate refuses before auth.
  const browser = (name: string, headers: Record<string, string>, ours: Record<string, unknown>): Row => ({
    ...wake(name, { text: "x" }, { headers: { ...bearer, "content-type": "application/json", ...headers } }),
    difference: { id: "browser-boundary", ours },
  });
  rows.push(browser("Origin of another site", { origin: "https://evil.example" }, { status: 403, body: { ok: false, error: "cross-origin request refused: Origin is not this node" } }));
  rows.push(browser("Sec-Fetch-Site cross-site", { "sec-fetch-site": "cross-site" }, { status: 403, body: { ok: false, error: "cross-site request refused: Sec-Fetch-Site is cross-site or same-site" } }));
  rows.push(browser("a rebinding Host", { host: "evil.example" }, { status: 421 }));
  rows.push(agent("every field valid", {
    message: "hi", name: "N", agentId: "hooks", sessionKey: "hook:all", wakeMode: "next-heartbeat", deliver: false,
    channel: "last", to: "x", model: "mini", thinking: "low", timeoutSeconds: 12,
  }));
  rows.push(agent("first refusal wins: no message and bad channel", { channel: "nowhere" }));
  rows.push(agent("first refusal wins: bad channel and empty model", { message: "x", channel: "nowhere", model: "" }));
  rows.push(agent("first refusal wins: private agent and bad session key", { message: "x", agentId: "private", sessionKey: "other:1" }));
  rows.push({
    ...agent("cross-agent session key", { message: "x", agentId: "main", sessionKey: "agent:private:main" }),
    difference: { id: "cross-agent-session-key", ours: { status: 400 } },
  });
  // --- Bodies.
  rows.push(post("bad JSON", "/hooks/wake", "not json"));
  rows.push(post("bad JSON: truncated", "/hooks/agent", '{"message": "x"'));
  rows.push(post("bad JSON: trailing comma", "/hooks/agent", '{"message": "x",}'));
  rows.push(post("bad JSON: single quotes", "/hooks/agent", "{'message': 'x'}"));
  rows.push(post("bad JSON: on an unknown path", "/hooks/nowhere", "{"));
  rows.push(post("empty body: wake", "/hooks/wake", ""));
  rows.push(post("empty body: agent", "/hooks/agent", ""));
  rows.push(post("whitespace body", "/hooks/agent", " \r\n\t "));
  rows.push(post("body padded with whitespace", "/hooks/agent", '  \n{"message":"x"}\n  '));
  rows.push(post("BOM before JSON", "/hooks/wake", '\uFEFF{"text":"x"}'));
  for (const [name, body] of Object.entries({ array: "[]", "array of object": '[{"text":"x"}]', string: '"text"', number: "42", true: "true", null: "null" })) {
    rows.push(post(`non-object body (${name}): wake`, "/hooks/wake", body));
    rows.push(post(`non-object body (${name}): agent`, "/hooks/agent", body));
  }
  rows.push(post("invalid UTF-8 in a string", "/hooks/wake", new Uint8Array([...enc.encode('{"text":"a'), 0xff, 0xfe, ...enc.encode('b"}')])));
  rows.push(post("invalid UTF-8 outside strings", "/hooks/wake", new Uint8Array([0xc3, ...enc.encode('{"text":"x"}')])));
  rows.push(post("lone surrogate escape", "/hooks/wake", '{"text":"\\ud800"}'));
  rows.push(post("no content type", "/hooks/wake", '{"text":"x"}', { headers: { ...bearer } }));
  rows.push(post("text/plain content type", "/hooks/wake", '{"text":"x"}', { headers: { ...bearer, "content-type": "text/plain" } }));
  rows.push(post("form content type", "/hooks/wake", '{"text":"x"}', { headers: { ...bearer, "content-type": "application/x-www-form-urlencoded" } }));
  rows.push(post("body at the limit", "/hooks/wake", JSON.stringify({ text: "x".repeat(MAX_BODY - 11) })));
  const oversize = { id: "oversize-answered", ours: { status: 413, contentType: "application/json; charset=utf-8", body: { ok: false, error: "payload too large" } } };
  rows.push({ ...post("oversize body (Content-Length)", "/hooks/wake", JSON.stringify({ text: "x".repeat(MAX_BODY) })), difference: oversize });
  rows.push({ ...post("oversize declared, small body", "/hooks/wake", '{"text":"x"}', { headers: { ...bearer, "content-length": String(MAX_BODY + 1) } }), difference: oversize });
  rows.push({
    name: "oversize body (chunked)",
    path: "/hooks/agent",
    headers: { ...bearer, "content-type": "application/json" },
    body: { chunks: [enc.encode('{"message":"'), enc.encode("y".repeat(MAX_BODY)), enc.encode('"}')] },
    difference: oversize,
  });
  rows.push({ name: "chunked body under the limit", path: "/hooks/wake", headers: bearer, body: { chunks: [enc.encode('{"te'), enc.encode('xt":"chunked"}')] } });
  // --- Methods, paths, tokens.
  for (const method of ["GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"]) {
    rows.push({ name: `method ${method} on wake`, method, path: "/hooks/wake", headers: bearer });
  }
  rows.push({ name: "method GET without a token", method: "GET", path: "/hooks/wake" });
  rows.push({ name: "lowercase method name", method: "post", path: "/hooks/wake", headers: bearer, body: '{"text":"x"}' });
  rows.push(post("trailing slash: wake", "/hooks/wake/", { text: "x" }));
  rows.push(post("trailing slash: agent", "/hooks/agent/", { message: "x" }));
  rows.push(post("hooks path itself", "/hooks", { text: "x" }));
  rows.push(post("hooks path with slash", "/hooks/", { text: "x" }));
  rows.push(post("unknown subpath", "/hooks/nowhere", { text: "x" }));
  rows.push(post("nested subpath", "/hooks/wake/extra", { text: "x" }));
  rows.push(post("case of the route", "/hooks/WAKE", { text: "x" }));
  rows.push(post("query string ignored", "/hooks/wake?x=1&y", { text: "x" }));
  rows.push({
    ...post("double slash before the route", "/hooks//wake", { text: "x" }),
    difference: { id: "path-normalization-refused", ours: { status: 400 } },
  });
  rows.push({
    ...post("dot segment", "/hooks/x/../wake", { text: "x" }),
    difference: { id: "path-normalization-refused", ours: { status: 400 } },
  });
  rows.push(post("query token, valid", `/hooks/wake?token=${HOOK_TOKEN}`, { text: "x" }, { headers: { "content-type": "application/json" } }));
  rows.push(post("query token, empty", "/hooks/wake?token=", { text: "x" }));
  rows.push(post("query token with a header token", `/hooks/agent?token=x`, { message: "x" }));
  rows.push(post("query token on GET", "/hooks/wake?token=x", "", { method: "GET" }));
  const tokens: Record<string, Record<string, string>> = {
    "X-OpenClaw-Token": { "x-openclaw-token": HOOK_TOKEN },
    "X-OpenClaw-Token padded": { "x-openclaw-token": `  ${HOOK_TOKEN}  ` },
    "bearer lowercase scheme": { authorization: `bearer ${HOOK_TOKEN}` },
    "BEARER uppercase scheme": { authorization: `BEARER ${HOOK_TOKEN}` },
    "bearer extra spaces": { authorization: `Bearer    ${HOOK_TOKEN}  ` },
    "both headers, bearer wrong": { authorization: "Bearer wrong", "x-openclaw-token": HOOK_TOKEN },
    "both headers, x-openclaw-token wrong": { authorization: `Bearer ${HOOK_TOKEN}`, "x-openclaw-token": "wrong" },
    "Basic scheme": { authorization: `Basic ${HOOK_TOKEN}` },
    "no token": {},
    "wrong bearer": { authorization: "Bearer wrong-token" },
    "empty bearer": { authorization: "Bearer " },
    "token prefix only": { authorization: `Bearer ${HOOK_TOKEN.slice(0, -1)}` },
    "token with a suffix": { authorization: `Bearer ${HOOK_TOKEN}x` },
    "wrong X-OpenClaw-Token": { "x-openclaw-token": "wrong-token" },
    "gateway token": { authorization: `Bearer ${GATEWAY_TOKEN}` },
  };
  for (const [name, headers] of Object.entries(tokens)) {
    rows.push({ name: `token: ${name}`, path: "/hooks/wake", headers: { ...headers, "content-type": "application/json" }, body: '{"text":"x"}' });
  }
  rows.push({ name: "wrong token on an unknown path", path: "/hooks/nowhere", headers: { authorization: "Bearer wrong" }, body: "{}" });
  rows.push({ name: "wrong token with bad JSON", path: "/hooks/wake", headers: { authorization: "Bearer wrong" }, body: "{" });
  rows.push({ name: "wrong token, GET", method: "GET", path: "/hooks/wake", headers: { authorization: "Bearer wrong" } });
  // --- Mapped hooks.
  const gh = { "x-github-event": "push", "content-type": "application/json", ...bearer };
  rows.push(post("mapping: github", "/hooks/github?ref=main", { action: "opened", repository: { id: 42, full_name: "o/r" } }, { headers: gh }));
  rows.push(post("mapping: github, trailing slash", "/hooks/github/", { action: "x", repository: { id: 1 } }, { headers: gh }));
  rows.push(post("mapping: github, empty payload", "/hooks/github", {}, { headers: gh }));
  rows.push(post("mapping: github, array payload", "/hooks/github", [], { headers: gh }));
  rows.push(post("mapping: github, string payload", "/hooks/github", '"s"', { headers: gh }));
  rows.push(post("mapping: github, bad JSON", "/hooks/github", "{", { headers: gh }));
  rows.push(post("mapping: wake", "/hooks/wake-me", { text: "ping" }));
  rows.push(post("mapping: wake, nothing rendered but the path", "/hooks/wake-me", {}));
  rows.push(post("mapping: wake renders nothing", "/hooks/empty-wake", {}));
  rows.push(post("mapping: source match on any path", "/hooks/payments", { source: "stripe", type: "charge.succeeded", data: { object: { id: "ch_1" } } }));
  rows.push(post("mapping: source mismatch", "/hooks/payments", { source: "paypal" }));
  rows.push(post("mapping: source not a string", "/hooks/payments", { source: 1 }));
  rows.push(post("mapping: bad channel", "/hooks/bad-channel", {}));
  rows.push(post("mapping: agent not allowed", "/hooks/private", {}));
  rows.push(post("mapping: session key outside the prefixes", "/hooks/keyed", { id: "7" }));
  rows.push(post("mapping: message renders empty", "/hooks/empty", {}));
  rows.push(post("mapping: arrays, numbers, booleans, null", "/hooks/items", { items: [{ name: "a" }, 2], n: 3.5, flag: false, nil: null }));
  rows.push(post("mapping: GET", "/hooks/github", "", { method: "GET" }));
  rows.push(post("preset: gmail", "/hooks/gmail", { messages: [{ id: "m-1", from: "ana@example.com", subject: "Hi", snippet: "s", body: "b" }] }));
  rows.push(post("preset: gmail, no messages", "/hooks/gmail", {}));
  // --- Idempotency keys (clawgate's; OpenClaw 2026.2.26 ignores them).
  const duplicate = (of: string) => ({ id: "duplicate-delivery", ours: { status: 202, body: { ok: true, runId: `<runId of ${of}>` } } });
  rows.push(agent("Idempotency-Key first", { message: "x" }, { headers: { ...bearer, "content-type": "application/json", "idempotency-key": "compat-key-1" } }));
  rows.push({
    ...agent("Idempotency-Key again", { message: "x" }, { headers: { ...bearer, "content-type": "application/json", "idempotency-key": "compat-key-1" } }),
    difference: duplicate("agent: Idempotency-Key first"),
  });
  rows.push(agent("idempotencyKey first", { message: "x", idempotencyKey: "compat-key-2" }));
  rows.push({ ...agent("idempotencyKey again", { message: "x", idempotencyKey: "compat-key-2" }), difference: duplicate("agent: idempotencyKey first") });
  rows.push(agent("Idempotency-Key empty", { message: "x" }, { headers: { ...bearer, "content-type": "application/json", "idempotency-key": "" } }));
  rows.push({
    ...agent("Idempotency-Key too long", { message: "x" }, { headers: { ...bearer, "content-type": "application/json", "idempotency-key": LONG_KEY } }),
    difference: { id: "idempotency-key-length", ours: { status: 400, body: { ok: false, error: "Idempotency-Key must be 1 to 256 characters" } } },
  });
  rows.push({
    ...agent("idempotencyKey too long", { message: "x", idempotencyKey: LONG_KEY }),
    difference: { id: "idempotency-key-length", ours: { status: 400, body: { ok: false, error: "idempotencyKey must be at most 256 characters" } } },
  });
  return rows;
}

export function rowsB(): Row[] {
  const at = (name: string, path: string, body: unknown, extra: Partial<Row> = {}) => post(`B ${name}`, path, body, extra);
  return [
    at("wake on the configured path", "/in/wake", { text: "x" }),
    at("agent on the configured path", "/in/agent", { message: "x" }),
    at("sessionKey disabled", "/in/agent", { message: "x", sessionKey: "hook:x" }),
    at("sessionKey blank is ignored", "/in/agent", { message: "x", sessionKey: "  " }),
    at("sessionKey not a string is ignored", "/in/agent", { message: "x", sessionKey: 3 }),
    at("any agent id", "/in/agent", { message: "x", agentId: "private" }),
    at("unknown agent id", "/in/agent", { message: "x", agentId: "ghost" }),
    at("unknown subpath without mappings", "/in/github", { text: "x" }),
    at("trailing slash", "/in/wake/", { text: "x" }),
    at("configured path itself", "/in", { text: "x" }),
    at("wrong token on the configured path", "/in/wake", { text: "x" }, { headers: { authorization: "Bearer wrong" } }),
  ];
}

/** The throttle sequence from one client address: 20 failures, the 21st, a valid token during the lockout, after it. */
export function throttleRows(localAddress: string): Row[] {
  const wrong = (i: number): Row => ({ name: `throttle: wrong token ${i}`, path: "/hooks/wake", headers: { authorization: "Bearer wrong" }, body: '{"text":"x"}', localAddress });
  const valid = (name: string): Row => ({ ...post(`throttle: ${name}`, "/hooks/wake", { text: "x" }), localAddress });
  return [
    valid("valid token first (clears any count)"),
    ...Array.from({ length: 20 }, (_, i) => wrong(i + 1)),
    wrong(21),
    { ...wrong(22), name: "throttle: wrong token during the lockout", headers: { "x-openclaw-token": "wrong" } },
    valid("valid token during the lockout"),
    { ...wrong(1), name: "throttle: wrong token after the valid one (count cleared)" },
    ...Array.from({ length: 18 }, (_, i) => ({ ...wrong(i + 2), name: `throttle: again wrong token ${i + 2}` })),
    { ...wrong(20), name: "throttle: again wrong token 20" },
    { ...wrong(21), name: "throttle: again wrong token 21 (locked again)" },
  ];
}

export function rowsC(): Row[] {
  const at = (name: string, body: unknown, extra: Partial<Row> = {}) => post(`C ${name}`, "/hooks/agent", body, extra);
  return [
    at("any session key without a prefix list", { message: "x", sessionKey: "anything:1" }),
    at("an agent: session key of the default agent", { message: "x", sessionKey: "agent:main:x" }),
    at("an upper-case session key", { message: "x", sessionKey: "  HOOK:Upper  " }),
    at("no agentId with allowedAgentIds []", { message: "x" }),
    at("an explicit agentId with allowedAgentIds []", { message: "x", agentId: "main" }),
    at("an unknown agentId with allowedAgentIds []", { message: "x", agentId: "ghost" }),
    at("a blank agentId with allowedAgentIds []", { message: "x", agentId: "  " }),
    {
      ...at("another agent's session key", { message: "x", sessionKey: "agent:private:main" }),
      difference: { id: "cross-agent-session-key", ours: { status: 400 } },
    },
  ];
}

