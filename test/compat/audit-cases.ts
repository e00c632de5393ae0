/**
 * The `secrets audit` differential's configs: each writes an OpenClaw state dir (openclaw.json, .env, auth stores,
 * secret files, a resolver script) and names the environment both tools run with.
 */
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface AuditCase {
  readonly name: string;
  /** Writes the files into `dir` (the state dir, the config at `dir/openclaw.json`); returns the extra env. */
  setup(dir: string): Promise<Record<string, string>>;
}

const write = async (path: string, text: string, mode = 0o600) => {
  await mkdir(join(path, ".."), { recursive: true, mode: 0o700 });
  await writeFile(path, text, { mode });
  await chmod(path, mode);
};
const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
const provider = (apiKey: unknown) => ({ baseUrl: "https://models.example.test/v1", apiKey, models: [] });
const envRef = (id: string) => ({ source: "env", provider: "default", id });

/** An exec resolver speaking the protocol (docs/openclaw-compat.md §2): values for ids it knows, errors for the rest. */
const RESOLVER = `#!/usr/bin/env node
let input = "";
process.stdin.on("data", (d) => (input += d)).on("end", () => {
  const req = JSON.parse(input);
  const values = {}, errors = {};
  for (const id of req.ids) if (id.startsWith("good/")) values[id] = "resolved-" + id.slice(5); else errors[id] = { message: "not found" };
  process.stdout.write(JSON.stringify({ protocolVersion: 1, values, errors }));
});
`;

async function resolver(dir: string): Promise<string> {
  const path = join(dir, "bin", "resolver.mjs");
  await write(path, RESOLVER, 0o700);
  return path;
}

export const AUDIT_CASES: readonly AuditCase[] = [
  {
    name: "clean env, file and exec refs",
    async setup(dir) {
      await write(join(dir, "secrets.json"), json({ providers: { anthropic: "sk-ant-from-file" } }));
      const command = await resolver(dir);
      await write(join(dir, "openclaw.json"), json({
        secrets: { providers: { filemain: { source: "file", path: join(dir, "secrets.json"), mode: "json" }, vault: { source: "exec", command, passEnv: ["PATH"] } } },
        models: { providers: { openai: provider(envRef("OPENAI_API_KEY")), anthropic: provider({ source: "file", provider: "filemain", id: "/providers/anthropic" }) } },
        skills: { entries: { web: { apiKey: { source: "exec", provider: "vault", id: "good/web" } } } },
      }));
      return { OPENAI_API_KEY: "sk-openai-from-env" };
    },
  },
  {
    name: "plaintext in every audited path",
    async setup(dir) {
      await write(join(dir, "openclaw.json"), json({
        models: { providers: { openai: provider("sk-plain-openai"), "my-llm": provider("sk-plain-custom") } },
        skills: { entries: { web: { apiKey: "skill-plain-key" }, off: { enabled: false, apiKey: "skill-plain-disabled" } } },
        channels: {
          googlechat: {
            serviceAccount: { type: "service_account", private_key: "-----BEGIN PRIVATE KEY-----x" },
            accounts: { work: { serviceAccount: '{"type":"service_account"}' }, empty: { serviceAccount: {} } },
          },
          telegram: { botToken: "123456:telegram-plain" },
        },
        gateway: { mode: "local", auth: { token: "gateway-plain-token-0123456789" } },
      }));
      return {};
    },
  },
  {
    name: "unresolvable refs",
    async setup(dir) {
      await write(join(dir, "secrets.json"), json({ providers: {} }));
      await write(join(dir, "openclaw.json"), json({
        secrets: { providers: { filemain: { source: "file", path: join(dir, "secrets.json"), mode: "json" } } },
        models: {
          providers: {
            openai: provider(envRef("OPENAI_API_KEY")),
            anthropic: provider({ source: "file", provider: "filemain", id: "/providers/anthropic" }),
            mistral: provider({ source: "env", provider: "nowhere", id: "MISTRAL_API_KEY" }),
          },
        },
      }));
      return {};
    },
  },
  {
    name: "loose permissions on a secrets file",
    async setup(dir) {
      await write(join(dir, "secrets.json"), json({ k: "sk-loose" }), 0o644);
      await write(join(dir, "openclaw.json"), json({
        secrets: { providers: { filemain: { source: "file", path: join(dir, "secrets.json"), mode: "json" } } },
        models: { providers: { openai: provider({ source: "file", provider: "filemain", id: "/k" }) } },
      }));
      return {};
    },
  },
  {
    name: "residues: .env, legacy auth.json, auth profiles, shadowing",
    async setup(dir) {
      await write(join(dir, "openclaw.json"), json({
        models: { providers: { openai: provider(envRef("OPENAI_API_KEY")), anthropic: provider(envRef("ANTHROPIC_API_KEY")) } },
        agents: { list: [{ id: "main", default: true }, { id: "ops" }] },
      }));
      await write(join(dir, ".env"), "# keys\nOPENAI_API_KEY=sk-env-plain\nexport ANTHROPIC_API_KEY='sk-ant-plain'\nMISTRAL_API_KEY=\nUNRELATED=value\n");
      await write(join(dir, "agents", "main", "agent", "auth.json"), json({ openai: { type: "api_key", key: "sk-legacy" }, google: { type: "oauth", access: "a" } }));
      await write(join(dir, "agents", "main", "agent", "auth-profiles.json"), json({
        version: 1,
        profiles: {
          "openai:default": { type: "api_key", provider: "openai", key: "sk-profile-plain" },
          "anthropic:tok": { type: "token", provider: "anthropic", token: "tok-plain" },
          "google:me": { type: "oauth", provider: "google", access: "acc", refresh: "ref" },
          "noprovider:x": { type: "api_key", key: "sk-orphan" },
        },
      }));
      // The older legacy location, beside the config (clawgate looks there too).
      await write(join(dir, "auth.json"), json({ anthropic: { type: "api_key", key: "sk-ant-legacy" } }));
      await write(join(dir, "agents", "ops", "agent", "auth-profiles.json"), json({ profiles: { "mistral:ref": { type: "api_key", provider: "mistral", keyRef: envRef("MISTRAL_API_KEY") } } }));
      return { OPENAI_API_KEY: "sk-openai-env", ANTHROPIC_API_KEY: "sk-ant-env" };
    },
  },
  {
    name: "${VAR} set: substituted at load",
    async setup(dir) {
      await write(join(dir, "openclaw.json"), '{ models: { providers: { openai: { baseUrl: "https://models.example.test/v1", apiKey: "${OPENAI_API_KEY}", models: [] } } } }\n');
      return { OPENAI_API_KEY: "sk-substituted" };
    },
  },
  {
    name: "${VAR} unset: the config is invalid",
    async setup(dir) {
      await write(join(dir, "openclaw.json"), '{ models: { providers: { openai: { baseUrl: "https://models.example.test/v1", apiKey: "${OPENAI_API_KEY}", models: [] } } } }\n');
      await write(join(dir, ".env"), "OPENAI_API_KEY=\nGROQ_API_KEY=gsk-plain\nXAI_API_KEY=xai-plain\n");
      return {};
    },
  },
  {
    name: "exec-only refs, one failing",
    async setup(dir) {
      const command = await resolver(dir);
      await write(join(dir, "openclaw.json"), json({
        secrets: { providers: { vault: { source: "exec", command, passEnv: ["PATH"] } }, defaults: { exec: "vault" } },
        models: { providers: { openai: provider({ source: "exec", provider: "vault", id: "good/openai" }), anthropic: provider({ source: "exec", provider: "vault", id: "bad/anthropic" }) } },
      }));
      return {};
    },
  },
  {
    name: "an environment variable shadowing a ref",
    async setup(dir) {
      await write(join(dir, "secrets.json"), json({ k: "sk-from-file" }));
      await write(join(dir, "openclaw.json"), json({
        secrets: { providers: { filemain: { source: "file", path: join(dir, "secrets.json"), mode: "json" } } },
        models: { providers: { openai: provider({ source: "file", provider: "filemain", id: "/k" }) } },
      }));
      return { OPENAI_API_KEY: "sk-env-wins-for-tools" };
    },
  },
  {
    name: "JSON5 syntax error",
    async setup(dir) {
      await write(join(dir, "openclaw.json"), "{ models: { providers: { openai: { apiKey: 'sk-x', } } }\n");
      await write(join(dir, ".env"), "OPENAI_API_KEY=sk-env\n");
      return {};
    },
  },
  {
    name: "JSON5 comments and trailing commas",
    async setup(dir) {
      await write(join(dir, "openclaw.json"), "// operator notes\n{\n  models: { providers: { openai: { baseUrl: 'https://models.example.test/v1', apiKey: 'sk-json5', models: [], }, }, },\n}\n");
      return {};
    },
  },
];
