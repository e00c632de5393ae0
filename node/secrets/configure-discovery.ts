/** `secrets configure`, step one: find every plaintext credential it can migrate — in the config, `.env`, auth.json and auth profiles. */
import { dirname, join } from "node:path";
import type { LoadedConfig } from "../config/config-file.ts";
import {
  CREDENTIAL_PATHS,
  type CredentialPathSpec,
  envNamesFor,
  findCredentials,
  formatPath,
  isForbiddenSegment,
  isRecord,
  isSensitive,
} from "../config/credential-paths.ts";
import { type SecretRef, classifyCredential } from "../config/secret-ref.ts";
import { readDotenvFile } from "./dotenv-file.ts";
import {
  PROVIDER_API_KEY_TYPE,
  type StoredKeyFile,
  findAuthProfileFiles,
  isPlaintextApiKey,
  findLegacyAuthFiles,
  openclawStateDir,
  readAuthProfiles,
  readLegacyAuth,
} from "./legacy-auth.ts";

/** Where a plaintext value was found. Used in messages; never carries the value. */
export type CandidateOrigin =
  | { readonly kind: "config" }
  | { readonly kind: "dotenv"; readonly file: string; readonly name: string }
  | { readonly kind: "legacy-auth"; readonly file: string; readonly id: string }
  | { readonly kind: "auth-profile"; readonly file: string; readonly id: string };

/**
 * A credential path to turn into a ref. `plaintext` is the value that will be moved into the store: it is
 * never printed, logged or written anywhere else. When the path already holds a ref (`existingRef`), there
 * is no value to move: the candidate only stands for plaintext leftovers elsewhere (.env, auth.json, auth
 * profiles) that apply scrubs once the ref has passed its preflight.
 */
export interface MigrationCandidate {
  readonly spec: CredentialPathSpec;
  readonly segments: readonly string[];
  readonly path: string;
  readonly origins: readonly CandidateOrigin[];
  readonly plaintext: string | undefined;
  readonly existingRef?: SecretRef;
}

export function describeOrigin(origin: CandidateOrigin, configDir: string): string {
  const rel = (file: string) => (file.startsWith(`${configDir}/`) ? file.slice(configDir.length + 1) : file);
  switch (origin.kind) {
    case "config":
      return "config";
    case "dotenv":
      return `.env ${origin.name}`;
    case "legacy-auth":
      return `${rel(origin.file)} "${origin.id}"`;
    case "auth-profile":
      return `${rel(origin.file)} "${origin.id}"`;
  }
}

export interface CandidateSources {
  readonly dotenv?: ReadonlyMap<string, string>;
  readonly dotenvPath?: string;
  /** Legacy auth.json files: OpenClaw's per-agent ones under its state dir, and the older one beside the config. */
  readonly legacyAuth?: readonly StoredKeyFile[];
  readonly authProfiles?: readonly StoredKeyFile[];
}

/** Read the stores beside the config that may hold plaintext: `.env`, auth.json, auth profiles. */
export async function readCandidateSources(configPath: string): Promise<CandidateSources> {
  const configDir = dirname(configPath);
  const dotenvPath = join(configDir, ".env");
  const dotenv = await readDotenvFile(dotenvPath);
  const authProfiles: StoredKeyFile[] = [];
  for (const path of await findAuthProfileFiles(configDir)) {
    const store = await readAuthProfiles(path);
    if (store) authProfiles.push(store);
  }
  const legacyAuth: StoredKeyFile[] = [];
  for (const path of await findLegacyAuthFiles(configPath, openclawStateDir(configPath, process.env))) {
    const file = await readLegacyAuth(path);
    if (file) legacyAuth.push(file);
  }
  return {
    ...(dotenv ? { dotenv: new Map(dotenv.doc.entries.map((e) => [e.key, e.value])), dotenvPath } : {}),
    ...(legacyAuth.length > 0 ? { legacyAuth } : {}),
    authProfiles,
  };
}

/**
 * Credential paths that could hold a value: present ones, plus missing fields under an entry that exists
 * (`models.providers.openai` exists → `models.providers.openai.apiKey` is a place for OPENAI_API_KEY).
 * Patterns without `*` are always places (`gateway.auth.token` for OPENCLAW_GATEWAY_TOKEN): OpenClaw
 * reads those variables when the config has no value, so the field is where the credential belongs.
 */
export function potentialCredentialPaths(raw: Record<string, unknown>): { spec: CredentialPathSpec; segments: string[] }[] {
  const out: { spec: CredentialPathSpec; segments: string[] }[] = [];
  for (const spec of CREDENTIAL_PATHS) {
    const parts = spec.pattern.split(".");
    const anchor = parts.lastIndexOf("*");
    const visit = (node: unknown, index: number, prefix: string[]): void => {
      if (index === parts.length) {
        out.push({ spec, segments: prefix });
        return;
      }
      const part = parts[index]!;
      if (node === undefined && index > anchor) {
        visit(undefined, index + 1, [...prefix, part]);
        return;
      }
      if (!isRecord(node) && !(Array.isArray(node) && part === "*")) return;
      const keys = part === "*" ? Object.keys(node) : Object.hasOwn(node, part) || index > anchor ? [part] : [];
      for (const key of keys) {
        if (isForbiddenSegment(key)) continue;
        visit((node as Record<string, unknown>)[key], index + 1, [...prefix, key]);
      }
    };
    visit(raw, 0, []);
  }
  return out;
}

/**
 * Every plaintext credential configure can migrate, one per config path. When one path has several
 * plaintext sources the value comes from the first of: the config itself (what clawgate uses today),
 * `.env`, legacy auth.json, auth profiles. All sources are scrubbed by apply either way.
 */
export function findMigrationCandidates(loaded: LoadedConfig, sources: CandidateSources): MigrationCandidate[] {
  interface Entry {
    spec: CredentialPathSpec;
    segments: readonly string[];
    origins: CandidateOrigin[];
    plaintext?: string;
    existingRef?: SecretRef;
  }
  const byPath = new Map<string, Entry>();
  const refs = new Map<string, SecretRef>();
  const add = (spec: CredentialPathSpec, segments: readonly string[], origin: CandidateOrigin, value: string) => {
    const path = formatPath(segments);
    const existingRef = refs.get(path);
    // An env ref reading this very .env variable is the variable's intended use, not a leftover.
    if (existingRef && origin.kind === "dotenv" && existingRef.source === "env" && existingRef.id === origin.name) return;
    let entry = byPath.get(path);
    if (!entry) byPath.set(path, (entry = { spec, segments, origins: [], ...(existingRef ? { existingRef } : {}) }));
    entry.origins.push(origin);
    if (!existingRef) entry.plaintext ??= value;
  };

  const matches = findCredentials(loaded.raw);
  for (const match of matches) {
    const value = classifyCredential(match.value, loaded.defaultEnvProvider);
    if (value.kind === "ref") refs.set(match.path, value.ref);
  }
  for (const match of matches) {
    const value = classifyCredential(match.value, loaded.defaultEnvProvider);
    if (value.kind === "plaintext" && isSensitive(match)) add(match.spec, match.segments, { kind: "config" }, value.value);
  }

  if (sources.dotenv && sources.dotenvPath) {
    for (const { spec, segments } of potentialCredentialPaths(loaded.raw)) {
      for (const name of envNamesFor({ spec, segments })) {
        const value = sources.dotenv.get(name);
        if (!value || /^\$\{?[A-Za-z_][A-Za-z0-9_]*\}?$/.test(value)) continue;
        add(spec, segments, { kind: "dotenv", file: sources.dotenvPath, name }, value);
      }
    }
  }

  const providerKeySpec = CREDENTIAL_PATHS.find((s) => s.type === PROVIDER_API_KEY_TYPE)!;
  const modelProviders = loaded.raw["models"];
  const configured = isRecord(modelProviders) && isRecord(modelProviders["providers"]) ? modelProviders["providers"] : {};
  const stores: [StoredKeyFile, "legacy-auth" | "auth-profile"][] = [
    ...(sources.legacyAuth ?? []).map((s) => [s, "legacy-auth"] as [StoredKeyFile, "legacy-auth"]),
    ...(sources.authProfiles ?? []).map((s) => [s, "auth-profile"] as [StoredKeyFile, "auth-profile"]),
  ];
  for (const [store, kind] of stores) {
    for (const entry of store.entries) {
      // Only keys for a provider the config declares: a ref needs a home at models.providers.<p>.apiKey.
      if (!isPlaintextApiKey(entry) || !isRecord(configured[entry.provider]) || isForbiddenSegment(entry.provider)) continue;
      add(providerKeySpec, ["models", "providers", entry.provider, "apiKey"], { kind, file: store.path, id: entry.id }, entry.key);
    }
  }

  return [...byPath.entries()].map(([path, e]) => ({
    spec: e.spec,
    segments: e.segments,
    path,
    origins: e.origins,
    plaintext: e.plaintext,
    ...(e.existingRef ? { existingRef: e.existingRef } : {}),
  }));
}
