/**
 * The `CallerAuthState` Durable Object: state that caller authentication must share across isolates.
 * Instances are named by purpose — `failures:<client ip>` counts one client's failed attempts (touched only
 * on failure; it deletes itself by alarm once the window has passed), `jwks:<url>` holds one remote key set
 * for jose's cache. Isolates churn, so per-isolate memory alone would let a client spread guesses over
 * isolates and would refetch key sets per isolate; a DO keyed by client is globally consistent for that
 * client and costs nothing for callers that authenticate.
 */
import { DurableObject } from "cloudflare:workers";
import type { ExportedJWKSCache } from "jose";
import { type FailureLimit, windowRetryAfter } from "./failure-limiter.ts";

const FAILURES_KEY = "failures";
const JWKS_KEY = "jwks";

export class CallerAuthState extends DurableObject {
  /** Counts one failure at `nowMs`; returns the seconds to wait when the client is over the limit, else 0. */
  async recordFailure(nowMs: number, limit: FailureLimit): Promise<number> {
    const held = (await this.ctx.storage.get<number[]>(FAILURES_KEY)) ?? [];
    const times = held.filter((t) => t > nowMs - limit.windowMs);
    times.push(nowMs);
    const kept = times.slice(-limit.maxFailures);
    await this.ctx.storage.put(FAILURES_KEY, kept);
    // Forget the client once its newest failure has left the window (alarms run on the real clock).
    await this.ctx.storage.setAlarm(Date.now() + limit.windowMs + 1_000);
    return windowRetryAfter(kept, nowMs, limit);
  }

  async loadJwks(): Promise<ExportedJWKSCache | undefined> {
    return this.ctx.storage.get<ExportedJWKSCache>(JWKS_KEY);
  }

  async saveJwks(entry: ExportedJWKSCache): Promise<void> {
    const held = await this.ctx.storage.get<ExportedJWKSCache>(JWKS_KEY);
    if (!held || held.uat < entry.uat) await this.ctx.storage.put(JWKS_KEY, entry);
  }

  override async alarm(): Promise<void> {
    await this.ctx.storage.deleteAll();
  }
}
