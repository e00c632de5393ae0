/** Doctor's config checks, one variant each: hook token missing/short/reused/exec-held, agent ids, session keys, hooks.path, edge key and node id. */
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../../node/config/config-file.ts";
import { bindingFindings, edgeFindings, hooksFindings, resolveInboundTokens } from "../../../node/doctor/config-checks.ts";

const load = (config: Record<string, unknown>) => parseConfig(JSON.stringify(config), "/etc/openclaw.json");
const ids = (findings: { checkId: string; severity: string }[]) => findings.map((f) => `${f.checkId}:${f.severity}`);

async function hooksOf(hooks: Record<string, unknown>, extra: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}) {
  const loaded = load({ hooks: { enabled: true, allowedAgentIds: ["main"], defaultSessionKey: "hook:ingress", ...hooks }, ...extra });
  const tokens = await resolveInboundTokens(loaded, { allowExec: false, providerIo: { env } });
  return hooksFindings(loaded, tokens);
}

describe("hooks checks", () => {
  it("a well-kept hooks block (token from env, 32 chars, own value) has no finding", async () => {
    const env = { OPENCLAW_HOOKS_TOKEN: "h".repeat(32), OPENCLAW_GATEWAY_TOKEN: "g".repeat(32) };
    const findings = await hooksOf(
      { token: "${OPENCLAW_HOOKS_TOKEN}" },
      { gateway: { auth: { token: "${OPENCLAW_GATEWAY_TOKEN}" } } },
      env,
    );
    expect(findings).toEqual([]);
  });

  it("flags a missing token as critical", async () => {
    expect(ids(await hooksOf({}))).toEqual(["hooks.token_missing:critical"]);
  });

  it("flags a token under 24 characters and one equal to the gateway token, never quoting either", async () => {
    const env = { HT: "short-token-123", GT: "short-token-123" };
    const findings = await hooksOf({ token: "${HT}" }, { gateway: { auth: { token: "${GT}" } } }, env);
    expect(ids(findings)).toEqual(["hooks.token_too_short:warn", "hooks.token_reuse_gateway_token:critical"]);
    expect(findings[0]?.detail).toBe("hooks.token has 15 characters; at least 24 are expected");
    expect(JSON.stringify(findings)).not.toContain("short-token-123");
  });

  it("does not run an exec resolver without --allow-exec, and says the token went unchecked", async () => {
    const findings = await hooksOf(
      { token: { source: "exec", provider: "vault", id: "hooks/token" } },
      { secrets: { providers: { vault: { source: "exec", command: "/nonexistent/resolver" } } } },
    );
    expect(ids(findings)).toEqual(["hooks.token_unchecked:info"]);
    expect(findings[0]?.detail).toBe("hooks.token is an exec ref (pass --allow-exec to run its resolver)");
  });

  it("reports an unresolvable token ref as critical", async () => {
    const findings = await hooksOf({ token: "${MISSING_TOKEN}" });
    expect(ids(findings)).toEqual(["hooks.token_unchecked:critical"]);
    expect(findings[0]?.detail).toBe('hooks.token: Environment variable "MISSING_TOKEN" is missing or empty.');
  });

  it("flags unrestricted agent ids (omitted or *), session keys without prefixes, no default session key, and path /", async () => {
    const env = { HT: "x".repeat(40) };
    const findings = await hooksOf(
      { token: "${HT}", allowedAgentIds: ["*"], allowRequestSessionKey: true, defaultSessionKey: undefined, path: "/" },
      {},
      env,
    );
    expect(ids(findings)).toEqual([
      "hooks.allowed_agent_ids_unrestricted:warn",
      "hooks.request_session_key_enabled:warn",
      "hooks.default_session_key_unset:info",
      "hooks.path_root:critical",
    ]);
    const prefixed = await hooksOf({ token: "${HT}", allowedAgentIds: undefined, allowRequestSessionKey: true, allowedSessionKeyPrefixes: ["hook:"] }, {}, env);
    expect(ids(prefixed)).toEqual(["hooks.allowed_agent_ids_unrestricted:warn"]);
  });

  it("notes disabled hooks only as info", async () => {
    const loaded = load({ hooks: { enabled: false } });
    expect(ids(hooksFindings(loaded, await resolveInboundTokens(loaded, { allowExec: false })))).toEqual(["hooks.disabled:info"]);
  });
});

describe("token resolution through a file provider", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "clawgate-doctor-tokens-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads a file ref the way the agent does (0600 required)", async () => {
    const file = join(dir, "secrets.json");
    await writeFile(file, JSON.stringify({ hooks: "same-value-long-enough-for-24", gw: "same-value-long-enough-for-24" }));
    await chmod(file, 0o600);
    const findings = await hooksOf(
      { token: { source: "file", provider: "f", id: "/hooks" } },
      { secrets: { providers: { f: { source: "file", path: file } } }, gateway: { auth: { token: { source: "file", provider: "f", id: "/gw" } } } },
    );
    expect(ids(findings)).toEqual(["hooks.token_reuse_gateway_token:critical"]);
  });
});

describe("binding and edge checks", () => {
  it("flags gateway.bind other than loopback and a non-loopback clawgate.node.host", () => {
    expect(ids(bindingFindings(load({ gateway: { bind: "loopback" }, clawgate: { node: { host: "::1" } } })))).toEqual([]);
    expect(ids(bindingFindings(load({ gateway: { bind: "tailnet" }, clawgate: { node: { host: "0.0.0.0" } } })))).toEqual([
      "gateway.bind_not_loopback:critical",
      "gateway.bind_not_loopback:critical",
    ]);
  });

  it("wants an edge public key, and a node id once there is one", () => {
    expect(ids(edgeFindings(load({})))).toEqual(["edge.public_key_missing:warn"]);
    const key = { kty: "OKP", crv: "Ed25519", x: "AAAA", kid: "k1", alg: "EdDSA" };
    expect(ids(edgeFindings(load({ clawgate: { edge: { publicKeys: [key] } } })))).toEqual(["edge.node_id_missing:critical"]);
    expect(edgeFindings(load({ clawgate: { node: { id: "n1" }, edge: { publicKeys: [key] } } }))).toEqual([]);
  });
});
