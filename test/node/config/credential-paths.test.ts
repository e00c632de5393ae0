/** The credential registry finds every credential location, skips inactive surfaces and never walks prototypes. */
import { describe, expect, it } from "vitest";
import { credentialSpecFor, envNamesFor, findCredentials, isSensitive } from "../../../node/config/credential-paths.ts";

const config = {
  models: {
    providers: {
      openai: { apiKey: "sk-1", headers: { Authorization: "Bearer x", "anthropic-version": "2023-06-01" } },
      local: { baseUrl: "http://127.0.0.1:11434/v1" },
    },
  },
  gateway: { auth: { token: { source: "env", provider: "default", id: "GW" } } },
  hooks: { enabled: true, token: "${HOOK_TOKEN}" },
  channels: { telegram: { botToken: "t" }, slack: { enabled: false, botToken: "s", signingSecret: "x" } },
  skills: { entries: { search: { apiKey: "k" } } },
  agents: { list: [{ id: "main", runtime: { type: "openclaw", token: "tok" } }] },
};

describe("findCredentials", () => {
  const byPath = new Map(findCredentials(config).map((m) => [m.path, m]));

  it("finds every registered location that is present", () => {
    expect([...byPath.keys()].sort()).toEqual(
      [
        "agents.list.0.runtime.token",
        "channels.slack.botToken",
        "channels.slack.signingSecret",
        "channels.telegram.botToken",
        "gateway.auth.token",
        "hooks.token",
        'models.providers.openai.headers.Authorization',
        "models.providers.openai.headers.anthropic-version",
        "models.providers.openai.apiKey",
        "skills.entries.search.apiKey",
      ].sort(),
    );
  });

  it("marks disabled channels inactive", () => {
    expect(byPath.get("channels.slack.botToken")?.active).toBe(false);
    expect(byPath.get("channels.telegram.botToken")?.active).toBe(true);
  });

  it("treats only credential-looking headers as sensitive", () => {
    expect(isSensitive(byPath.get("models.providers.openai.headers.Authorization")!)).toBe(true);
    expect(isSensitive(byPath.get("models.providers.openai.headers.anthropic-version")!)).toBe(false);
  });

  it("derives conventional env names", () => {
    expect(envNamesFor(byPath.get("models.providers.openai.apiKey")!)).toEqual(["OPENAI_API_KEY"]);
    expect(envNamesFor(byPath.get("channels.telegram.botToken")!)).toEqual(["TELEGRAM_BOT_TOKEN"]);
  });

  it("never follows __proto__ or inherited keys", () => {
    const hostile = JSON.parse('{"models":{"providers":{"__proto__":{"apiKey":"x"}}}}') as Record<string, unknown>;
    expect(findCredentials(hostile)).toEqual([]);
  });
});

describe("credentialSpecFor", () => {
  it("matches concrete segments to a registry entry", () => {
    expect(credentialSpecFor(["models", "providers", "openai", "apiKey"])?.type).toBe("models.providers.apiKey");
    expect(credentialSpecFor(["hooks", "token"])?.type).toBe("hooks.token");
    expect(credentialSpecFor(["gateway", "port"])).toBeUndefined();
    expect(credentialSpecFor(["models", "providers", "openai"])).toBeUndefined();
  });
});
