/** NodeAgent.close() in-process: beforeClose steps run in order once the listener is closed; a failing step does not stop the stop. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, expect, it } from "vitest";
import { startNodeAgent } from "../../../node/server/node-agent.ts";

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
