/** The runtime snapshot: eager resolution, fail-fast activation, atomic reload with last-known-good, one event per transition. */
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type LoadedConfig, loadConfig, parseConfig } from "../../../node/config/config-file.ts";
import { SecretsActivationError } from "../../../node/secrets/secret-errors.ts";
import { type SecretsEvent, createSecretsReloader } from "../../../node/secrets/secrets-reloader.ts";
import { installFakeResolver } from "../../helpers/fake-resolver.ts";
import { realIo } from "../../helpers/daemon-io.ts";

let dir: string;
let configPath: string;
let secretsPath: string;
let env: NodeJS.ProcessEnv;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "clawgate-runtime-"));
  configPath = join(dir, "openclaw.json");
  secretsPath = join(dir, "secrets.json");
  env = { OPENAI_API_KEY: "sk-env-value-1", GW_TOKEN: "gw-token-value-1" };
  await writeSecrets({ providers: { anthropic: { apiKey: "sk-ant-file-1" } } });
  await writeConfig();
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeSecrets(doc: unknown, mode = 0o600) {
  await writeFile(secretsPath, JSON.stringify(doc));
  await chmod(secretsPath, mode);
}

async function writeConfig(extra: Record<string, unknown> = {}) {
  await writeFile(
    configPath,
    JSON.stringify({
      secrets: { providers: { filemain: { source: "file", path: secretsPath } } },
      models: {
        providers: {
          openai: { apiKey: "${OPENAI_API_KEY}" },
          anthropic: { apiKey: { source: "file", provider: "filemain", id: "/providers/anthropic/apiKey" } },
          local: { apiKey: "plain-local-key" },
        },
      },
      gateway: { auth: { token: { source: "env", provider: "default", id: "GW_TOKEN" } } },
      ...extra,
    }),
  );
}

function runtime(options: { loadConfig?: (p: string) => Promise<LoadedConfig> } = {}) {
  const events: SecretsEvent[] = [];
  const rt = createSecretsReloader({ io: realIo, configPath, providerIo: { env }, ...options });
  rt.onEvent((e) => events.push(e));
  return { rt, events };
}

describe("activation", () => {
  it("resolves every active ref eagerly into a frozen snapshot", async () => {
    const { rt } = runtime();
    const snap = await rt.activate();
    expect(snap.get("models.providers.openai.apiKey")).toBe("sk-env-value-1");
    expect(snap.get("models.providers.anthropic.apiKey")).toBe("sk-ant-file-1");
    expect(snap.get("models.providers.local.apiKey")).toBe("plain-local-key");
    expect(snap.get("gateway.auth.token")).toBe("gw-token-value-1");
    expect(snap.refCount).toBe(3);
    expect(snap.version).toBe(1);
    expect(Object.isFrozen(snap)).toBe(true);
    expect(rt.health()).toBe("healthy");
  });

  it("fails fast with one line per failing ref and never a value", async () => {
    delete env["GW_TOKEN"];
    await writeSecrets({ providers: { anthropic: { apiKey: "sk-ant-file-1" } } }, 0o640);
    const { rt } = runtime();
    const error = await rt.activate().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SecretsActivationError);
    const report = (error as SecretsActivationError).report();
    expect(report.split("\n")).toEqual([
      "Startup failed: required secrets are unavailable.",
      `- env:default:GW_TOKEN: Environment variable "GW_TOKEN" is missing or empty.`,
      `- file:filemain:/providers/anthropic/apiKey: secrets.providers.filemain.path permissions are too open: ${secretsPath}`,
    ]);
    expect(report).not.toContain("sk-");
    expect(rt.health()).toBe("inactive");
    expect(() => rt.snapshot()).toThrow("not active");
  });

  it("reports unknown providers and source mismatches in OpenClaw's words", async () => {
    await writeConfig({
      hooks: { token: { source: "exec", provider: "vault", id: "hooks/token" } },
      channels: { telegram: { botToken: { source: "env", provider: "filemain", id: "TG" } } },
    });
    const error = (await runtime().rt.activate().catch((e: unknown) => e)) as SecretsActivationError;
    expect(error.report()).toContain(
      '- exec:vault:hooks/token: Secret provider "vault" is not configured (ref: exec:vault:hooks/token).',
    );
    expect(error.report()).toContain('- env:filemain:TG: Secret provider "filemain" has source "file" but ref requests "env".');
  });

  it("does not resolve refs on inactive surfaces", async () => {
    await writeConfig({ channels: { slack: { enabled: false, botToken: { source: "env", provider: "default", id: "NOPE" } } } });
    const snap = await runtime().rt.activate();
    expect(snap.get("channels.slack.botToken")).toBeUndefined();
  });
});

describe("exec providers", () => {
  it("spawn exactly once per provider per activation, however many refs each has", async () => {
    const commandA = await installFakeResolver(join(dir, "a"), 0o700);
    const commandB = await installFakeResolver(join(dir, "b"), 0o700);
    const refs = (provider: string, n: number) =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`${provider}${i}`, { apiKey: { source: "exec", provider, id: `svc/${provider}/${i}` } }]));
    await writeFile(
      configPath,
      JSON.stringify({
        secrets: { providers: { vaulta: { source: "exec", command: commandA, args: ["echo"] }, vaultb: { source: "exec", command: commandB, args: ["echo"] } } },
        models: { providers: { ...refs("vaulta", 30), ...refs("vaultb", 20) } },
        // The same ref twice is one id in the batch.
        hooks: { token: { source: "exec", provider: "vaulta", id: "svc/vaulta/0" } },
      }),
    );
    let spawns = 0;
    const countingSpawn = ((...args: Parameters<typeof spawn>) => {
      spawns++;
      return spawn(...args);
    }) as typeof spawn;
    const rt = createSecretsReloader({ io: realIo, configPath, providerIo: { env, exec: { spawn: countingSpawn } } });
    const snap = await rt.activate();
    expect(spawns).toBe(2);
    expect(snap.refCount).toBe(50);
    expect(snap.get("hooks.token")).toBe("v:svc/vaulta/0");
    await rt.reload();
    expect(spawns).toBe(4);
  });
});

describe("reload", () => {
  it("swaps to a fresh snapshot on success", async () => {
    const { rt } = runtime();
    const first = await rt.activate();
    env["OPENAI_API_KEY"] = "sk-env-value-2";
    expect(await rt.reload()).toEqual({ ok: true, warningCount: 0, version: 2 });
    expect(rt.snapshot().get("models.providers.openai.apiKey")).toBe("sk-env-value-2");
    // An old snapshot a request still holds is unaffected.
    expect(first.get("models.providers.openai.apiKey")).toBe("sk-env-value-1");
  });

  it("keeps the last-known-good snapshot and emits DEGRADED once, then RECOVERED once", async () => {
    const { rt, events } = runtime();
    await rt.activate();
    delete env["OPENAI_API_KEY"];
    for (let i = 0; i < 3; i++) {
      const result = await rt.reload();
      expect(result.ok).toBe(false);
      expect(result.error).toContain('Environment variable "OPENAI_API_KEY" is missing or empty.');
      expect(rt.snapshot().get("models.providers.openai.apiKey")).toBe("sk-env-value-1");
      expect(rt.snapshot().version).toBe(1);
    }
    expect(rt.health()).toBe("degraded");
    expect(events.map((e) => e.type)).toEqual(["SECRETS_RELOADER_DEGRADED"]);
    expect(events[0]?.message).toBe("Secret resolution failed; runtime remains on last-known-good snapshot.");

    env["OPENAI_API_KEY"] = "sk-env-value-3";
    expect((await rt.reload()).ok).toBe(true);
    expect((await rt.reload()).ok).toBe(true);
    expect(events.map((e) => e.type)).toEqual(["SECRETS_RELOADER_DEGRADED", "SECRETS_RELOADER_RECOVERED"]);
    expect(rt.health()).toBe("healthy");
    expect(rt.snapshot().get("models.providers.openai.apiKey")).toBe("sk-env-value-3");
  });

  it("keeps the last-known-good when the config itself becomes invalid", async () => {
    const { rt, events } = runtime();
    await rt.activate();
    await writeFile(configPath, "{ broken");
    const result = await rt.reload();
    expect(result.ok).toBe(false);
    expect(result.error).toContain("JSON5 syntax error");
    expect(rt.snapshot().version).toBe(1);
    expect(events.map((e) => e.type)).toEqual(["SECRETS_RELOADER_DEGRADED"]);
  });

  it("serializes activations: passes never overlap", async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const { rt } = runtime({
      loadConfig: async (p) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        try {
          await new Promise((r) => setImmediate(r));
          return await loadConfig(p);
        } finally {
          inFlight--;
        }
      },
    });
    await rt.activate();
    const results = await Promise.all(Array.from({ length: 8 }, () => rt.reload()));
    expect(maxInFlight).toBe(1);
    expect(results.map((r) => r.version)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it("reports warnings from plaintext a ref overrides", async () => {
    const rt = createSecretsReloader({ io: realIo,
      configPath,
      providerIo: { env },
      findOverriddenPlaintext: async (_loaded, refPaths) =>
        refPaths
          .filter((p) => p === "models.providers.openai.apiKey")
          .map((path) => ({ code: "SECRETS_REF_OVERRIDES_PLAINTEXT" as const, path, message: "ref wins" })),
    });
    await rt.activate();
    expect(await rt.reload()).toMatchObject({ ok: true, warningCount: 1 });
  });
});

it("parseConfig + runtime agree on the default env alias", () => {
  const loaded = parseConfig('{ secrets: { defaults: { env: "envmain" } } }', "/x");
  expect(loaded.defaultEnvProvider).toBe("envmain");
});
