/** A temp `~/.openclaw`-like folder with plaintext credentials in the config, `.env` and auth.json, for secrets tests. */
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Every plaintext value the fixture holds; none may ever appear in any output. */
export const PLAINTEXT = {
  openai: "sk-openai-PLAINTEXT-1111",
  openaiLegacy: "sk-openai-LEGACY-1112",
  anthropicHeader: "sk-ant-PLAINTEXT-2222",
  gateway: "gw-token-PLAINTEXT-3333",
  gatewayDotenv: "gw-token-DOTENV-3334",
  telegram: "123456:tg-bot-PLAINTEXT-4444",
  mistral: "mistral-DOTENV-5555",
  groq: "gsk-LEGACY-6666",
} as const;

/** Values the env provides to the refs already in the config. */
export const ENV_VALUES = { HOOKS_SECRET: "hooks-ENV-7777", DISCORD_TOKEN: "discord-ENV-8888" } as const;

export const ALL_SECRET_VALUES: readonly string[] = [...Object.values(PLAINTEXT), ...Object.values(ENV_VALUES)];

/** JSON5 on purpose: a comment and a trailing comma, as operators write it. */
export function fixtureConfigText(): string {
  return `// operator notes: this comment is lost when clawgate rewrites the file
{
  models: {
    providers: {
      openai: { baseUrl: "https://api.openai.com/v1", apiKey: "${PLAINTEXT.openai}" },
      anthropic: { baseUrl: "https://api.anthropic.com", headers: { "x-api-key": "${PLAINTEXT.anthropicHeader}", "anthropic-version": "2023-06-01" } },
      mistral: { baseUrl: "https://api.mistral.ai/v1" },
      groq: { baseUrl: "https://api.groq.com/openai/v1" },
    },
  },
  gateway: { port: 18789, auth: { mode: "token", token: "${PLAINTEXT.gateway}" } },
  hooks: { enabled: true, token: "\${HOOKS_SECRET}" },
  channels: {
    telegram: { enabled: true, botToken: "${PLAINTEXT.telegram}" },
    discord: { enabled: true, token: { source: "env", provider: "default", id: "DISCORD_TOKEN" } },
  },
  agents: { defaults: { workspace: "~/work", heartbeat: { every: "30m" } } },
  customSection: { keep: [1, 2, 3], nested: { flag: true } },
}
`;
}

export function fixtureDotenvText(): string {
  return [
    "# provider keys for the gateway",
    `MISTRAL_API_KEY=${PLAINTEXT.mistral}`,
    "LOG_LEVEL=debug",
    "",
    `export OPENCLAW_GATEWAY_TOKEN="${PLAINTEXT.gatewayDotenv}" # duplicate of the config`,
    "",
  ].join("\n");
}

export function fixtureAuthJson(): string {
  return `${JSON.stringify(
    {
      openai: { type: "api_key", key: PLAINTEXT.openaiLegacy },
      groq: { type: "api_key", key: PLAINTEXT.groq },
    },
    null,
    2,
  )}\n`;
}

export interface SecretsFixture {
  readonly dir: string;
  readonly configPath: string;
  readonly dotenvPath: string;
  readonly authPath: string;
  /** The environment to run the CLI with: HOME is the fixture folder, the env refs resolve. */
  readonly env: NodeJS.ProcessEnv;
  cleanup(): Promise<void>;
}

export async function makeSecretsFixture(): Promise<SecretsFixture> {
  const dir = await mkdtemp(join(tmpdir(), "clawgate-secrets-"));
  const configPath = join(dir, "openclaw.json");
  const dotenvPath = join(dir, ".env");
  const authPath = join(dir, "auth.json");
  await writeFile(configPath, fixtureConfigText(), { mode: 0o600 });
  await writeFile(dotenvPath, fixtureDotenvText(), { mode: 0o600 });
  await writeFile(authPath, fixtureAuthJson(), { mode: 0o600 });
  return {
    dir,
    configPath,
    dotenvPath,
    authPath,
    env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: dir, ...ENV_VALUES },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Bytes, mode and mtime of every file in `dir` (recursively): equal before and after = nothing written. */
export async function snapshotDir(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const [s, bytes] = await Promise.all([stat(path), readFile(path)]);
    out[path.slice(dir.length + 1)] = `${s.mtimeMs}:${(s.mode & 0o777).toString(8)}:${bytes.toString("base64")}`;
  }
  return out;
}

/** The secret values among `values` that occur in `text`. */
export function leakedValues(text: string, values: readonly string[] = ALL_SECRET_VALUES): string[] {
  return values.filter((v) => text.includes(v));
}
