/** configure's decisions: candidates from config/.env/auth.json, provider choice, ref ids, the file store, scripted interactive runs. */
import { lstat, mkdir, readFile, stat, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../../node/config/config-file.ts";
import { runConfigure } from "../../../node/secrets/configure.ts";
import { describeOrigin, findMigrationCandidates, readCandidateSources } from "../../../node/secrets/configure-discovery.ts";
import { ConfigureError } from "../../../node/secrets/configure-error.ts";
import { buildPlan, chooseProvider, suggestRefId } from "../../../node/secrets/configure-plan.ts";
import { writeFileStore } from "../../../node/secrets/configure-store.ts";
import { SecretsPlanSchema } from "../../../node/secrets/secrets-plan.ts";
import { ENV_VALUES, PLAINTEXT, type SecretsFixture, leakedValues, makeSecretsFixture, snapshotDir } from "../../helpers/secrets-fixtures.ts";
import { scriptedPrompts } from "../../helpers/secrets-prompts.ts";

let fx: SecretsFixture;
beforeEach(async () => {
  fx = await makeSecretsFixture();
});
afterEach(async () => {
  await fx.cleanup();
});

async function candidates() {
  const loaded = await loadConfig(fx.configPath);
  return { loaded, list: findMigrationCandidates(loaded, await readCandidateSources(fx.configPath)) };
}

describe("findMigrationCandidates", () => {
  it("also finds keys in OpenClaw's per-agent legacy auth.json (<stateDir>/agents/<id>/agent/auth.json)", async () => {
    const agentAuth = join(fx.dir, "agents", "main", "agent", "auth.json");
    await mkdir(dirname(agentAuth), { recursive: true });
    await writeFile(agentAuth, JSON.stringify({ groq: { type: "api_key", key: "gsk-agent-legacy" } }));
    const { list } = await candidates();
    const groq = list.find((c) => c.path === "models.providers.groq.apiKey")!;
    expect(groq.origins.map((o) => describeOrigin(o, fx.dir))).toEqual(['auth.json "groq"', 'agents/main/agent/auth.json "groq"']);
  });

  it("collects each plaintext credential once, from the config, .env (by conventional name) and auth.json", async () => {
    const { list } = await candidates();
    expect(list.map((c) => [c.path, c.origins.map((o) => describeOrigin(o, fx.dir)).join(", ")])).toEqual([
      ["models.providers.openai.apiKey", 'config, auth.json "openai"'],
      ["models.providers.anthropic.headers.x-api-key", "config"],
      ["gateway.auth.token", "config, .env OPENCLAW_GATEWAY_TOKEN"],
      ["channels.telegram.botToken", "config"],
      ["models.providers.mistral.apiKey", ".env MISTRAL_API_KEY"],
      ["models.providers.groq.apiKey", 'auth.json "groq"'],
    ]);
    // The config's own value wins over the copies elsewhere: it is what runs today.
    expect(list.find((c) => c.path === "models.providers.openai.apiKey")!.plaintext).toBe(PLAINTEXT.openai);
    expect(list.find((c) => c.path === "gateway.auth.token")!.plaintext).toBe(PLAINTEXT.gateway);
    expect(list.find((c) => c.path === "models.providers.mistral.apiKey")!.plaintext).toBe(PLAINTEXT.mistral);
  });

  it("ignores keys for providers the config does not declare and paths that already hold refs", async () => {
    await writeFile(fx.authPath, JSON.stringify({ cohere: { type: "api_key", key: "k" } }));
    await writeFile(fx.dotenvPath, "DISCORD_TOKEN=d\nHOOKS_TOKEN=h\n");
    const { list } = await candidates();
    expect(list.map((c) => c.path)).toEqual([
      "models.providers.openai.apiKey",
      "models.providers.anthropic.headers.x-api-key",
      "gateway.auth.token",
      "channels.telegram.botToken",
    ]);
  });
});

describe("leftovers of paths that already hold a ref", () => {
  it("become scrub-only targets that keep the ref; apply removes the leftover once the ref resolves", async () => {
    await writeFile(
      fx.configPath,
      JSON.stringify({
        models: { providers: { openai: { apiKey: "${OPENAI_API_KEY}" }, groq: { apiKey: "${GROQ_KEY}" } } },
        gateway: { auth: { token: { source: "env", provider: "default", id: "GW" } } },
      }),
    );
    // OPENAI_API_KEY in .env is what the openai env ref reads: not a leftover. The gateway token in .env is.
    await writeFile(fx.dotenvPath, "OPENAI_API_KEY=sk-env\nOPENCLAW_GATEWAY_TOKEN=gw-dotenv-LEFTOVER\n");
    const { list } = await candidates();
    expect(list.map((c) => [c.path, c.existingRef?.id, c.plaintext, c.origins.map((o) => o.kind).join(",")])).toEqual([
      ["gateway.auth.token", "GW", undefined, "dotenv"],
      ["models.providers.openai.apiKey", "OPENAI_API_KEY", undefined, "legacy-auth"],
      ["models.providers.groq.apiKey", "GROQ_KEY", undefined, "legacy-auth"],
    ]);

    const env = { OPENAI_API_KEY: "sk-env", GROQ_KEY: "g", GW: "gw" };
    const result = await runConfigure({ configPath: fx.configPath, interactive: false, provider: "filemain", apply: true, yes: true, env });
    expect(result.plan.providerUpserts).toBeUndefined();
    expect(result.plan.targets.map((t) => `${t.path} ${t.ref.source}:${t.ref.id}`)).toEqual([
      "gateway.auth.token env:GW",
      "models.providers.openai.apiKey env:OPENAI_API_KEY",
      "models.providers.groq.apiKey env:GROQ_KEY",
    ]);
    expect(result.store).toBeUndefined();
    expect(result.applied?.changes.map((c) => `${c.action} ${c.path}`)).toEqual([
      "scrub-env OPENCLAW_GATEWAY_TOKEN",
      "scrub-legacy-auth openai",
      "scrub-legacy-auth groq",
    ]);
    expect(await readFile(fx.dotenvPath, "utf8")).toBe("OPENAI_API_KEY=sk-env\n");
    expect(JSON.parse(await readFile(fx.authPath, "utf8"))).toEqual({});
  });
});

describe("provider choice and ref ids", () => {
  it("uses an existing provider, the built-in default env alias, or creates a file provider beside the config", async () => {
    await writeFile(
      fx.configPath,
      JSON.stringify({
        secrets: {
          providers: {
            filemain: { source: "file", path: "~/s.json" },
            one: { source: "file", path: "/x", mode: "singleValue" },
            vault: { source: "exec", command: "/usr/bin/vault" },
          },
        },
      }),
    );
    const loaded = await loadConfig(fx.configPath);
    expect(chooseProvider(loaded, "filemain")).toEqual({ alias: "filemain", config: { source: "file", path: "~/s.json" }, upsert: false });
    expect(chooseProvider(loaded, "default")).toEqual({ alias: "default", config: { source: "env" }, upsert: false });
    expect(chooseProvider(loaded, "newfile")).toEqual({
      alias: "newfile",
      config: { source: "file", path: join(fx.dir, "secrets.json"), mode: "json" },
      upsert: true,
    });
    expect(() => chooseProvider(loaded, "vault")).toThrow(/exec providers are read-only/);
    expect(() => chooseProvider(loaded, "one")).toThrow(/singleValue/);
    expect(() => chooseProvider(loaded, "newfile", { skipProviderSetup: true })).toThrow(/--skip-provider-setup/);
    expect(() => chooseProvider(loaded, "Bad")).toThrow(ConfigureError);
  });

  it("suggests a JSON pointer for files, the conventional variable for env, a path-like id for exec", async () => {
    const { list } = await candidates();
    const openai = list[0]!;
    const header = list[1]!;
    expect(suggestRefId(openai, { source: "file", path: "/s", mode: "json" })).toBe("/models/providers/openai/apiKey");
    expect(suggestRefId(openai, { source: "file", path: "/s", mode: "singleValue" })).toBe("value");
    expect(suggestRefId(openai, { source: "env" })).toBe("OPENAI_API_KEY");
    expect(suggestRefId(header, { source: "env" })).toBe("MODELS_PROVIDERS_ANTHROPIC_HEADERS_X_API_KEY");
    expect(suggestRefId(openai, { source: "exec", command: "/v" })).toBe("models/providers/openai/apiKey");
  });

  it("builds a valid refs-only plan", async () => {
    const { loaded, list } = await candidates();
    const choice = chooseProvider(loaded, "filemain");
    const plan = buildPlan({ choice, targets: list.map((candidate) => ({ candidate, id: suggestRefId(candidate, choice.config) })) });
    expect(SecretsPlanSchema.parse(plan)).toEqual(plan);
    expect(plan.providerUpserts).toEqual({ filemain: choice.config });
    expect(plan.targets[0]).toEqual({
      type: "models.providers.apiKey",
      path: "models.providers.openai.apiKey",
      pathSegments: ["models", "providers", "openai", "apiKey"],
      providerId: "openai",
      ref: { source: "file", provider: "filemain", id: "/models/providers/openai/apiKey" },
    });
    expect(leakedValues(JSON.stringify(plan))).toEqual([]);
  });
});

describe("writeFileStore", () => {
  it("creates the folder 0700 and the file 0600, keeps other keys, and does not rewrite identical content", async () => {
    const path = join(fx.dir, "vault", "secrets.json");
    const provider = { source: "file", path, mode: "json" };
    const first = await writeFileStore(provider, [{ id: "/a/b", value: "v1" }]);
    expect(first).toEqual({ file: path, count: 1, changed: true });
    expect((await stat(join(fx.dir, "vault"))).mode & 0o777).toBe(0o700);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    await writeFileStore(provider, [{ id: "/c~1d", value: "v2" }]);
    expect(JSON.parse(await readFile(path, "utf8"))).toEqual({ a: { b: "v1" }, "c/d": "v2" });
    const mtime = (await stat(path)).mtimeMs;
    expect((await writeFileStore(provider, [{ id: "/a/b", value: "v1" }])).changed).toBe(false);
    expect((await stat(path)).mtimeMs).toBe(mtime);
  });

  it("refuses a symlinked store, a non-object JSON store, and a pointer through a string", async () => {
    const real = join(fx.dir, "real.json");
    await writeFile(real, "{}");
    const link = join(fx.dir, "link.json");
    await symlink(real, link);
    await expect(writeFileStore({ source: "file", path: link }, [{ id: "/a", value: "v" }])).rejects.toThrow(/symlink/);
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    await writeFile(real, "[1]");
    await expect(writeFileStore({ source: "file", path: real }, [{ id: "/a", value: "v" }])).rejects.toThrow(/not a JSON object/);
    await writeFile(real, '{"a":"str"}');
    await expect(writeFileStore({ source: "file", path: real }, [{ id: "/a/b", value: "v" }])).rejects.toThrow(/\/a in .* is not an object/);
  });
});

describe("runConfigure", () => {
  it("non-interactive: refuses without --provider, --apply without --yes, or an exec provider, writing nothing", async () => {
    const before = await snapshotDir(fx.dir);
    const base = { configPath: fx.configPath, interactive: false, env: { ...ENV_VALUES } };
    await expect(runConfigure(base)).rejects.toThrow(/pass --provider <alias>/);
    await expect(runConfigure({ ...base, provider: "filemain", apply: true })).rejects.toThrow(/--apply needs --yes/);
    expect(await snapshotDir(fx.dir)).toEqual(before);
    await writeFile(fx.configPath, JSON.stringify({ secrets: { providers: { vault: { source: "exec", command: "/usr/bin/true" } } } }));
    const exec = await snapshotDir(fx.dir);
    await expect(runConfigure({ ...base, provider: "vault", planOut: join(fx.dir, "plan.json") })).rejects.toThrow(/read-only/);
    expect(await snapshotDir(fx.dir)).toEqual(exec);
  });

  it("non-interactive env provider: the plan uses conventional names, no value is stored, and apply preflights the environment", async () => {
    const planOut = join(fx.dir, "plan.json");
    const result = await runConfigure({ configPath: fx.configPath, interactive: false, provider: "default", planOut, env: { ...ENV_VALUES } });
    expect(result.store).toBeUndefined();
    expect(result.plan.targets.map((t) => t.ref.id)).toEqual([
      "OPENAI_API_KEY",
      "MODELS_PROVIDERS_ANTHROPIC_HEADERS_X_API_KEY",
      "OPENCLAW_GATEWAY_TOKEN",
      "TELEGRAM_BOT_TOKEN",
      "MISTRAL_API_KEY",
      "GROQ_API_KEY",
    ]);
    expect(result.warnings[0]).toMatch(/stores nothing: set OPENAI_API_KEY, /);
    const planText = await readFile(planOut, "utf8");
    expect(leakedValues(planText)).toEqual([]);
    expect((await stat(planOut)).mode & 0o777).toBe(0o600);

    const before = await snapshotDir(fx.dir);
    await expect(
      runConfigure({ configPath: fx.configPath, interactive: false, provider: "default", apply: true, yes: true, env: { ...ENV_VALUES } }),
    ).rejects.toThrow(/preflight failed, nothing written/);
    expect(await snapshotDir(fx.dir)).toEqual(before);
  });

  it("an env provider with an allowlist gets the new names added through a provider upsert", async () => {
    await writeFile(
      fx.configPath,
      JSON.stringify({ secrets: { providers: { envmain: { source: "env", allowlist: ["OTHER"] } } }, gateway: { auth: { token: "gw-x" } } }),
    );
    const result = await runConfigure({ configPath: fx.configPath, interactive: false, provider: "envmain", env: {} });
    expect(result.preview).toBe(true);
    expect(result.plan.providerUpserts).toEqual({ envmain: { source: "env", allowlist: ["OTHER", "OPENCLAW_GATEWAY_TOKEN"] } });
  });

  it("interactive: a new file provider, some credentials moved with chosen ids, others left, then applied", async () => {
    const prompts = scriptedPrompts([
      "new:file",
      "vaultfile",
      (initial) => initial as string, // the suggested path beside the config
      true, // openai
      (initial) => initial as string,
      false, // anthropic header stays
      true, // gateway token
      "/gateway/token",
      true, // telegram
      (initial) => initial as string,
      true, // mistral
      (initial) => initial as string,
      false, // groq stays in auth.json
      true, // apply?
    ]);
    const result = await runConfigure({ configPath: fx.configPath, interactive: true, prompts, env: { ...ENV_VALUES } });
    expect(prompts.asked[0]).toBe("select: Which secret provider should hold these credentials?");
    expect(prompts.asked.at(-1)).toMatch(/^confirm: store 4 value\(s\) in .*secrets\.json and apply this plan now\?$/);
    expect(result.applied?.changes.map((c) => `${c.action} ${c.path}`)).toEqual([
      "upsert-provider secrets.providers.vaultfile",
      "set-ref models.providers.openai.apiKey",
      "set-ref gateway.auth.token",
      "set-ref channels.telegram.botToken",
      "set-ref models.providers.mistral.apiKey",
      "scrub-env MISTRAL_API_KEY",
      "scrub-env OPENCLAW_GATEWAY_TOKEN",
      "scrub-legacy-auth openai",
    ]);
    const store = JSON.parse(await readFile(join(fx.dir, "secrets.json"), "utf8")) as Record<string, unknown>;
    expect(store).toEqual({
      models: { providers: { openai: { apiKey: PLAINTEXT.openai }, mistral: { apiKey: PLAINTEXT.mistral } } },
      gateway: { token: PLAINTEXT.gateway },
      channels: { telegram: { botToken: PLAINTEXT.telegram } },
    });
    const config = await readFile(fx.configPath, "utf8");
    expect(leakedValues(config)).toEqual([PLAINTEXT.anthropicHeader]);
    expect(JSON.parse(await readFile(fx.authPath, "utf8"))).toEqual({ groq: { type: "api_key", key: PLAINTEXT.groq } });
    expect(leakedValues(prompts.asked.join("\n") + prompts.shown.join("\n"))).toEqual([]);
  });

  it("interactive: a cancel at any prompt writes nothing", async () => {
    const before = await snapshotDir(fx.dir);
    const prompts = scriptedPrompts(["new:file", "vaultfile", undefined]);
    const error = await runConfigure({ configPath: fx.configPath, interactive: true, prompts }).catch((e: unknown) => e);
    expect((error as ConfigureError).code).toBe("ERR_CONFIGURE_CANCELLED");
    expect(await snapshotDir(fx.dir)).toEqual(before);
  });
});
