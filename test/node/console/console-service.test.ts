/** The console as the daemon assembles it: an intake-only node (no `agents` section) lists no heartbeat to be late for. */
import { afterEach, expect, it } from "vitest";
import { ConfigSchema } from "../../../node/config/config-schema.ts";
import { createNodeConsole } from "../../../node/console/console-service.ts";
import { compileAgentTable } from "../../../node/dispatch/agent-table.ts";
import { readinessOf } from "../../../node/server/readiness.ts";
import { type ConsoleFixture, createConsoleFixture } from "../../helpers/console-fixture.ts";
import { realIo } from "../../helpers/daemon-io.ts";

let fx: ConsoleFixture | undefined;
afterEach(() => {
  fx?.close();
  fx = undefined;
});

it("shows no heartbeats on a node without agents, and the implicit main agent's once agents are configured", async () => {
  fx = await createConsoleFixture();
  const f = fx;
  const build = (config: unknown) =>
    createNodeConsole({
      config: ConfigSchema.parse(config),
      secrets: f.secrets,
      readiness: () => readinessOf({ secrets: f.secrets, journal: f.journal }),
      journal: f.journal,
      dispatch: { runs: f.runLog, scheduler: f.scheduler, agents: compileAgentTable({ io: realIo, agents: undefined, providers: {}, secret: () => undefined }), replay: () => ({ ok: false, code: "ERR_DELIVERY_NOT_FOUND", message: "delivery not found" }) },
      startedAt: Date.now() - 3_600_000,
      acceptsToken: () => false,
      logger: { info() {}, warn() {} },
      io: realIo,
    });
  expect(build({}).overview().heartbeats).toEqual([]);
  expect(build({ agents: {} }).overview().heartbeats).toMatchObject([{ agentId: "main", everyMs: 1_800_000, overdue: true }]);
});

it("refuses an edge operator URL that is not https (or http to loopback), naming the field", () => {
  for (const url of ["http://edge.example.com", "https://user:pw@edge.example.com", "https://edge.example.com/?token=x", "ftp://x"]) {
    const parsed = ConfigSchema.safeParse({ clawgate: { edge: { operatorUrl: url } } });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues[0]).toMatchObject({
      path: ["clawgate", "edge", "operatorUrl"],
      message: "must be an https:// URL (http:// only to a loopback address), without credentials, query or fragment",
    });
  }
  for (const url of ["https://clawgate-edge.example.workers.dev", "http://127.0.0.1:8787", "http://localhost:8787"]) expect(ConfigSchema.safeParse({ clawgate: { edge: { operatorUrl: url } } }).success).toBe(true);
});
