/**
 * Audit logic on real files with an injected environment: each finding code, severities, filters, exit codes, no
 * values; OpenClaw's jsonPath notation and `${VAR}` substitution (test/compat/ compares with the real `openclaw`).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type AuditReport, auditExitCode, formatAuditReport, runAudit } from "../../../node/secrets/audit.ts";
import { ENV_VALUES, PLAINTEXT, type SecretsFixture, leakedValues, makeSecretsFixture } from "../../helpers/secrets-fixtures.ts";

let fx: SecretsFixture;
beforeEach(async () => {
  fx = await makeSecretsFixture();
});
afterEach(async () => {
  await fx.cleanup();
});

const codes = (report: AuditReport) => report.findings.map((f) => `${f.severity} ${f.code} ${f.file.slice(fx.dir.length + 1)}:${f.jsonPath}`);

describe("runAudit", () => {
  it("reports plaintext in config and .env, and legacy auth.json residue, with severities by credential kind", async () => {
    const report = await runAudit({ configPath: fx.configPath, env: { ...ENV_VALUES } });
    expect(codes(report)).toEqual([
      "warn PLAINTEXT_FOUND openclaw.json:models.providers.openai.apiKey",
      "warn PLAINTEXT_FOUND openclaw.json:models.providers.anthropic.headers.x-api-key",
      "error PLAINTEXT_FOUND openclaw.json:gateway.auth.token",
      "warn PLAINTEXT_FOUND openclaw.json:channels.telegram.botToken",
      "warn PLAINTEXT_FOUND .env:$env.MISTRAL_API_KEY",
      "error PLAINTEXT_FOUND .env:$env.OPENCLAW_GATEWAY_TOKEN",
      "warn LEGACY_RESIDUE auth.json:openai",
      "warn LEGACY_RESIDUE auth.json:groq",
    ]);
    expect(report).toMatchObject({
      version: 1,
      status: "findings",
      resolution: { refsChecked: 2, skippedExecRefs: 0, resolvabilityComplete: true },
      filesScanned: [fx.dotenvPath, fx.authPath, fx.configPath],
      summary: { plaintextCount: 6, unresolvedRefCount: 0, shadowedRefCount: 0, legacyResidueCount: 2 },
    });
    expect(auditExitCode(report, false)).toBe(0);
    expect(auditExitCode(report, true)).toBe(1);
    const human = formatAuditReport(report);
    expect(human).toMatch(/^SEVERITY\s+CODE\s+WHERE\s+MESSAGE$/m);
    expect(human).toContain("status: findings — 6 plaintext, 0 unresolved, 0 shadowed, 2 legacy residue");
    expect(leakedValues(JSON.stringify(report) + human)).toEqual([]);
  });

  it("an unresolvable ref is an error finding with the resolver's message and exit 2 whatever the flags", async () => {
    const report = await runAudit({ configPath: fx.configPath, env: { HOOKS_SECRET: ENV_VALUES.HOOKS_SECRET }, severityMin: "error" });
    const unresolved = report.findings.filter((f) => f.code === "REF_UNRESOLVED");
    expect(unresolved).toEqual([
      {
        code: "REF_UNRESOLVED",
        severity: "error",
        file: fx.configPath,
        jsonPath: "channels.discord.token",
        message: 'Environment variable "DISCORD_TOKEN" is missing or empty.',
      },
    ]);
    expect(report.status).toBe("unresolved");
    expect(auditExitCode(report, false)).toBe(2);
    expect(auditExitCode(report, true)).toBe(2);
  });

  it("--severity-min drops lower findings from the list and the summary", async () => {
    const report = await runAudit({ configPath: fx.configPath, env: { ...ENV_VALUES }, severityMin: "error" });
    expect(codes(report)).toEqual([
      "error PLAINTEXT_FOUND openclaw.json:gateway.auth.token",
      "error PLAINTEXT_FOUND .env:$env.OPENCLAW_GATEWAY_TOKEN",
    ]);
    expect(report.summary).toEqual({ plaintextCount: 2, unresolvedRefCount: 0, shadowedRefCount: 0, legacyResidueCount: 0 });
  });

  it("a variable in the current environment that tools read instead of a ref is a shadow; naming it, never its value", async () => {
    await writeFile(
      fx.configPath,
      JSON.stringify({
        hooks: { enabled: true, token: { source: "env", provider: "default", id: "HOOKS_SECRET" } },
        channels: { discord: { token: { source: "env", provider: "default", id: "DISCORD_TOKEN" } } },
      }),
    );
    const report = await runAudit({
      configPath: fx.configPath,
      env: { ...ENV_VALUES, OPENCLAW_HOOKS_TOKEN: "shadow-VALUE-9999" },
      severityMin: "warn",
    });
    const shadowed = report.findings.filter((f) => f.code === "REF_SHADOWED");
    expect(shadowed).toHaveLength(1);
    expect(shadowed[0]).toMatchObject({ jsonPath: "hooks.token", file: fx.configPath, severity: "warn" });
    expect(shadowed[0]!.message).toContain("OPENCLAW_HOOKS_TOKEN");
    expect(JSON.stringify(report)).not.toContain("shadow-VALUE-9999");
    // DISCORD_TOKEN is what the discord env ref reads: that is its intended use, not a shadow.
    expect(shadowed.some((f) => f.jsonPath === "channels.discord.token")).toBe(false);
  });

  it("a usable auth-profile credential shadows a provider apiKey ref (reported at the ref, as OpenClaw does)", async () => {
    await writeFile(
      fx.configPath,
      JSON.stringify({ models: { providers: { openai: { apiKey: { source: "env", provider: "default", id: "OPENAI_API_KEY" } }, groq: {} } } }),
    );
    const agentDir = join(fx.dir, "agents", "main", "agent");
    await mkdir(agentDir, { recursive: true });
    await writeFile(
      join(agentDir, "auth-profiles.json"),
      JSON.stringify({ profiles: { "openai:default": { type: "api_key", provider: "openai", key: "sk-profile-SECRET" }, "x:oauth": { type: "oauth" } } }),
    );
    await writeFile(fx.authPath, JSON.stringify({ openai: { type: "api_key", key: "sk-x" }, old: { type: "oauth", access: "a" } }));
    await writeFile(fx.dotenvPath, "LOG_LEVEL=debug\nGROQ_API_KEY=\nOPENAI_API_KEY=${VAULT_OPENAI}\n");
    const report = await runAudit({ configPath: fx.configPath, env: { OPENAI_API_KEY: "sk-env" } });
    expect(codes(report)).toEqual([
      "warn PLAINTEXT_FOUND agents/main/agent/auth-profiles.json:profiles.openai:default.key",
      "warn REF_SHADOWED openclaw.json:models.providers.openai.apiKey",
      // OpenClaw's .env check names its provider variables, whatever the value holds.
      "warn PLAINTEXT_FOUND .env:$env.OPENAI_API_KEY",
      "warn LEGACY_RESIDUE auth.json:openai",
    ]);
    expect(report.findings.find((f) => f.code === "REF_SHADOWED")?.provider).toBe("openai");
    expect(report.filesScanned).toHaveLength(4);
    expect(JSON.stringify(report)).not.toContain("sk-profile-SECRET");
  });

  it("exec refs are skipped without allowExec and make resolvability incomplete", async () => {
    await writeFile(
      fx.configPath,
      JSON.stringify({
        secrets: { providers: { vault: { source: "exec", command: join(fx.dir, "no-such-resolver") } } },
        gateway: { auth: { token: { source: "exec", provider: "vault", id: "gateway/token" } } },
      }),
    );
    const skipped = await runAudit({ configPath: fx.configPath, env: {} });
    expect(skipped.resolution).toEqual({ refsChecked: 0, skippedExecRefs: 1, resolvabilityComplete: false });
    expect(skipped.findings.some((f) => f.code === "REF_UNRESOLVED")).toBe(false);

    const checked = await runAudit({ configPath: fx.configPath, env: {}, allowExec: true });
    expect(checked.resolution).toEqual({ refsChecked: 1, skippedExecRefs: 0, resolvabilityComplete: true });
    expect(checked.findings.filter((f) => f.code === "REF_UNRESOLVED").map((f) => [f.jsonPath, f.provider])).toEqual([
      ["gateway.auth.token", undefined],
    ]);
    expect(checked.status).toBe("unresolved");
  });

  it("an invalid config (a JSON5 syntax error, an unset ${VAR}) is one <root> finding and exit 2; the files beside it are still scanned", async () => {
    await writeFile(fx.dotenvPath, "OPENAI_API_KEY=sk-env-plain\n");
    for (const text of ["{ models: { providers: { openai: { apiKey: 'x', } } }", '{"models":{"providers":{"openai":{"apiKey":"${UNSET_KEY}"}}}}']) {
      await writeFile(fx.configPath, text);
      const report = await runAudit({ configPath: fx.configPath, env: {} });
      expect(codes(report).filter((c) => !c.includes("LEGACY_RESIDUE"))).toEqual(["error REF_UNRESOLVED openclaw.json:<root>", "warn PLAINTEXT_FOUND .env:$env.OPENAI_API_KEY"]);
      expect([auditExitCode(report, false), auditExitCode(report, true)]).toEqual([2, 2]);
    }
  });

  it("reports Google Chat service accounts in plaintext (a string or an object) and resolves their refs", async () => {
    await writeFile(
      fx.configPath,
      JSON.stringify({
        channels: {
          googlechat: {
            serviceAccount: { type: "service_account", private_key: "k" },
            accounts: { a: { serviceAccount: "{}" }, b: { serviceAccountRef: { source: "env", provider: "default", id: "GCHAT_SA" } }, c: { serviceAccount: {} } },
          },
        },
      }),
    );
    await writeFile(fx.dotenvPath, "");
    await writeFile(fx.authPath, "{}");
    const report = await runAudit({ configPath: fx.configPath, env: {} });
    expect(codes(report)).toEqual([
      "warn PLAINTEXT_FOUND openclaw.json:channels.googlechat.serviceAccount",
      "warn PLAINTEXT_FOUND openclaw.json:channels.googlechat.accounts.a.serviceAccount",
      "error REF_UNRESOLVED openclaw.json:channels.googlechat.accounts.b.serviceAccount",
    ]);
  });

  it("a ${VAR} is substituted as OpenClaw loads it: plaintext on OpenClaw's paths, an env ref on the paths only clawgate audits", async () => {
    await writeFile(fx.configPath, JSON.stringify({ models: { providers: { openai: { apiKey: "${OPENAI_API_KEY}" } } }, hooks: { enabled: true, token: "${HOOKS_SECRET}" } }));
    await writeFile(fx.dotenvPath, "");
    await writeFile(fx.authPath, "{}");
    const report = await runAudit({ configPath: fx.configPath, env: { OPENAI_API_KEY: "sk-VALUE-1", HOOKS_SECRET: "hooks-VALUE-2" } });
    expect(codes(report)).toEqual(["warn PLAINTEXT_FOUND openclaw.json:models.providers.openai.apiKey"]);
    expect(JSON.stringify(report)).not.toMatch(/VALUE-/);
  });

  it("a config with refs only and nothing else around it is clean", async () => {
    await writeFile(fx.configPath, JSON.stringify({ hooks: { token: { source: "env", provider: "default", id: "HOOKS_SECRET" } }, customSection: { a: PLAINTEXT.openai } }));
    await writeFile(fx.dotenvPath, "LOG_LEVEL=debug\n");
    await writeFile(fx.authPath, "{}");
    const report = await runAudit({ configPath: fx.configPath, env: { ...ENV_VALUES } });
    expect(report.status).toBe("clean");
    expect(report.findings).toEqual([]);
    expect(auditExitCode(report, true)).toBe(0);
    expect(formatAuditReport(report)).not.toContain("SEVERITY");
  });
});
