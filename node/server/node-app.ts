/** The node agent's HTTP routes: health and the admin API (secrets reload and status); hooks arrive with the node issue. */
import { Hono } from "hono";
import { ADMIN_PREFIX } from "../../shared/constants.ts";
import type { IntakeJournal } from "../intake/intake-journal.ts";
import type { SecretsRuntime } from "../secrets/secrets-runtime.ts";
import { tokenMatches } from "./admin-auth.ts";
import type { Logger } from "./logger.ts";

export interface NodeAppOptions {
  readonly secrets: SecretsRuntime;
  /** The local admin token written to the state dir at start. */
  readonly adminToken: string;
  readonly logger: Logger;
  /** The hook intake, mounted at `hooks.path` when hooks are enabled. */
  readonly hooks?: { readonly path: string; readonly app: Hono };
  readonly journal?: IntakeJournal;
}

export function createNodeApp(options: NodeAppOptions): Hono {
  const { secrets, adminToken, logger, journal } = options;
  const app = new Hono();

  app.get("/healthz", (c) => c.json({ ok: true }));

  const admin = new Hono();
  admin.use(async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const presented = /^Bearer (.+)$/.exec(header)?.[1];
    // The gateway token is read from the current snapshot on every request, so a reload rotates it.
    const gatewayToken = secrets.snapshot().get("gateway.auth.token");
    const accepted = gatewayToken ? [adminToken, gatewayToken] : [adminToken];
    if (!presented || !tokenMatches(presented, accepted)) return c.json({ ok: false, error: "unauthorized" }, 401);
    await next();
  });

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

  // Until dispatch lands, accepted deliveries wait here, visible to operators and tests.
  admin.get("/intake", (c) => {
    if (!journal) return c.json({ ok: true, counts: { pending: 0, done: 0, dead: 0 }, pending: [] });
    const limit = Math.min(Math.max(Number(c.req.query("limit") ?? "100") || 100, 1), 1000);
    return c.json({ ok: true, counts: journal.counts(), pending: journal.pending(limit) });
  });

  app.route(ADMIN_PREFIX, admin);
  if (options.hooks) app.route(options.hooks.path, options.hooks.app);
  app.notFound((c) => c.json({ ok: false, error: "not found" }, 404));
  app.onError((error, c) => {
    // The one place errors become HTTP answers; the message is generic so nothing internal leaks.
    logger.error({ err: error, route: c.req.path }, "request failed");
    return c.json({ ok: false, error: "internal error" }, 500);
  });
  return app;
}
