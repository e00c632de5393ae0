/**
 * A real node agent with hooks on: an accepted wake survives kill -9 and restart; the audit line holds
 * neither payload nor token; SIGTERM drains in-flight requests, refuses new connections and exits 0.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { ADMIN_PREFIX } from "../../../shared/constants.ts";
import { fileRef, writeNodeConfig } from "../../helpers/node-config.ts";
import { type NodeProcess, pollUntil, startNodeProcess } from "../../helpers/node-process.ts";

const HOOK_TOKEN = "hook-token-e2e-0123456789abcdef";
const PAYLOAD_MARK = "payload-marker-7f3a";
let dir: string;
let agent: NodeProcess | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "clawgate-agent-"));
  await writeNodeConfig(dir, { hooks: HOOK_TOKEN }, {
    hooks: { enabled: true, token: fileRef("hooks") },
  });
});
afterEach(async () => {
  await agent?.stop("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

const start = () =>
  startNodeProcess(["--config", join(dir, "openclaw.json"), "--port", "0", "--state-dir", join(dir, "state")], { env: { CLAWGATE_ALLOW_ROOT: "1" } });

async function pending(url: string) {
  const token = (await readFile(join(dir, "state", "admin.token"), "utf8")).trim();
  const res = await fetch(`${url}${ADMIN_PREFIX}/intake`, { headers: { authorization: `Bearer ${token}` } });
  return (await res.json()) as { counts: { pending: number }; pending: { deliveryId: string; kind: string }[] };
}

it("journals an accepted wake before answering, and it survives kill -9", async () => {
  agent = await start();
  const res = await fetch(`${agent.url}/hooks/wake`, {
    method: "POST",
    headers: { authorization: `Bearer ${HOOK_TOKEN}`, "content-type": "application/json", "idempotency-key": "cron-0001" },
    body: JSON.stringify({ text: PAYLOAD_MARK }),
  });
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ ok: true, mode: "now" });
  expect(await agent.stop("SIGKILL")).toBe("SIGKILL");
  const logged = agent.output().stdout;
  expect(logged).toContain('"audit":"hook"');
  expect(logged).not.toContain(PAYLOAD_MARK);
  expect(logged).not.toContain(HOOK_TOKEN);

  agent = await start();
  const intake = await pending(agent.url);
  expect(intake.counts.pending).toBe(1);
  expect(intake.pending.map((d) => [d.deliveryId, d.kind])).toEqual([["cron-0001", "wake"]]);
});

it("refuses to start when the hook token equals the gateway token", async () => {
  const config = JSON.parse(await readFile(join(dir, "openclaw.json"), "utf8")) as Record<string, unknown>;
  config["gateway"] = { auth: { token: { source: "file", provider: "f", id: "/hooks" } } };
  await writeFile(join(dir, "openclaw.json"), JSON.stringify(config));
  await expect(start()).rejects.toThrow("hooks.token must differ from gateway.auth.token");
});

/** Resolves true once a fresh TCP connection to the port is refused. */
const refused = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), resolve(false)));
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code === "ECONNREFUSED"));
  });

it("SIGTERM: a slow in-flight request still gets its answer, new connections are refused, exit 0", async () => {
  agent = await start();
  const port = Number(new URL(agent.url).port);
  const body = JSON.stringify({ text: "trickled in after SIGTERM" });
  const req = httpRequest({
    host: "127.0.0.1",
    port,
    method: "POST",
    path: "/hooks/wake",
    // 100-continue: the server's interim answer proves it has taken the request in before we signal.
    headers: { authorization: `Bearer ${HOOK_TOKEN}`, "content-type": "application/json", "content-length": Buffer.byteLength(body), expect: "100-continue" },
  });
  const answered = new Promise<{ status: number; connection: string | undefined; text: string }>((resolve, reject) => {
    req.once("response", (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d: string) => (text += d));
      res.once("end", () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, text }));
    });
    req.once("error", reject);
  });
  await new Promise<void>((resolve) => req.once("continue", resolve));
  req.write(body.slice(0, 10));

  const exit = agent.stop("SIGTERM");
  await pollUntil(() => refused(port), 5_000, "the listener to refuse new connections");
  req.end(body.slice(10));
  const res = await answered;
  expect(res).toEqual({ status: 200, connection: "close", text: JSON.stringify({ ok: true, mode: "now" }) });
  expect(await exit).toBe(0);
  expect(agent.output().stdout).toContain("accepted deliveries are journaled");

  agent = await start();
  expect((await pending(agent.url)).pending.map((d) => d.kind)).toEqual(["wake"]);
});

it("413 for a streamed body over hooks.maxBodyBytes read off the socket, and the connection closes", async () => {
  const config = JSON.parse(await readFile(join(dir, "openclaw.json"), "utf8")) as { hooks: Record<string, unknown> };
  config.hooks["maxBodyBytes"] = 64;
  await writeFile(join(dir, "openclaw.json"), JSON.stringify(config));
  agent = await start();
  const req = httpRequest(`${agent.url}/hooks/wake`, {
    method: "POST",
    // No content-length: chunked, so only the bytes on the wire can trip the limit.
    headers: { authorization: `Bearer ${HOOK_TOKEN}`, "content-type": "application/json" },
  });
  const answered = new Promise<{ status: number; connection: string | undefined; text: string }>((resolve, reject) => {
    req.once("response", (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d: string) => (text += d));
      res.once("end", () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, text }));
    });
    req.once("error", reject);
  });
  req.write(`{"text":"${"x".repeat(100)}`);
  expect(await answered).toEqual({ status: 413, connection: "close", text: JSON.stringify({ ok: false, error: "payload too large" }) });
  req.destroy();
});

it("a client that hangs up mid-body is counted as a 4xx, never a 5xx", async () => {
  agent = await start();
  const port = Number(new URL(agent.url).port);
  const req = httpRequest({
    host: "127.0.0.1",
    port,
    method: "POST",
    path: "/hooks/wake",
    headers: { authorization: `Bearer ${HOOK_TOKEN}`, "content-type": "application/json", "content-length": 100, expect: "100-continue" },
  });
  req.on("error", () => {});
  await new Promise<void>((resolve) => req.once("continue", resolve));
  req.write('{"text":"');
  req.destroy();
  const token = (await readFile(join(dir, "state", "admin.token"), "utf8")).trim();
  const metrics = async () => (await fetch(`${agent!.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
  const line = await pollUntil(async () => /clawgate_http_requests_total\{route="hooks",status="(\d+)"\} 1/.exec(await metrics())?.[1], 5_000, "the aborted request to be counted");
  expect(line).toBe("400");
  expect(agent.output().stdout).toContain('"status":400');
});
