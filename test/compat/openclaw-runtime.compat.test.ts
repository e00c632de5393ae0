/**
 * The `openclaw` runtime against the real gateway: a clawgate node agent whose agent has `runtime: {type:
 * "openclaw"}` forwards an agent call and a wake (the heartbeat run it triggers) to OpenClaw 2026.2.26's
 * `/hooks/agent`, and records the gateway's acceptance (its runId) in the session transcript and the run log.
 * The gateway's own model call then fails for lack of a model; acceptance is what this proves.
 */
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { pollUntil } from "../helpers/node-process.ts";
import { type Gateway, removeDir, startClawgate, startOpenClaw, writeSharedConfig } from "./support/gateways.ts";
import { ensureOpenClaw } from "./support/openclaw-install.ts";

const GATEWAY_HOOK_TOKEN = "openclaw-gateway-hook-token-0123456789abcdef";
const NODE_HOOK_TOKEN = "clawgate-node-hook-token-0123456789abcdef01";
const ACCEPTED = /^accepted by OpenClaw gateway \(runId [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\)$/;

let openclaw: Gateway | undefined;
let clawgate: Gateway | undefined;
const dirs: string[] = [];

beforeAll(async () => {
  const root = ensureOpenClaw();
  const gw = await writeSharedConfig({
    gateway: { mode: "local", bind: "loopback", auth: { mode: "token", token: "gateway-token-runtime-0123456789abcdef" } },
    update: { checkOnStart: false },
    hooks: { enabled: true, token: GATEWAY_HOOK_TOKEN, allowRequestSessionKey: true },
  });
  dirs.push(gw.dir);
  openclaw = await startOpenClaw(root, gw.dir, gw.configPath);
  const node = await writeSharedConfig({
    hooks: { enabled: true, token: NODE_HOOK_TOKEN },
    agents: {
      list: [{ id: "main", default: true, model: "openai/gpt-5.2-mini", runtime: { type: "openclaw", url: openclaw.url, token: GATEWAY_HOOK_TOKEN } }],
    },
  });
  dirs.push(node.dir);
  clawgate = await startClawgate(node.dir, node.configPath);
}, 15 * 60_000);

afterAll(async () => {
  await Promise.all([openclaw?.stop(), clawgate?.stop()]);
  for (const dir of dirs) await removeDir(dir);
});

/** An array once it has an element (pollUntil waits on a truthy value, and [] is truthy). */
const nonEmpty = <T,>(list: T[]) => (list.length > 0 ? list : undefined);

const post = (path: string, body: unknown) =>
  fetch(`${clawgate!.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${NODE_HOOK_TOKEN}`, "content-type": "application/json" }, body: JSON.stringify(body) });

/** Assistant replies in the node's session transcripts. */
async function replies(): Promise<string[]> {
  const dir = join(dirs[1]!, "clawgate-state", "sessions");
  const files = await readdir(dir).catch(() => [] as string[]);
  const out: string[] = [];
  for (const file of files) {
    for (const line of (await readFile(join(dir, file), "utf8")).split("\n")) {
      if (!line) continue;
      const entry = JSON.parse(line) as { role: string; content: string };
      if (entry.role === "assistant") out.push(entry.content);
    }
  }
  return out;
}

async function runs(kind: string): Promise<{ status: string; kind: string; replyChars?: number }[]> {
  const token = (await readFile(join(dirs[1]!, "clawgate-state", "admin.token"), "utf8")).trim();
  const res = await fetch(`${clawgate!.url}/_clawgate/admin/runs?kind=${kind}`, { headers: { authorization: `Bearer ${token}` } });
  return ((await res.json()) as { runs: { status: string; kind: string; replyChars?: number }[] }).runs;
}

it("forwards an agent call to the gateway's /hooks/agent and records the gateway's acceptance", async () => {
  const res = await post("/hooks/agent", { message: "summarize the deploy", name: "Deploy" });
  expect(res.status).toBe(202);
  const accepted = await pollUntil(async () => nonEmpty((await replies()).filter((r) => ACCEPTED.test(r))), 60_000, "the gateway's acceptance in a transcript");
  expect(accepted.length).toBeGreaterThanOrEqual(1);
  const agentRuns = await pollUntil(async () => nonEmpty((await runs("agent")).filter((r) => r.status === "ok")), 30_000, "an ok agent run");
  expect(agentRuns).toHaveLength(1);
  expect(clawgate!.output()).not.toContain(GATEWAY_HOOK_TOKEN);
}, 120_000);

it("forwards a wake: the heartbeat run it triggers goes to the gateway and is accepted", async () => {
  const before = (await replies()).filter((r) => ACCEPTED.test(r)).length;
  const res = await post("/hooks/wake", { text: "the deploy finished", mode: "now" });
  expect([res.status, await res.json()]).toEqual([200, { ok: true, mode: "now" }]);
  await pollUntil(async () => (await replies()).filter((r) => ACCEPTED.test(r)).length > before, 60_000, "a second acceptance, for the heartbeat");
  const heartbeats = await pollUntil(async () => nonEmpty((await runs("heartbeat")).filter((r) => r.status === "ok")), 30_000, "an ok heartbeat run");
  expect(heartbeats.length).toBeGreaterThanOrEqual(1);
}, 120_000);
