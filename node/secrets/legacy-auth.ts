/** Plaintext provider keys stored outside openclaw.json: legacy `auth.json` beside it and OpenClaw's per-agent auth profiles. */
import { readFile, readdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { LoadedConfig } from "../config/config-file.ts";
import { findCredentials, isForbiddenSegment, isRecord } from "../config/credential-paths.ts";
import type { SecretsWarning } from "./secrets-reloader.ts";

/** The plan/audit target type whose provider id is the third path segment (`models.providers.<p>.apiKey`). */
export const PROVIDER_API_KEY_TYPE = "models.providers.apiKey";

export class LegacyAuthError extends Error {
  override readonly name = "LegacyAuthError";
  readonly code = "ERR_LEGACY_AUTH_INVALID";
  readonly file: string;

  constructor(file: string, reason: string, options?: { cause?: unknown }) {
    // The reason never quotes file content: these files hold keys.
    super(`${file}: ${reason}`, options);
    this.file = file;
  }
}

/**
 * One stored credential. `key` is the plaintext itself: it is only ever moved into a secret store by
 * configure, never printed; findings and messages use `provider` and `id`.
 */
export interface StoredKey {
  /** The provider the key is for (`openai`). */
  readonly provider: string;
  /** The entry's name in its file: the provider for auth.json, the profile id (`openai:default`) for auth profiles. */
  readonly id: string;
  readonly type: string;
  readonly key: string | undefined;
}

export interface StoredKeyFile {
  readonly path: string;
  readonly text: string;
  readonly doc: Record<string, unknown>;
  readonly entries: readonly StoredKey[];
}

/** Legacy OpenClaw `auth.json`: `{ "<provider>": { "type": "api_key", "key": "..." } }`, beside the config. */
export function legacyAuthPath(configPath: string): string {
  return join(dirname(configPath), "auth.json");
}

/** True for an entry that holds a usable plaintext API key. */
export function isPlaintextApiKey(entry: StoredKey): entry is StoredKey & { key: string } {
  return entry.type === "api_key" && typeof entry.key === "string" && entry.key !== "";
}

async function readJsonObject(path: string): Promise<{ text: string; doc: Record<string, unknown> } | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw new LegacyAuthError(path, `cannot read (${code ?? "error"})`, { cause: error });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch {
    throw new LegacyAuthError(path, "not valid JSON");
  }
  if (!isRecord(doc)) throw new LegacyAuthError(path, "expected a JSON object");
  return { text, doc };
}

export async function readLegacyAuth(path: string): Promise<StoredKeyFile | undefined> {
  const file = await readJsonObject(path);
  if (!file) return undefined;
  const entries: StoredKey[] = [];
  for (const [provider, entry] of Object.entries(file.doc)) {
    if (!isRecord(entry) || isForbiddenSegment(provider)) continue;
    entries.push({
      provider,
      id: provider,
      type: typeof entry["type"] === "string" ? entry["type"] : "unknown",
      key: typeof entry["key"] === "string" ? entry["key"] : undefined,
    });
  }
  return { path, ...file, entries };
}

/** OpenClaw's state dir: `OPENCLAW_STATE_DIR`, else the config's folder (where `~/.openclaw/openclaw.json` keeps it). */
export function openclawStateDir(configPath: string, env: NodeJS.ProcessEnv): string {
  return env["OPENCLAW_STATE_DIR"]?.trim() || dirname(configPath);
}

/**
 * Every legacy `auth.json` to look at: OpenClaw's per-agent ones, `<stateDir>/agents/<agent>/agent/auth.json`, and the
 * older one beside the config. Candidates, sorted; a missing one reads as undefined.
 */
export async function findLegacyAuthFiles(configPath: string, stateDir: string): Promise<string[]> {
  let agents: string[] = [];
  try {
    agents = (await readdir(join(stateDir, "agents"), { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    // no agents folder
  }
  const perAgent = agents.sort().map((agent) => join(stateDir, "agents", agent, "agent", "auth.json"));
  return [...new Set([legacyAuthPath(configPath), ...perAgent])];
}

/** OpenClaw's per-agent stores: `<stateDir>/agents/<agent>/agent/auth-profiles.json`, sorted. */
export async function findAuthProfileFiles(configDir: string): Promise<string[]> {
  let agents: string[];
  try {
    agents = await readdir(join(configDir, "agents"));
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const agent of agents.sort()) {
    const path = join(configDir, "agents", agent, "agent", "auth-profiles.json");
    try {
      await readFile(path);
      found.push(path);
    } catch {
      // no profile store for this agent
    }
  }
  return found;
}

/** `{ profiles: { "openai:default": { type: "api_key", provider: "openai", key: "..." } } }`. */
export async function readAuthProfiles(path: string): Promise<StoredKeyFile | undefined> {
  const file = await readJsonObject(path);
  if (!file) return undefined;
  const profiles = file.doc["profiles"];
  const entries: StoredKey[] = [];
  if (isRecord(profiles)) {
    for (const [id, profile] of Object.entries(profiles)) {
      if (!isRecord(profile) || isForbiddenSegment(id)) continue;
      // OpenClaw names profiles `<provider>:<label>`; an explicit `provider` field wins.
      const provider = typeof profile["provider"] === "string" ? profile["provider"] : id.split(":")[0]!;
      entries.push({
        provider,
        id,
        type: typeof profile["type"] === "string" ? profile["type"] : "unknown",
        key: typeof profile["key"] === "string" ? profile["key"] : undefined,
      });
    }
  }
  return { path, ...file, entries };
}

export interface ScrubResult {
  /** The new file text; identical to the input text when nothing was removed. */
  readonly text: string;
  /** Entry ids removed. */
  readonly removed: readonly string[];
}

/** Remove the plaintext `api_key` entries of `providers` from a legacy auth.json; other entries stay. */
export function scrubLegacyAuth(file: StoredKeyFile, providers: ReadonlySet<string>): ScrubResult {
  const removed = file.entries.filter((e) => providers.has(e.provider) && isPlaintextApiKey(e)).map((e) => e.id);
  if (removed.length === 0) return { text: file.text, removed };
  const doc = { ...file.doc };
  for (const id of removed) delete doc[id];
  return { text: `${JSON.stringify(doc, null, 2)}\n`, removed };
}

/**
 * Remove the plaintext `api_key` profiles of `providers` from an auth-profiles store, and the `order` /
 * `lastGood` references to them so OpenClaw does not look for a profile that is gone.
 */
export function scrubAuthProfiles(file: StoredKeyFile, providers: ReadonlySet<string>): ScrubResult {
  const removed = file.entries.filter((e) => providers.has(e.provider) && isPlaintextApiKey(e)).map((e) => e.id);
  if (removed.length === 0) return { text: file.text, removed };
  const gone = new Set(removed);
  const doc: Record<string, unknown> = { ...file.doc };
  doc["profiles"] = Object.fromEntries(Object.entries(doc["profiles"] as Record<string, unknown>).filter(([id]) => !gone.has(id)));
  if (isRecord(doc["order"])) {
    doc["order"] = Object.fromEntries(
      Object.entries(doc["order"]).map(([p, ids]) => [p, Array.isArray(ids) ? ids.filter((id) => !gone.has(id as string)) : ids]),
    );
  }
  if (isRecord(doc["lastGood"])) {
    doc["lastGood"] = Object.fromEntries(Object.entries(doc["lastGood"]).filter(([, id]) => !gone.has(id as string)));
  }
  return { text: `${JSON.stringify(doc, null, 2)}\n`, removed };
}

/**
 * SECRETS_REF_OVERRIDES_PLAINTEXT warnings for the runtime (docs/openclaw-compat.md §3): a ref at
 * `models.providers.<p>.apiKey` wins over a plaintext key for `<p>` still sitting in auth.json or an auth
 * profile. Unreadable stores are skipped: a warning must never stop activation.
 */
export async function findOverriddenPlaintext(loaded: LoadedConfig, refPaths: readonly string[]): Promise<SecretsWarning[]> {
  const wanted = new Set(refPaths);
  const providers = new Map<string, string>();
  for (const match of findCredentials(loaded.raw)) {
    if (match.spec.type === PROVIDER_API_KEY_TYPE && wanted.has(match.path)) providers.set(match.segments[2]!, match.path);
  }
  if (providers.size === 0) return [];
  const stores: StoredKeyFile[] = [];
  const legacy = await readLegacyAuth(legacyAuthPath(loaded.path)).catch(() => undefined);
  if (legacy) stores.push(legacy);
  for (const path of await findAuthProfileFiles(dirname(loaded.path))) {
    const store = await readAuthProfiles(path).catch(() => undefined);
    if (store) stores.push(store);
  }
  const warnings: SecretsWarning[] = [];
  for (const store of stores) {
    for (const entry of store.entries) {
      const path = providers.get(entry.provider);
      if (!path || !isPlaintextApiKey(entry)) continue;
      warnings.push({
        code: "SECRETS_REF_OVERRIDES_PLAINTEXT",
        path,
        message: `${path} is a SecretRef; the plaintext key "${entry.id}" in ${store.path} is ignored (remove it: clawgate secrets configure)`,
      });
    }
  }
  return warnings;
}
