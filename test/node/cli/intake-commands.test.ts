/**
 * `clawgate intake list | replay` as real processes against a real node agent and a real model server on loopback:
 * a delivery that goes dead (its run times out: not retried) is listed, replayed, and then done — the run log
 * keeps the old run, the replay marker and the new run. The dispatcher's replay rules are unit-tested in
 * test/node/dispatch/dispatcher.test.ts; this checks the wiring (discovery, token, routes, output, exit codes).
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from "vitest";
import { ADMIN_PREFIX } from "../../../shared/constants.ts";
import { type ModelServer, startModelServer } from "../../helpers/model-server.ts";
import { fileRef, writeNodeConfig } from "../../helpers/node-config.ts";
import { type NodeProcess, pollUntil, startNodeProcess } from "../../helpers/node-process.ts";
import { runCli } from "../../helpers/run-cli.ts";

const HOOK_TOKEN = "hook-token-intake-cli-0123456789abcdef";
let dir: string;
let agent: NodeProcess | undefined;
let server: ModelServer;

beforeAll(async () => {
  server = await startModelServer();
});
afterAll(() => server.close());

beforeEach(async () => {
  server.requests.length = 0;
  server.setLatency(0);
  dir = await mkdtemp(join(tmpdir(), "clawgate-intake-cli-"));
  await writeNodeConfig(dir, { hooks: HOOK_TOKEN }, {
    hooks: { enabled: true, token: fileRef("hooks"), allowRequestSessionKey: true },
    models: { providers: { local: { baseUrl: `${server.url}/v1` } } },
    agents: { defaults: { model: "local/llama3.1:8b", heartbeat: { every: "0m" }, models: { "local/llama3.1:8b": { memoryGb: 1 } } } },
    clawgate: { stateDir: join(dir, "state"), dispatch: { memoryBudgetGb: 2, headroomGb: 0 } },
  });
});
afterEach(async () => {
  await agent?.stop("SIGKILL");
  agent = undefined;
  await rm(dir, { recursive: true, force: true });
});

/** The CLI finds the agent the way an operator's shell would: through the config's state dir (node.json, admin.token). */
const cli = (...args: string[]) => runCli(["intake", ...args, "--config", join(dir, "openclaw.json")], { env: { ...process.env, OPENCLAW_GATEWAY_TOKEN: "" } });

async function admin(path: string): Promise<any> {
  const token = (await readFile(join(dir, "state", "admin.token"), "utf8")).trim();
  return (await fetch(`${agent!.url}${ADMIN_PREFIX}${path}`, { headers: { authorization: `Bearer ${token}` } })).json();
}

it("a dead delivery is listed by `intake list --state dead`, replayed by `intake replay`, and then done", async () => {
  agent = await startNodeProcess(["--config", join(dir, "openclaw.json"), "--port", "0"], { env: { CLAWGATE_ALLOW_ROOT: "1" } });
  // The model answers after 10 s but the run may take 1 s: it times out, and a timeout is not retried → dead.
  server.setLatency(10_000);
  const id = "ops/nightly-report"; // an edge-scoped id holds a "/"
  const res = await fetch(`${agent.url}/hooks/agent`, {
    method: "POST",
    headers: { authorization: `Bearer ${HOOK_TOKEN}`, "content-type": "application/json", "idempotency-key": id },
    body: JSON.stringify({ message: "write the report", sessionKey: "hook:report", timeoutSeconds: 1, wakeMode: "next-heartbeat" }),
  });
  expect(res.status).toBe(202);
  await pollUntil(async () => (await admin("/intake?state=dead")).dead.length === 1, 10_000, "the delivery to be dead");

  const listed = await cli("list", "--state", "dead");
  expect(listed.stderr).toBe("");
  expect(listed.code).toBe(0);
  expect(listed.stdout).toContain("1 dead delivery (pending 0, done 0, dead 1):");
  expect(listed.stdout).toMatch(new RegExp(`^${id}  agent  \\d{4}-\\d\\d-\\d\\dT\\S+Z  timeout is not retried \\(ERR_\\w+\\)$`, "m"));
  expect(listed.stdout).not.toContain("write the report"); // the payload stays in the journal

  server.setLatency(0);
  const replayed = await cli("replay", id, "--json");
  expect(replayed.stderr).toBe("");
  expect(replayed.code).toBe(0);
  expect(JSON.parse(replayed.stdout)).toEqual({ ok: true, deliveryId: id });
  await pollUntil(async () => (await admin("/intake")).counts.done === 1, 10_000, "the replayed delivery to be done");

  const after = await cli("list", "--state", "dead", "--json");
  expect(after.code).toBe(0);
  expect(JSON.parse(after.stdout)).toEqual({ ok: true, state: "dead", counts: { pending: 0, done: 1, dead: 0 }, deliveries: [] });
  // The console's "done" tab, in the terminal: newest first, --limit applies.
  const done = await cli("list", "--state", "done", "--limit", "1");
  expect(done.stderr).toBe("");
  expect(done.code).toBe(0);
  expect(done.stdout).toMatch(new RegExp(`^1 done delivery \\(pending 0, done 1, dead 0\\):\n${id}  agent  \\d{4}-\\d\\d-\\d\\dT\\S+Z\n$`));
  const runs = (await admin("/runs?limit=10")).runs.filter((r: { deliveryIds: string[] }) => r.deliveryIds.includes(id));
  expect(runs.map((r: { kind: string; status: string }) => [r.kind, r.status]).reverse()).toEqual([
    ["agent", "timeout"],
    ["replay", "replayed"],
    ["agent", "ok"],
  ]);

  const token = (await readFile(join(dir, "state", "admin.token"), "utf8")).trim();
  const metrics = await (await fetch(`${agent.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
  expect(metrics).toMatch(/clawgate_runs\{status="replayed"\} 1/);

  // Refusals are one line on stderr and exit 1.
  const again = await cli("replay", id);
  expect(again.code).toBe(1);
  expect(again.stderr).toBe(`clawgate: delivery is not dead: ${id} (only dead deliveries can be replayed)\n`);
  const unknown = await cli("replay", "no-such-delivery");
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toBe("clawgate: delivery not found: no-such-delivery\n");
});

it("says clearly when no agent runs, and refuses a bad --state or --limit naming the option", async () => {
  const none = await cli("list");
  expect(none.code).toBe(1);
  expect(none.stderr).toBe(`clawgate: no running daemon found (no ${join(dir, "state")}/node.json); start one with: clawgate node start\n`);
  const badState = await cli("list", "--state", "zombie");
  expect(badState.code).not.toBe(0);
  expect(badState.stderr).toMatch(/option '--state <state>' argument 'zombie' is invalid\. Allowed choices are pending, dead, done\./);
  const badLimit = await cli("list", "--limit", "0");
  expect(badLimit.code).toBe(1);
  expect(badLimit.stderr).toBe('clawgate: --limit must be an integer from 1 to 1000 (got "0")\n');
});
