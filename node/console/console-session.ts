/**
 * Console sessions: the admin token is checked once at login and exchanged for a random session id (the only
 * thing the cookie holds), each session with its own CSRF token. In memory only: a restart (a new admin token)
 * logs everyone out. Ids are looked up by their SHA-256, so the map never holds a usable cookie value.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** The cookie's name and scope: sent only to the node's own `/_clawgate` paths. */
export const SESSION_COOKIE = "clawgate_session";
/** The login form's double-submit cookie (a CSRF token for the one form that has no session yet). */
export const LOGIN_COOKIE = "clawgate_login";
export const COOKIE_PATH = "/_clawgate";

export interface ConsoleSession {
  readonly csrf: string;
  readonly createdAt: number;
  lastSeenAt: number;
}

export interface SessionStore {
  /** A new session: the cookie value to set and the session. */
  create(now: number): { readonly id: string; readonly session: ConsoleSession };
  /** The live session for a cookie value (idle and absolute limits applied), or undefined. */
  get(id: string | undefined, now: number): ConsoleSession | undefined;
  delete(id: string | undefined): void;
  size(): number;
}

export interface SessionLimits {
  /** A session unused this long ends (default 2 h). */
  readonly idleMs?: number;
  /** A session ends this long after login whatever happens (default 12 h). */
  readonly maxAgeMs?: number;
  /** Sessions kept at once; the oldest is dropped beyond this (default 32). */
  readonly maxSessions?: number;
}

const hashOf = (id: string) => createHash("sha256").update(id).digest("base64url");

/** A fresh unguessable token (256 bits, base64url). */
export const newToken = () => randomBytes(32).toString("base64url");

/** Constant-time equality of two short strings (a CSRF token against the expected one). */
export function sameToken(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  const a = createHash("sha256").update(presented).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

export function createSessionStore(limits: SessionLimits = {}): SessionStore {
  const idleMs = limits.idleMs ?? 2 * 3_600_000;
  const maxAgeMs = limits.maxAgeMs ?? 12 * 3_600_000;
  const maxSessions = limits.maxSessions ?? 32;
  if (!(idleMs > 0) || !(maxAgeMs > 0)) throw new TypeError("idleMs and maxAgeMs must be positive");
  if (!Number.isInteger(maxSessions) || maxSessions < 1) throw new TypeError("maxSessions must be a positive integer");
  const sessions = new Map<string, ConsoleSession>();
  return {
    create(now) {
      const id = newToken();
      const session: ConsoleSession = { csrf: newToken(), createdAt: now, lastSeenAt: now };
      sessions.set(hashOf(id), session);
      while (sessions.size > maxSessions) sessions.delete(sessions.keys().next().value!);
      return { id, session };
    },
    get(id, now) {
      if (id === undefined || id === "") return undefined;
      const key = hashOf(id);
      const session = sessions.get(key);
      if (!session) return undefined;
      if (now - session.lastSeenAt > idleMs || now - session.createdAt > maxAgeMs) {
        sessions.delete(key);
        return undefined;
      }
      session.lastSeenAt = now;
      return session;
    },
    delete(id) {
      if (id) sessions.delete(hashOf(id));
    },
    size: () => sessions.size,
  };
}
