/**
 * The operator API under `/_clawgate/`: outbox status, dead letters and their replay, cron runs and the
 * dead-man's switch — behind its own bearer token, stored only as a SHA-256 (`CLAWGATE_OPERATOR_TOKEN_SHA256`).
 */
import { Hono, type Context } from "hono";
import { bearerToken } from "../shared/bearer.ts";
import { equalBytes, sha256Bytes } from "../shared/constant-time.ts";
import { limiterClientKey } from "./auth/client-key.ts";
import { type FailureLimiter, createMemoryFailureLimiter } from "./auth/failure-limiter.ts";
import type { EdgeSetup } from "./edge-setup.ts";
import type { CronJobStatus, DeliveryInfo, DeliveryStatus } from "./outbox-core.ts";

export const OPERATOR_PREFIX = "/_clawgate";

/** The outbox as the operator API calls it (RPC on the Durable Object stub). */
export interface OperatorOutbox {
  status(limit: number): Promise<{ counts: Record<DeliveryStatus, number>; pending: DeliveryInfo[] }>;
  deadLetters(limit: number): Promise<DeliveryInfo[]>;
  replay(deliveryId: string): Promise<boolean>;
  retryNow(): Promise<number>;
  cronStatus(): Promise<CronJobStatus[]>;
}

export interface OperatorApiDeps {
  readonly setup: (c: Context) => EdgeSetup;
  readonly outbox: (c: Context) => OperatorOutbox;
  readonly log: (event: Record<string, unknown>) => void;
  /** Failed operator logins per client (CF-Connecting-IP); default: this isolate's memory, 20 per minute. */
  readonly limiter?: FailureLimiter;
  /** The edge's clock (edge/edge-io.ts). */
  readonly now: () => number;
}

/** The configured hex digest as bytes (64 hex digits: the config schema checked them). */
const hexBytes = (hex: string) => Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));

/** `?limit=`: a whole number from 1 to 1000, default 100 (floored: SQLite refuses a fractional LIMIT). */
const limitOf = (c: Context) => Math.min(Math.max(Math.floor(Number(c.req.query("limit") ?? "100")) || 100, 1), 1000);

export function createOperatorApi(deps: OperatorApiDeps): Hono {
  const limiter = deps.limiter ?? createMemoryFailureLimiter();
  const now = deps.now;
  const app = new Hono();
  app.use("*", async (c, next) => {
    const client = limiterClientKey(c.req.header("cf-connecting-ip"));
    const expected = deps.setup(c).config.operatorTokenSha256;
    const presented = bearerToken(c.req.header("authorization"));
    // No hash configured = the operator API is off; it answers exactly like a wrong token.
    if (expected === undefined || presented === undefined || !equalBytes(await sha256Bytes(presented), hexBytes(expected))) {
      deps.log({ event: "operator.refused", path: c.req.path });
      // The right token is never throttled; a blocked client's wrong ones are answered from memory.
      const wait = limiter.blockedFor(client, now());
      if (wait > 0) return c.json({ ok: false, error: "too many failed attempts" }, 429, { "retry-after": String(wait) });
      const retryAfter = await limiter.recordFailure(client, now());
      if (retryAfter > 0) return c.json({ ok: false, error: "too many failed attempts" }, 429, { "retry-after": String(retryAfter) });
      return c.json({ ok: false, error: "unauthorized" }, 401);
    }
    await next();
  });
  app.get("/outbox", async (c) => c.json({ ok: true, ...(await deps.outbox(c).status(limitOf(c))) }));
  app.post("/outbox/retry", async (c) => {
    const pulledForward = await deps.outbox(c).retryNow();
    deps.log({ event: "operator.retry_now", pulledForward });
    return c.json({ ok: true, pulledForward }, 202);
  });
  app.get("/dead-letters", async (c) => c.json({ ok: true, deadLetters: await deps.outbox(c).deadLetters(limitOf(c)) }));
  // The id travels in the body: cron delivery ids hold `/`, `*` and spaces that paths mangle.
  app.post("/dead-letters/replay", async (c) => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return c.json({ ok: false, error: "invalid JSON" }, 400);
    }
    const id = typeof body === "object" && body !== null ? (body as { deliveryId?: unknown }).deliveryId : undefined;
    if (typeof id !== "string" || id === "") return c.json({ ok: false, error: "deliveryId required" }, 400);
    if (!(await deps.outbox(c).replay(id))) return c.json({ ok: false, error: "no dead letter with that deliveryId" }, 404);
    deps.log({ event: "operator.replay", deliveryId: id });
    return c.json({ ok: true, deliveryId: id, replayed: true }, 202);
  });
  app.get("/cron", async (c) => c.json({ ok: true, catchUp: deps.setup(c).config.cron.catchUp, jobs: await deps.outbox(c).cronStatus() }));
  app.all("*", (c) => c.json({ ok: false, error: "not found" }, 404));
  return app;
}
