/**
 * One resolution pass as plain data: load the config, resolve every active credential, and return the
 * values by config path. Pure of runtime state, so it can run on the main thread or in the reload worker.
 */
import { type LoadedConfig, loadConfig as loadConfigFile } from "../config/config-file.ts";
import { type CredentialMatch, findCredentials } from "../config/credential-paths.ts";
import { type ProviderIo, createProviderRegistry } from "./provider-registry.ts";
import { resolveRefs } from "./resolve-refs.ts";
import { SecretsActivationError } from "./secret-errors.ts";
import { type SecretRef, classifyCredential, refKey } from "../config/secret-ref.ts";

export interface SecretsWarning {
  readonly code: "SECRETS_REF_OVERRIDES_PLAINTEXT";
  readonly path: string;
  readonly message: string;
}

/** Structured-clone-safe: it crosses from the reload worker to the main thread. */
export interface SnapshotData {
  /** [dotted config path, value] for every active credential that has one. */
  readonly values: readonly (readonly [string, string])[];
  readonly refCount: number;
  readonly warnings: readonly SecretsWarning[];
}

export type FindOverriddenPlaintext = (loaded: LoadedConfig, refPaths: readonly string[]) => Promise<readonly SecretsWarning[]>;

export interface ResolvePassOptions {
  readonly loadConfig?: (path: string) => Promise<LoadedConfig>;
  readonly providerIo?: ProviderIo;
  readonly findOverriddenPlaintext?: FindOverriddenPlaintext;
}

/** Throws SecretsActivationError (one entry per failing ref) or a ConfigError; never returns partial data. */
export async function resolveSnapshotData(configPath: string, options: ResolvePassOptions = {}): Promise<SnapshotData> {
  const loaded = await (options.loadConfig ?? loadConfigFile)(configPath);
  // Give queued work a turn between the CPU-bound phases.
  await yieldToEventLoop();
  const registry = createProviderRegistry(loaded.config.secrets, options.providerIo);
  const active = findCredentials(loaded.raw).filter((m) => m.active);

  const refs = new Map<string, SecretRef>();
  const byPath: { match: CredentialMatch; ref?: SecretRef; plaintext?: string }[] = [];
  for (const match of active) {
    const value = classifyCredential(match.value, loaded.defaultEnvProvider);
    if (value.kind === "ref") {
      refs.set(refKey(value.ref), value.ref);
      byPath.push({ match, ref: value.ref });
    } else if (value.kind === "plaintext") {
      byPath.push({ match, plaintext: value.value });
    }
  }

  await yieldToEventLoop();
  const resolution = await resolveRefs(refs.values(), registry, loaded.config.secrets.resolution.maxProviderConcurrency);
  if (resolution.errors.size > 0) {
    throw new SecretsActivationError(
      [...resolution.errors].map(([key, error]) => ({ refKey: key, error })).sort((a, b) => a.refKey.localeCompare(b.refKey)),
    );
  }

  const values: [string, string][] = [];
  for (const entry of byPath) {
    const value = entry.ref ? resolution.values.get(refKey(entry.ref)) : entry.plaintext;
    if (value !== undefined) values.push([entry.match.path, value]);
  }
  const refPaths = byPath.filter((e) => e.ref).map((e) => e.match.path);
  const warnings = options.findOverriddenPlaintext ? await options.findOverriddenPlaintext(loaded, refPaths) : [];
  return { values, refCount: refs.size, warnings };
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
