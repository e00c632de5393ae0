/**
 * No secret value in any output (docs/proof.md): a realistic session of the real node agent — a file provider and an
 * exec provider, hook and gateway tokens and an openai runtime's apiKey as SecretRefs, hooks with good and bad
 * tokens, runs against a loopback model server, a secrets reload, a provider that breaks and recovers, the
 * operator CLI, the admin API, the console's pages and `clawgate status` — collecting every byte it wrote, then scanning it for each secret value
 * (raw, base64, base64url, hex). The secret stores themselves and the model server's Authorization header
 * (where the API key belongs) are the only places a value may be. A second session does the same through the
 * real edge Worker (Miniflare) for the caller and operator tokens and the edge's signing key.
 */
import { createHash, generateKeyPairSync, randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ADMIN_PREFIX } from "../../shared/constants.ts";
import { type ModelServer, startModelServer } from "../helpers/model-server.ts";
import { type NodeProcess, pollUntil, startNodeProcess } from "../helpers/node-process.ts";
import { runCli } from "../helpers/run-cli.ts";
import { consoleLogin } from "../helpers/console-client.ts";
import { findSecrets } from "../helpers/secret-scan.ts";
import { startEdge } from "./support/edge-miniflare.ts";

/** Fresh per run, so nothing in the tree can contain them by accident. */
const secret = (label: string) => `${label}-${randomBytes(24).toString("base64url")}`;
const HOOK_TOKEN = secret("hook");
const GATEWAY_TOKEN = secret("gateway");
const MODEL_KEY = secret("sk-model");
const SECRETS = { HOOK_TOKEN, GATEWAY_TOKEN, MODEL_KEY };

/** A protocol-v1 exec resolver that answers from the JSON store named by its first argument (a real child process). */
const VAULT_RESOLVER = `import { readFileSync } from "node:fs";
const store = JSON.parse(readFileSync(process.argv[2], "utf8"));
let input = "";
process.stdin.setEncoding("utf8").on("data", (d) => (input += d)).on("end", () => {
  const { ids } = JSON.parse(input);
  const values = {}, errors = {};
  for (const id of ids) id in store ? (values[id] = store[id]) : (errors[id] = { message: "not in the vault" });
  process.stdout.write(JSON.stringify({ protocolVersion: 1, values, errors }));
});
`;

let dir: string;
let stateDir: string;
let configPath: string;
let secretsPath: string;
let vaultPath: string;
let agent: NodeProcess | undefined;
let model: ModelServer;
/** Every byte the system wrote, labelled by where it came from. */
const outputs: { where: string; text: string }[] = [];

beforeAll(async () => {
  model = await startModelServer();
  dir = await mkdtemp(join(tmpdir(), "clawgate-secret-scan-"));
  stateDir = join(dir, "state");
  configPath = join(dir, "openclaw.json");
  secretsPath = join(dir, "secrets.json");
  vaultPath = join(dir, "vault.json");
  await writeFile(secretsPath, JSON.stringify({ hooks: { token: HOOK_TOKEN }, gateway: { token: GATEWAY_TOKEN } }));
  await chmod(secretsPath, 0o600);
  await writeFile(vaultPath, JSON.stringify({ "models/local": MODEL_KEY }));
  await chmod(vaultPath, 0o600);
  await mkdir(join(dir, "bin"), { mode: 0o700 });
  await writeFile(join(dir, "bin", "vault.mjs"), VAULT_RESOLVER);
  const resolver = join(dir, "bin", "vault");
  await writeFile(resolver, `#!/bin/sh\nexec "${process.execPath}" "${join(dir, "bin", "vault.mjs")}" "$@"\n`);
  await chmod(resolver, 0o700);

  const file = (id: string) => ({ source: "file", provider: "f", id });
  await writeFile(
    configPath,
    JSON.stringify({
      secrets: {
        providers: { f: { source: "file", path: secretsPath }, vault: { source: "exec", command: resolver, args: [vaultPath] } },
      },
      gateway: { auth: { mode: "token", token: file("/gateway/token") } },
      hooks: { enabled: true, token: file("/hooks/token"), allowRequestSessionKey: true },
      models: {
        providers: { local: { baseUrl: `${model.url}/v1`, apiKey: { source: "exec", provider: "vault", id: "models/local" } } },
      },
      agents: {
        defaults: {
          model: "local/llama3.1:8b",
          heartbeat: { every: "0m" },
          models: { "local/llama3.1:8b": { memoryGb: 1 } },
          runtime: { type: "openai", maxAttempts: 1 },
        },
      },
      clawgate: { stateDir, dispatch: { memoryBudgetGb: 2, headroomGb: 0 } },
    }),
  );
  await chmod(configPath, 0o600);
  agent = await startNodeProcess(["--config", configPath, "--port", "0", "--state-dir", stateDir], { env: { CLAWGATE_ALLOW_ROOT: "1" } });
}, 30_000);

afterAll(async () => {
  await agent?.stop("SIGKILL");
  await model?.close();
  await rm(dir, { recursive: true, force: true });
});

/** An HTTP call to the agent whose answer (status line, every header, body) joins the scanned output. */
async function call(path: string, init: RequestInit & { token?: string } = {}): Promise<{ status: number; body: any }> {
  const { token, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (token !== undefined) headers.set("authorization", `Bearer ${token}`);
  const res = await fetch(`${agent!.url}${path}`, { ...rest, headers });
  const text = await res.text();
  // The label leaves out the query: a failure message must not print the token the query test sends.
  outputs.push({ where: `${rest.method ?? "GET"} ${path.split("?")[0]} → ${res.status}`, text: `${[...res.headers].map(([k, v]) => `${k}: ${v}`).join("\n")}\n\n${text}` });
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body };
}

const hook = (route: string, payload: object, headers: Record<string, string>) =>
  call(`/hooks/${route}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(payload) });

async function cli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const result = await runCli(args, { env: { ...process.env, CLAWGATE_ALLOW_ROOT: "1" } });
  // The label hides a --token value, so a failure message does not print the secret it is about.
  const label = `clawgate ${args.map((a, i) => (args[i - 1] === "--token" ? "<token>" : a)).join(" ")}`;
  outputs.push({ where: `${label} (stdout)`, text: result.stdout }, { where: `${label} (stderr)`, text: result.stderr });
  return result;
}

/** Every file under `root` but the secret stores, as bytes read as latin1 (SQLite pages and WAL included). */
async function collectFiles(root: string): Promise<void> {
  for (const entry of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    if (path === secretsPath || path === vaultPath) continue;
    outputs.push({ where: `file ${relative(dir, path)}`, text: (await readFile(path)).toString("latin1") });
  }
}

const countLines = (text: string, event: string) => text.split("\n").filter((line) => line.includes(`"event":"${event}"`)).length;

it("a whole session writes no secret value anywhere but its stores", async () => {
  // Hooks: good tokens (both headers), bad tokens, a token in the query string.
  expect((await hook("wake", { text: "backup finished" }, { authorization: `Bearer ${HOOK_TOKEN}` })).status).toBe(200);
  const queued = await hook("agent", { message: "summarize the backup", sessionKey: "hook:scan" }, { "x-openclaw-token": HOOK_TOKEN });
  expect(queued.status).toBe(202);
  expect((await hook("wake", { text: "x" }, { authorization: `Bearer ${HOOK_TOKEN.slice(0, -1)}${HOOK_TOKEN.endsWith("x") ? "y" : "x"}` })).status).toBe(401);
  expect((await hook("wake", { text: "x" }, { "x-openclaw-token": "wrong" })).status).toBe(401);
  const inQuery = await call(`/hooks/wake?token=${HOOK_TOKEN}`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"text":"x"}' });
  expect(inQuery).toEqual({
    status: 400,
    body: { ok: false, error: "hook token must be sent in a header (Authorization: Bearer or X-OpenClaw-Token), not in the query string" },
  });

  // Both runs reach the model with the exec-held key, and end ok.
  await pollUntil(async () => ((await call(`${ADMIN_PREFIX}/runs?status=ok`, { token: GATEWAY_TOKEN })).body.runs?.length >= 2 ? true : undefined), 15_000, "two ok runs")
  expect(model.chatRequests().length).toBeGreaterThanOrEqual(2);
  expect(new Set(model.chatRequests().map((r) => r.headers["authorization"]))).toEqual(new Set([`Bearer ${MODEL_KEY}`]));

  // A reload, through the CLI and the admin API; the admin API with the gateway token and a wrong one.
  expect((await cli("secrets", "reload", "--json", "--config", configPath, "--state-dir", stateDir)).code).toBe(0);
  expect((await call(`${ADMIN_PREFIX}/secrets/reload`, { method: "POST", token: GATEWAY_TOKEN })).body).toEqual({ ok: true, warningCount: 0 });
  expect((await call(`${ADMIN_PREFIX}/secrets/status`, { token: `${GATEWAY_TOKEN}x` })).status).toBe(401);

  // Both providers break — the file turns world-writable (refused), the vault is corrupt so the resolver dies
  // with the key quoted in its own stderr — two failed reloads, hooks keep working, then both are fixed.
  await chmod(secretsPath, 0o666);
  await writeFile(vaultPath, `{"models/local":"${MODEL_KEY}" oops}`);
  expect((await cli("secrets", "reload", "--config", configPath, "--state-dir", stateDir)).code).toBe(1);
  const failedReload = (await call(`${ADMIN_PREFIX}/secrets/reload`, { method: "POST", token: GATEWAY_TOKEN })).body;
  expect(failedReload.ok).toBe(false);
  // Both refs are named as failed (by ref, never by value).
  expect(failedReload.error).toContain("file:f:/hooks/token");
  expect(failedReload.error).toContain("exec:vault:models/local");
  expect((await call(`${ADMIN_PREFIX}/secrets/status`, { token: GATEWAY_TOKEN })).body.health).toBe("degraded");
  expect((await hook("wake", { text: "during the outage" }, { authorization: `Bearer ${HOOK_TOKEN}` })).status).toBe(200);
  expect((await hook("agent", { message: "during the outage", sessionKey: "hook:scan" }, { authorization: `Bearer ${HOOK_TOKEN}` })).status).toBe(202);
  expect((await call("/readyz")).status).toBe(503);
  await chmod(secretsPath, 0o600);
  await writeFile(vaultPath, JSON.stringify({ "models/local": MODEL_KEY }));
  expect((await cli("secrets", "reload", "--json", "--config", configPath, "--state-dir", stateDir)).code).toBe(0);
  expect((await call(`${ADMIN_PREFIX}/secrets/status`, { token: GATEWAY_TOKEN })).body.health).toBe("healthy");
  await pollUntil(async () => ((await call(`${ADMIN_PREFIX}/runs?status=ok`, { token: GATEWAY_TOKEN })).body.runs?.length >= 4 ? true : undefined), 15_000, "the outage's runs");

  // The operator's views: CLI and admin API.
  expect(JSON.parse((await cli("doctor", "--json", "--allow-exec", "--config", configPath, "--state-dir", stateDir)).stdout).findings.length).toBeGreaterThan(0);
  const audit = JSON.parse((await cli("secrets", "audit", "--json", "--allow-exec", "--config", configPath)).stdout);
  expect(audit).toMatchObject({ status: "clean", resolution: { refsChecked: 3, skippedExecRefs: 0 } });
  expect((await cli("doctor", "--allow-exec", "--config", configPath, "--state-dir", stateDir)).stdout).not.toBe("");
  expect((await cli("secrets", "audit", "--allow-exec", "--config", configPath)).code).toBe(0);
  // The gateway token given on the command line, to the agent and to an address where nothing listens.
  expect((await cli("intake", "list", "--json", "--url", agent!.url, "--token", GATEWAY_TOKEN)).code).toBe(0);
  const refused = await cli("intake", "list", "--url", "http://127.0.0.1:9", "--token", GATEWAY_TOKEN);
  expect(refused.code).toBe(1);
  expect(refused.stderr).not.toBe("");
  expect((await cli("intake", "list", "--config", configPath, "--state-dir", stateDir)).code).toBe(0);
  expect((await cli("intake", "list", "--json", "--state", "dead", "--config", configPath, "--state-dir", stateDir)).code).toBe(0);
  expect((await call("/metrics", { token: GATEWAY_TOKEN })).status).toBe(200);
  for (const path of ["/secrets/status", "/intake", "/intake?state=done", "/runs", "/runs?status=ok"]) {
    expect((await call(`${ADMIN_PREFIX}${path}`, { token: GATEWAY_TOKEN })).status).toBe(200);
  }
  const runs = (await call(`${ADMIN_PREFIX}/runs`, { token: GATEWAY_TOKEN })).body.runs as { id: string }[];
  for (const run of runs) await call(`${ADMIN_PREFIX}/runs/${encodeURIComponent(run.id)}`, { token: GATEWAY_TOKEN });
  await call("/healthz");
  await call("/readyz");

  // The console, logged in with the gateway token: every page, each run's detail, a stored request shown on request,
  // and `clawgate status` in both forms.
  const operator = await consoleLogin(agent!.url, GATEWAY_TOKEN);
  const done = (await call(`${ADMIN_PREFIX}/intake?state=done`, { token: GATEWAY_TOKEN })).body.done as { deliveryId: string }[];
  const pages = ["", "/deliveries?state=pending", "/deliveries?state=dead", "/deliveries?state=done", "/runs", "/runs?status=error", "/edge"];
  pages.push(...runs.map((run) => `/runs/view?id=${encodeURIComponent(run.id)}`), ...done.map((d) => `/deliveries/view?id=${encodeURIComponent(d.deliveryId)}&payload=1`));
  for (const path of pages) {
    const res = await operator.get(path);
    outputs.push({ where: `console GET ${path.split("?")[0]} → ${res.status}`, text: `${[...res.headers].map(([k, v]) => `${k}: ${v}`).join("\n")}\n\n${await res.text()}` });
    expect(res.status).toBe(200);
  }
  expect((await cli("status", "--config", configPath, "--state-dir", stateDir)).code).toBe(0);
  expect((await cli("status", "--json", "--config", configPath, "--state-dir", stateDir)).code).toBe(0);

  // Stop the agent (its shutdown lines count too), then collect its output and every file.
  await agent!.stop("SIGTERM");
  const { stdout, stderr } = agent!.output();
  outputs.push({ where: "agent stdout", text: stdout }, { where: "agent stderr", text: stderr });
  await collectFiles(dir);

  // The outage: exactly one DEGRADED and one RECOVERED line, in that order.
  expect(countLines(stdout, "SECRETS_RELOADER_DEGRADED")).toBe(1);
  expect(countLines(stdout, "SECRETS_RELOADER_RECOVERED")).toBe(1);
  expect(stdout.indexOf("SECRETS_RELOADER_DEGRADED")).toBeLessThan(stdout.indexOf("SECRETS_RELOADER_RECOVERED"));

  // The scan itself: a sanity check that it sees what it should, then no secret anywhere.
  expect(outputs.some((o) => o.where.startsWith("file state/"))).toBe(true);
  expect(findSecrets([{ where: "probe", text: `x${Buffer.from(MODEL_KEY).toString("hex")}y` }], SECRETS)).toEqual(["MODEL_KEY (hex) in probe"]);
  expect(findSecrets(outputs, SECRETS)).toEqual([]);
}, 60_000);

it("through the edge: the caller and operator tokens, the signing key and the hook token appear in no answer, log or file", async () => {
  const CALLER_TOKEN = secret("cg_caller");
  const OPERATOR_TOKEN = secret("operator");
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const privateJwk = { ...privateKey.export({ format: "jwk" }), kid: "edge-scan", alg: "EdDSA" };
  const edgeSecrets = { CALLER_TOKEN, OPERATOR_TOKEN, HOOK_TOKEN, SIGNING_KEY_D: privateJwk.d! };
  const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

  const edgeDir = join(dir, "edge-node");
  await mkdir(edgeDir, { recursive: true });
  const edgeConfigPath = join(edgeDir, "openclaw.json");
  const edgeSecretsPath = join(edgeDir, "secrets.json");
  await writeFile(edgeSecretsPath, JSON.stringify({ hooks: HOOK_TOKEN, operator: OPERATOR_TOKEN }));
  await chmod(edgeSecretsPath, 0o600);
  // The edge starts first (the node's config names its URL, for the console's Edge page), so the node gets a port picked here.
  const nodePort = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
  const edgeLog: string[] = [];
  const auth = [{ type: "bearer", tokens: [{ name: "scan", sha256: sha256(CALLER_TOKEN) }] }];
  const edge = await startEdge(
    {
      CLAWGATE_EDGE_CONFIG: JSON.stringify({ nodes: [{ id: "node-scan", origin: `http://127.0.0.1:${nodePort}`, primary: true }], routes: { wake: { auth }, agent: { auth } } }),
      CLAWGATE_EDGE_SIGNING_KEY: JSON.stringify(privateJwk),
      CLAWGATE_OPERATOR_TOKEN_SHA256: sha256(OPERATOR_TOKEN),
    },
    { onLog: (message) => edgeLog.push(message) },
  );
  await writeFile(
    edgeConfigPath,
    JSON.stringify({
      secrets: { providers: { f: { source: "file", path: edgeSecretsPath } } },
      hooks: { enabled: true, token: { source: "file", provider: "f", id: "/hooks" } },
      clawgate: {
        node: { id: "node-scan" },
        edge: {
          publicKeys: [{ ...publicKey.export({ format: "jwk" }), kid: "edge-scan", alg: "EdDSA" }],
          operatorUrl: new URL(String(await edge.mf.ready)).origin,
          operatorToken: { source: "file", provider: "f", id: "/operator" },
        },
      },
    }),
  );
  await chmod(edgeConfigPath, 0o600);
  const node = await startNodeProcess(["--config", edgeConfigPath, "--port", String(nodePort), "--state-dir", join(edgeDir, "state")], { env: { CLAWGATE_ALLOW_ROOT: "1" } });
  const seen: { where: string; text: string }[] = [];
  const edgeCall = async (path: string, token: string, body?: object) => {
    const res = await edge.fetch(path, {
      method: body ? "POST" : "GET",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    seen.push({ where: `edge ${body ? "POST" : "GET"} ${path.split("?")[0]} → ${res.status}`, text: `${[...res.headers].map(([k, v]) => `${k}: ${v}`).join("\n")}\n\n${text}` });
    return res.status;
  };
  try {
    expect(await edgeCall("/hooks/wake", CALLER_TOKEN, { text: "through the edge" })).toBe(200);
    expect(await edgeCall("/hooks/agent", CALLER_TOKEN, { message: "through the edge" })).toBe(202);
    expect(await edgeCall("/hooks/wake", `${CALLER_TOKEN}x`, { text: "x" })).toBe(401);
    // The node's own hook token is not a caller credential at the edge.
    expect(await edgeCall("/hooks/wake", HOOK_TOKEN, { text: "x" })).toBe(401);
    expect(await edgeCall(`/hooks/wake?token=${CALLER_TOKEN}`, CALLER_TOKEN, { text: "x" })).toBe(400);
    // The console's Edge page: the node calls the edge's operator API with the operator token it holds.
    const operator = await consoleLogin(node.url, (await readFile(join(edgeDir, "state", "admin.token"), "utf8")).trim());
    const edgePage = await operator.get("/edge");
    const edgeHtml = await edgePage.text();
    seen.push({ where: `console GET /edge → ${edgePage.status}`, text: `${[...edgePage.headers].map(([k, v]) => `${k}: ${v}`).join("\n")}\n\n${edgeHtml}` });
    expect(edgeHtml).toContain("Outbox per node");
    await node.stop("SIGTERM");
    // The node is down: the call is queued in the outbox, then listed by the operator API.
    expect(await edgeCall("/hooks/wake", CALLER_TOKEN, { text: "while down" })).toBe(202);
    for (const path of ["/_clawgate/outbox", "/_clawgate/dead-letters", "/_clawgate/cron"]) expect(await edgeCall(path, OPERATOR_TOKEN)).toBe(200);
    expect(await edgeCall("/_clawgate/outbox", `${OPERATOR_TOKEN}x`)).toBe(401);
  } finally {
    await edge.dispose();
    await node.stop("SIGKILL");
  }
  seen.push({ where: "edge Worker log", text: edgeLog.join("\n") }, { where: "node stdout", text: node.output().stdout }, { where: "node stderr", text: node.output().stderr });
  expect(edgeLog.join("\n")).toContain("hook.forwarded");
  for (const entry of await readdir(edgeDir, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    if (entry.isFile() && path !== edgeSecretsPath) seen.push({ where: `file ${relative(dir, path)}`, text: (await readFile(path)).toString("latin1") });
  }
  expect(findSecrets(seen, edgeSecrets)).toEqual([]);
}, 60_000);
