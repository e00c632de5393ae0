/**
 * The `hooks` policy compiled once at start (docs/openclaw-compat.md §5): path, body limit, who may be targeted,
 * which session keys a caller may choose, and the model allowlist. Invalid combinations refuse to start.
 */
import type { Config } from "../config/config-schema.ts";
import { type AgentPayload, agentIdProblem, sessionKeyProblem } from "../../shared/hook-payloads.ts";
import { HooksConfigError } from "./hooks-config-error.ts";
import { type HookMappings, type SessionKeySource, compileHookMappings } from "./hook-mappings.ts";

export { HooksConfigError };

export const DEFAULT_HOOKS_PATH = "/hooks";
export const DEFAULT_MAX_BODY_BYTES = 262_144;

export interface HooksPolicy {
  readonly enabled: boolean;
  readonly path: string;
  readonly maxBodyBytes: number;
  /** `hooks.mappings`, compiled (empty when hooks are off). */
  readonly mappings: HookMappings;
  /**
   * The session key of an agent call, or the 400 text refusing it. A key the caller chose (`request`, or a
   * mapping's templated key) needs hooks.allowRequestSessionKey; an operator's static mapping key does not.
   * Every chosen key must match hooks.allowedSessionKeyPrefixes (OpenClaw's resolveHookSessionKey).
   */
  sessionKeyFor(payload: AgentPayload, newId: () => string, source?: SessionKeySource): { ok: true; value: string } | { ok: false; error: string };
  /** The 400 text refusing the payload's agent or model, if any. */
  targetProblem(payload: AgentPayload): string | undefined;
}

/** `hookToken`/`gatewayToken` are the resolved values (from the secrets snapshot), only compared. */
export function compileHooksPolicy(config: Config, tokens: { hookToken?: string; gatewayToken?: string }): HooksPolicy {
  const hooks = config.hooks ?? {};
  const enabled = hooks.enabled === true;
  const path = (hooks.path ?? DEFAULT_HOOKS_PATH).replace(/\/+$/, "") || "/";
  const prefixes = hooks.allowedSessionKeyPrefixes;
  if (enabled) {
    if (!tokens.hookToken) throw new HooksConfigError("hooks.enabled requires hooks.token");
    if (path === "/") throw new HooksConfigError("hooks.path may not be '/'");
    if (prefixes && hooks.defaultSessionKey === undefined && !prefixes.includes("hook:")) {
      throw new HooksConfigError("hooks.allowedSessionKeyPrefixes must include 'hook:' when hooks.defaultSessionKey is unset");
    }
    if (tokens.gatewayToken && tokens.hookToken === tokens.gatewayToken) {
      throw new HooksConfigError("hooks.token must differ from gateway.auth.token");
    }
  }
  // The agent and session-key checks and their texts are shared with the edge (shared/hook-payloads.ts).
  const agentIds = hooks.allowedAgentIds;
  const models = config.agents?.defaults?.models;
  const allowedModels = models ? new Set(Object.keys(models)) : undefined;
  const requestKeys = { allowRequestSessionKey: hooks.allowRequestSessionKey === true, allowedSessionKeyPrefixes: prefixes };
  // An operator's static mapping key needs no opt-in, only the prefixes.
  const operatorKeys = { allowRequestSessionKey: true, allowedSessionKeyPrefixes: prefixes };
  // Compiled only when hooks are on: a disabled section must not block the start.
  const mappings = compileHookMappings(enabled ? hooks.mappings : undefined);

  return {
    enabled,
    path,
    maxBodyBytes: hooks.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    mappings,
    targetProblem(payload) {
      const agentProblem = agentIdProblem(agentIds, payload.agentId);
      if (agentProblem) return agentProblem;
      if (payload.model !== undefined && allowedModels && !allowedModels.has(payload.model)) {
        return `model "${payload.model}" is not allowed by agents.defaults.models`;
      }
      return undefined;
    },
    sessionKeyFor(payload, newId, source = "request") {
      if (payload.sessionKey === undefined) return { ok: true, value: hooks.defaultSessionKey ?? `hook:${newId()}` };
      const problem = sessionKeyProblem(source === "mapping-static" ? operatorKeys : requestKeys, payload.sessionKey);
      return problem ? { ok: false, error: problem } : { ok: true, value: payload.sessionKey };
    },
  };
}
