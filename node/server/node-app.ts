/** The node daemon's HTTP routes: health, readiness, metrics, the admin API, the console and the hook intake (at `hooks.path`), behind the browser boundary. */
import { type Context, Hono, type MiddlewareHandler } from "hono";
import type { DaemonIo } from "../io/daemon-io.ts";
import { bearerToken } from "../../shared/bearer.ts";
import { ADMIN_PREFIX, CONSOLE_PREFIX } from "../../shared/constants.ts";
import { secretMatches } from "../../shared/constant-time.ts";
import { type FailureWindow, createFailureWindow } from "../../shared/failure-window.ts";
import { withSecurityHeaders } from "../../shared/security-headers.ts";
import type { IntakeJournal } from "../intake/intake-journal.ts";
import type { DispatchHealth, ReplayResult } from "../dispatch/dispatcher.ts";
import { type ModelMemoryAdmin, registerModelRoutes } from "../dispatch/model-routes.ts";
import type { RunLog } from "../dispatch/run-log.ts";
import type { SecretsReloader } from "../secrets/secrets-reloader.ts";
import type { NodeMetrics } from "./node-metrics.ts";
import type { Logger } from "./logger.ts";
import { readinessOf } from "./readiness.ts";
import { SecuredResponse } from "./secured-response.ts";

export interface NodeAppOptions {
  readonly secrets: SecretsReloader;
  /** The local admin token written to the state dir at start. */
  readonly adminToken: string;
  readonly logger: Logger;
  /** The hook intake, mounted at `hooks.path` when hooks are enabled. */
  readonly hooks?: { readonly path: string; readonly app: Hono };
  readonly journal?: IntakeJournal;
  readonly metrics: NodeMetrics;
  /** Dispatch progress for /readyz and the run records for the admin API. */
  readonly dispatch?: { readonly health: () => DispatchHealth; readonly runs: RunLog; readonly replay?: (deliveryId: string) => ReplayResult; readonly models?: ModelMemoryAdmin };
  /** The operator console (docs/console.md): its pages and the overview `clawgate status` reads. */
  readonly console?: { readonly routes: Hono; readonly overview: () => object };
  /** The first check of every request (node/server/browser-boundary.ts); the agent always mounts it. */
  readonly boundary?: MiddlewareHandler;
  /** Failed admin-token attempts (admin API, /metrics); default 20 per client per 60 s. */
  readonly adminLimiter?: FailureWindow;
  /** The client a limiter counts (the TCP peer); default one bucket for all. */
  readonly clientOf?: (c: Context) => string;
  /** The clock of the admin-token limiter. */
  readonly io: Pick<DaemonIo, "now">;
}

/** The routes requests are counted under; anything else is "other". */
const KNOWN_ROUTES: ReadonlySet<string> = new Set(["hooks", "admin", "/healthz", "/readyz", "/metrics"]);

export function createNodeApp(options: NodeAppOptions): Hono {
  const { secrets, adminToken, logger, journal, metrics } = options;
  const app = new Hono();
  const adminLimiter = options.adminLimiter ?? createFailureWindow();
  const clientOf = options.clientOf ?? (() => "local");
  const { now } = options.io;

  // Every answer, refusals included, carries the shared security headers; admin answers are never cached. Under
  // the daemon's server its response class sets them as the head is written (node/server/secured-response.ts).
  app.use(async (c, next) => {
    await next();
    if ((c.env as { outgoing?: unknown } | undefined)?.outgoing instanceof SecuredResponse) return;
    const secured = withSecurityHeaders(c.res, c.req.path.startsWith(ADMIN_PREFIX) || c.req.path === "/metrics");
    // Set in place when the headers allow it; assigning c.res the same answer would copy it whole.
    if (secured !== c.res) c.res = secured;
  });

  app.use(async (c, next) => {
    await next();
    // Label by route prefix, not raw path: unbounded label values would grow the registry without limit.
    const path = c.req.path;
    const route = options.hooks && path.startsWith(options.hooks.path) ? "hooks" : path.startsWith(ADMIN_PREFIX) ? "admin" : path;
    metrics.countRequest(KNOWN_ROUTES.has(route) ? route : "other", c.res.status);
  });

  if (options.boundary) app.use(options.boundary);

  /** True when the request carries the admin token or the gateway token (read per request: a reload rotates it). */
  const hasAdminToken = async (c: Context) => {
    const presented = bearerToken(c.req.header("authorization"));
    if (presented === undefined) return false;
    const gatewayToken = secrets.snapshot().get("gateway.auth.token");
    return secretMatches(presented, gatewayToken ? [adminToken, gatewayToken] : [adminToken]);
  };
  /**
   * The admin token guard: a correct token always passes and clears its client's count; a wrong or missing one
   * is counted (20 per 60 s, shared/failure-window.ts), and past that the client waits (429 + Retry-After).
   */
  const requireAdmin: MiddlewareHandler = async (c, next) => {
    const client = clientOf(c);
    if (await hasAdminToken(c)) {
      adminLimiter.clear(client);
      return next();
    }
    const wait = adminLimiter.blockedFor(client, now());
    if (wait > 0) return c.json({ ok: false, error: "too many failed attempts" }, 429, { "retry-after": String(wait) });
    adminLimiter.recordFailure(client, now());
    return c.json({ ok: false, error: "unauthorized" }, 401);
  };

  /** Process alive. */
  app.get("/healthz", (c) => c.json({ ok: true }));

  /**
   * Ready for traffic: secrets are healthy (not inactive, not degraded on a last-known-good snapshot) and
   * the intake journal answers, and dispatch is not stalled. Without the admin token it says only ready or not:
   * the problems name internals, and /readyz is on the tunnel.
   */
  app.get("/readyz", async (c) => {
    const { ok, problems } = readinessOf({ secrets, journal, dispatchHealth: options.dispatch?.health });
    if (ok) return c.json({ ok: true });
    return (await hasAdminToken(c)) ? c.json({ ok: false, problems }, 503) : c.json({ ok: false }, 503);
  });

  /** Prometheus text; behind the admin token (scrapers send it as a bearer credential). */
  app.get("/metrics", requireAdmin, async (c) => {
    return c.body(await metrics.registry.metrics(), 200, { "content-type": metrics.registry.contentType });
  });

  const admin = new Hono();
  admin.use(requireAdmin);

  admin.post("/secrets/reload", async (c) => {
    const result = await secrets.reload();
    return c.json(result.ok ? { ok: true, warningCount: result.warningCount } : { ok: false, error: result.error });
  });

  admin.get("/secrets/status", (c) => {
    const snapshot = secrets.snapshot();
    return c.json({
      ok: true,
      health: secrets.health(),
      version: snapshot.version,
      refCount: snapshot.refCount,
      activatedAt: snapshot.activatedAt.toISOString(),
      warnings: snapshot.warnings,
    });
  });

  /**
   * The journal: `?state=pending` (default; arrival order, under `pending`), `dead` or `done` (newest first, under
   * that name; a dead one carries its run log's `deadReason`), `limit` 1–1000 (default 100).
   */
  admin.get("/intake", (c) => {
    const state = c.req.query("state") ?? "pending";
    if (state !== "pending" && state !== "dead" && state !== "done") return c.json({ ok: false, error: 'state must be "pending", "dead" or "done"' }, 400);
    if (!journal) return c.json({ ok: true, counts: { pending: 0, done: 0, dead: 0 }, [state]: [] });
    const limit = Math.min(Math.max(Number(c.req.query("limit") ?? "100") || 100, 1), 1000);
    if (state === "pending") return c.json({ ok: true, counts: journal.counts(), pending: journal.pending(limit) });
    const runs = options.dispatch?.runs;
    const list = journal.list(state, limit).map((d) => {
      const deadReason = state === "dead" ? runs?.forDelivery(d.deliveryId).findLast((r) => r.deadReason !== undefined)?.deadReason : undefined;
      return deadReason === undefined ? d : { ...d, deadReason };
    });
    return c.json({ ok: true, counts: journal.counts(), [state]: list });
  });

  /**
   * Replays a dead delivery (docs/cli.md, `clawgate intake replay`): a fresh set of attempts, its earlier runs kept in the run log. The id
   * may hold a "/" (an edge-scoped `<principal>/<key>`): send it percent-encoded, or as is.
   */
  const replay = options.dispatch?.replay;
  // Only a dispatcher makes deliveries dead, so without one the route does not exist (404 like any unknown route).
  if (replay) {
    admin.post("/intake/:id{.+}/replay", (c) => {
      const result = replay(c.req.param("id"));
      if (result.ok) return c.json({ ok: true, deliveryId: result.deliveryId });
      return c.json({ ok: false, error: result.message }, result.code === "ERR_DELIVERY_NOT_FOUND" ? 404 : 409);
    });
  }

  /** Run records, newest first: `?status=error&agentId=main&kind=heartbeat&limit=50` (limit 1–1000, default 100). */
  admin.get("/runs", (c) => {
    const runs = options.dispatch?.runs;
    const limit = Math.min(Math.max(Number(c.req.query("limit") ?? "100") || 100, 1), 1000);
    const status = c.req.query("status");
    const agentId = c.req.query("agentId");
    const kind = c.req.query("kind");
    return c.json({ ok: true, runs: runs ? runs.list({ limit, ...(status ? { status } : {}), ...(agentId ? { agentId } : {}), ...(kind ? { kind } : {}) }) : [] });
  });

  admin.get("/runs/:id", (c) => {
    const run = options.dispatch?.runs.get(c.req.param("id"));
    return run ? c.json({ ok: true, run }) : c.json({ ok: false, error: "run not found" }, 404);
  });

  if (options.dispatch?.models) registerModelRoutes(admin, options.dispatch.models);
  const consoleOverview = options.console?.overview;
  if (consoleOverview) admin.get("/overview", (c) => c.json({ ok: true, ...consoleOverview() }));

  app.route(ADMIN_PREFIX, admin);
  if (options.console) app.route(CONSOLE_PREFIX, options.console.routes);
  if (options.hooks) app.route(options.hooks.path, options.hooks.app);
  app.notFound((c) => c.json({ ok: false, error: "not found" }, 404));
  app.onError((error, c) => {
    // The one place errors become HTTP answers; the message is generic so nothing internal leaks.
    logger.error({ err: error, route: c.req.path }, "request failed");
    return c.json({ ok: false, error: "internal error" }, 500);
  });
  return app;
}
