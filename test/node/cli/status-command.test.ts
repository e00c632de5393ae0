/**
 * `clawgate status` as a real process against a real daemon on loopback (real runs against a loopback model server):
 * the overview as text and JSON, exit 0 when ready; after its secrets provider breaks and a reload fails, exit 1 with
 * the reason first and the DEGRADED transition named; no daemon → exit 1 with a one-line reason.
 */
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type ModelServer, startModelServer } from "../../helpers/model-server.ts";
import { fileRef, writeNodeConfig } from "../../helpers/node-config.ts";
import { type NodeProcess, pollUntil, startNodeProcess } from "../../helpers/node-process.ts";
import { runCli } from "../../helpers/run-cli.ts";

const HOOK_TOKEN = "hook-token-status-cli-0123456789abcdef";
let dir: string;
let daemon: NodeProcess;
let model: ModelServer;

const status = (...args: string[]) => runCli(["status", ...args, "--config", join(dir, "openclaw.json")], { env: { ...process.env, OPENCLAW_GATEWAY_TOKEN: "" } });

beforeAll(async () => {
  model = await startModelServer();
  dir = await mkdtemp(join(tmpdir(), "clawgate-status-cli-"));
  await writeNodeConfig(dir, { hooks: HOOK_TOKEN }, {
    hooks: { enabled: true, token: fileRef("hooks") },
    models: { providers: { local: { baseUrl: `${model.url}/v1` } } },
    agents: { defaults: { model: "local/llama3.1:8b", heartbeat: { every: "30m" }, models: { "local/llama3.1:8b": { memoryGb: 1 } } } },
    clawgate: { stateDir: join(dir, "state"), dispatch: { memoryBudgetGb: 4, headroomGb: 0 } },
  });
  daemon = await startNodeProcess(["--config", join(dir, "openclaw.json"), "--port", "0"], { env: { CLAWGATE_ALLOW_ROOT: "1" } });
}, 30_000);

afterAll(async () => {
  await daemon?.stop("SIGKILL");
  await model?.close();
  await rm(dir, { recursive: true, force: true });
});

it("prints the overview and exits 0 when ready; --json gives the same data", async () => {
  const res = await fetch(`${daemon.url}/hooks/agent`, { method: "POST", headers: { authorization: `Bearer ${HOOK_TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ message: "status check" }) });
  expect(res.status).toBe(202);
  await pollUntil(async () => ((await status("--json")).stdout.includes('"done":1') ? true : undefined), 15_000, "the run to finish");
  const text = await status();
  expect(text.code).toBe(0);
  const lines = text.stdout.split("\n");
  expect(lines[0]).toBe("ready       yes");
  expect(lines[1]).toMatch(new RegExp(`^daemon      ${daemon.url.replace(/\./g, "\\.")} · pid \\d+ · up \\d+s$`));
  expect(lines[2]).toBe("secrets     healthy · snapshot v1 · 1 ref");
  expect(lines[3]).toMatch(/^heartbeats  main: every 30m · last \d+s ago \(ok\) · next in 29m( \d+s)?$/);
  expect(lines[4]).toMatch(/^memory      \[-{20}\] 0\.0 GiB of 4\.0 GiB reserved · host \d+(\.\d)? GiB available of \d+(\.\d)? GiB$/);
  expect(lines[5]).toBe("queue       0 queued (0 high priority) · 0 running");
  expect(lines[6]).toBe("deliveries  0 pending · 0 dead · 1 done");
  expect(lines[7]).toMatch(/^runs        \d+ ok$/);
  // The overview is admin data: without the token the daemon refuses it.
  expect((await fetch(`${daemon.url}/_clawgate/admin/overview`)).status).toBe(401);
  const json = JSON.parse((await status("--json")).stdout);
  expect(json).toMatchObject({ ok: true, ready: { ok: true, problems: [] }, secrets: { health: "healthy", version: 1 }, deliveries: { pending: 0, dead: 0, done: 1 } });
}, 30_000);

it("exits 1 when not ready, with the reason on the first line and the DEGRADED transition named", async () => {
  await chmod(join(dir, "secrets.json"), 0o666); // the file provider refuses a world-writable secrets file
  const reload = await runCli(["secrets", "reload", "--config", join(dir, "openclaw.json")], { env: { ...process.env, OPENCLAW_GATEWAY_TOKEN: "" } });
  expect(reload.code).toBe(1);
  const text = await status();
  expect(text.code).toBe(1);
  const lines = text.stdout.split("\n");
  expect(lines[0]).toBe("ready       NO: secrets degraded");
  expect(lines[2]).toMatch(/^secrets     degraded · snapshot v1 · 1 ref · last DEGRADED \d+s ago \(file:f:\/hooks ERR_\w+\)$/);
  expect(text.stdout).not.toContain(HOOK_TOKEN);
  await chmod(join(dir, "secrets.json"), 0o600);
});

it("exits 1 with a one-line reason when no daemon runs", async () => {
  const empty = await mkdtemp(join(tmpdir(), "clawgate-status-none-"));
  try {
    const res = await runCli(["status", "--state-dir", empty], { env: { ...process.env, OPENCLAW_GATEWAY_TOKEN: "" } });
    expect(res.code).toBe(1);
    expect(res.stderr).toBe(`clawgate: no running daemon found (no ${empty}/node.json); start one with: clawgate node start\n`);
  } finally {
    await rm(empty, { recursive: true, force: true });
  }
});

it("shows an agent with no model or runtime (the config `clawgate init --yes` writes) as one that cannot run, after its wake was given up", async () => {
  const bare = await mkdtemp(join(tmpdir(), "clawgate-status-bare-"));
  let node: NodeProcess | undefined;
  try {
    await writeNodeConfig(bare, { hooks: HOOK_TOKEN }, {
      hooks: { enabled: true, token: fileRef("hooks") },
      agents: { defaults: { heartbeat: { every: "30m" } } },
      clawgate: { stateDir: join(bare, "state") },
    });
    node = await startNodeProcess(["--config", join(bare, "openclaw.json"), "--port", "0"], { env: { CLAWGATE_ALLOW_ROOT: "1" } });
    const bareStatus = (...args: string[]) => runCli(["status", ...args, "--config", join(bare, "openclaw.json")], { env: { ...process.env, OPENCLAW_GATEWAY_TOKEN: "" } });
    const wake = await fetch(`${node.url}/hooks/wake`, { method: "POST", headers: { authorization: `Bearer ${HOOK_TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ text: "hello", mode: "now" }) });
    expect(wake.status).toBe(200);
    await pollUntil(async () => ((await bareStatus("--json")).stdout.includes('"dead":1') ? true : undefined), 15_000, "the wake to be given up");
    const lines = (await bareStatus()).stdout.split("\n");
    // No local model run was ever queued (the scheduler never probed): the host's memory is read for the overview.
    expect(lines.find((l) => l.startsWith("memory"))).toMatch(/ · host \d+(\.\d)? GiB available of \d+(\.\d)? GiB$/);
    expect(lines.find((l) => l.startsWith("heartbeats"))).toBe(
      'heartbeats  main: CANNOT RUN: agent "main" has no model or runtime configured: its heartbeats, wakes and agent calls are given up (ERR_NO_MODEL) · fix: set agents.defaults.model (e.g. "ollama/llama3.1:8b" with models.providers.ollama), or agents.list[].model with agents.list[].runtime (openai, command or openclaw): docs/dispatch.md#runtimes-agentsdefaultsruntime-or-agentslistruntime',
    );
  } finally {
    await node?.stop("SIGKILL");
    await rm(bare, { recursive: true, force: true });
  }
}, 30_000);
