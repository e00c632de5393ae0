/** `clawgate doctor` through the real CLI on real files and a real node agent: findings, exit code, --fix, and no secret in any output. */
import { createServer } from "node:net";
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { DoctorReport } from "../../../node/doctor/doctor-finding.ts";
import { type NodeProcess, pollUntil, startNodeProcess } from "../../helpers/node-process.ts";
import { runCli } from "../../helpers/run-cli.ts";

const isRoot = process.getuid?.() === 0;
const GATEWAY_TOKEN = "gw-token-SECRET-value-0123456789";
const HOOK_TOKEN = "hook-token-SECRET-value-9876543210";
let dir: string;
let configPath: string;
let secretsPath: string;
let stateDir: string;
let agent: NodeProcess | undefined;

/** The child's environment: HOME is the temp dir (supervision files are looked up under it), no inherited clawgate settings. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(CLAWGATE_|OPENCLAW_)/.test(k)) base[k] = v;
  return { ...base, HOME: dir, ...extra };
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "clawgate-doctor-"));
  await chmod(dir, 0o700);
  configPath = join(dir, "openclaw.json");
  secretsPath = join(dir, "secrets.json");
  stateDir = join(dir, "state");
});

afterEach(async () => {
  await agent?.stop("SIGKILL");
  agent = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function doctor(args: string[], extraEnv: Record<string, string> = {}) {
  const run = await runCli(["doctor", "--config", configPath, ...args], { env: env(extraEnv) });
  return { ...run, report: args.includes("--json") ? (JSON.parse(run.stdout) as DoctorReport) : undefined };
}

const ids = (report: DoctorReport) => Object.fromEntries(report.findings.map((f) => [f.checkId, f.severity]));

/** A port nothing listens on: a node.json left behind by an agent that died. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

describe("clawgate doctor", () => {
  it("reports a risky host in OpenClaw's finding shape, exits 1, and prints no token", async () => {
    await writeFile(secretsPath, JSON.stringify({ hooks: HOOK_TOKEN }), { mode: 0o644 });
    await writeFile(
      configPath,
      JSON.stringify({
        secrets: { providers: { filemain: { source: "file", path: secretsPath } } },
        gateway: { bind: "lan", auth: { token: GATEWAY_TOKEN } },
        hooks: { enabled: true, token: GATEWAY_TOKEN, allowRequestSessionKey: true },
        clawgate: { stateDir },
        models: { providers: { openai: { apiKey: { source: "file", provider: "filemain", id: "/hooks" } } } },
      }),
      { mode: 0o644 },
    );
    await mkdir(stateDir, { mode: 0o755 });
    await chmod(stateDir, 0o755);
    await writeFile(join(stateDir, "admin.token"), "admin-SECRET\n", { mode: 0o644 });
    await writeFile(join(stateDir, "node.json"), JSON.stringify({ url: `http://127.0.0.1:${await deadPort()}`, pid: 1, startedAt: new Date().toISOString() }));

    const { code, report, stdout, stderr } = await doctor(["--json"]);
    expect(stderr).toBe("");
    expect(code).toBe(1);
    expect(report!.ok).toBe(false);
    expect(ids(report!)).toMatchObject({
      "gateway.bind_not_loopback": "critical",
      "hooks.token_reuse_gateway_token": "critical",
      "hooks.allowed_agent_ids_unrestricted": "warn",
      "hooks.request_session_key_enabled": "warn",
      "config.secrets.hooks_token_in_config": "warn",
      "fs.config.perms_world_readable": "critical",
      "fs.state_dir.perms_open": "critical",
      "fs.state_file.perms_world_readable": "critical",
      "fs.secrets_file.perms_world_readable": "critical",
      "secrets.audit_not_clean": "critical",
      "edge.public_key_missing": "warn",
      "supervision.not_installed": "warn",
      "node.not_running": "critical",
      ...(isRoot ? { "process.running_as_root": "critical" } : {}),
    });
    for (const f of report!.findings) {
      expect(Object.keys(f).sort()).toEqual(expect.arrayContaining(["checkId", "detail", "severity", "title"]));
      expect(["info", "warn", "critical"]).toContain(f.severity);
    }
    expect(report!.findings.find((f) => f.checkId === "node.not_running")?.detail).toContain("stale node.json");
    expect(report!.summary.critical).toBe(report!.findings.filter((f) => f.severity === "critical").length);

    const text = await doctor([]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^CRITICAL gateway\.bind_not_loopback: gateway\.bind is not loopback$/m);
    expect(text.stdout).toMatch(/\d+ critical, \d+ warn, \d+ info — not production-ready\n$/);
    for (const out of [stdout, stderr, text.stdout, text.stderr]) {
      for (const secret of [GATEWAY_TOKEN, HOOK_TOKEN, "admin-SECRET"]) expect(out).not.toContain(secret);
    }
  });

  it("--fix tightens every flagged mode to 600/700 and changes no content, token or binding", async () => {
    await writeFile(secretsPath, JSON.stringify({ hooks: HOOK_TOKEN }), { mode: 0o640 });
    const configText = JSON.stringify({
      secrets: { providers: { filemain: { source: "file", path: secretsPath } } },
      gateway: { bind: "lan" },
      hooks: { enabled: true, token: { source: "file", provider: "filemain", id: "/hooks" } },
      clawgate: { stateDir },
    });
    await writeFile(configPath, configText, { mode: 0o666 });
    await chmod(configPath, 0o666);
    await chmod(secretsPath, 0o640);
    await mkdir(stateDir);
    await chmod(stateDir, 0o750);
    await chmod(dir, 0o755);

    const { report } = await doctor(["--json", "--fix"]);
    expect(report!.fixed).toEqual([
      `chmod 600 ${configPath} (was 666)`,
      `chmod 700 ${dir} (was 755)`,
      `chmod 700 ${stateDir} (was 750)`,
      `chmod 600 ${secretsPath} (was 640)`,
    ]);
    expect((await stat(configPath)).mode & 0o777).toBe(0o600);
    expect((await stat(secretsPath)).mode & 0o777).toBe(0o600);
    expect((await stat(stateDir)).mode & 0o777).toBe(0o700);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect(await readFile(configPath, "utf8")).toBe(configText);
    expect(await readFile(secretsPath, "utf8")).toBe(JSON.stringify({ hooks: HOOK_TOKEN }));
    const left = ids(report!);
    expect(Object.keys(left).filter((id) => id.startsWith("fs."))).toEqual([]);
    // Bindings are the operator's to change: still reported after --fix.
    expect(left["gateway.bind_not_loopback"]).toBe("critical");
  });

  it("passes a production-shaped host: running agent, supervision installed, refs in a 0600 file, edge key set", async () => {
    await writeFile(secretsPath, JSON.stringify({ gateway: GATEWAY_TOKEN, hooks: HOOK_TOKEN }), { mode: 0o600 });
    const keys = await runCli(["edge", "keys", "--print-private", "--json"], { env: env() });
    const { publicJwk } = JSON.parse(keys.stdout) as { publicJwk: Record<string, unknown> };
    await writeFile(
      configPath,
      JSON.stringify({
        secrets: { providers: { filemain: { source: "file", path: secretsPath } } },
        gateway: { auth: { token: { source: "file", provider: "filemain", id: "/gateway" } } },
        hooks: {
          enabled: true,
          token: { source: "file", provider: "filemain", id: "/hooks" },
          allowedAgentIds: ["main"],
          defaultSessionKey: "hook:ingress",
        },
        clawgate: { stateDir, node: { id: "node-1" }, edge: { publicKeys: [publicJwk] } },
        agents: {
          defaults: { model: "demo/echo", models: { "demo/echo": { memoryGb: 0 } }, heartbeat: { every: "30m" } },
          list: [{ id: "main", default: true, runtime: { type: "command", command: "/bin/echo", args: ["HEARTBEAT_OK"], local: false } }],
        },
      }),
      { mode: 0o600 },
    );
    const rootOk = { CLAWGATE_ALLOW_ROOT: "1" };
    const install = await runCli(
      ["service", "install", "launchd", "--user", "clawgate", "--home", dir, "--config", configPath, "--state-dir", stateDir],
      { env: env() },
    );
    expect(install.code).toBe(0);
    agent = await startNodeProcess(["--config", configPath, "--port", "0"], { env: env(rootOk) });

    // A wake runs a heartbeat, so doctor finds one in the agent's run log.
    const wake = await fetch(`${agent.url}/hooks/wake`, {
      method: "POST",
      headers: { authorization: `Bearer ${HOOK_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ text: "doctor test" }),
    });
    expect(wake.status).toBe(200);
    const adminToken = (await readFile(join(stateDir, "admin.token"), "utf8")).trim();
    await pollUntil(async () => {
      const res = await fetch(`${agent!.url}/_clawgate/admin/runs?status=ok`, { headers: { authorization: `Bearer ${adminToken}` } });
      return ((await res.json()) as { runs: { kind: string }[] }).runs.some((r) => r.kind === "heartbeat");
    }, 10_000, "a heartbeat run");

    const { code, report, stdout } = await doctor(["--json"], rootOk);
    // The run log was read: no "unchecked" note, and a heartbeat 0 minutes ago is not overdue.
    expect(ids(report!)).not.toHaveProperty("heartbeat.unchecked");
    // The machine's own disk is not this test's subject (its thresholds are unit-tested): say so if it is low.
    const disk = report!.findings.find((f) => f.checkId === "disk.state_dir_low");
    if (disk) console.warn(`this machine's disk is low, not counted here: ${disk.detail}`);
    const serious = report!.findings.filter((f) => f.severity !== "info" && !["process.running_as_root", "disk.state_dir_low"].includes(f.checkId));
    expect(serious).toEqual([]);
    if (!disk) expect(code).toBe(0);
    if (isRoot) expect(ids(report!)["process.running_as_root"]).toBe("warn");
    for (const secret of [GATEWAY_TOKEN, HOOK_TOKEN]) expect(stdout).not.toContain(secret);
  });
});
