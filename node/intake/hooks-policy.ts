/**
 * The `hooks` policy compiled once at start (docs/openclaw-compat.md §5): path, body limit, deliverable channels,
 * who may be targeted, which session keys a caller may choose, and the model allowlist. Invalid combinations
 * refuse to start with OpenClaw's texts.
 */
import type { Config } from "../config/config-schema.ts";
import {
  type AgentPayload,
  type AgentTargets,
  agentIdProblem,
  compileAgentTargets,
  normalizeAgentId,
  normalizeSessionKeyPrefixes,
  sessionKeyHasPrefix,
  sessionKeyPrefixError,
  sessionKeyProblem,
  targetAgentId,
} from "../../shared/hook-payloads.ts";
import { HooksConfigError } from "./hooks-config-error.ts";
import { type HookMappingConfig, type HookMappings, type SessionKeySource, compileHookMappings } from "./hook-mappings.ts";

export { HooksConfigError };

export const DEFAULT_HOOKS_PATH = "/hooks";
export const DEFAULT_MAX_BODY_BYTES = 262_144;

export interface HooksPolicy {
  readonly enabled: boolean;
  readonly path: string;
  readonly maxBodyBytes: number;
  /** `hooks.mappings`, compiled (empty when hooks are off). */
  readonly mappings: HookMappings;
  /** Channels an agent call may name besides "last": the configured `channels.<id>` (lowercased). */
  readonly channels: readonly string[];
  /**
   * The session key of an agent call, or the 400 text refusing it (OpenClaw's resolveHookSessionKey). A key the
   * caller sent needs hooks.allowRequestSessionKey; a key a mapping renders does not. Every chosen key, and a
   * generated one, must match hooks.allowedSessionKeyPrefixes (case-insensitive). A key naming its own target
   * agent (`agent:<target>:rest`) is stored as `rest`.
   */
  sessionKeyFor(payload: AgentPayload, newId: () => string, source?: SessionKeySource): { ok: true; value: string } | { ok: false; error: string };
  /** The 400 text refusing the payload's agent, if any (unknown ids fall back to the default agent first). */
  targetProblem(payload: AgentPayload): string | undefined;
  /** The configured id of the agent the call runs on, or undefined for the default agent when none was named. */
  agentFor(payload: AgentPayload): string | undefined;
  /**
   * The payload's model when the allowlist (agents.defaults.models) allows it; undefined when it does not, so the
   * run uses the agent's own model, as OpenClaw does (it checks the allowlist at run time and falls back).
   */
  modelFor(payload: AgentPayload): string | undefined;
}

/** `hookToken`/`gatewayToken` are the resolved values (from the secrets snapshot), only compared. */
export function compileHooksPolicy(config: Config, tokens: { hookToken?: string; gatewayToken?: string }): HooksPolicy {
  const hooks = config.hooks ?? {};
  const enabled = hooks.enabled === true;
  const path = (hooks.path?.trim() ?? DEFAULT_HOOKS_PATH).replace(/\/+$/, "") || "/";
  const prefixes = normalizeSessionKeyPrefixes(hooks.allowedSessionKeyPrefixes);
  const defaultSessionKey = hooks.defaultSessionKey?.trim() || undefined;
  if (enabled) {
    if (!tokens.hookToken?.trim()) throw new HooksConfigError("hooks.enabled requires hooks.token");
    if (path === "/") throw new HooksConfigError("hooks.path may not be '/'");
    if (defaultSessionKey && prefixes && !sessionKeyHasPrefix(defaultSessionKey, prefixes)) {
      throw new HooksConfigError("hooks.defaultSessionKey must match hooks.allowedSessionKeyPrefixes");
    }
    if (!defaultSessionKey && prefixes && !sessionKeyHasPrefix("hook:example", prefixes)) {
      throw new HooksConfigError("hooks.allowedSessionKeyPrefixes must include 'hook:' when hooks.defaultSessionKey is unset");
    }
    if (tokens.gatewayToken && tokens.hookToken === tokens.gatewayToken) {
      throw new HooksConfigError("hooks.token must differ from gateway.auth.token");
    }
  }
  // Agents as OpenClaw resolves them: normalized ids, the default one (first `default: true`, else the first).
  const list = config.agents?.list ?? [];
  const configuredIds = new Map(list.map((a) => [normalizeAgentId(a.id), a.id] as const));
  const defaultEntry = list.find((a) => a.default === true) ?? list[0];
  const targets: AgentTargets = compileAgentTargets([...configuredIds.keys()], defaultEntry?.id ?? "main", hooks.allowedAgentIds);
  const models = config.agents?.defaults?.models;
  const allowedModels = models ? new Map(Object.keys(models).map((key) => [key, key] as const)) : undefined;
  if (models && allowedModels) {
    for (const [key, entry] of Object.entries(models)) {
      const alias = (entry as { alias?: unknown } | undefined)?.alias;
      if (typeof alias === "string" && alias.trim()) allowedModels.set(alias.trim(), key);
    }
  }
  const channels = Object.keys((config as { channels?: Record<string, unknown> }).channels ?? {}).map((c) => c.trim().toLowerCase());
  const sessionPolicy = { allowRequestSessionKey: hooks.allowRequestSessionKey === true, allowedSessionKeyPrefixes: prefixes };
  // Compiled only when hooks are on: a disabled section must not block the start.
  const mappings = compileHookMappings(enabled ? [...(hooks.mappings ?? []), ...presetMappings((hooks as { presets?: unknown }).presets)] : undefined);

  return {
    enabled,
    path,
    maxBodyBytes: hooks.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    mappings,
    channels,
    targetProblem(payload) {
      return agentIdProblem(targets, payload.agentId);
    },
    agentFor(payload) {
      const target = targetAgentId(targets, payload.agentId);
      return target === undefined ? undefined : configuredIds.get(target);
    },
    modelFor(payload) {
      if (payload.model === undefined || !allowedModels) return payload.model;
      return allowedModels.get(payload.model);
    },
    sessionKeyFor(payload, newId, source = "request") {
      const requested = payload.sessionKey?.trim();
      if (!requested) {
        if (defaultSessionKey) return { ok: true, value: defaultSessionKey };
        const generated = `hook:${newId()}`;
        return prefixes && !sessionKeyHasPrefix(generated, prefixes) ? { ok: false, error: sessionKeyPrefixError(prefixes) } : { ok: true, value: generated };
      }
      const problem = sessionKeyProblem(sessionPolicy, requested, source === "request" ? "request" : "mapping");
      if (problem) return { ok: false, error: problem };
      return { ok: true, value: withinTarget(requested, targetAgentId(targets, payload.agentId)) };
    },
  };
}

/**
 * OpenClaw's normalizeHookDispatchSessionKey: an `agent:<id>:rest` key is lowercased; naming the target agent it is
 * stored as `rest` (the run adds its agent back), naming another agent it stays `agent:<id>:rest`.
 */
function withinTarget(sessionKey: string, target: string | undefined): string {
  if (!target) return sessionKey;
  const parts = sessionKey.toLowerCase().split(":").filter(Boolean);
  if (parts.length < 3 || parts[0] !== "agent" || !parts[1]!.trim()) return sessionKey;
  const rest = parts.slice(2).join(":");
  return parts[1] === target ? rest : `agent:${parts[1]}:${rest}`;
}

/** OpenClaw's `hooks.presets`: `gmail` is one mapping, appended after the configured ones; unknown names are ignored. */
const PRESET_MAPPINGS: Record<string, HookMappingConfig[]> = {
  gmail: [
    {
      id: "gmail",
      match: { path: "gmail" },
      action: "agent",
      wakeMode: "now",
      name: "Gmail",
      sessionKey: "hook:gmail:{{messages[0].id}}",
      messageTemplate: "New email from {{messages[0].from}}\nSubject: {{messages[0].subject}}\n{{messages[0].snippet}}\n{{messages[0].body}}",
    },
  ],
};

function presetMappings(presets: unknown): HookMappingConfig[] {
  if (!Array.isArray(presets)) return [];
  return presets.flatMap((name) => (typeof name === "string" && Object.hasOwn(PRESET_MAPPINGS, name) ? PRESET_MAPPINGS[name]! : []));
}

