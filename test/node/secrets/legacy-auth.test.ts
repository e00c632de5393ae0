/** Legacy auth.json and auth-profile stores: reading, scrubbing, and the runtime's ref-overrides-plaintext warnings. */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../../node/config/config-file.ts";
import {
  LegacyAuthError,
  findAuthProfileFiles,
  findOverriddenPlaintext,
  legacyAuthPath,
  readAuthProfiles,
  readLegacyAuth,
  scrubAuthProfiles,
  scrubLegacyAuth,
} from "../../../node/secrets/legacy-auth.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "clawgate-legacy-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const KEY = "sk-legacy-SECRET-1";

describe("legacy auth.json", () => {
  it("is absent without a file and names the file (never the content) when broken", async () => {
    const path = join(dir, "auth.json");
    expect(await readLegacyAuth(path)).toBeUndefined();
    await writeFile(path, `{"openai": {"key": "${KEY}"`);
    const error = await readLegacyAuth(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LegacyAuthError);
    expect((error as Error).message).toBe(`${path}: not valid JSON`);
  });

  it("scrubs only the api_key entries of the given providers", async () => {
    const path = legacyAuthPath(join(dir, "openclaw.json"));
    const text = JSON.stringify({
      openai: { type: "api_key", key: KEY },
      groq: { type: "api_key", key: "gsk-other" },
      codex: { type: "oauth", access: "token" },
    });
    await writeFile(path, text);
    const file = (await readLegacyAuth(path))!;
    expect(file.entries.map((e) => [e.provider, e.type])).toEqual([
      ["openai", "api_key"],
      ["groq", "api_key"],
      ["codex", "oauth"],
    ]);
    const result = scrubLegacyAuth(file, new Set(["openai", "codex"]));
    expect(result.removed).toEqual(["openai"]);
    expect(JSON.parse(result.text)).toEqual({ groq: { type: "api_key", key: "gsk-other" }, codex: { type: "oauth", access: "token" } });
    expect(scrubLegacyAuth(file, new Set(["mistral"])).text).toBe(text);
  });
});

describe("auth profiles", () => {
  it("finds per-agent stores and scrubs a provider's api_key profiles with their order/lastGood references", async () => {
    const agentDir = join(dir, "agents", "main", "agent");
    await mkdir(agentDir, { recursive: true });
    await mkdir(join(dir, "agents", "empty", "agent"), { recursive: true });
    const path = join(agentDir, "auth-profiles.json");
    await writeFile(
      path,
      JSON.stringify({
        version: 1,
        profiles: {
          "openai:default": { type: "api_key", provider: "openai", key: KEY },
          "anthropic:work": { type: "api_key", key: "sk-ant" },
          "openai:oauth": { type: "oauth", provider: "openai", access: "x" },
        },
        order: { openai: ["openai:default", "openai:oauth"] },
        lastGood: { openai: "openai:default", anthropic: "anthropic:work" },
      }),
    );
    expect(await findAuthProfileFiles(dir)).toEqual([path]);
    const store = (await readAuthProfiles(path))!;
    expect(store.entries.map((e) => [e.id, e.provider])).toEqual([
      ["openai:default", "openai"],
      ["anthropic:work", "anthropic"],
      ["openai:oauth", "openai"],
    ]);
    const result = scrubAuthProfiles(store, new Set(["openai"]));
    expect(result.removed).toEqual(["openai:default"]);
    const doc = JSON.parse(result.text) as Record<string, unknown>;
    expect(Object.keys(doc["profiles"] as object)).toEqual(["anthropic:work", "openai:oauth"]);
    expect(doc["order"]).toEqual({ openai: ["openai:oauth"] });
    expect(doc["lastGood"]).toEqual({ anthropic: "anthropic:work" });
  });
});

describe("findOverriddenPlaintext", () => {
  it("warns for a provider apiKey ref whose provider still has a plaintext key in auth.json", async () => {
    const configPath = join(dir, "openclaw.json");
    await writeFile(join(dir, "auth.json"), JSON.stringify({ openai: { type: "api_key", key: KEY }, groq: { type: "api_key", key: "g" } }));
    const loaded = parseConfig(
      JSON.stringify({
        models: {
          providers: {
            openai: { apiKey: { source: "env", provider: "default", id: "OPENAI_API_KEY" } },
            groq: { apiKey: "plaintext-here" },
          },
        },
      }),
      configPath,
    );
    const warnings = await findOverriddenPlaintext(loaded, ["models.providers.openai.apiKey"]);
    expect(warnings).toEqual([
      {
        code: "SECRETS_REF_OVERRIDES_PLAINTEXT",
        path: "models.providers.openai.apiKey",
        message: expect.stringContaining(join(dir, "auth.json")),
      },
    ]);
    expect(JSON.stringify(warnings)).not.toContain(KEY);
    expect(await findOverriddenPlaintext(loaded, [])).toEqual([]);
  });

  it("never fails activation over an unreadable store", async () => {
    const configPath = join(dir, "openclaw.json");
    await writeFile(join(dir, "auth.json"), "{broken");
    const loaded = parseConfig(
      JSON.stringify({ models: { providers: { openai: { apiKey: "${OPENAI_API_KEY}" } } } }),
      configPath,
    );
    expect(await findOverriddenPlaintext(loaded, ["models.providers.openai.apiKey"])).toEqual([]);
  });
});
