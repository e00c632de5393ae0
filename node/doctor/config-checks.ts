/** Doctor checks on the config's content: binding, hooks policy, tokens (compared, never shown) and edge keys. */
import type { LoadedConfig } from "../config/config-file.ts";
import { DEFAULT_HOOKS_PATH } from "../intake/hooks-policy.ts";
import { type ProviderIo, createProviderRegistry } from "../secrets/provider-registry.ts";
import { resolveRefs } from "../secrets/resolve-refs.ts";
import { classifyCredential, refKey } from "../config/secret-ref.ts";
import { isLoopbackAddress } from "../config/loopback-address.ts";
import { AGENT_MODEL_FIX, agentsWithoutModel } from "../config/agent-model-rule.ts";
import type { DoctorFinding } from "./doctor-finding.ts";

/** OpenClaw's `hooks.token_too_short` threshold. */
export const MIN_HOOK_TOKEN_LENGTH = 24;

/** A token's value for comparison, or why it has none; the value never leaves this module's callers. */
export type TokenState =
  | { readonly kind: "missing" }
  | { readonly kind: "value"; readonly value: string; readonly plaintext: boolean }
  | { readonly kind: "skipped"; readonly reason: string }
  | { readonly kind: "unresolved"; readonly reason: string };

/** Resolve `hooks.token` and `gateway.auth.token` the way the agent would; exec refs only when allowed. */
export async function resolveInboundTokens(
  loaded: LoadedConfig,
  options: { allowExec: boolean; providerIo?: ProviderIo },
): Promise<{ hook: TokenState; gateway: TokenState }> {
  const registry = createProviderRegistry(loaded.config.secrets, options.providerIo);
  const one = async (raw: unknown): Promise<TokenState> => {
    const value = classifyCredential(raw, loaded.defaultEnvProvider);
    if (value.kind === "plaintext") return value.value === "" ? { kind: "missing" } : { kind: "value", value: value.value, plaintext: true };
    if (value.kind !== "ref") return { kind: "missing" };
    if (value.ref.source === "exec" && !options.allowExec) {
      return { kind: "skipped", reason: "an exec ref (pass --allow-exec to run its resolver)" };
    }
    const result = await resolveRefs([value.ref], registry, 1);
    const resolved = result.values.get(refKey(value.ref));
    if (resolved === undefined) return { kind: "unresolved", reason: result.errors.get(refKey(value.ref))?.message ?? "unresolved" };
    return { kind: "value", value: resolved, plaintext: false };
  };
  const hooks = loaded.raw["hooks"] as Record<string, unknown> | undefined;
  const gateway = loaded.raw["gateway"] as { auth?: Record<string, unknown> } | undefined;
  return { hook: await one(hooks?.["token"]), gateway: await one(gateway?.auth?.["token"]) };
}

/** An agent without a model gives every heartbeat, wake and agent call up at once, though each was accepted. */
export function agentModelFindings(loaded: LoadedConfig): DoctorFinding[] {
  return agentsWithoutModel(loaded.config.agents).map(({ id, problem }) => ({
    checkId: "agents.no_model",
    severity: "warn",
    title: `agent "${id}" cannot run`,
    detail: problem,
    remediation: AGENT_MODEL_FIX,
  }));
}

export function bindingFindings(loaded: LoadedConfig): DoctorFinding[] {
  const findings: DoctorFinding[] = [];
  const bind = loaded.config.gateway?.bind;
  if (bind !== undefined && bind !== "loopback") {
    findings.push({
      checkId: "gateway.bind_not_loopback",
      severity: "critical",
      title: "gateway.bind is not loopback",
      detail: `gateway.bind is "${bind}"; the node agent refuses to start with it (early-2026 scans found ~42,665 exposed gateways)`,
      remediation: 'set gateway.bind to "loopback" (or remove it) and reach the host through the edge and a tunnel',
    });
  }
  const host = loaded.config.clawgate?.node?.host;
  if (host !== undefined && !isLoopbackAddress(host)) {
    findings.push({
      checkId: "gateway.bind_not_loopback",
      severity: "critical",
      title: "clawgate.node.host is not a loopback address",
      detail: `clawgate.node.host is "${host}"; only 127.0.0.0/8 and ::1 are accepted`,
      remediation: 'set clawgate.node.host to "127.0.0.1"',
    });
  }
  return findings;
}

export function hooksFindings(loaded: LoadedConfig, tokens: { hook: TokenState; gateway: TokenState }): DoctorFinding[] {
  const hooks = loaded.config.hooks;
  if (!hooks?.enabled) {
    return [
      {
        checkId: "hooks.disabled",
        severity: "info",
        title: "hooks are disabled",
        detail: "hooks.enabled is not true: neither the edge nor a local cron line can wake this host",
        remediation: "set hooks.enabled: true with a hooks.token (a SecretRef is accepted)",
      },
    ];
  }
  const findings: DoctorFinding[] = [];
  const { hook, gateway } = tokens;
  if (hook.kind === "missing") {
    findings.push({
      checkId: "hooks.token_missing",
      severity: "critical",
      title: "hooks.enabled without hooks.token",
      detail: "hooks.enabled requires hooks.token; the node agent refuses to start",
      remediation: "generate one (openssl rand -base64 32) into your secrets file and set hooks.token to a SecretRef",
    });
  } else if (hook.kind === "skipped" || hook.kind === "unresolved") {
    findings.push({
      checkId: "hooks.token_unchecked",
      severity: hook.kind === "unresolved" ? "critical" : "info",
      title: hook.kind === "unresolved" ? "hooks.token does not resolve" : "hooks.token length and reuse not checked",
      detail: hook.kind === "unresolved" ? `hooks.token: ${hook.reason}` : `hooks.token is ${hook.reason}`,
      ...(hook.kind === "unresolved" ? { remediation: "clawgate secrets audit --check shows why" } : {}),
    });
  } else {
    if (hook.value.length < MIN_HOOK_TOKEN_LENGTH) {
      findings.push({
        checkId: "hooks.token_too_short",
        severity: "warn",
        title: "hooks.token is short",
        detail: `hooks.token has ${hook.value.length} characters; at least ${MIN_HOOK_TOKEN_LENGTH} are expected`,
        remediation: "replace it with 32 random bytes (openssl rand -base64 32) and update your cron line and edge",
      });
    }
    if (gateway.kind === "value" && gateway.value === hook.value) {
      findings.push({
        checkId: "hooks.token_reuse_gateway_token",
        severity: "critical",
        title: "hooks.token equals the gateway token",
        detail: "a hook caller would hold full gateway access; the node agent refuses to start",
        remediation: "give hooks.token its own random value",
      });
    }
    if (hook.plaintext) {
      findings.push({
        checkId: "config.secrets.hooks_token_in_config",
        severity: "warn",
        title: "hooks.token is plaintext in the config",
        detail: `${loaded.path}: hooks.token is a literal string`,
        remediation: "clawgate secrets configure moves it into a SecretRef",
      });
    }
  }
  const ids = hooks.allowedAgentIds;
  if (ids === undefined || ids.includes("*")) {
    findings.push({
      checkId: "hooks.allowed_agent_ids_unrestricted",
      severity: "warn",
      title: "hooks may target any agent",
      detail: ids === undefined ? "hooks.allowedAgentIds is not set" : 'hooks.allowedAgentIds contains "*"',
      remediation: 'list the agents hooks may run, e.g. hooks.allowedAgentIds: ["main"]',
    });
  }
  if (hooks.allowRequestSessionKey === true && (hooks.allowedSessionKeyPrefixes ?? []).length === 0) {
    findings.push({
      checkId: "hooks.request_session_key_enabled",
      severity: "warn",
      title: "callers may choose any session key",
      detail: "hooks.allowRequestSessionKey is true and hooks.allowedSessionKeyPrefixes is empty",
      remediation: 'set hooks.allowedSessionKeyPrefixes: ["hook:"] or turn hooks.allowRequestSessionKey off',
    });
  }
  if (hooks.defaultSessionKey === undefined) {
    findings.push({
      checkId: "hooks.default_session_key_unset",
      severity: "info",
      title: "hooks.defaultSessionKey is not set",
      detail: "each hook call without a sessionKey gets a new hook:<uuid> session",
      remediation: 'set hooks.defaultSessionKey, e.g. "hook:ingress"',
    });
  }
  if ((hooks.path ?? DEFAULT_HOOKS_PATH).replace(/\/+$/, "") === "") {
    findings.push({
      checkId: "hooks.path_root",
      severity: "critical",
      title: "hooks.path is /",
      detail: "hooks.path may not be '/'; the node agent refuses to start",
      remediation: 'use the default "/hooks"',
    });
  }
  return findings;
}

export function edgeFindings(loaded: LoadedConfig): DoctorFinding[] {
  const keys = loaded.config.clawgate?.edge?.publicKeys ?? [];
  if (keys.length === 0) {
    return [
      {
        checkId: "edge.public_key_missing",
        severity: "warn",
        title: "no edge public key configured",
        detail: "clawgate.edge.publicKeys is empty: the node accepts only the hook token, so the edge cannot deliver",
        remediation: "clawgate edge keys --private-out edge-key.json, then add the printed public JWK to clawgate.edge.publicKeys",
      },
    ];
  }
  if (!loaded.config.clawgate?.node?.id) {
    return [
      {
        checkId: "edge.node_id_missing",
        severity: "critical",
        title: "clawgate.node.id is not set",
        detail: "clawgate.edge.publicKeys is set but clawgate.node.id is not; the node agent refuses to start",
        remediation: "set clawgate.node.id to the id the edge signs envelopes for",
      },
    ];
  }
  return [];
}
