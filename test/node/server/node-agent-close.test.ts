/**
 * NodeAgent.close() in-process: beforeClose steps run in order once the listener is closed; a failing step does not
 * stop the stop; a failed WAL sync of the intake journal stops the agent (or tells its owner, who does).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, expect, it } from "vitest";
import { startNodeAgent } from "../../../node/server/node-agent.ts";
import { pollUntil } from "../../helpers/node-process.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "clawgate-close-"));
  await writeFile(join(dir, "openclaw.json"), "{}");
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const refused = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), resolve(false)));
    socket.once("error", () => resolve(true));
  });

it("runs beforeClose steps in order after the listener has closed, survives a failing step, and is idempotent", async () => {
  const agent = await startNodeAgent({
    configPath: join(dir, "openclaw.json"),
    logger: pino({ level: "silent" }),
    port: 0,
    stateDir: join(dir, "state"),
    allowRoot: true,
    isolateReloads: false,
  });
  const seen: string[] = [];
  agent.beforeClose(async () => {
    seen.push(`first:${(await refused(agent.port)) ? "refused" : "open"}`);
    throw new Error("drain failed");
  });
  agent.beforeClose(async () => {
    seen.push("second");
  });
  const a = agent.close();
  const b = agent.close();
  expect(b).toBe(a);
  await a;
  expect(seen).toEqual(["first:refused", "second"]);
});

const TOKEN = "hook-token-close-test-0123456789abcdef";
const failingSync = (_fd: number, done: (error: Error | null) => void) => done(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" }));
const wake = (port: number) =>
  fetch(`http://127.0.0.1:${port}/hooks/wake`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: '{"text":"x"}' });

it("stops itself after the intake journal fails a WAL sync, having answered that wake 503", async () => {
  await writeFile(join(dir, "openclaw.json"), JSON.stringify({ hooks: { enabled: true, token: TOKEN } }));
  const agent = await startNodeAgent({ configPath: join(dir, "openclaw.json"), logger: pino({ level: "silent" }), port: 0, stateDir: join(dir, "state"), allowRoot: true, isolateReloads: false, journalSync: failingSync });
  const res = await wake(agent.port);
  expect(res.status).toBe(503);
  expect(await res.json()).toEqual({ ok: false, error: "the delivery could not be stored; retry" });
  await pollUntil(() => refused(agent.port), 5_000, "the agent to stop listening");
  await agent.close();
});

it("tells its owner instead, when it has one, with the journal's error", async () => {
  await writeFile(join(dir, "openclaw.json"), JSON.stringify({ hooks: { enabled: true, token: TOKEN } }));
  const fatal: Error[] = [];
  const agent = await startNodeAgent({ configPath: join(dir, "openclaw.json"), logger: pino({ level: "silent" }), port: 0, stateDir: join(dir, "state"), allowRoot: true, isolateReloads: false, journalSync: failingSync, onFatal: (error) => fatal.push(error) });
  expect((await wake(agent.port)).status).toBe(503);
  expect(fatal).toHaveLength(1);
  expect(fatal[0]).toMatchObject({ code: "ERR_JOURNAL_FAILED" });
  // Still listening (the owner decides when to stop); every delivery is refused meanwhile.
  expect(await refused(agent.port)).toBe(false);
  expect((await wake(agent.port)).status).toBe(503);
  await agent.close();
});
