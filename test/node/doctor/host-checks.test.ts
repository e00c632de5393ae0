/** Doctor's runtime checks: heartbeat deadline (period + grace), durations, disk thresholds, and the agent probe against a real loopback server. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { StatsFs } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import {
  type AgentState,
  diskFindings,
  heartbeatFindings,
  parseEvery,
  probeAgent,
} from "../../../node/doctor/host-checks.ts";
import { heartbeatDeadlineMs } from "../../../node/dispatch/heartbeat.ts";

const MIN = 60_000;
const NOW = Date.parse("2026-11-24T12:00:00Z");
const running = (extra: Partial<AgentState>): AgentState => ({ running: true, url: "http://127.0.0.1:1", heartbeatApi: true, ...extra });

describe("heartbeat", () => {
  it("parses OpenClaw durations", () => {
    expect(parseEvery("30m")).toBe(30 * MIN);
    expect(parseEvery("1h30m")).toBe(90 * MIN);
    expect(parseEvery("0m")).toBe(0);
    expect(parseEvery("45s")).toBe(45_000);
    expect(parseEvery("thirty")).toBeUndefined();
    expect(parseEvery("30")).toBeUndefined();
  });

  it("allows period + max(2 min, 10%) before a heartbeat is overdue", () => {
    expect(heartbeatDeadlineMs(30 * MIN)).toBe(33 * MIN);
    expect(heartbeatDeadlineMs(5 * MIN)).toBe(7 * MIN);
    expect(heartbeatFindings("30m", running({ lastHeartbeatAt: NOW - 32 * MIN }), NOW)).toEqual([]);
    const late = heartbeatFindings("30m", running({ lastHeartbeatAt: NOW - 34 * MIN }), NOW);
    expect(late.map((f) => `${f.checkId}:${f.severity}`)).toEqual(["heartbeat.overdue:critical"]);
    expect(late[0]?.detail).toBe("the last heartbeat ran 34 min ago (period 30 min, deadline 33 min)");
  });

  it("with several agents, checks each agent's own last heartbeat and names the agent", () => {
    const state = running({ lastHeartbeatAt: NOW - MIN, lastHeartbeatByAgent: { main: NOW - MIN, research: NOW - 50 * MIN } });
    expect(heartbeatFindings("30m", state, NOW, true, { id: "main", everyField: "agents.defaults.heartbeat.every" })).toEqual([]);
    const late = heartbeatFindings("30m", state, NOW, true, { id: "research", everyField: "agents.list[1].heartbeat.every" });
    expect(late.map((f) => `${f.checkId}:${f.severity}`)).toEqual(["heartbeat.overdue:critical"]);
    expect(late[0]?.detail).toBe('the last heartbeat of agent "research" ran 50 min ago (period 30 min, deadline 33 min)');
    const never = heartbeatFindings("30m", running({ lastHeartbeatAt: NOW - MIN, lastHeartbeatByAgent: { main: NOW - MIN }, startedAt: NOW - 40 * MIN }), NOW, true, {
      id: "ops",
      everyField: "agents.list[2].heartbeat.every",
    });
    expect(never[0]?.detail).toBe('no heartbeat of agent "ops" has run since the agent started 40 min ago (period 30 min, deadline 33 min)');
    expect(heartbeatFindings("0m", state, NOW, true, { id: "main", everyField: "agents.list[0].heartbeat.every" })[0]?.detail).toBe(
      'agents.list[0].heartbeat.every is "0m": next-heartbeat wakes would wait forever (OpenClaw #7588, #14658)',
    );
  });

  it("counts from the agent's start when no heartbeat ran yet", () => {
    expect(heartbeatFindings(undefined, running({ lastHeartbeatAt: null, startedAt: NOW - 10 * MIN }), NOW)).toEqual([]);
    const never = heartbeatFindings(undefined, running({ lastHeartbeatAt: null, startedAt: NOW - 40 * MIN }), NOW);
    expect(never[0]?.detail).toBe("no heartbeat has run since the agent started 40 min ago (period 30 min, deadline 33 min)");
  });

  it("warns when heartbeats are disabled, says when the agent cannot be asked, and stays quiet when it is down", () => {
    expect(heartbeatFindings("0m", running({}), NOW).map((f) => f.checkId)).toEqual(["heartbeat.disabled"]);
    expect(heartbeatFindings("30m", running({ heartbeatApi: false }), NOW).map((f) => `${f.checkId}:${f.severity}`)).toEqual([
      "heartbeat.unchecked:info",
    ]);
    expect(heartbeatFindings("30m", { running: false, heartbeatApi: false }, NOW)).toEqual([]);
    expect(heartbeatFindings("30m", running({ lastHeartbeatAt: null, startedAt: NOW - 90 * MIN }), NOW, false).map((f) => f.checkId)).toEqual([
      "heartbeat.no_agents",
    ]);
  });
});

describe("disk", () => {
  const fs = (freeMiB: number, totalMiB: number): StatsFs =>
    ({ bsize: 4096, bavail: (freeMiB * 1_048_576) / 4096, blocks: (totalMiB * 1_048_576) / 4096 }) as StatsFs;
  it("warns under 1 GiB or 5% free and is critical under 256 MiB", () => {
    expect(diskFindings("/s", fs(50_000, 100_000))).toEqual([]);
    expect(diskFindings("/s", fs(900, 100_000)).map((f) => f.severity)).toEqual(["warn"]);
    expect(diskFindings("/s", fs(4_000, 100_000)).map((f) => f.severity)).toEqual(["warn"]);
    expect(diskFindings("/s", fs(200, 100_000))).toMatchObject([
      { checkId: "disk.state_dir_low", severity: "critical", detail: "/s: 200 MiB free of 100000 MiB" },
    ]);
  });
});

describe("probeAgent", () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  async function serve(routes: Record<string, { status: number; body: unknown; auth?: string }>): Promise<string> {
    server = createServer((req, res) => {
      const route = routes[req.url ?? ""] ?? routes[(req.url ?? "").split("?")[0]!];
      if (!route) return void res.writeHead(404).end("{}");
      if (route.auth && req.headers.authorization !== `Bearer ${route.auth}`) return void res.writeHead(401).end("{}");
      res.writeHead(route.status, { "content-type": "application/json" }).end(JSON.stringify(route.body));
    });
    await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  const io = { fetch, now: () => NOW };

  it("reads readiness problems, dead deliveries and the last heartbeat from a live agent, with the admin token", async () => {
    const url = await serve({
      "/healthz": { status: 200, body: { ok: true } },
      "/readyz": { status: 503, body: { ok: false, problems: ["secrets degraded"] } },
      "/_clawgate/admin/intake": { status: 200, body: { ok: true, counts: { pending: 0, done: 4, dead: 2 }, pending: [] }, auth: "adm" },
      "/_clawgate/admin/runs?kind=heartbeat&status=ok&limit=1000": {
        status: 200,
        body: { ok: true, runs: [{ kind: "agent", finishedAt: NOW - MIN }, { kind: "heartbeat", finishedAt: NOW - 20 * MIN }] },
        auth: "adm",
      },
      "/_clawgate/admin/runs?kind=heartbeat&status=skipped&limit=1000": {
        status: 200,
        body: { ok: true, runs: [{ kind: "heartbeat", agentId: "main", finishedAt: NOW - 10 * MIN }, { kind: "heartbeat", agentId: "research", finishedAt: NOW - 40 * MIN }] },
        auth: "adm",
      },
    });
    const { state, findings } = await probeAgent({ url, startedAt: "2026-11-24T10:00:00Z" }, "adm", io);
    expect(state).toEqual({
      running: true,
      url,
      startedAt: Date.parse("2026-11-24T10:00:00Z"),
      heartbeatApi: true,
      lastHeartbeatAt: NOW - 10 * MIN,
      lastHeartbeatByAgent: { main: NOW - 10 * MIN, research: NOW - 40 * MIN },
    });
    expect(findings).toMatchObject([
      { checkId: "node.not_ready", severity: "critical", detail: `${url}/readyz: secrets degraded` },
      { checkId: "intake.dead_deliveries", severity: "warn", detail: "2 accepted deliveries are dead (their runs failed every retry); see /_clawgate/admin/runs?status=error" },
    ]);
  });

  it("counts one dead delivery in the singular", async () => {
    const url = await serve({
      "/healthz": { status: 200, body: { ok: true } },
      "/readyz": { status: 200, body: { ok: true } },
      "/_clawgate/admin/intake": { status: 200, body: { ok: true, counts: { pending: 0, done: 0, dead: 1 }, pending: [] }, auth: "adm" },
    });
    const { findings } = await probeAgent({ url }, "adm", io);
    expect(findings.filter((f) => f.checkId === "intake.dead_deliveries").map((f) => f.detail)).toEqual([
      "1 accepted delivery is dead (its runs failed every retry); see /_clawgate/admin/runs?status=error",
    ]);
  });

  it("treats an agent without the run log route as unchecked, and no node.json as not running", async () => {
    const url = await serve({ "/healthz": { status: 200, body: { ok: true } }, "/readyz": { status: 200, body: { ok: true } } });
    const { state, findings } = await probeAgent({ url }, "adm", io);
    expect(state.heartbeatApi).toBe(false);
    expect(findings).toEqual([]);
    const down = await probeAgent(undefined, undefined, io);
    expect(down.state.running).toBe(false);
    expect(down.findings.map((f) => `${f.checkId}:${f.severity}`)).toEqual(["node.not_running:critical"]);
  });
});
