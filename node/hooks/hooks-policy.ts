/**
 * The `hooks` policy compiled once at start (openclaw-compat §5): path, body limit, who may be targeted,
 * which session keys a caller may choose, and the model allowlist. Invalid combinations refuse to start.
 */
import type { Config } from "../config/config-schema.ts";
import type { AgentPayload } from "../../shared/hook-payloads.ts";

export class HooksConfigError extends Error {
  override readonly name = "HooksConfigError";
  readonly code = "ERR_HOOKS_CONFIG";
}

export const DEFAULT_HOOKS_PATH = "/hooks";
export const DEFAULT_MAX_BODY_BYTES = 262_144;

export interface HooksPolicy {
  readonly enabled: boolean;
  readonly path: string;
  readonly maxBodyBytes: number;
  /** The session key of an agent call, or the 400 text refusing it. */
  sessionKeyFor(payload: AgentPayload, newId: () => string): { ok: true; value: string } | { ok: false; error: string };
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
  // omitted or containing "*" = any agent; [] = no explicit agent routing (openclaw-compat §5).
  const agentIds = hooks.allowedAgentIds;
  const anyAgent = agentIds === undefined || agentIds.includes("*");
  const allowedAgents = new Set(agentIds ?? []);
  const models = config.agents?.defaults?.models;
  const allowedModels = models ? new Set(Object.keys(models)) : undefined;
  const allowRequestKey = hooks.allowRequestSessionKey === true;

  return {
    enabled,
    path,
    maxBodyBytes: hooks.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    targetProblem(payload) {
      if (payload.agentId !== undefined && !anyAgent && !allowedAgents.has(payload.agentId)) {
        return "agentId is not allowed by hooks.allowedAgentIds";
      }
      if (payload.model !== undefined && allowedModels && !allowedModels.has(payload.model)) {
        return `model "${payload.model}" is not allowed by agents.defaults.models`;
      }
      return undefined;
    },
    sessionKeyFor(payload, newId) {
      if (payload.sessionKey === undefined) return { ok: true, value: hooks.defaultSessionKey ?? `hook:${newId()}` };
      if (!allowRequestKey) {
        return {
          ok: false,
          error: "sessionKey is disabled for external /hooks/agent payloads; set hooks.allowRequestSessionKey=true to enable",
        };
      }
      if (prefixes && !prefixes.some((p) => payload.sessionKey!.startsWith(p))) {
        return { ok: false, error: `sessionKey must start with one of: ${prefixes.join(", ")}` };
      }
      return { ok: true, value: payload.sessionKey };
    },
  };
}
