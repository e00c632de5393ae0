/** The `secrets` block of openclaw.json (docs/openclaw-compat.md §2): providers, defaults and resolution limits. */
import { z } from "zod";
import { PROVIDER_ALIAS_RE } from "./secret-ref.ts";

const positiveInt = z.number().int().positive();

export const EnvProviderSchema = z.looseObject({
  source: z.literal("env"),
  /** Exact variable names; omitted = any name. */
  allowlist: z.array(z.string()).optional(),
});

export const FileProviderSchema = z.looseObject({
  source: z.literal("file"),
  path: z.string().min(1, "path must not be empty"),
  mode: z.enum(["json", "singleValue"]).default("json"),
  timeoutMs: positiveInt.default(5000),
  maxBytes: positiveInt.default(1_048_576),
});

export const ExecProviderSchema = z.looseObject({
  source: z.literal("exec"),
  command: z.string().min(1, "command must not be empty"),
  args: z.array(z.string()).default([]),
  passEnv: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).default({}),
  jsonOnly: z.boolean().default(true),
  timeoutMs: positiveInt.default(5000),
  noOutputTimeoutMs: positiveInt.default(5000),
  maxOutputBytes: positiveInt.default(1_048_576),
  trustedDirs: z.array(z.string()).default([]),
  allowSymlinkCommand: z.boolean().default(false),
});

export const ProviderConfigSchema = z.discriminatedUnion("source", [
  EnvProviderSchema,
  FileProviderSchema,
  ExecProviderSchema,
]);

export const SecretsBlockSchema = z.looseObject({
  providers: z
    .record(z.string().regex(PROVIDER_ALIAS_RE, "provider alias must match ^[a-z][a-z0-9_-]{0,63}$"), ProviderConfigSchema)
    .default({}),
  defaults: z
    .looseObject({
      env: z.string().optional(),
      file: z.string().optional(),
      exec: z.string().optional(),
    })
    .default({}),
  resolution: z
    .looseObject({
      maxProviderConcurrency: positiveInt.default(4),
      maxRefsPerProvider: positiveInt.default(512),
      maxBatchBytes: positiveInt.default(262_144),
    })
    .default({ maxProviderConcurrency: 4, maxRefsPerProvider: 512, maxBatchBytes: 262_144 }),
});

export type EnvProviderConfig = z.infer<typeof EnvProviderSchema>;
export type FileProviderConfig = z.infer<typeof FileProviderSchema>;
export type ExecProviderConfig = z.infer<typeof ExecProviderSchema>;
export type ProviderConfig = z.infer<typeof ProviderConfigSchema>;
export type SecretsBlock = z.infer<typeof SecretsBlockSchema>;
export type ResolutionLimits = SecretsBlock["resolution"];

/** The env alias a shorthand (`${VAR}`) resolves through when `secrets.defaults.env` is unset. */
export const DEFAULT_ENV_PROVIDER = "default";
