/**
 * `npm start` for real, once (wrangler dev takes seconds): the node agent and the edge under wrangler dev on
 * ephemeral loopback ports; a wake sent to the edge with the printed token runs a heartbeat on the node (run
 * log), without the token it is refused; SIGINT leaves no process behind.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, readdir, rm, stat } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, it } from "vitest";
import { ADMIN_PREFIX } from "../../../shared/constants.ts";
import { pollUntil } from "../../helpers/node-process.ts";

const DEV_STACK = fileURLToPath(new URL("../../../node/dev/dev-stack.ts", import.meta.url));

interface Stack {
  edgeUrl: string;
  nodeUrl: string;
  hookToken: string;
  stateDir: string;
  configPath: string;
  pids: { stack: number; node: number; edge: number };
}

let dir: string | undefined;
let child: ChildProcess | undefined;

afterAll(async () => {
  // Only if the test failed half-way: never leave the stack running.
  if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/** Live processes (zombies excluded) whose environment carries `marker`: everything the stack started inherits it. */
async function processesWithMarker(marker: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = await readFile(`/proc/${entry}/environ`, "utf8");
      const state = (await readFile(`/proc/${entry}/stat`, "utf8")).split(") ")[1]?.[0];
      if (environ.split("\0").includes(marker) && state !== "Z") found.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

const groupAlive = (pgid: number) => {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
};

it("brings up node + edge on loopback, runs a heartbeat for an edge wake with the printed token, refuses one without, and stops clean on SIGINT", async () => {
  dir = await mkdtemp(join(tmpdir(), "clawgate-dev-"));
  const marker = `CLAWGATE_DEV_TEST_MARK=${randomUUID()}`;
  const [nodePort, edgePort] = [await freePort(), await freePort()];
  let output = "";
  child = spawn(process.execPath, [DEV_STACK], {
    env: {
      ...process.env,
      CLAWGATE_DEV_DIR: dir,
      CLAWGATE_DEV_NODE_PORT: String(nodePort),
      CLAWGATE_DEV_EDGE_PORT: String(edgePort),
      // As on a terminal: one readable line per event.
      CLAWGATE_LOG_FORMAT: "pretty",
      [marker.split("=")[0]!]: marker.split("=")[1]!,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (output += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (output += d));
  const exited = new Promise<number | string>((r) => child!.once("exit", (code, signal) => r(code ?? signal ?? "?")));

  const stackFile = join(dir, "stack.json");
  const stack = await pollUntil(
    async () => {
      if (child!.exitCode !== null) throw new Error(`the stack exited early:\n${output}`);
      return (JSON.parse(await readFile(stackFile, "utf8").catch(() => "null")) as Stack | null) ?? undefined;
    },
    90_000,
    "stack.json",
  ).catch((error: Error) => {
    throw new Error(`${error.message}\n${output}`);
  });
  expect(stack.edgeUrl).toBe(`http://127.0.0.1:${edgePort}`);
  expect(stack.nodeUrl).toBe(`http://127.0.0.1:${nodePort}`);
  expect(stack.hookToken).toMatch(/^cg_[A-Za-z0-9_-]{43}$/);
  expect((await stat(stackFile)).mode & 0o777).toBe(0o600);
  expect((await stat(join(dir, "secrets.json"))).mode & 0o777).toBe(0o600);
  expect((await stat(join(dir, "edge.env"))).mode & 0o777).toBe(0o600);
  // The banner is written right after stack.json; its bytes may still be on their way through the pipe.
  const readyCurl = `curl -s -X POST ${stack.edgeUrl}/hooks/wake -H "Authorization: Bearer $(cat ${join(dir, "edge-caller.token")})"`;
  await pollUntil(async () => (output.includes(readyCurl) ? true : undefined), 10_000, "the ready banner").catch(() => undefined);
  expect(output).toContain(readyCurl);
  expect(output).not.toContain(stack.hookToken);

  const wake = (headers: Record<string, string>) =>
    fetch(`${stack.edgeUrl}/hooks/wake`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ text: "dev stack test wake", mode: "now" }),
    });
  const refused = await wake({});
  expect(refused.status).toBe(401);
  const accepted = await wake({ authorization: `Bearer ${stack.hookToken}` });
  expect(await accepted.json()).toEqual({ ok: true, mode: "now" });
  expect(accepted.status).toBe(200);

  // The wake reached the node through the edge's signed envelope (the node accepts nothing else from the edge).
  const adminToken = (await readFile(join(stack.stateDir, "admin.token"), "utf8")).trim();
  const admin = async (path: string) =>
    (await (await fetch(`${stack.nodeUrl}${ADMIN_PREFIX}${path}`, { headers: { authorization: `Bearer ${adminToken}` } })).json()) as Record<string, unknown>;
  // …and the demo agent ran a heartbeat for it: a run record with the wake's delivery id, acknowledged.
  const run = await pollUntil(
    async () => ((await admin("/runs")).runs as Record<string, unknown>[]).find((r) => r["kind"] === "heartbeat" && r["status"] !== "running"),
    20_000,
    "a heartbeat run",
  );
  expect(run).toMatchObject({ kind: "heartbeat", agentId: "main", trigger: "wake", status: "ok", ack: true });
  // npm start shows the run's outcome as one readable line.
  const runLine = new RegExp(`^\\[node\\] \\d\\d:\\d\\d:\\d\\d INFO  run ${String(run["id"]).slice(0, 6)}… main heartbeat ok \\d+ ms "HEARTBEAT_OK"$`, "m");
  await pollUntil(async () => runLine.test(output) || undefined, 5_000, "the run's log line").catch((error: Error) => {
    throw new Error(`${error.message}\n${output}`);
  });
  expect(output).toMatch(/^\[node\] \d\d:\d\d:\d\d INFO  clawgate node agent listening on http:\/\/127\.0\.0\.1:\d+ url=/m);
  // The edge's events carry no pino level: they take their stream's (console.log → INFO), never an empty column.
  await pollUntil(async () => /^\[edge\] \d\d:\d\d:\d\d INFO  event=hook\.forwarded route=wake /m.test(output) || undefined, 5_000, "the edge's forwarded line").catch((error: Error) => {
    throw new Error(`${error.message}\n${output}`);
  });
  expect(output).not.toMatch(/^\[edge\] \d\d:\d\d:\d\d {2,}/m);
  const intake = (await admin("/intake")) as { counts: Record<string, number> };
  expect(intake.counts["done"]).toBe(1);
  expect(intake.counts["pending"]).toBe(0);

  // The marker check below can fail: right now it finds the stack, the agent, wrangler and workerd.
  const running = await processesWithMarker(marker);
  expect(running).toEqual(expect.arrayContaining([stack.pids.stack, stack.pids.node, stack.pids.edge]));
  const commands = await Promise.all(running.map((pid) => readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")));
  expect(commands.some((c) => c.includes("workerd"))).toBe(true);

  child.kill("SIGINT");
  expect(await exited).toBe(0);
  for (const pgid of [stack.pids.node, stack.pids.edge]) expect(groupAlive(pgid)).toBe(false);
  expect(await processesWithMarker(marker)).toEqual([]);
  await expect(stat(stackFile)).rejects.toThrow();
}, 150_000);
