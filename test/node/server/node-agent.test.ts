/** A real node agent with hooks on: an accepted wake survives kill -9 and restart; the audit line holds neither payload nor token. */
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { ADMIN_PREFIX } from "../../../shared/constants.ts";
import { type NodeProcess, startNodeProcess } from "../../helpers/node-process.ts";

const HOOK_TOKEN = "hook-token-e2e-0123456789abcdef";
const PAYLOAD_MARK = "payload-marker-7f3a";
let dir: string;
let agent: NodeProcess | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "clawgate-agent-"));
  const secrets = join(dir, "secrets.json");
  await writeFile(secrets, JSON.stringify({ hooks: HOOK_TOKEN }));
  await chmod(secrets, 0o600);
  await writeFile(
    join(dir, "openclaw.json"),
    JSON.stringify({
      secrets: { providers: { f: { source: "file", path: secrets } } },
      hooks: { enabled: true, token: { source: "file", provider: "f", id: "/hooks" } },
    }),
  );
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
