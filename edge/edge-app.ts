/**
 * The edge Worker assembled from injectable parts: config check (fail closed), `/healthz`, the hook routes,
 * the operator API, and the scheduled handler that hands each Cron Trigger tick to the outbox.
 */
import { Hono } from "hono";
import { UNSAFE_PATH_TEXT, isSafeRequestPath } from "../shared/path-safety.ts";
import { withSecurityHeaders } from "../shared/security-headers.ts";
import type { EdgeIo } from "./edge-io.ts";
import { createSetupLoader, type EdgeSetup } from "./edge-setup.ts";
import { createHookIntake } from "./hook-intake.ts";
import { OPERATOR_PREFIX, createOperatorApi } from "./operator-api.ts";
import { type OutboxStub, createOutboxRouter } from "./outbox-router.ts";

type AppEnv = { Bindings: Env; Variables: { setup: EdgeSetup } };

/** The outboxes (one per node, plus the old single one still draining), reached through the setup's config. */
const outboxOf = (env: Env, setup: EdgeSetup) =>
  createOutboxRouter(setup.config, (name) => env.OUTBOX.get(env.OUTBOX.idFromName(name)) as unknown as OutboxStub);

/** The Worker over `io`, which edge/index.ts builds once with production I/O (tests with fakes). */
export function createEdgeWorker(io: EdgeIo) {
  const loadSetup = createSetupLoader(io);
  const { logEvent, newDeliveryId } = io;
  const app = new Hono<AppEnv>();

  // Before anything else: every answer carries the shared security headers, and a path a parser could resolve
  // to another route is refused before routing (docs/security.md).
  app.use("*", async (c, next) => {
    if (!isSafeRequestPath(c.req.url)) {
      c.res = c.json({ ok: false, error: UNSAFE_PATH_TEXT }, 400);
    } else {
      await next();
    }
    c.res = withSecurityHeaders(c.res, c.req.path.startsWith(OPERATOR_PREFIX));
  });
  // Fail closed: without a valid configuration every request gets the same generic 500 and nothing is forwarded.
  app.use("*", async (c, next) => {
    let setup: EdgeSetup;
    try {
      setup = await loadSetup(c.env);
    } catch {
      return c.json({ ok: false, error: "edge misconfigured" }, 500);
    }
    c.set("setup", setup);
    await next();
  });
  app.get("/healthz", (c) => c.json({ ok: true, nodes: c.var.setup.config.nodes.size }));
  app.route(
    "/",
    createHookIntake({
      setup: (c) => c.get("setup") as EdgeSetup,
      outbox: (c) => outboxOf(c.env as Env, c.get("setup") as EdgeSetup),
      newDeliveryId,
      log: logEvent,
    }),
  );
  app.route(
    OPERATOR_PREFIX,
    createOperatorApi({
      setup: (c) => c.get("setup") as EdgeSetup,
      outbox: (c) => outboxOf(c.env as Env, c.get("setup") as EdgeSetup),
      log: logEvent,
      now: io.now,
    }),
  );
  app.notFound((c) => c.json({ ok: false, error: "not found" }, 404));
  app.onError((error, c) => {
    // The one place errors become HTTP answers; generic, so nothing internal leaks.
    logEvent({ event: "edge.error", path: c.req.path, error: error instanceof Error ? error.name : "unknown" });
    return c.json({ ok: false, error: "internal error" }, 500);
  });

  return {
    fetch: app.fetch,
    async scheduled(controller: ScheduledController, env: Env): Promise<void> {
      let setup: EdgeSetup;
      try {
        setup = await loadSetup(env);
      } catch {
        return; // misconfigured: logged once by the loader, nothing delivered
      }
      // A tick's delivery id holds its time as ISO 8601; a time that is no instant (NaN, past Date's range) names
      // no tick, so it is logged and skipped rather than thrown from the outbox.
      if (Number.isNaN(new Date(controller.scheduledTime).getTime())) {
        logEvent({ event: "cron.invalid_time", cron: controller.cron, scheduledTime: String(controller.scheduledTime) });
        return;
      }
      if (!setup.config.cron.jobs.some((job) => job.schedule === controller.cron)) {
        logEvent({ event: "cron.unmapped", cron: controller.cron, problem: "no cron job in CLAWGATE_EDGE_CONFIG has this schedule" });
      }
      // Each node's outbox ticks its own jobs.
      const runs = await outboxOf(env, setup).cronTick(controller.cron, controller.scheduledTime);
      logEvent({ event: "cron.tick", cron: controller.cron, runs });
    },
  } satisfies ExportedHandler<Env>;
}
