/**
 * The OpenClaw hook payloads (docs/openclaw-compat.md §5) read exactly as OpenClaw 2026.2.26 reads them: the body
 * text trimmed (empty = `{}`), invalid UTF-8 replaced, every optional field coerced or ignored rather than refused,
 * with OpenClaw's error texts. The edge and the node both run it, so a bad call gets the same 400 wherever it is
 * caught. Web-standard only.
 */
import { MAX_DELIVERY_ID } from "./limits.ts";

export type WakeMode = "now" | "next-heartbeat";

export interface WakePayload {
  readonly text: string;
  readonly mode: WakeMode;
}

export interface AgentPayload {
  readonly message: string;
  readonly name: string;
  readonly agentId?: string;
  readonly sessionKey?: string;
  readonly wakeMode: WakeMode;
  readonly deliver: boolean;
  readonly channel: string;
  readonly to?: string;
  readonly model?: string;
  readonly thinking?: string;
  readonly timeoutSeconds?: number;
  readonly idempotencyKey?: string;
}

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

/** Longest accepted idempotency key: the delivery id limit (shared/limits.ts). */
export const MAX_IDEMPOTENCY_KEY = MAX_DELIVERY_ID;

const fail = (error: string): Parsed<never> => ({ ok: false, error });
/** A string field trimmed, or undefined when it is not a string or only whitespace (OpenClaw ignores it then). */
const trimmed = (v: unknown): string | undefined => (typeof v === "string" && v.trim() ? v.trim() : undefined);

/** Lenient like OpenClaw's body reader (`Buffer#toString("utf-8")`): invalid sequences become U+FFFD. */
const utf8 = new TextDecoder("utf-8");

/**
 * The JSON value of a hook body as OpenClaw reads it: decoded with U+FFFD for invalid UTF-8, trimmed, an empty
 * body as `{}`, and a syntax error answered with the parser's own message (V8's, the same on both sides).
 */
export function parseHookBody(bytes: Uint8Array): Parsed<unknown> {
  const text = utf8.decode(bytes).trim();
  if (text === "") return { ok: true, value: {} };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error));
  }
}

/** The payload object routes read: any JSON object (arrays included, as in OpenClaw), else `{}`. */
export function hookPayloadOf(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
}

/** `/hooks/wake`: `text` required (trimmed); any `mode` other than "next-heartbeat" is "now". */
export function normalizeWakePayload(payload: Record<string, unknown>): Parsed<WakePayload> {
  const text = trimmed(payload["text"]);
  if (!text) return fail("text required");
  return { ok: true, value: { text, mode: payload["mode"] === "next-heartbeat" ? "next-heartbeat" : "now" } };
}

/** OpenClaw's channel normalization: trimmed and lowercased; `channels` are the deliverable ones besides "last". */
export function hookChannelError(channels: readonly string[]): string {
  return `channel must be ${["last", ...channels].join("|")}`;
}

/**
 * `/hooks/agent` (OpenClaw's normalizeAgentPayload): `message` required; `name` "Hook" unless a non-blank string;
 * `wakeMode` "now" unless "next-heartbeat"; `deliver` true unless `false`; blank or non-string `agentId`,
 * `sessionKey`, `to`, `thinking` ignored; `channel` "last" or a deliverable channel; `model`, when present at all,
 * a non-blank string (`model required`); `timeoutSeconds` floored when a positive finite number, else ignored.
 * `idempotencyKey` (clawgate's, from later OpenClaw versions) is kept when it is a non-blank string. `channels`
 * "any" (the edge, which does not know the node's channels) leaves the channel check to the node.
 */
export function normalizeAgentPayload(payload: Record<string, unknown>, channels: readonly string[] | "any" = []): Parsed<AgentPayload> {
  const message = trimmed(payload["message"]);
  if (!message) return fail("message required");
  const rawChannel = payload["channel"];
  let channel = "last";
  if (rawChannel !== undefined) {
    const normalized = typeof rawChannel === "string" ? rawChannel.trim().toLowerCase() : "";
    if (channels !== "any" ? normalized !== "last" && !channels.includes(normalized) : !normalized) return fail(hookChannelError(channels === "any" ? [] : channels));
    channel = normalized;
  }
  const model = trimmed(payload["model"]);
  if (payload["model"] !== undefined && !model) return fail("model required");
  const timeout = payload["timeoutSeconds"];
  const idempotencyKey = trimmed(payload["idempotencyKey"]);
  if (idempotencyKey !== undefined && idempotencyKey.length > MAX_IDEMPOTENCY_KEY) {
    return fail(`idempotencyKey must be at most ${MAX_IDEMPOTENCY_KEY} characters`);
  }
  const optional = { agentId: trimmed(payload["agentId"]), sessionKey: trimmed(payload["sessionKey"]), to: trimmed(payload["to"]), thinking: trimmed(payload["thinking"]) };
  const value: AgentPayload = {
    message,
    name: trimmed(payload["name"]) ?? "Hook",
    wakeMode: payload["wakeMode"] === "next-heartbeat" ? "next-heartbeat" : "now",
    deliver: payload["deliver"] !== false,
    channel,
    ...(optional.agentId ? { agentId: optional.agentId } : {}),
    ...(optional.sessionKey ? { sessionKey: optional.sessionKey } : {}),
    ...(optional.to ? { to: optional.to } : {}),
    ...(model ? { model } : {}),
    ...(optional.thinking ? { thinking: optional.thinking } : {}),
    ...(typeof timeout === "number" && Number.isFinite(timeout) && timeout > 0 ? { timeoutSeconds: Math.floor(timeout) } : {}),
    ...(idempotencyKey ? { idempotencyKey } : {}),
  };
  return { ok: true, value };
}

/**
 * OpenClaw's agent id normalization (normalizeAgentId): trimmed and lowercased; other characters than
 * `a-z 0-9 _ -` become `-`, edge dashes are dropped, at most 64; blank → "main".
 */
export function normalizeAgentId(raw: string | undefined): string {
  const value = (raw ?? "").trim();
  if (!value) return "main";
  if (/^[a-z0-9][a-z0-9_-]{0,63}$/i.test(value)) return value.toLowerCase();
  return value.toLowerCase().replace(/[^a-z0-9_-]+/g, "-").replace(/^-+/, "").replace(/-+$/, "").slice(0, 64) || "main";
}

/** Who may be targeted: the configured agents, the default one, and hooks.allowedAgentIds (normalized; `*` = any). */
export interface AgentTargets {
  readonly defaultAgentId: string;
  readonly knownAgentIds: ReadonlySet<string>;
  /** undefined = any agent; empty = no explicit agent routing. */
  readonly allowedAgentIds: ReadonlySet<string> | undefined;
}

export function compileAgentTargets(agentIds: readonly string[], defaultAgentId: string, allowed: readonly string[] | undefined): AgentTargets {
  const known = new Set(agentIds.map((id) => normalizeAgentId(id)));
  const defaultId = normalizeAgentId(defaultAgentId);
  known.add(defaultId);
  let allowedIds: Set<string> | undefined;
  if (allowed) {
    allowedIds = new Set();
    for (const entry of allowed) {
      const id = entry.trim();
      if (!id) continue;
      if (id === "*") {
        allowedIds = undefined;
        break;
      }
      allowedIds.add(normalizeAgentId(id));
    }
  }
  return { defaultAgentId: defaultId, knownAgentIds: known, allowedAgentIds: allowedIds };
}

/** The agent a call runs on: its `agentId` normalized when that agent exists, else the default agent (OpenClaw). */
export function targetAgentId(targets: AgentTargets, agentId: string | undefined): string | undefined {
  if (!agentId?.trim()) return undefined;
  const id = normalizeAgentId(agentId);
  return targets.knownAgentIds.has(id) ? id : targets.defaultAgentId;
}

/**
 * The `hooks` policy checks and their texts (docs/openclaw-compat.md §5), the one copy: the node's compiled policy
 * (node/intake/hooks-policy.ts) runs them, and the edge runs them again as defense in depth.
 */
export const AGENT_ID_NOT_ALLOWED = "agentId is not allowed by hooks.allowedAgentIds";
export const SESSION_KEY_DISABLED =
  "sessionKey is disabled for external /hooks/agent payloads; set hooks.allowRequestSessionKey=true to enable";

/** The 400 text when the call's target agent (after unknown ids fall back to the default) is not allowed. */
export function agentIdProblem(targets: AgentTargets, agentId: string | undefined): string | undefined {
  if (!agentId?.trim() || targets.allowedAgentIds === undefined) return undefined;
  return targets.allowedAgentIds.has(targetAgentId(targets, agentId)!) ? undefined : AGENT_ID_NOT_ALLOWED;
}

/** hooks.allowedSessionKeyPrefixes as OpenClaw compares them: trimmed, lowercased, blanks dropped; none = undefined. */
export function normalizeSessionKeyPrefixes(prefixes: readonly string[] | undefined): string[] | undefined {
  if (!prefixes) return undefined;
  const set = new Set(prefixes.map((p) => p.trim().toLowerCase()).filter((p) => p !== ""));
  return set.size > 0 ? [...set] : undefined;
}

/** Case-insensitive, on the trimmed key (OpenClaw's isSessionKeyAllowedByPrefix). */
export function sessionKeyHasPrefix(sessionKey: string, prefixes: readonly string[]): boolean {
  const key = sessionKey.trim().toLowerCase();
  return key !== "" && prefixes.some((p) => key.startsWith(p));
}

export const sessionKeyPrefixError = (prefixes: readonly string[]) => `sessionKey must start with one of: ${prefixes.join(", ")}`;

/**
 * The 400 text refusing a session key, if the policy refuses it. `request` keys need hooks.allowRequestSessionKey;
 * keys a mapping renders do not (OpenClaw); both must match the (normalized) prefixes.
 */
export function sessionKeyProblem(
  policy: { readonly allowRequestSessionKey: boolean; readonly allowedSessionKeyPrefixes?: readonly string[] | undefined },
  sessionKey: string | undefined,
  source: "request" | "mapping" = "request",
): string | undefined {
  if (sessionKey === undefined || !sessionKey.trim()) return undefined;
  if (source === "request" && !policy.allowRequestSessionKey) return SESSION_KEY_DISABLED;
  const prefixes = normalizeSessionKeyPrefixes(policy.allowedSessionKeyPrefixes);
  if (prefixes && !sessionKeyHasPrefix(sessionKey, prefixes)) return sessionKeyPrefixError(prefixes);
  return undefined;
}
