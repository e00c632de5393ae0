/** The console as the daemon assembles it: an intake-only node (no `agents` section) lists no heartbeat to be late for. */
import { readFile } from "node:fs/promises";
import { afterEach, expect, it } from "vitest";
import { AgentsSchema } from "../../../node/config/agents-schema.ts";
import { ConfigSchema } from "../../../node/config/config-schema.ts";
import { overviewMain } from "../../../node/console/overview-page.ts";
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

it("shows an agent with no model or runtime as one that cannot run, not as a heartbeat that is merely due", async () => {
  fx = await createConsoleFixture();
  const f = fx;
  const overviewOf = (agents: unknown) =>
    createNodeConsole({
      config: ConfigSchema.parse({ agents }),
      secrets: f.secrets,
      readiness: () => readinessOf({ secrets: f.secrets, journal: f.journal }),
      journal: f.journal,
      dispatch: { runs: f.runLog, scheduler: f.scheduler, agents: compileAgentTable({ io: realIo, agents: AgentsSchema.parse(agents), providers: { local: { baseUrl: "http://127.0.0.1:9/v1" } }, secret: () => undefined }), replay: () => ({ ok: false, code: "ERR_DELIVERY_NOT_FOUND", message: "delivery not found" }) },
      startedAt: Date.now(),
      acceptsToken: () => false,
      logger: { info() {}, warn() {} },
      io: realIo,
    }).overview();
  // What `clawgate init --yes` writes: the implicit agent "main" with a heartbeat and nothing to run it on.
  const bare = overviewOf({ defaults: { heartbeat: { every: "30m" } } });
  expect(bare.heartbeats.map((h) => [h.agentId, h.problem])).toEqual([["main", 'agent "main" has no model or runtime configured: its heartbeats, wakes and agent calls are given up (ERR_NO_MODEL)']]);
  const page = String(overviewMain(bare, { hours: [] }));
  const row = /<tr><td class="mono">main<\/td>.*?<\/tr>/s.exec(page)![0];
  expect(row).toContain("cannot run");
  expect(row).toContain("agents.defaults.model");
  expect(row).not.toContain("on time");
  expect(page).toContain("1 cannot run");
  const fine = overviewOf({ defaults: { model: "local/llama3.1:8b" } });
  expect(fine.heartbeats.map((h) => [h.agentId, h.problem])).toEqual([["main", null]]);
  expect(/<tr><td class="mono">main<\/td>.*?<\/tr>/s.exec(String(overviewMain(fine, { hours: [] })))![0]).toContain("on time");
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

it("reads the host's memory for the overview before any local run (Linux: /proc/meminfo), and says so plainly where it cannot", async () => {
  fx = await createConsoleFixture();
  const f = fx;
  const overviewWith = (hostMemory?: () => undefined) =>
    createNodeConsole({
      config: ConfigSchema.parse({ agents: {} }),
      secrets: f.secrets,
      readiness: () => readinessOf({ secrets: f.secrets, journal: f.journal }),
      journal: f.journal,
      dispatch: { runs: f.runLog, scheduler: f.scheduler, agents: compileAgentTable({ io: realIo, agents: undefined, providers: {}, secret: () => undefined }), replay: () => ({ ok: false, code: "ERR_DELIVERY_NOT_FOUND", message: "delivery not found" }) },
      startedAt: Date.now(),
      acceptsToken: () => false,
      logger: { info() {}, warn() {} },
      io: realIo,
      ...(hostMemory ? { hostMemory } : {}),
    }).overview();
  // The fixture's scheduler has never probed (no local run was queued).
  expect(f.scheduler.state().availableGb).toBeNull();
  const read = overviewWith();
  const meminfo = await readFile("/proc/meminfo", "utf8");
  const totalGb = Number(/^MemTotal:\s+(\d+) kB$/m.exec(meminfo)![1]) / 1024 ** 2;
  expect(read.memory!.totalGb).toBeCloseTo(totalGb, 6);
  expect(read.memory!.availableGb).toBeGreaterThan(0);
  expect(String(overviewMain(read, { hours: [] }))).toMatch(/ · host \d+(\.\d)? GiB available of \d+(\.\d)? GiB</);
  const unread = overviewWith(() => undefined);
  expect(unread.memory).toMatchObject({ availableGb: null, totalGb: null });
  expect(String(overviewMain(unread, { hours: [] }))).toContain(" · host memory not read yet (read when a local model run is queued)</p>");
});
