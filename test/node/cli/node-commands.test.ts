/** `clawgate node start` and `clawgate secrets reload` as real processes: fail fast, loopback only, reload via API and SIGHUP. */
import { spawn } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ADMIN_PREFIX } from "../../../shared/constants.ts";
import { CLI_BIN, type NodeProcess, pollUntil, startNodeProcess } from "../../helpers/node-process.ts";

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn("skipping the root-refusal test: this run is not root, so there is no root to refuse");
let dir: string;
let configPath: string;
let secretsPath: string;
let stateDir: string;
let agent: NodeProcess | undefined;
const SECRET = "sk-file-secret-value-42";

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "clawgate-node-"));
  configPath = join(dir, "openclaw.json");
  secretsPath = join(dir, "secrets.json");
  stateDir = join(dir, "state");
  await writeSecret(SECRET);
  await writeFile(
    configPath,
    JSON.stringify({
      secrets: { providers: { filemain: { source: "file", path: secretsPath } } },
      models: { providers: { openai: { apiKey: { source: "file", provider: "filemain", id: "/openai" } } } },
    }),
  );
});

afterEach(async () => {
  await agent?.stop("SIGKILL");
  agent = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function writeSecret(value: string, mode = 0o600) {
  await writeFile(secretsPath, JSON.stringify({ openai: value }));
  await chmod(secretsPath, mode);
}

const rootEnv = { CLAWGATE_ALLOW_ROOT: "1" };
const baseArgs = () => ["--config", configPath, "--port", "0", "--state-dir", stateDir];

function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI_BIN, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

async function status(url: string) {
  const token = (await readFile(join(stateDir, "admin.token"), "utf8")).trim();
  const res = await fetch(`${url}${ADMIN_PREFIX}/secrets/status`, { headers: { authorization: `Bearer ${token}` } });
  return (await res.json()) as { version: number; health: string };
}

describe("node start", () => {
  it("resolves secrets, listens on 127.0.0.1, serves /healthz, and exits 0 on SIGTERM", async () => {
    agent = await startNodeProcess(baseArgs(), { env: rootEnv });
    expect(agent.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${agent.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    expect((await stat(stateDir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(stateDir, "admin.token"))).mode & 0o777).toBe(0o600);
    expect(await agent.stop("SIGTERM")).toBe(0);
    expect(agent.output().stdout + agent.output().stderr).not.toContain(SECRET);
  });

  it("fails fast when a secret is unavailable, naming the ref and never the value", async () => {
    await writeSecret(SECRET, 0o644);
    const result = await runCli(["node", "start", ...baseArgs()], rootEnv);
    expect(result.code).toBe(1);
    expect(result.stderr.split("\n").slice(0, 2)).toEqual([
      "Startup failed: required secrets are unavailable.",
      `- file:filemain:/openai: secrets.providers.filemain.path permissions are too open: ${secretsPath}`,
    ]);
    expect(result.stdout + result.stderr).not.toContain(SECRET);
  });

  it("refuses a non-loopback bind address and says why", async () => {
    const result = await runCli(["node", "start", ...baseArgs(), "--host", "0.0.0.0"], rootEnv);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("refusing to bind 0.0.0.0: the node agent listens on loopback only (127.0.0.0/8 or ::1)");
  });

  it("refuses a gateway.bind other than loopback", async () => {
    const config = JSON.parse(await readFile(configPath, "utf8")) as Record<string, unknown>;
    await writeFile(configPath, JSON.stringify({ ...config, gateway: { bind: "lan" } }));
    const result = await runCli(["node", "start", ...baseArgs()], rootEnv);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('refusing gateway.bind "lan": the node agent listens on loopback only');
  });

  it.skipIf(!isRoot)("refuses to run as root without --allow-root", async () => {
    const result = await runCli(["node", "start", ...baseArgs()], { CLAWGATE_ALLOW_ROOT: "" });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("refusing to run as root");
  });

  it("rejects a bad --port with a one-line reason", async () => {
    const result = await runCli(["node", "start", ...baseArgs().slice(0, 2), "--port", "http"], rootEnv);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe('clawgate: --port must be an integer from 0 to 65535, got "http"');
  });
});

describe("secrets reload", () => {
  it("reloads a running agent and prints the documented JSON", async () => {
    agent = await startNodeProcess(baseArgs(), { env: rootEnv });
    await writeSecret("sk-rotated-value-43");
    const result = await runCli(["secrets", "reload", "--json", "--config", configPath, "--state-dir", stateDir]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ ok: true, warningCount: 0 });
    expect((await status(agent.url)).version).toBe(2);
  });

  it("exits 1 and keeps the agent on its last-known-good when resolution fails", async () => {
    agent = await startNodeProcess(baseArgs(), { env: rootEnv });
    await writeSecret(SECRET, 0o666);
    const result = await runCli(["secrets", "reload", "--config", configPath, "--state-dir", stateDir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("reload failed; the daemon keeps its last-known-good secrets");
    expect(await status(agent.url)).toMatchObject({ version: 1, health: "degraded" });
    expect(agent.output().stdout).toContain("SECRETS_RELOADER_DEGRADED");
  });

  it("with --json prints {ok:false,error} on stdout and exits 1 when resolution fails", async () => {
    agent = await startNodeProcess(baseArgs(), { env: rootEnv });
    await writeSecret(SECRET, 0o666);
    const result = await runCli(["secrets", "reload", "--json", "--config", configPath, "--state-dir", stateDir]);
    expect(result.code).toBe(1);
    const answer = JSON.parse(result.stdout) as { ok: unknown; error: unknown };
    expect(answer.ok).toBe(false);
    expect(answer.error).toMatch(/^reload failed; the daemon keeps its last-known-good secrets:\n.*permissions are too open/s);
    expect(result.stdout).not.toContain(SECRET);
  });

  it("reloads on SIGHUP", async () => {
    agent = await startNodeProcess(baseArgs(), { env: rootEnv });
    agent.child.kill("SIGHUP");
    const url = agent.url;
    await pollUntil(async () => (await status(url)).version === 2, 5_000, "version 2 after SIGHUP");
  });

  it("refuses a wrong admin token", async () => {
    agent = await startNodeProcess(baseArgs(), { env: rootEnv });
    const result = await runCli(["secrets", "reload", "--url", agent.url, "--token", "wrong"]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(`clawgate: the daemon at ${agent.url} refused the admin token (401)`);
  });

  it("says clearly when no agent runs", async () => {
    const result = await runCli(["secrets", "reload", "--config", configPath, "--state-dir", stateDir]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      `clawgate: no running daemon found (no ${stateDir}/node.json); start one with: clawgate node start`,
    );
  });
});
