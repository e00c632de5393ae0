/**
 * The daemon's listener door to the hook intake (node/server/hooks-listener.ts) on a real loopback port, beside
 * the app's Hono routes over the same intake: the same answers byte for byte (status, type, text, the security
 * headers), the request metrics, the boundary's Origin refusal, a percent-encoded path left to the app,
 * `Connection: close` while draining, and a generic 500 when the intake itself fails.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { Agent, type IncomingHttpHeaders, type Server, createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getRequestListener } from "@hono/node-server";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigSchema } from "../../../node/config/config-schema.ts";
import { type HookIntake, createHookIntake } from "../../../node/intake/hook-intake.ts";
import { compileHooksPolicy } from "../../../node/intake/hooks-policy.ts";
import { createHooksRoutes } from "../../../node/intake/hooks-routes.ts";
import { type IntakeJournal, openIntakeJournal } from "../../../node/intake/intake-journal.ts";
import { ORIGIN_TEXT, createBrowserBoundary } from "../../../node/server/browser-boundary.ts";
import { routeHooks } from "../../../node/server/hooks-listener.ts";
import type { Hono } from "hono";
import { createNodeApp } from "../../../node/server/node-app.ts";
import { SecuredResponse } from "../../../node/server/secured-response.ts";
import { type NodeMetrics, createNodeMetrics } from "../../../node/server/node-metrics.ts";
import { createSecretsReloader } from "../../../node/secrets/secrets-reloader.ts";
import { createFailureWindow } from "../../../shared/failure-window.ts";
import { realIo } from "../../helpers/daemon-io.ts";

const TOKEN = "hook-token-listener-0123456789abcdef";
let dir: string;
let journal: IntakeJournal;
let metrics: NodeMetrics;
let server: Server;
let port: number;
let draining: boolean;
let lines: Record<string, unknown>[];
let app: Hono;
/** Keep-alive, so an answer's Connection header is the server's choice. */
let agent: Agent;
/** Counts requests that reached the app (Hono) rather than the listener door. */
let viaApp: number;

async function start(intakeOf: (real: HookIntake) => HookIntake = (real) => real) {
  const config = ConfigSchema.parse({ hooks: { enabled: true, allowedAgentIds: ["main"] } });
  const policy = compileHooksPolicy(config, { hookToken: TOKEN });
  const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  const intake = intakeOf(createHookIntake({ policy, journal, hookToken: () => TOKEN, limiter: createFailureWindow(), logger, io: realIo }));
  const secrets = createSecretsReloader({ io: realIo, configPath: join(dir, "missing.json") });
  metrics = createNodeMetrics({ secrets, journal });
  const boundary = createBrowserBoundary({ bindHost: "127.0.0.1" });
  app = createNodeApp({
    io: realIo,
    secrets,
    adminToken: "admin-token",
    logger,
    journal,
    metrics,
    boundary: boundary.middleware,
    hooks: { path: policy.path, app: createHooksRoutes({ intake, clientOf: () => "127.0.0.1" }) },
  });
  const appListener = getRequestListener((request, env) => {
    viaApp++;
    return app.fetch(request, env);
  });
  server = createServer({ ServerResponse: SecuredResponse }, routeHooks({ path: policy.path, intake, boundary, metrics, logger, draining: () => draining }, appListener));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
  boundary.listening(port);
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

function send(target: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = init.body;
    const req = httpRequest(
      { host: "127.0.0.1", port, method: init.method ?? "POST", path: target, agent, headers: { ...init.headers, ...(body !== undefined ? { "content-length": String(Buffer.byteLength(body)) } : {}) } },
      (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (d: string) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, text }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const auth = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
const wake = (target = "/hooks/wake", headers: Record<string, string> = auth) => send(target, { headers, body: JSON.stringify({ text: "door test" }) });
const fields = (a: Answer) => ({ status: a.status, type: a.headers["content-type"], nosniff: a.headers["x-content-type-options"], referrer: a.headers["referrer-policy"], text: a.text });

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "clawgate-hooks-door-"));
  journal = openIntakeJournal(dir);
  draining = false;
  lines = [];
  viaApp = 0;
  agent = new Agent({ keepAlive: true });
});
afterEach(async () => {
  agent.destroy();
  await new Promise((resolve) => server?.close(resolve));
  server?.closeAllConnections();
  journal.close();
  await rm(dir, { recursive: true, force: true });
});

describe("the hooks listener door", () => {
  it("answers exactly as the app's routes do over the same intake, without passing through the app", async () => {
    await start();
    const cases: [string, string, Record<string, string>, string | undefined][] = [
      ["POST", "/hooks/wake", auth, JSON.stringify({ text: "hi" })],
      ["POST", "/hooks/wake", { ...auth, authorization: "Bearer wrong" }, JSON.stringify({ text: "hi" })],
      ["POST", "/hooks/wake?token=x", auth, JSON.stringify({ text: "hi" })],
      ["POST", "/hooks/wake", auth, "{not json"],
      ["POST", "/hooks/wake", auth, JSON.stringify({ text: "" })],
      ["POST", "/hooks/agent", auth, JSON.stringify({ message: "hello", sessionKey: "hook:x" })],
      ["POST", "/hooks/nowhere", auth, JSON.stringify({ text: "hi" })],
      ["POST", "/hooks", auth, JSON.stringify({ text: "hi" })],
      ["GET", "/hooks/wake", auth, undefined],
    ];
    for (const [method, target, headers, body] of cases) {
      const door = await send(target, { method, headers, ...(body !== undefined ? { body } : {}) });
      const res = await app.request(target, { method, headers: { ...headers, host: `127.0.0.1:${port}` }, ...(body !== undefined ? { body } : {}) });
      const inProcess = { status: res.status, type: res.headers.get("content-type"), nosniff: res.headers.get("x-content-type-options"), referrer: res.headers.get("referrer-policy"), text: await res.text() };
      // An agent run's answer carries a fresh runId each time: compare its shape.
      const strip = (f: ReturnType<typeof fields>) => ({ ...f, text: f.text.replace(/"runId":"[^"]+"/, '"runId":"…"') });
      expect(strip(fields(door)), `${method} ${target}`).toEqual(strip(inProcess as ReturnType<typeof fields>));
    }
    expect(viaApp).toBe(0);
  });

  it("gives the same answer as the app for each check, field by field", async () => {
    await start();
    const door = [await wake(), await wake("/hooks/wake", { ...auth, authorization: "Bearer wrong" }), await send("/hooks/wake", { method: "GET", headers: auth })];
    expect(door.map(fields)).toEqual([
      { status: 200, type: "application/json; charset=utf-8", nosniff: "nosniff", referrer: "no-referrer", text: '{"ok":true,"mode":"now"}' },
      { status: 401, type: "text/plain; charset=utf-8", nosniff: "nosniff", referrer: "no-referrer", text: "Unauthorized" },
      { status: 405, type: "text/plain; charset=utf-8", nosniff: "nosniff", referrer: "no-referrer", text: "Method Not Allowed" },
    ]);
    expect(door[2]!.headers["allow"]).toBe("POST");
    expect(door[0]!.headers["content-length"]).toBe(String(Buffer.byteLength(door[0]!.text)));
    expect(viaApp).toBe(0);
  });

  it("reads a repeated Authorization the way the app's routes do: joined, so two tokens are no token (401)", async () => {
    await start();
    const door = await new Promise<Answer>((resolve, reject) => {
      const body = JSON.stringify({ text: "two tokens" });
      httpRequest(
        { host: "127.0.0.1", port, method: "POST", path: "/hooks/wake", agent, headers: { authorization: [`Bearer ${TOKEN}`, "Bearer wrong"], "content-type": "application/json", "content-length": String(body.length) } as unknown as Record<string, string> },
        (res) => {
          let text = "";
          res.setEncoding("utf8").on("data", (d: string) => (text += d));
          res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, text }));
        },
      )
        .on("error", reject)
        .end(body);
    });
    const headers = new Headers({ "content-type": "application/json", host: `127.0.0.1:${port}` });
    headers.append("authorization", `Bearer ${TOKEN}`);
    headers.append("authorization", "Bearer wrong");
    const inProcess = await app.request("/hooks/wake", { method: "POST", headers, body: JSON.stringify({ text: "two tokens" }) });
    expect([door.status, door.text]).toEqual([401, "Unauthorized"]);
    expect([inProcess.status, await inProcess.text()]).toEqual([401, "Unauthorized"]);
    expect(journal.counts().pending).toBe(0);
  });

  it("closes the connection after refusing a request whose body is still arriving", async () => {
    await start();
    const { answer, closed } = await new Promise<{ answer: Answer; closed: Promise<void> }>((resolve, reject) => {
      const req = httpRequest({ host: "127.0.0.1", port, method: "POST", path: "/hooks/wake", agent, headers: { authorization: "Bearer wrong", "content-type": "application/json", "transfer-encoding": "chunked" } }, (res) => {
        const closed = new Promise<void>((done) => res.socket.once("close", () => done()));
        let text = "";
        res.setEncoding("utf8").on("data", (d: string) => (text += d));
        res.on("end", () => resolve({ answer: { status: res.statusCode!, headers: res.headers, text }, closed }));
      });
      req.on("error", reject);
      req.write('{"text":"never ends'); // and the body never ends
    });
    expect([answer.status, answer.text, answer.headers["connection"]]).toEqual([401, "Unauthorized", "close"]);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error("socket still open after 5 s")), 5_000)))]);
    clearTimeout(timer);
  });

  it("counts its answers in the app's request metrics, and 401s as auth failures", async () => {
    await start();
    await wake();
    await wake();
    await wake("/hooks/wake", { ...auth, authorization: "Bearer wrong" });
    const text = await metrics.registry.metrics();
    expect(text).toContain('clawgate_http_requests_total{route="hooks",status="200"} 2');
    expect(text).toContain('clawgate_http_requests_total{route="hooks",status="401"} 1');
    expect(text).toContain('clawgate_auth_failures_total{route="hooks"} 1');
  });

  it("applies the browser boundary's Origin rule before the intake (403, nothing journaled)", async () => {
    await start();
    const refused = await wake("/hooks/wake", { ...auth, origin: "https://evil.example" });
    expect(fields(refused)).toEqual({ status: 403, type: "application/json; charset=utf-8", nosniff: "nosniff", referrer: "no-referrer", text: JSON.stringify({ ok: false, error: ORIGIN_TEXT }) });
    expect(journal.counts().pending).toBe(0);
    expect(lines.filter((l) => l["audit"] === "hook")).toEqual([]);
  });

  it("leaves everything outside hooks.path, and a path that only starts with its letters, to the app", async () => {
    await start();
    expect((await send("/healthz", { method: "GET" })).status).toBe(200);
    expect((await wake("/hooksx/wake")).status).toBe(404);
    expect(viaApp).toBe(2);
  });

  it("says Connection: close while the agent drains", async () => {
    await start();
    expect((await wake()).headers["connection"]).toBe("keep-alive");
    draining = true;
    const answer = await wake();
    expect(answer.status).toBe(200);
    expect(answer.headers["connection"]).toBe("close");
  });

  it("answers a generic 500 and logs the error when the intake itself fails", async () => {
    await start(() => ({ handle: () => Promise.reject(new Error("intake bug: secret-looking detail")) }));
    const answer = await wake();
    expect(fields(answer)).toEqual({ status: 500, type: "application/json; charset=utf-8", nosniff: "nosniff", referrer: "no-referrer", text: '{"ok":false,"error":"internal error"}' });
    expect(answer.text).not.toContain("secret-looking");
    expect(lines.find((l) => l["msg"] === "request failed")).toMatchObject({ route: "/hooks/wake", level: 50 });
  });
});
