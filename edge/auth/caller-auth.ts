/**
 * Who may call a route: compiles the route's list of methods once (hashes parsed, CIDRs compiled, keys
 * imported, secrets read from their bindings) into a `CallerAuth` whose `authenticate` only looks things up.
 *
 * Contract (edge/hook-intake.ts codes against it):
 * - `compileCallerAuth(methods, deps)` validates `methods` (RouteAuthSchema, edge/auth/auth-config.ts) and
 *   throws a `TypeError` whose message starts with the field at fault (`auth[1].secretBinding: …`), never
 *   with a secret value. Call it once per isolate per route.
 * - `authenticate(req)` never throws for any request input; any one accepting method suffices:
 *   `{ ok: true, principal, deliveryId? }` — principals `token:<name>`, `jwt:<iss>#<sub>`, `access:<team>#<email or
 *   common_name>`, `hmac:<scheme>:<name>`, `ip:<cidr>`; `deliveryId` comes from what an HMAC signature
 *   covers (Standard Webhooks' `webhook-id`; GitHub, Stripe, Slack: the signed event id or the signed
 *   content's digest), so a replayed copy is the same delivery; use it before any unsigned key.
 *   `{ ok: false, status, error, code, retryAfterSeconds? }` — 401 `unauthorized` (no or a wrong
 *   credential), 403 `forbidden` (the route accepts only IP allowlists and the client is outside them),
 *   429 `too many failed attempts` with `retryAfterSeconds` (send it as `Retry-After`). `error` is the
 *   node's text; `code` says which check failed (ERR_AUTH_*), for logs.
 * - Failed attempts are counted per client (`CF-Connecting-IP`, an IPv6 address by its /64; requests without
 *   one share one bucket; shared/failure-window.ts): after 20 failures in 60 s, the client's next wrong attempts
 *   get 429 in any isolate that has seen it fail (one DO look-up per failure tells the others) until the oldest
 *   failure leaves the window; a correct credential is accepted throughout (docs/security.md, as the node).
 * - `deps.env` holds the Worker secrets the methods name. When it also holds the `AUTH_STATE` Durable
 *   Object binding (class `CallerAuthState`, edge/auth/auth-state-object.ts), failure counts and remote
 *   JWKS are shared by all isolates; without it they live in this isolate's memory only.
 *   (edge/index.ts exports the class; wrangler.toml binds it as AUTH_STATE with SQLite storage.)
 */
import { RouteAuthSchema, type AuthMethod } from "./auth-config.ts";
import type { AuthErrorCode, AuthRequest, CompiledMethod, MethodOutcome } from "./auth-method.ts";
import { compileBearerTokens } from "./bearer-tokens.ts";
import { limiterClientKey } from "./client-key.ts";
import { createDurableFailureLimiter, createDurableJwksStore, isAuthStateNamespace } from "./auth-state-client.ts";
import { compileHmacSignature } from "./hmac-signatures.ts";
import { compileIpAllowlist } from "./ip-allowlist.ts";
import { DEFAULT_FAILURE_LIMIT, type FailureLimiter, createMemoryFailureLimiter } from "./failure-limiter.ts";
import { type JwksCacheStore, createMemoryJwksStore } from "./jwks-cache.ts";
import { compileAccess, compileJwt } from "./jwt-verifier.ts";

export type { AuthRequest } from "./auth-method.ts";

export type AuthResult =
  | { readonly ok: true; readonly principal: string; readonly deliveryId?: string }
  | {
      readonly ok: false;
      readonly status: 401 | 403 | 429;
      readonly error: string;
      readonly code: AuthErrorCode;
      readonly retryAfterSeconds?: number;
    };

export interface CallerAuth {
  authenticate(req: AuthRequest): Promise<AuthResult>;
}

export interface CallerAuthDeps {
  /** The Worker's env: secret bindings named by the methods, and optionally the AUTH_STATE binding. */
  readonly env: Record<string, unknown>;
  /** Outbound fetch for remote key sets; production: the global fetch. */
  readonly fetch?: typeof fetch;
  /** Milliseconds since the epoch; production: Date.now. */
  readonly now?: () => number;
  /** Where failures are counted; default: AUTH_STATE when bound, else this isolate's memory. */
  readonly failureLimiter?: FailureLimiter;
  /** Where remote key sets are kept between isolates; default: AUTH_STATE when bound, else this isolate's memory. */
  readonly jwksStore?: JwksCacheStore;
  /** Minimum time between key set refetches caused by unknown `kid`s; default 30 s. */
  readonly jwksCooldownMs?: number;
}

/** The Durable Object binding that shares failure counts and key sets across isolates. */
export const AUTH_STATE_BINDING = "AUTH_STATE";

const TEXT = { 401: "unauthorized", 403: "forbidden", 429: "too many failed attempts" } as const;
const GENERIC_REFUSALS: ReadonlySet<AuthErrorCode> = new Set(["ERR_AUTH_BEARER", "ERR_AUTH_IP_FORBIDDEN"]);

/**
 * Stores shared by every route compiled in this isolate (a client's failures on /hooks/a count on /hooks/b,
 * a key set is held once): keyed by the AUTH_STATE namespace object, or one in-memory pair without it.
 */
const durableStores = new WeakMap<object, { limiter: FailureLimiter; jwks: JwksCacheStore }>();
let memoryStores: { limiter: FailureLimiter; jwks: JwksCacheStore } | undefined;

function isolateStores(env: Record<string, unknown>): { limiter: FailureLimiter; jwks: JwksCacheStore } {
  const ns = env[AUTH_STATE_BINDING];
  if (isAuthStateNamespace(ns)) {
    let stores = durableStores.get(ns);
    if (!stores) {
      stores = { limiter: createDurableFailureLimiter(ns, DEFAULT_FAILURE_LIMIT), jwks: createDurableJwksStore(ns) };
      durableStores.set(ns, stores);
    }
    return stores;
  }
  return (memoryStores ??= { limiter: createMemoryFailureLimiter(DEFAULT_FAILURE_LIMIT), jwks: createMemoryJwksStore() });
}

export async function compileCallerAuth(methods: readonly AuthMethod[], deps: CallerAuthDeps): Promise<CallerAuth> {
  const parsed = RouteAuthSchema.safeParse(methods);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new TypeError(`auth${issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("")}: ${issue.message}`);
  }
  const now = deps.now ?? Date.now;
  const shared = isolateStores(deps.env);
  const jwksStore = deps.jwksStore ?? shared.jwks;
  const compiled: CompiledMethod[] = [];
  for (const [i, method] of parsed.data.entries()) compiled.push(await compileMethod(method, `auth[${i}]`, deps, now, jwksStore));
  // IP-only routes answer 403 (no credential could help); any credential method makes a refusal 401.
  const ipOnly = compiled.every((m) => m.type === "ip");
  const limiter = deps.failureLimiter ?? shared.limiter;

  const fail = async (client: string, code: AuthErrorCode): Promise<AuthResult> => {
    try {
      // Like the node: this failure is answered 401/403; from the next attempt on, the client waits.
      await limiter.recordFailure(client, now());
    } catch {
      // A store that cannot count must not turn a refusal into a 5xx; the refusal stands.
    }
    const status = ipOnly ? 403 : 401;
    return { ok: false, status, error: TEXT[status], code };
  };

  return {
    async authenticate(req) {
      let firstRefusal: AuthErrorCode | undefined;
      for (const method of compiled) {
        let outcome: MethodOutcome;
        try {
          outcome = await method.check(req);
        } catch {
          // A method never throws by design; if one does, it is a refusal, not a 5xx.
          outcome = { kind: "refused", code: "ERR_AUTH_MISSING" };
        }
        if (outcome.kind === "ok") return { ok: true, principal: outcome.principal, ...(outcome.deliveryId !== undefined ? { deliveryId: outcome.deliveryId } : {}) };
        if (outcome.kind === "refused") {
          // The code names the most telling refusal: a JWT or signature check that ran beats "not one of our
          // tokens" or "not an allowed address", which any credential of another kind also triggers.
          if (firstRefusal === undefined || (GENERIC_REFUSALS.has(firstRefusal) && !GENERIC_REFUSALS.has(outcome.code))) firstRefusal = outcome.code;
        }
      }
      // A correct credential is never throttled (one abusive neighbour in a /64 or behind a NAT must not lock a
      // caller out); a blocked client's wrong ones get 429 from this isolate's memory, with no store round trip.
      const client = limiterClientKey(req.clientIp);
      const wait = limiter.blockedFor(client, now());
      if (wait > 0) return { ok: false, status: 429, error: TEXT[429], code: "ERR_AUTH_RATE_LIMITED", retryAfterSeconds: wait };
      return fail(client, firstRefusal ?? "ERR_AUTH_MISSING");
    },
  };
}

async function compileMethod(method: AuthMethod, field: string, deps: CallerAuthDeps, now: () => number, jwksStore: JwksCacheStore): Promise<CompiledMethod> {
  const jwtDeps = { env: deps.env, now, jwksStore, ...(deps.fetch ? { fetch: deps.fetch } : {}), ...(deps.jwksCooldownMs !== undefined ? { jwksCooldownMs: deps.jwksCooldownMs } : {}) };
  switch (method.type) {
    case "bearer":
      return compileBearerTokens(method, field);
    case "hmac":
      return compileHmacSignature(method, field, deps.env, now);
    case "jwt":
      return compileJwt(method, field, jwtDeps);
    case "access":
      return compileAccess(method, field, jwtDeps);
    case "ip":
      return compileIpAllowlist(method, field);
  }
}
