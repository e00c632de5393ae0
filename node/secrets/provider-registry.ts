/** Builds every configured provider once per config and maps a ref to its provider (unknown alias and source checks). */
import type { ExecProviderOptions } from "./exec-provider.ts";
import { createEnvProvider } from "./env-provider.ts";
import { createExecProvider } from "./exec-provider.ts";
import { createFileProvider } from "./file-provider.ts";
import type { FileProviderOptions } from "./file-provider.ts";
import { DEFAULT_ENV_PROVIDER, type SecretsBlock } from "../config/provider-config.ts";
import type { SecretProvider } from "./provider-types.ts";
import { SecretResolutionError } from "./secret-errors.ts";
import { type SecretRef, refKey } from "../config/secret-ref.ts";

/** I/O shared by all providers; production defaults live in each provider. */
export interface ProviderIo {
  env?: NodeJS.ProcessEnv;
  exec?: ExecProviderOptions;
  file?: FileProviderOptions;
}

export interface ProviderRegistry {
  /** The provider for `ref`, or the error that the ref's provider is unknown or of another source. */
  lookup(ref: SecretRef): SecretProvider | SecretResolutionError;
}

export function createProviderRegistry(block: SecretsBlock, io: ProviderIo = {}): ProviderRegistry {
  const envIo = io.env === undefined ? {} : { env: io.env };
  const providers = new Map<string, SecretProvider>();
  for (const [alias, config] of Object.entries(block.providers)) {
    switch (config.source) {
      case "env":
        providers.set(alias, createEnvProvider(alias, config, envIo));
        break;
      case "file":
        providers.set(alias, createFileProvider(alias, config, io.file));
        break;
      case "exec":
        providers.set(alias, createExecProvider(alias, config, block.resolution, { ...envIo, ...io.exec }));
        break;
    }
  }
  // An env ref naming the default env alias works without any provider entry (docs/openclaw-compat.md §1).
  const defaultEnv = block.defaults.env ?? DEFAULT_ENV_PROVIDER;
  const implicitEnv = providers.has(defaultEnv) ? undefined : createEnvProvider(defaultEnv, {}, envIo);

  return {
    lookup(ref) {
      const provider = providers.get(ref.provider) ?? (ref.source === "env" && ref.provider === defaultEnv ? implicitEnv : undefined);
      if (!provider) {
        return new SecretResolutionError(
          "ERR_SECRET_PROVIDER_UNKNOWN",
          `Secret provider "${ref.provider}" is not configured (ref: ${refKey(ref)}).`,
          { refKey: refKey(ref) },
        );
      }
      if (provider.source !== ref.source) {
        return new SecretResolutionError(
          "ERR_SECRET_PROVIDER_SOURCE_MISMATCH",
          `Secret provider "${ref.provider}" has source "${provider.source}" but ref requests "${ref.source}".`,
          { refKey: refKey(ref) },
        );
      }
      return provider;
    },
  };
}
