/** runDoctor over real files and a loopback server answering as a running agent: the heartbeat check per agent. */
import { createServer, type Server } from "node:http";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { runDoctor } from "../../../node/doctor/doctor.ts";

const NOW = Date.parse("2026-11-24T12:00:00Z");
const MIN = 60_000;
const ADMIN = "admin-token-doctor-0123456789";
let dir: string;
let server: Server;
let url: string;

/** Heartbeat records in the agent's run log: `main` ran a minute ago, `research` 50 minutes ago, `quiet` never. */
const runs = [
  { kind: "heartbeat", agentId: "main", status: "ok", finishedAt: NOW - MIN },
  { kind: "heartbeat", agentId: "research", status: "ok", finishedAt: NOW - 50 * MIN },
];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "clawgate-doctor-"));
  server = createServer((req, res) => {
    const authed = req.headers.authorization === `Bearer ${ADMIN}`;
    const send = (status: number, body: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    if (req.url === "/healthz" || req.url === "/readyz") return send(200, { ok: true });
    if (!authed) return send(401, { ok: false, error: "unauthorized" });
    if (req.url?.startsWith("/_clawgate/admin/intake")) return send(200, { ok: true, counts: { pending: 0, done: 2, dead: 0 }, pending: [] });
    const status = new URL(req.url ?? "/", "http://x").searchParams.get("status");
    if (req.url?.startsWith("/_clawgate/admin/runs")) return send(200, { ok: true, runs: runs.filter((r) => r.status === status) });
    send(404, { ok: false });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

it("checks every agent's own heartbeat: one that stopped is reported by name, even while another still runs", async () => {
  const stateDir = join(dir, "state");
  await mkdir(stateDir, { mode: 0o700 });
  await writeFile(join(stateDir, "node.json"), JSON.stringify({ url, pid: process.pid, startedAt: new Date(NOW - 3 * 60 * MIN).toISOString() }), { mode: 0o600 });
  await writeFile(join(stateDir, "admin.token"), `${ADMIN}\n`, { mode: 0o600 });
  const configPath = join(dir, "openclaw.json");
  const agents = {
    defaults: { model: "demo/echo", models: { "demo/echo": { memoryGb: 0 } }, heartbeat: { every: "30m" } },
    list: [
      { id: "main", default: true },
      { id: "research", heartbeat: { every: "30m" } },
      { id: "quiet", heartbeat: { every: "0m" } },
      { id: "nightly", heartbeat: { every: "1h" } },
    ],
  };
  await writeFile(configPath, JSON.stringify({ clawgate: { stateDir }, agents }), { mode: 0o600 });

  const report = await runDoctor({ configPath, stateDir, io: { now: () => NOW, home: dir } });
  const heartbeat = report.findings.filter((f) => f.checkId.startsWith("heartbeat."));
  // main is on time; quiet opted out (not the default agent); research and nightly are overdue.
  expect(heartbeat.map((f) => [f.checkId, f.severity, f.detail])).toEqual([
    ["heartbeat.overdue", "critical", 'the last heartbeat of agent "research" ran 50 min ago (period 30 min, deadline 33 min)'],
    ["heartbeat.overdue", "critical", 'no heartbeat of agent "nightly" has run since the agent started 180 min ago (period 60 min, deadline 66 min)'],
  ]);
});

it("names a service file whose Node, clawgate entry or config no longer exists, and is quiet when all do", async () => {
  const home = join(dir, "service-home");
  const configPath = join(home, "openclaw.json");
  await mkdir(join(home, ".config/systemd/user"), { recursive: true });
  await writeFile(configPath, JSON.stringify({ clawgate: { stateDir: join(home, "state") } }), { mode: 0o600 });
  const { buildSystemdUnit } = await import("../../../node/service/systemd-unit.ts");
  const { buildLaunchdPlist } = await import("../../../node/service/launchd-plist.ts");
  const spec = (cliPath: string) => ({ user: "clawgate", home, nodePath: process.execPath, cliPath, configPath, stateDir: join(home, "state"), path: "/usr/bin:/bin" });
  const unit = join(home, ".config/systemd/user/clawgate-node.service");
  const gone = join(home, "old-checkout/node/cli/bin.ts");
  await writeFile(unit, buildSystemdUnit(spec(gone)));
  const missing = (await runDoctor({ configPath, io: { now: () => NOW, home } })).findings.filter((f) => f.checkId === "supervision.path_missing");
  expect(missing.map((f) => [f.severity, f.detail])).toEqual([["critical", `${unit} names ${gone}, which does not exist (docs/operations.md#upgrades)`]]);

  // The same check reads a launchd plist's ProgramArguments; with every path present there is no finding.
  const present = join(home, "cli.js");
  await writeFile(present, "");
  await writeFile(unit, buildSystemdUnit(spec(present)));
  await mkdir(join(home, "Library/LaunchAgents"), { recursive: true });
  const plistFile = join(home, "Library/LaunchAgents/com.clawgate.node.plist");
  await writeFile(plistFile, buildLaunchdPlist(spec(gone)));
  const after = (await runDoctor({ configPath, io: { now: () => NOW, home } })).findings.filter((f) => f.checkId === "supervision.path_missing");
  expect(after.map((f) => f.detail)).toEqual([`${plistFile} names ${gone}, which does not exist (docs/operations.md#upgrades)`]);
});

it("warns about an agent with no model or runtime (as `clawgate init --yes` leaves it), and says no_agents only without an agents section", async () => {
  const home = join(dir, "no-model-home");
  await mkdir(home, { recursive: true });
  const configPath = join(home, "openclaw.json");
  const findingsFor = async (config: unknown) => {
    await writeFile(configPath, JSON.stringify({ clawgate: { stateDir: join(home, "state") }, ...(config as object) }), { mode: 0o600 });
    return (await runDoctor({ configPath, io: { now: () => NOW, home } })).findings.filter((f) => f.checkId.startsWith("agents.") || f.checkId === "heartbeat.no_agents");
  };
  const fix =
    'set agents.defaults.model (e.g. "ollama/llama3.1:8b" with models.providers.ollama), or agents.list[].model with agents.list[].runtime (openai, command or openclaw): docs/dispatch.md#runtimes-agentsdefaultsruntime-or-agentslistruntime';
  // The minimal config init writes: the implicit agent "main" runs heartbeats, and each is given up at once.
  expect(await findingsFor({ agents: { defaults: { heartbeat: { every: "30m" } } } })).toEqual([
    {
      checkId: "agents.no_model",
      severity: "warn",
      title: 'agent "main" cannot run',
      detail: 'agent "main" has no model or runtime configured: its heartbeats, wakes and agent calls are given up (ERR_NO_MODEL)',
      remediation: fix,
    },
  ]);
  // Each listed agent on its own: one with a model is fine, one with only a runtime still has no model to run.
  const listed = await findingsFor({ agents: { list: [{ id: "main", model: "openai/gpt-5.2-mini" }, { id: "ops", runtime: { type: "command", command: "/usr/bin/true" } }, { id: "idle" }] } });
  expect(listed.map((f) => [f.checkId, f.severity, f.detail])).toEqual([
    ["agents.no_model", "warn", 'agent "ops" has a runtime but no model: its heartbeats, wakes and agent calls are given up (ERR_NO_MODEL)'],
    ["agents.no_model", "warn", 'agent "idle" has no model or runtime configured: its heartbeats, wakes and agent calls are given up (ERR_NO_MODEL)'],
  ]);
  expect(await findingsFor({ agents: { defaults: { model: "openai/gpt-5.2-mini" } } })).toEqual([]);
  // Without an agents section the node really only journals.
  expect(await findingsFor({})).toEqual([
    {
      checkId: "heartbeat.no_agents",
      severity: "info",
      title: "no agents configured",
      detail: "the config has no agents section: the node journals deliveries and leaves them pending, and runs no heartbeat",
      remediation: fix,
    },
  ]);
});

it("counts skipped exec refs in the singular and plural", async () => {
  const home = join(dir, "exec-home");
  await mkdir(home, { recursive: true });
  const configPath = join(home, "openclaw.json");
  const vault = (id: string) => ({ source: "exec", provider: "vault", id });
  const detailFor = async (config: Record<string, unknown>) => {
    await writeFile(configPath, JSON.stringify({ clawgate: { stateDir: join(home, "state") }, secrets: { providers: { vault: { source: "exec", command: join(home, "no-such-resolver") } } }, ...config }), { mode: 0o600 });
    return (await runDoctor({ configPath, io: { now: () => NOW, home } })).findings.find((f) => f.checkId === "secrets.audit_exec_skipped")?.detail;
  };
  expect(await detailFor({ gateway: { auth: { token: vault("gateway/token") } } })).toBe("1 exec ref skipped");
  expect(await detailFor({ gateway: { auth: { token: vault("gateway/token") } }, hooks: { token: vault("hooks/token") } })).toBe("2 exec refs skipped");
});
