/**
 * The per-agent `runtime` block (clawgate's addition to `agents.list[]` / `agents.defaults`): which runtime runs
 * the agent and its settings, and the factory that builds it. Credentials are SecretInputs at credential paths
 * (`agents.list.*.runtime.apiKey`, `agents.list.*.runtime.token`), read per run from the secrets snapshot.
 */
import { z } from "zod";
import type { DaemonIo } from "../io/daemon-io.ts";
import { createCommandRuntime } from "./command-runtime.ts";
import { createOpenAiRuntime } from "./openai-runtime.ts";
import { createOpenClawRuntime } from "./openclaw-runtime.ts";
import type { AgentRuntime } from "./runtime-types.ts";

const HttpUrl = z.url({ protocol: /^https?$/, error: "must be an http(s) URL" });
/** A SecretInput (string or SecretRef): its shape is checked by the secrets registry, its value never here. */
const SecretInput = z.unknown();

export const OpenAiRuntimeSchema = z.strictObject({
  type: z.literal("openai"),
  /** `models.providers.<provider>` to use; default: the model id's prefix (`ollama/llama3.1:8b` → ollama). */
  provider: z.string().min(1).optional(),
  /** Overrides the provider's baseUrl (include `/v1`). */
  baseUrl: HttpUrl.optional(),
  /** Overrides the provider's apiKey (credential path `agents.list.*.runtime.apiKey`). */
  apiKey: SecretInput.optional(),
  /** Send `reasoning_effort` (the model supports it); default: the model catalog entry's `reasoning`. */
  reasoning: z.boolean().optional(),
  maxAttempts: z.number().int().min(1).max(10).optional(),
  retryBaseMs: z.number().int().min(0).optional(),
  maxRetryDelayMs: z.number().int().min(0).optional(),
  /** The model runs on this host (reserve its memory); default: the base URL is loopback. */
  local: z.boolean().optional(),
});

export const CommandRuntimeSchema = z.strictObject({
  type: z.literal("command"),
  command: z.string().startsWith("/", "must be an absolute path"),
  args: z.array(z.string()).optional(),
  cwd: z.string().startsWith("/", "must be an absolute path").optional(),
  /** Environment variable names passed through (besides PATH, HOME, LANG, LC_ALL, TZ, TMPDIR, USER). */
  env: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name")).optional(),
  maxOutputBytes: z.number().int().positive().optional(),
  sampleIntervalMs: z.number().int().min(10).optional(),
  /** Passed to the command as CLAWGATE_API_KEY (credential path `agents.list.*.runtime.apiKey`). */
  apiKey: SecretInput.optional(),
  local: z.boolean().optional(),
});

export const OpenClawRuntimeSchema = z.strictObject({
  type: z.literal("openclaw"),
  url: HttpUrl,
  hooksPath: z.string().startsWith("/", "must start with /").optional(),
  /** The gateway's hook token (credential path `agents.list.*.runtime.token`). */
  token: SecretInput,
  agentId: z.string().min(1).optional(),
});

export const RuntimeConfigSchema = z.discriminatedUnion("type", [OpenAiRuntimeSchema, CommandRuntimeSchema, OpenClawRuntimeSchema]);
export type RuntimeConfig = z.infer<typeof RuntimeConfigSchema>;

export class RuntimeConfigError extends Error {
  readonly code = "ERR_RUNTIME_CONFIG";
  readonly path: string;
  constructor(path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = "RuntimeConfigError";
    this.path = path;
  }
}

/** What building a runtime needs from the rest of the config. */
export interface RuntimeBuildContext {
  readonly agentId: string;
  /** Config path of the runtime block, e.g. `agents.list.0.runtime` (also the credential path prefix). */
  readonly path: string;
  /** The agent's primary model (for the openai provider default). */
  readonly model: string | undefined;
  /** `models.providers` from the config (baseUrl, headers; apiKey/headers values come from the snapshot). */
  readonly providers: Readonly<Record<string, { baseUrl?: unknown; headers?: unknown } | undefined>>;
  /** The model catalog entry's `reasoning` flag. */
  readonly reasoningOf: (model: string) => boolean;
  /** The current secrets snapshot's value at a dotted path. */
  readonly secret: (path: string) => string | undefined;
  readonly env?: NodeJS.ProcessEnv;
  /** The clock (openai Retry-After) and spawn (command) the runtimes use. */
  readonly io: Pick<DaemonIo, "now" | "spawn">;
}

/** Builds the agent's runtime; config mistakes throw RuntimeConfigError naming the path. */
export function buildRuntime(config: RuntimeConfig, ctx: RuntimeBuildContext): AgentRuntime {
  switch (config.type) {
    case "openai": {
      const provider = config.provider ?? (ctx.model?.includes("/") ? ctx.model.slice(0, ctx.model.indexOf("/")) : undefined);
      const providerConfig = provider === undefined ? undefined : ctx.providers[provider];
      const baseUrl = config.baseUrl ?? (typeof providerConfig?.baseUrl === "string" ? providerConfig.baseUrl : undefined);
      if (baseUrl === undefined) {
        throw new RuntimeConfigError(
          provider === undefined ? `${ctx.path}.provider` : `models.providers.${provider}.baseUrl`,
          provider === undefined ? "set a provider (or a model named <provider>/<model>) or baseUrl" : `required by agent "${ctx.agentId}" (runtime openai); or set ${ctx.path}.baseUrl`,
        );
      }
      const headerNames = providerConfig && typeof providerConfig.headers === "object" && providerConfig.headers !== null ? Object.keys(providerConfig.headers) : [];
      const keyPath = config.apiKey !== undefined ? `${ctx.path}.apiKey` : provider === undefined ? undefined : `models.providers.${provider}.apiKey`;
      try {
        return createOpenAiRuntime({
          io: ctx.io,
          baseUrl,
          apiKey: () => (keyPath === undefined ? undefined : ctx.secret(keyPath)),
          headers: () => {
            const out: Record<string, string> = {};
            for (const name of headerNames) {
              const v = ctx.secret(`models.providers.${provider}.headers.${name}`);
              if (v !== undefined) out[name] = v;
            }
            return out;
          },
          reasoning: (model) => config.reasoning ?? ctx.reasoningOf(model),
          ...(config.maxAttempts !== undefined ? { maxAttempts: config.maxAttempts } : {}),
          ...(config.retryBaseMs !== undefined ? { retryBaseMs: config.retryBaseMs } : {}),
          ...(config.maxRetryDelayMs !== undefined ? { maxRetryDelayMs: config.maxRetryDelayMs } : {}),
          ...(config.local !== undefined ? { local: config.local } : {}),
        });
      } catch (error) {
        throw new RuntimeConfigError(`${ctx.path}.baseUrl`, (error as Error).message);
      }
    }
    case "command":
      return createCommandRuntime({
        io: ctx.io,
        command: config.command,
        ...(config.args ? { args: config.args } : {}),
        ...(config.cwd ? { cwd: config.cwd } : {}),
        ...(config.env ? { envAllowlist: config.env } : {}),
        ...(config.maxOutputBytes ? { maxOutputBytes: config.maxOutputBytes } : {}),
        ...(config.sampleIntervalMs ? { sampleIntervalMs: config.sampleIntervalMs } : {}),
        ...(config.local !== undefined ? { local: config.local } : {}),
        ...(ctx.env ? { env: ctx.env } : {}),
        extraEnv: (): Record<string, string> => {
          const key = config.apiKey === undefined ? undefined : ctx.secret(`${ctx.path}.apiKey`);
          return key === undefined ? {} : { CLAWGATE_API_KEY: key };
        },
      });
    case "openclaw":
      return createOpenClawRuntime({
        url: config.url,
        ...(config.hooksPath ? { hooksPath: config.hooksPath } : {}),
        ...(config.agentId ? { agentId: config.agentId } : {}),
        token: () => ctx.secret(`${ctx.path}.token`),
      });
  }
}
