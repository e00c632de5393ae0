/**
 * The console's routes in-process over real parts — a run log and intake journal in a temp dir, a secrets reloader
 * whose resolution passes the test controls, a scheduler, an agent table — for route tests and the console bench.
 * Requests go through `app.request` with a loopback Host, as a browser on the host sends them, and through the
 * daemon's browser boundary, as in the daemon.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { CONSOLE_PREFIX } from "../../shared/constants.ts";
import { AgentsSchema } from "../../node/config/agents-schema.ts";
import { createConsoleData } from "../../node/console/console-data.ts";
import { type ConsoleRoutesOptions, createConsoleRoutes } from "../../node/console/console-routes.ts";
import { compileAgentTable } from "../../node/dispatch/agent-table.ts";
import type { ReplayResult } from "../../node/dispatch/dispatcher.ts";
import { RUN_LOG_FILE, type RunLog, type RunRecord, openRunLog } from "../../node/dispatch/run-log.ts";
import { type Scheduler, createScheduler } from "../../node/dispatch/scheduler.ts";
import { type IntakeJournal, openIntakeJournal } from "../../node/intake/intake-journal.ts";
import { type SecretsReloader, createSecretsReloader } from "../../node/secrets/secrets-reloader.ts";
import { createBrowserBoundary } from "../../node/server/browser-boundary.ts";
import { readinessOf } from "../../node/server/readiness.ts";

export const FIXTURE_HOST = "127.0.0.1:18789";
export const FIXTURE_ORIGIN = `http://${FIXTURE_HOST}`;
export const ADMIN_TOKEN = "fixture-admin-token-0123456789abcdef";
/** A tunnel's public name for this node (clawgate.node.publicHostnames): the boundary lets it pass, the console does not. */
export const FIXTURE_PUBLIC_NAME = "node.example.com";

export interface ConsoleFixture {
  readonly app: Hono;
  readonly runLog: RunLog;
  readonly journal: IntakeJournal;
  readonly secrets: SecretsReloader;
  readonly scheduler: Scheduler;
  /** Replays asked for, by delivery id. */
  readonly replays: string[];
  /** Makes the next secrets reloads fail (true) or succeed (false). */
  breakSecrets(broken: boolean): void;
  request(path: string, init?: RequestInit & { cookie?: string }): Promise<Response>;
  /** Logs in and returns the session cookie and CSRF token. */
  login(): Promise<{ cookie: string; csrf: string }>;
  close(): void;
}

export interface ConsoleFixtureOptions {
  /** Agent runs written to the run log before it opens (spread over the last 24 h). */
  readonly runs?: number;
  /** Dead deliveries in the journal, each with three failed runs. */
  readonly dead?: number;
  readonly routes?: Partial<ConsoleRoutesOptions>;
  readonly now?: () => number;
}

export async function createConsoleFixture(options: ConsoleFixtureOptions = {}): Promise<ConsoleFixture> {
  const dir = mkdtempSync(join(tmpdir(), "clawgate-console-fixture-"));
  const now = options.now ?? Date.now;
  const t0 = now();
  const records: RunRecord[] = [];
  const statuses = ["ok", "ok", "ok", "ok", "error", "ok", "timeout", "ok"] as const;
  for (let i = 0; i < (options.runs ?? 0); i++) {
    const startedAt = t0 - Math.floor((i / Math.max(options.runs ?? 1, 1)) * 24 * 3_600_000);
    records.push({
      id: `run-${i}`,
      kind: i % 10 === 0 ? "heartbeat" : "agent",
      agentId: i % 3 === 0 ? "coder" : "main",
      sessionKey: `agent:main:hook:${i % 50}`,
      model: i % 3 === 0 ? "local/qwen2.5-coder:7b" : "local/llama3.1:8b",
      status: statuses[i % statuses.length]!,
      deliveryIds: i % 10 === 0 ? [] : [`delivery-${i}`],
      attempt: 1,
      queuedAt: startedAt - 5,
      startedAt,
      finishedAt: startedAt + 200 + (i % 97) * 40,
      durationMs: 200 + (i % 97) * 40,
      memoryEstimateGb: 2,
      memoryPeakGb: 1.5 + (i % 7) / 10,
    });
  }
  writeFileSync(join(dir, RUN_LOG_FILE), records.map((r) => JSON.stringify(r) + "\n").join(""), { mode: 0o600 });
  const runLog = openRunLog(dir);
  const journal = openIntakeJournal(dir);
  for (let i = 0; i < (options.dead ?? 0); i++) {
    const deliveryId = `dead-${i}`;
    journal.accept({ deliveryId, kind: "agent", payload: JSON.stringify({ message: `payload of ${deliveryId}`, sessionKey: "hook:x" }), response: "{}", receivedAt: t0 - 60_000 });
    for (let a = 1; a <= 3; a++) {
      runLog.write({ id: `${deliveryId}-r${a}`, kind: "agent", agentId: "main", sessionKey: "agent:main:hook:x", model: "local/llama3.1:8b", status: "error", deliveryIds: [deliveryId], attempt: a, finishedAt: t0 - 50_000 + a, errorCode: "ERR_RUNTIME_HTTP", ...(a === 3 ? { deadReason: "failed 3 times (last: ERR_RUNTIME_HTTP)" } : {}) });
    }
    journal.settle(deliveryId, "dead");
  }
  let broken = false;
  const secrets = createSecretsReloader({
    configPath: join(dir, "unused.json"),
    resolve: async () => {
      if (broken) throw Object.assign(new Error("provider unavailable"), { code: "ERR_FIXTURE" });
      return { values: [["gateway.auth.token", "fixture-gateway-token"]], refCount: 1, warnings: [] };
    },
  });
  await secrets.activate();
  const scheduler = createScheduler({ budgetGb: 8, maxQueue: 100, maxConcurrent: 4, memoryProbe: async () => ({ availableGb: 20, totalGb: 24 }) });
  const agents = compileAgentTable({
    agents: AgentsSchema.parse({
      defaults: { model: "local/llama3.1:8b", heartbeat: { every: "30m" } },
      list: [{ id: "main", default: true }, { id: "coder", model: "local/qwen2.5-coder:7b", heartbeat: { every: "0m" } }],
    }),
    providers: { local: { baseUrl: "http://127.0.0.1:9/v1" } },
    secret: () => undefined,
  });
  const replays: string[] = [];
  const replay = (id: string): ReplayResult => {
    const d = journal.get(id);
    if (!d) return { ok: false, code: "ERR_DELIVERY_NOT_FOUND", message: "delivery not found" };
    if (d.state !== "dead") return { ok: false, code: "ERR_DELIVERY_NOT_DEAD", message: "delivery is not dead" };
    replays.push(id);
    journal.revive(id);
    return { ok: true, deliveryId: id };
  };
  const data = createConsoleData({
    secrets,
    readiness: () => readinessOf({ secrets, journal }),
    journal,
    dispatch: { runs: runLog, scheduler, agents, replay },
    startedAt: t0,
    now,
  });
  const routes = createConsoleRoutes({
    data,
    acceptsToken: (presented) => presented === ADMIN_TOKEN,
    logger: { info() {}, warn() {} },
    now,
    ...options.routes,
  });
  // In front, as in the daemon: its browser boundary (Host, Origin, Sec-Fetch-Site), with one tunnel name configured.
  const boundary = createBrowserBoundary({ bindHost: "127.0.0.1", publicHostnames: [FIXTURE_PUBLIC_NAME] });
  boundary.listening(18789);
  const app = new Hono();
  app.use(boundary.middleware);
  app.route(CONSOLE_PREFIX, routes);

  const request = (path: string, init: RequestInit & { cookie?: string } = {}) => {
    const { cookie, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (!headers.has("host")) headers.set("host", FIXTURE_HOST);
    if (cookie) headers.set("cookie", cookie);
    return Promise.resolve(app.request(`${FIXTURE_ORIGIN}${CONSOLE_PREFIX}${path === "/" ? "" : path}`, { redirect: "manual", ...rest, headers }));
  };

  return {
    app,
    runLog,
    journal,
    secrets,
    scheduler,
    replays,
    breakSecrets: (b) => (broken = b),
    request,
    async login() {
      const form = await request("/login");
      const loginCookie = form.headers.getSetCookie().find((c) => c.startsWith("clawgate_login="))!.split(";")[0]!;
      const loginCsrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
      const res = await request("/login", {
        method: "POST",
        cookie: loginCookie,
        headers: { "content-type": "application/x-www-form-urlencoded", origin: FIXTURE_ORIGIN },
        body: new URLSearchParams({ _csrf: loginCsrf, token: ADMIN_TOKEN }).toString(),
      });
      if (res.status !== 303) throw new Error(`fixture login failed: HTTP ${res.status}`);
      const cookie = res.headers.getSetCookie().find((c) => c.startsWith("clawgate_session="))!.split(";")[0]!;
      const csrf = /name="_csrf" value="([^"]+)"/.exec(await (await request("/", { cookie })).text())![1]!;
      return { cookie, csrf };
    },
    close() {
      runLog.close();
      journal.close();
      void scheduler.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
