/**
 * Validation of the OpenClaw hook payloads (docs/openclaw-compat.md §5) with OpenClaw's exact error texts; the
 * edge and the node both run it, so a bad call gets the same 400 wherever it is caught. Web-standard only.
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

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const fail = (error: string): Parsed<never> => ({ ok: false, error });

function optionalString(body: Record<string, unknown>, field: string): Parsed<string | undefined> {
  const v = body[field];
  if (v === undefined || v === null) return { ok: true, value: undefined };
  return typeof v === "string" ? { ok: true, value: v } : fail(`${field} must be a string`);
}

function wakeMode(v: unknown, field: string): Parsed<WakeMode> {
  if (v === undefined || v === null) return { ok: true, value: "now" };
  return v === "now" || v === "next-heartbeat" ? { ok: true, value: v } : fail(`${field} must be "now" or "next-heartbeat"`);
}

export function parseWakePayload(body: unknown): Parsed<WakePayload> {
  if (!isObject(body)) return fail("body must be a JSON object");
  const text = body["text"];
  if (typeof text !== "string" || text.trim() === "") return fail("text required");
  const mode = wakeMode(body["mode"], "mode");
  if (!mode.ok) return mode;
  return { ok: true, value: { text, mode: mode.value } };
}

export function parseAgentPayload(body: unknown): Parsed<AgentPayload> {
  if (!isObject(body)) return fail("body must be a JSON object");
  const message = body["message"];
  if (typeof message !== "string" || message.trim() === "") return fail("message required");
  const strings: Record<string, string | undefined> = {};
  for (const field of ["name", "agentId", "sessionKey", "channel", "to", "model", "thinking", "idempotencyKey"]) {
    const parsed = optionalString(body, field);
    if (!parsed.ok) return parsed;
    strings[field] = parsed.value;
  }
  const mode = wakeMode(body["wakeMode"], "wakeMode");
  if (!mode.ok) return mode;
  const deliver = body["deliver"];
  if (deliver !== undefined && typeof deliver !== "boolean") return fail("deliver must be a boolean");
  const timeout = body["timeoutSeconds"];
  if (timeout !== undefined && (typeof timeout !== "number" || !Number.isInteger(timeout) || timeout <= 0)) {
    return fail("timeoutSeconds must be a positive integer");
  }
  if (strings["idempotencyKey"] !== undefined && strings["idempotencyKey"].length > MAX_IDEMPOTENCY_KEY) {
    return fail(`idempotencyKey must be at most ${MAX_IDEMPOTENCY_KEY} characters`);
  }
  const value: AgentPayload = {
    message,
    name: strings["name"] || "Hook",
    wakeMode: mode.value,
    deliver: deliver ?? true,
    channel: strings["channel"] || "last",
    ...(strings["agentId"] ? { agentId: strings["agentId"] } : {}),
    ...(strings["sessionKey"] ? { sessionKey: strings["sessionKey"] } : {}),
    ...(strings["to"] ? { to: strings["to"] } : {}),
    ...(strings["model"] ? { model: strings["model"] } : {}),
    ...(strings["thinking"] ? { thinking: strings["thinking"] } : {}),
    ...(typeof timeout === "number" ? { timeoutSeconds: timeout } : {}),
    ...(strings["idempotencyKey"] ? { idempotencyKey: strings["idempotencyKey"] } : {}),
  };
  return { ok: true, value };
}

/**
 * The `hooks` policy checks and their texts (docs/openclaw-compat.md §5), the one copy: the node's compiled policy
 * (node/intake/hooks-policy.ts) runs them, and the edge runs them again as defense in depth.
 */
export const AGENT_ID_NOT_ALLOWED = "agentId is not allowed by hooks.allowedAgentIds";
export const SESSION_KEY_DISABLED =
  "sessionKey is disabled for external /hooks/agent payloads; set hooks.allowRequestSessionKey=true to enable";

/** `allowedAgentIds` omitted or containing "*" = any agent; [] = no explicit agent routing. */
export function agentIdProblem(allowedAgentIds: readonly string[] | undefined, agentId: string | undefined): string | undefined {
  if (agentId === undefined || allowedAgentIds === undefined || allowedAgentIds.includes("*")) return undefined;
  return allowedAgentIds.includes(agentId) ? undefined : AGENT_ID_NOT_ALLOWED;
}

/** The 400 text refusing a caller-chosen session key, if the policy refuses it. */
export function sessionKeyProblem(
  policy: { readonly allowRequestSessionKey: boolean; readonly allowedSessionKeyPrefixes?: readonly string[] | undefined },
  sessionKey: string | undefined,
): string | undefined {
  if (sessionKey === undefined) return undefined;
  if (!policy.allowRequestSessionKey) return SESSION_KEY_DISABLED;
  const prefixes = policy.allowedSessionKeyPrefixes;
  if (prefixes && !prefixes.some((p) => sessionKey.startsWith(p))) return `sessionKey must start with one of: ${prefixes.join(", ")}`;
  return undefined;
}
