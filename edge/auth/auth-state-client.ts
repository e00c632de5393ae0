/**
 * The caller-auth stores over the `CallerAuthState` Durable Object binding (AUTH_STATE): a failure limiter
 * that asks the client's DO only when a request failed (and remembers in this isolate who is blocked, so a
 * blocked client's further requests cost no round trip), and a JWKS store with one DO per key set URL.
 */
import type { ExportedJWKSCache } from "jose";
import { type FailureLimit, type FailureLimiter } from "./failure-limiter.ts";
import type { JwksCacheStore } from "./jwks-cache.ts";

/** The slice of `DurableObjectNamespace<CallerAuthState>` used here (structural, so Node code can import this). */
export interface AuthStateNamespace {
  idFromName(name: string): unknown;
  get(id: never): unknown;
}

interface AuthStateStub {
  recordFailure(nowMs: number, limit: FailureLimit): Promise<number>;
  loadJwks(): Promise<ExportedJWKSCache | undefined>;
  saveJwks(entry: ExportedJWKSCache): Promise<void>;
}

export function isAuthStateNamespace(value: unknown): value is AuthStateNamespace {
  return typeof value === "object" && value !== null && typeof (value as AuthStateNamespace).idFromName === "function" && typeof (value as AuthStateNamespace).get === "function";
}

// A stub per call: stubs are cheap, and one made in another request's context must not be reused.
const stub = (ns: AuthStateNamespace, name: string) => ns.get(ns.idFromName(name) as never) as AuthStateStub;

export function createDurableFailureLimiter(ns: AuthStateNamespace, limit: FailureLimit, maxRemembered = 10_000): FailureLimiter {
  const blockedUntil = new Map<string, number>();
  return {
    blockedFor(client, nowMs) {
      const until = blockedUntil.get(client);
      if (until === undefined) return 0;
      if (until <= nowMs) {
        blockedUntil.delete(client);
        return 0;
      }
      return Math.max(1, Math.ceil((until - nowMs) / 1000));
    },
    async recordFailure(client, nowMs) {
      const wait = await stub(ns, `failures:${client}`).recordFailure(nowMs, limit);
      if (wait > 0) {
        blockedUntil.set(client, nowMs + wait * 1000);
        if (blockedUntil.size > maxRemembered) blockedUntil.delete(blockedUntil.keys().next().value!);
      }
      return wait;
    },
  };
}

export function createDurableJwksStore(ns: AuthStateNamespace): JwksCacheStore {
  return {
    load: (url) => stub(ns, `jwks:${url}`).loadJwks(),
    save: (url, entry) => stub(ns, `jwks:${url}`).saveJwks(entry),
  };
}
