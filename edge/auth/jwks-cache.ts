/**
 * Remote JSON Web Key Sets shared across requests and isolates: jose's `createRemoteJWKSet` keeps the set in
 * a cache object (`jwksCache` symbol: `{ jwks, uat }`); this module seeds that object from a store when an
 * isolate first needs it and writes it back after jose refreshed it, so a fresh isolate neither refetches a
 * fresh set nor ignores the cooldown that bounds refetches on unknown `kid`s.
 */
import { type ExportedJWKSCache, type JWTVerifyGetKey, createRemoteJWKSet, customFetch, jwksCache } from "jose";

/** Where key sets live between isolates (the AUTH_STATE Durable Object in production). */
export interface JwksCacheStore {
  load(url: string): Promise<ExportedJWKSCache | undefined>;
  /** Keeps `entry` unless the store already holds a newer one (`uat`). */
  save(url: string, entry: ExportedJWKSCache): Promise<void>;
}

export interface RemoteKeySetOptions {
  readonly store: JwksCacheStore;
  readonly fetch?: typeof fetch;
  /** After a successful fetch, an unknown `kid` waits this long before refetching (jose default 30 s). */
  readonly cooldownMs?: number;
  /** A key set older than this is refetched before use (jose default 10 min). */
  readonly maxAgeMs?: number;
  readonly timeoutMs?: number;
}

export const DEFAULT_JWKS_COOLDOWN_MS = 30_000;
export const DEFAULT_JWKS_MAX_AGE_MS = 600_000;

/** A per-isolate store: enough for one isolate, and the fallback without the AUTH_STATE binding. */
export function createMemoryJwksStore(): JwksCacheStore {
  const entries = new Map<string, ExportedJWKSCache>();
  return {
    async load(url) {
      const entry = entries.get(url);
      return entry ? structuredClone(entry) : undefined;
    },
    async save(url, entry) {
      const held = entries.get(url);
      if (!held || held.uat < entry.uat) entries.set(url, structuredClone(entry));
    },
  };
}

/**
 * A key resolver for `jwtVerify`. The store is read once per isolate (lazily: routes that never see a JWT
 * cost nothing) and again when this isolate's copy goes stale, and written only when jose fetched a new set. Promises are never shared between requests
 * (workerd forbids I/O continuations across request contexts); two first requests may both read the store.
 */
export function createSharedRemoteKeySet(url: string, options: RemoteKeySetOptions): JWTVerifyGetKey {
  const maxAgeMs = options.maxAgeMs ?? DEFAULT_JWKS_MAX_AGE_MS;
  let resolver: ReturnType<typeof createRemoteJWKSet> | undefined;
  let cache: ExportedJWKSCache | Record<string, never> = {};
  let savedUat = -1;
  const adopt = (stored: ExportedJWKSCache | undefined) => {
    cache = stored ?? {};
    savedUat = stored?.uat ?? -1;
    resolver = createRemoteJWKSet(new URL(url), {
      [jwksCache]: cache,
      ...(options.fetch ? { [customFetch]: options.fetch } : {}),
      cooldownDuration: options.cooldownMs ?? DEFAULT_JWKS_COOLDOWN_MS,
      cacheMaxAge: maxAgeMs,
      timeoutDuration: options.timeoutMs ?? 5_000,
    });
  };
  return async (header, token) => {
    if (!resolver) {
      const stored = await options.store.load(url).catch(() => undefined);
      if (!resolver) adopt(stored);
    } else if (!resolver.fresh) {
      // Our copy is stale: another isolate may already have refreshed the shared one; take it rather than fetch.
      const stored = await options.store.load(url).catch(() => undefined);
      if (stored && stored.uat > savedUat && Date.now() - stored.uat < maxAgeMs) adopt(stored);
    }
    try {
      return await resolver!(header, token);
    } finally {
      // jose mutates `cache` after each successful fetch; persist that, once per fetch.
      const entry = cache as Partial<ExportedJWKSCache>;
      if (typeof entry.uat === "number" && entry.uat !== savedUat && entry.jwks) {
        savedUat = entry.uat;
        await options.store.save(url, { jwks: entry.jwks, uat: entry.uat }).catch(() => undefined);
      }
    }
  };
}
