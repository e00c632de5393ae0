/** The env secret provider: reads `process.env[id]` at each pass, limited to an optional exact-name allowlist. */
import type { EnvProviderConfig } from "../config/provider-config.ts";
import type { ProviderBatchResult, SecretProvider } from "./provider-types.ts";
import { SecretResolutionError } from "./secret-errors.ts";

export interface EnvProviderOptions {
  /** Read at resolve time, so a reload sees variables changed since start. */
  readonly env?: NodeJS.ProcessEnv;
}

export function createEnvProvider(alias: string, config: Pick<EnvProviderConfig, "allowlist">, options: EnvProviderOptions = {}): SecretProvider {
  const allowlist = config.allowlist ? new Set(config.allowlist) : undefined;
  const env = options.env ?? process.env;
  return {
    alias,
    source: "env",
    async resolve(ids): Promise<ProviderBatchResult> {
      const values = new Map<string, string>();
      const errors = new Map<string, SecretResolutionError>();
      for (const id of ids) {
        const refKey = `env:${alias}:${id}`;
        if (allowlist && !allowlist.has(id)) {
          errors.set(
            id,
            new SecretResolutionError(
              "ERR_SECRET_ENV_NOT_ALLOWED",
              `Environment variable "${id}" is not allowlisted in secrets.providers.${alias}.allowlist.`,
              { refKey },
            ),
          );
          continue;
        }
        const value = env[id];
        if (value === undefined || value === "") {
          errors.set(id, new SecretResolutionError("ERR_SECRET_ENV_MISSING", `Environment variable "${id}" is missing or empty.`, { refKey }));
          continue;
        }
        values.set(id, value);
      }
      return { values, errors };
    },
  };
}
