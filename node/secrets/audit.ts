/**
 * `secrets audit`: finds plaintext credentials, unresolvable refs, shadowed refs and legacy residue, without printing a
 * value — the findings, jsonPaths and exit codes of OpenClaw 2026.2.26's audit (docs/openclaw-compat.md §4), plus the
 * credential paths it does not audit (listed under "Differences from OpenClaw").
 */
import { readFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { ConfigError } from "../config/config-errors.ts";
import { type LoadedConfig, loadConfig, parseConfig } from "../config/config-file.ts";
import { type CredentialMatch, envNamesFor, findCredentials, getPath, isForbiddenSegment, isRecord, isSensitive } from "../config/credential-paths.ts";
import { MissingEnvVarError, substituteEnvVars } from "./env-substitution.ts";
import { PROVIDER_API_KEY_TYPE, type StoredKeyFile, findAuthProfileFiles, findLegacyAuthFiles, isPlaintextApiKey, openclawStateDir, readLegacyAuth } from "./legacy-auth.ts";
import { type ProviderIo, createProviderRegistry } from "./provider-registry.ts";
import { resolveRefs } from "./resolve-refs.ts";
import { type SecretRef, classifyCredential, isValidSecretRef, refKey } from "../config/secret-ref.ts";

export const SEVERITIES = ["info", "warn", "error"] as const;
export type Severity = (typeof SEVERITIES)[number];
export type FindingCode = "PLAINTEXT_FOUND" | "REF_UNRESOLVED" | "REF_SHADOWED" | "LEGACY_RESIDUE";

export interface AuditFinding {
  readonly code: FindingCode;
  readonly severity: Severity;
  /** Absolute path of the file the finding is about. */
  readonly file: string;
  /** OpenClaw's notation: a plain dotted path (`profiles.openai:default.key`), `$env.NAME` in `.env`, `<root>`. */
  readonly jsonPath: string;
  readonly message: string;
  /** The model provider the credential is for (models.providers.<p>, an auth profile's provider, an auth.json entry). */
  readonly provider?: string;
}

/** The report exactly as docs/openclaw-compat.md §4 describes it. */
export interface AuditReport {
  readonly version: 1;
  readonly status: "clean" | "findings" | "unresolved";
  readonly resolution: { refsChecked: number; skippedExecRefs: number; resolvabilityComplete: boolean };
  readonly filesScanned: string[];
  readonly summary: { plaintextCount: number; unresolvedRefCount: number; shadowedRefCount: number; legacyResidueCount: number };
  readonly findings: AuditFinding[];
}

/** Names of secrets commonly kept in `~/.openclaw/.env`, beyond those the credential registry derives. */
export const WELL_KNOWN_SECRET_ENV_NAMES: readonly string[] = [
  "OPENAI_API_KEY",
  "ANTHROPIC_API_KEY",
  "GEMINI_API_KEY",
  "OPENROUTER_API_KEY",
  "GROQ_API_KEY",
  "MISTRAL_API_KEY",
  "TELEGRAM_BOT_TOKEN",
  "SLACK_BOT_TOKEN",
  "SLACK_APP_TOKEN",
  "SLACK_SIGNING_SECRET",
  "DISCORD_TOKEN",
  "OPENCLAW_GATEWAY_TOKEN",
  "OPENCLAW_GATEWAY_PASSWORD",
  "OPENCLAW_HOOKS_TOKEN",
];
const SECRET_NAME_RE = /(_API_KEY|_TOKEN|_SECRET|_PASSWORD)$/;

/**
 * Credentials that let a caller into this host (the gateway's auth and the hook token) are `error` when
 * plaintext; provider and channel keys are `warn`. A leaked inbound token is a door into the machine; a
 * leaked provider key costs money but opens nothing here.
 */
const INBOUND_TYPES = new Set(["gateway.auth.token", "gateway.auth.password", "hooks.token"]);
const INBOUND_ENV_NAMES = new Set(["OPENCLAW_GATEWAY_TOKEN", "OPENCLAW_GATEWAY_PASSWORD", "OPENCLAW_HOOKS_TOKEN"]);

/** True when `name` is a variable audit treats as a secret: registry-derived, well-known, or by suffix. */
export function isSecretEnvName(name: string, registryNames: ReadonlySet<string> = new Set()): boolean {
  return registryNames.has(name) || WELL_KNOWN_SECRET_ENV_NAMES.includes(name) || SECRET_NAME_RE.test(name);
}

/** A `.env` value that only interpolates another variable (`${OTHER}`, dotenv-expand) holds no secret. */
function isInterpolation(value: string): boolean {
  return /^\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)$/.test(value);
}

export function severityRank(severity: Severity): number {
  return SEVERITIES.indexOf(severity);
}

export interface AuditOptions {
  readonly configPath: string;
  /** The current process environment: the env provider reads it, and variables in it can shadow refs. */
  readonly env?: NodeJS.ProcessEnv;
  /** Run exec resolvers; without it exec refs are counted as skipped. */
  readonly allowExec?: boolean;
  /** Drop findings below this severity (from the list and the summary). */
  readonly severityMin?: Severity;
  readonly providerIo?: ProviderIo;
  readonly loadConfig?: (path: string) => Promise<LoadedConfig>;
}

/** The secret variables OpenClaw 2026.2.26 looks for in `.env` (its provider env vars), reported `warn`. */
const OPENCLAW_ENV_NAMES: ReadonlySet<string> = new Set([
  "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "MINIMAX_API_KEY", "MOONSHOT_API_KEY", "KIMI_API_KEY",
  "KIMICODE_API_KEY", "SYNTHETIC_API_KEY", "VENICE_API_KEY", "ZAI_API_KEY", "Z_AI_API_KEY", "XIAOMI_API_KEY",
  "OPENROUTER_API_KEY", "CLOUDFLARE_AI_GATEWAY_API_KEY", "LITELLM_API_KEY", "AI_GATEWAY_API_KEY", "OPENCODE_API_KEY",
  "OPENCODE_ZEN_API_KEY", "TOGETHER_API_KEY", "HUGGINGFACE_HUB_TOKEN", "HF_TOKEN", "QIANFAN_API_KEY", "XAI_API_KEY",
  "MISTRAL_API_KEY", "KILOCODE_API_KEY", "VOLCANO_ENGINE_API_KEY", "BYTEPLUS_API_KEY",
]);

/** A ref the audit resolves: where it sits, and the model provider it is for (OpenClaw's `provider` field). */
interface RefAssignment {
  readonly file: string;
  readonly jsonPath: string;
  readonly ref: SecretRef;
  readonly provider?: string;
  /** Google Chat's service account may resolve to an object (a parsed key file). */
  readonly objectAllowed?: boolean;
  /** A config match, for the env-shadowing check. */
  readonly match?: CredentialMatch;
}

export async function runAudit(options: AuditOptions): Promise<AuditReport> {
  const env = options.env ?? process.env;
  const configFile = options.configPath;
  // OpenClaw's state dir: `.env`, `agents/<id>/agent/auth.json` and the auth-profile stores live there.
  const stateDir = openclawStateDir(configFile, env);
  const findings: AuditFinding[] = [];
  const filesScanned = new Set([configFile]);
  const assignments: RefAssignment[] = [];
  const add = (finding: AuditFinding) => findings.push(finding);

  // 1. The config as OpenClaw loads it: `${VAR}` substituted first; an invalid config is one finding, and the
  // files beside it are still scanned.
  let loaded: LoadedConfig | undefined;
  let written: Record<string, unknown> = {};
  try {
    ({ loaded, written } = await loadAuditedConfig(configFile, env, options.loadConfig ?? loadConfig));
  } catch (error) {
    if (!(error instanceof ConfigError) && !(error instanceof MissingEnvVarError)) throw error;
    if (error instanceof ConfigError && error.code === "ERR_CONFIG_NOT_FOUND") throw error;
    add({ code: "REF_UNRESOLVED", severity: "error", file: configFile, jsonPath: "<root>", message: `Config is invalid; cannot validate secret references reliably (${error.message}).` });
  }
  const configRefPaths = new Map<string, string[]>();
  if (loaded) {
    for (const match of findCredentials(loaded.raw)) {
      const jsonPath = match.segments.join(".");
      const modelProvider = match.spec.type === PROVIDER_API_KEY_TYPE ? match.segments[2] : undefined;
      // OpenClaw's paths are judged on the substituted value, as OpenClaw judges them; on the paths only clawgate
      // audits, a `${VAR}` as written is a ref to that variable (docs/openclaw-compat.md §1).
      const value = classifyCredential(OPENCLAW_AUDITED_TYPES.has(match.spec.type) ? match.value : getPath(written, match.segments), loaded.defaultEnvProvider);
      if (value.kind === "ref") {
        // Refs on inactive surfaces are not resolved at run time, so audit does not require them to resolve.
        if (!match.active) continue;
        assignments.push({ file: configFile, jsonPath, ref: value.ref, ...(modelProvider ? { provider: modelProvider } : {}), match });
        if (modelProvider) configRefPaths.set(providerKey(modelProvider), [...(configRefPaths.get(providerKey(modelProvider)) ?? []), jsonPath]);
      } else if (value.kind === "plaintext" && isSensitive(match)) {
        add({
          code: "PLAINTEXT_FOUND",
          severity: INBOUND_TYPES.has(match.spec.type) ? "error" : "warn",
          file: configFile,
          jsonPath,
          message: `${jsonPath} holds a plaintext credential; replace it with a SecretRef`,
          ...(modelProvider ? { provider: modelProvider } : {}),
        });
      }
    }
    for (const entry of googleChatServiceAccounts(loaded.raw, loaded.defaultEnvProvider)) {
      if (entry.ref) assignments.push({ file: configFile, jsonPath: entry.jsonPath, ref: entry.ref, objectAllowed: true, ...(entry.account ? { provider: "googlechat" } : {}) });
      else if (entry.plaintext) add({ code: "PLAINTEXT_FOUND", severity: "warn", file: configFile, jsonPath: entry.jsonPath, message: `${entry.jsonPath} holds a plaintext service account; replace it with a SecretRef` });
    }
  }

  // 2. Auth-profile stores (OpenClaw's per-agent credentials): plaintext keys and tokens, OAuth residue, refs.
  const staticAuth = new Map<string, Set<string>>();
  if (loaded) {
    for (const path of await findAuthProfileFiles(stateDir)) {
      const scanned = await scanAuthProfiles(path, loaded.defaultEnvProvider);
      if (!scanned) continue;
      filesScanned.add(path);
      for (const f of scanned.findings) add(f);
      assignments.push(...scanned.refs);
      for (const [provider, modes] of scanned.usable) staticAuth.set(provider, new Set([...(staticAuth.get(provider) ?? []), ...modes]));
    }
  }

  // 3. Resolvability: each distinct ref once; exec refs only with --allow-exec (running resolvers is a choice).
  let refsChecked = 0;
  let skippedExec = 0;
  if (loaded) {
    const refs = new Map<string, SecretRef>();
    for (const a of assignments) refs.set(refKey(a.ref), a.ref);
    const toCheck = [...refs.values()].filter((ref) => (ref.source === "exec" && !options.allowExec ? (skippedExec++, false) : true));
    refsChecked = toCheck.length;
    const registry = createProviderRegistry(loaded.config.secrets, { ...options.providerIo, env });
    const resolution = await resolveRefs(toCheck, registry, loaded.config.secrets.resolution.maxProviderConcurrency);
    for (const a of assignments) {
      const error = resolution.errors.get(refKey(a.ref));
      if (!error) continue;
      add({ code: "REF_UNRESOLVED", severity: "error", file: a.file, jsonPath: a.jsonPath, message: error.message, ...(a.provider ? { provider: a.provider } : {}) });
    }
  }

  // 4. Shadowing: a usable auth-profile credential wins over the config's ref for that provider (OpenClaw);
  // and, clawgate's addition, an environment variable tools read instead of the configured ref.
  for (const [provider, paths] of configRefPaths) {
    const modes = staticAuth.get(provider);
    if (!modes) continue;
    for (const jsonPath of paths) {
      add({
        code: "REF_SHADOWED",
        severity: "warn",
        file: configFile,
        jsonPath,
        message: `auth profile credentials (${[...modes].join("/")}) take precedence for provider "${provider}", so the ref at ${jsonPath} may never be used`,
        provider,
      });
    }
  }
  for (const a of assignments) {
    if (!a.match) continue;
    for (const name of envNamesFor(a.match)) {
      if (!env[name] || (a.ref.source === "env" && a.ref.id === name)) continue;
      add({
        code: "REF_SHADOWED",
        severity: "warn",
        file: configFile,
        jsonPath: a.jsonPath,
        message: `environment variable ${name} is set; tools that read ${name} use it instead of the ref at ${a.jsonPath}`,
      });
    }
  }

  // 5. `.env` in the state dir: OpenClaw's provider variables (warn), and clawgate's wider set of secret names.
  const dotenvPath = join(stateDir, ".env");
  const dotenvText = await readFile(dotenvPath, "utf8").catch(() => undefined);
  if (dotenvText !== undefined) {
    filesScanned.add(dotenvPath);
    const registryNames = new Set(loaded ? findCredentials(loaded.raw).flatMap((m) => envNamesFor(m)) : []);
    for (const line of dotenvText.split(/\r?\n/)) {
      const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
      if (!m) continue;
      const key = m[1]!;
      const value = unquote(m[2]!);
      const known = OPENCLAW_ENV_NAMES.has(key);
      if (!value || (!known && (!isSecretEnvName(key, registryNames) || isInterpolation(value)))) continue;
      add({
        code: "PLAINTEXT_FOUND",
        severity: !known && INBOUND_ENV_NAMES.has(key) ? "error" : "warn",
        file: dotenvPath,
        jsonPath: `$env.${key}`,
        message: `${key} holds a plaintext secret in .env; move it to a secret provider`,
      });
    }
  }

  // 6. Legacy auth.json: OpenClaw's per-agent ones and the older one beside the config.
  for (const path of await findLegacyAuthFiles(configFile, stateDir)) {
    let legacy: StoredKeyFile | undefined;
    try {
      legacy = await readLegacyAuth(path);
    } catch (error) {
      filesScanned.add(path);
      add({ code: "REF_UNRESOLVED", severity: "error", file: path, jsonPath: "<root>", message: `legacy auth.json is unreadable: ${(error as Error).message}` });
      continue;
    }
    if (!legacy) continue;
    filesScanned.add(path);
    for (const entry of legacy.entries) {
      if (!isPlaintextApiKey(entry)) continue;
      add({
        code: "LEGACY_RESIDUE",
        severity: "warn",
        file: path,
        jsonPath: entry.id,
        message: `legacy auth.json holds a plaintext API key for "${entry.provider}"; migrate it (clawgate secrets configure)`,
        provider: entry.provider,
      });
    }
  }

  const min = severityRank(options.severityMin ?? "info");
  const kept = findings.filter((f) => severityRank(f.severity) >= min);
  const count = (code: FindingCode) => kept.filter((f) => f.code === code).length;
  const summary = {
    plaintextCount: count("PLAINTEXT_FOUND"),
    unresolvedRefCount: count("REF_UNRESOLVED"),
    shadowedRefCount: count("REF_SHADOWED"),
    legacyResidueCount: count("LEGACY_RESIDUE"),
  };
  return {
    version: 1,
    status: summary.unresolvedRefCount > 0 ? "unresolved" : kept.length > 0 ? "findings" : "clean",
    resolution: { refsChecked, skippedExecRefs: skippedExec, resolvabilityComplete: skippedExec === 0 && loaded !== undefined },
    filesScanned: [...filesScanned].sort(),
    summary,
    findings: kept,
  };
}

/** The credential paths OpenClaw 2026.2.26's audit looks at (besides Google Chat's service accounts). */
const OPENCLAW_AUDITED_TYPES: ReadonlySet<string> = new Set([PROVIDER_API_KEY_TYPE, "skills.entries.apiKey"]);

/** The config with OpenClaw's `${VAR}` substitution applied, then validated like any config; and the config as written. */
async function loadAuditedConfig(
  path: string,
  env: NodeJS.ProcessEnv,
  load: (path: string) => Promise<LoadedConfig>,
): Promise<{ loaded: LoadedConfig; written: Record<string, unknown> }> {
  const loaded = await load(path);
  const substituted = substituteEnvVars(loaded.raw, env);
  const same = JSON.stringify(substituted) === JSON.stringify(loaded.raw);
  return { loaded: same ? loaded : parseConfig(JSON.stringify(substituted), loaded.path), written: loaded.raw };
}

/** OpenClaw compares provider ids case-insensitively. */
const providerKey = (provider: string) => provider.trim().toLowerCase();

/** A `.env` value: trimmed, one pair of surrounding quotes removed. */
function unquote(raw: string): string {
  const t = raw.trim();
  return (t.startsWith('"') && t.endsWith('"')) || (t.startsWith("'") && t.endsWith("'")) ? t.slice(1, -1) : t;
}

interface GoogleChatEntry {
  readonly jsonPath: string;
  readonly account?: string;
  readonly ref?: SecretRef;
  readonly plaintext: boolean;
}

/** `channels.googlechat.serviceAccount` (and per account): a ref (`serviceAccountRef` wins), or a non-empty string or object. */
function googleChatServiceAccounts(raw: Record<string, unknown>, defaultEnvProvider: string): GoogleChatEntry[] {
  const channels = raw["channels"];
  const chat = isRecord(channels) ? channels["googlechat"] : undefined;
  if (!isRecord(chat)) return [];
  const entry = (owner: Record<string, unknown>, jsonPath: string, account?: string): GoogleChatEntry => {
    const explicit = classifyCredential(owner["serviceAccountRef"], defaultEnvProvider);
    const inline = classifyCredential(owner["serviceAccount"], defaultEnvProvider);
    const ref = explicit.kind === "ref" ? explicit.ref : inline.kind === "ref" ? inline.ref : undefined;
    const value = owner["serviceAccount"];
    const plaintext = (typeof value === "string" && value.trim() !== "") || (isRecord(value) && !isValidSecretRef(value) && Object.keys(value).length > 0);
    return { jsonPath, ...(account ? { account } : {}), ...(ref ? { ref } : {}), plaintext };
  };
  const out = [entry(chat, "channels.googlechat.serviceAccount")];
  const accounts = chat["accounts"];
  if (isRecord(accounts)) {
    for (const [id, account] of Object.entries(accounts)) {
      if (isRecord(account) && !isForbiddenSegment(id)) out.push(entry(account, `channels.googlechat.accounts.${id}.serviceAccount`, id));
    }
  }
  return out;
}

interface ScannedProfiles {
  readonly findings: AuditFinding[];
  readonly refs: RefAssignment[];
  /** Providers with a usable static, token or OAuth credential, and which kinds. */
  readonly usable: Map<string, Set<string>>;
}

/** One auth-profile store as OpenClaw's audit reads it; invalid JSON is a REF_UNRESOLVED at `<root>`. */
async function scanAuthProfiles(path: string, defaultEnvProvider: string): Promise<ScannedProfiles | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return undefined;
  }
  const out: ScannedProfiles = { findings: [], refs: [], usable: new Map() };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    out.findings.push({ code: "REF_UNRESOLVED", severity: "error", file: path, jsonPath: "<root>", message: `Invalid JSON in auth-profiles store: ${(error as Error).message}` });
    return out;
  }
  const profiles = isRecord(doc) ? doc["profiles"] : undefined;
  if (!isRecord(profiles)) return out;
  const usable = (provider: string, mode: string) => {
    const key = providerKey(provider);
    out.usable.set(key, new Set([...(out.usable.get(key) ?? []), mode]));
  };
  for (const [id, profile] of Object.entries(profiles)) {
    if (!isRecord(profile) || isForbiddenSegment(id) || typeof profile["provider"] !== "string" || !profile["provider"].trim()) continue;
    const provider = profile["provider"];
    const kind = profile["type"];
    if (kind === "api_key" || kind === "token") {
      const field = kind === "api_key" ? "key" : "token";
      const jsonPath = `profiles.${id}.${field}`;
      const explicit = classifyCredential(profile[`${field}Ref`], defaultEnvProvider);
      const inline = classifyCredential(profile[field], defaultEnvProvider);
      const ref = explicit.kind === "ref" ? explicit.ref : inline.kind === "ref" ? inline.ref : undefined;
      if (ref) {
        out.refs.push({ file: path, jsonPath, ref, provider });
        usable(provider, kind);
      }
      if (typeof profile[field] === "string" && profile[field].trim() !== "" && inline.kind !== "ref") {
        out.findings.push({
          code: "PLAINTEXT_FOUND",
          severity: "warn",
          file: path,
          jsonPath,
          message: `auth profile "${id}" holds a plaintext ${kind === "api_key" ? "API key" : "token"}; replace it with a SecretRef`,
          provider,
        });
        usable(provider, kind);
      }
    } else if (kind === "oauth" && ((typeof profile["access"] === "string" && profile["access"] !== "") || (typeof profile["refresh"] === "string" && profile["refresh"] !== ""))) {
      out.findings.push({
        code: "LEGACY_RESIDUE",
        severity: "info",
        file: path,
        jsonPath: `profiles.${id}`,
        message: `auth profile "${id}" holds OAuth credentials (out of scope for a SecretRef migration)`,
        provider,
      });
      usable(provider, "oauth");
    }
  }
  return out;
}

/** 2 when a ref is unresolved (whatever the flags), 1 with `--check` when findings remain, else 0. */
export function auditExitCode(report: AuditReport, check: boolean): number {
  if (report.summary.unresolvedRefCount > 0) return 2;
  return check && report.findings.length > 0 ? 1 : 0;
}

/** The human report: an aligned table (severity, code, where, message), then what was scanned and a summary. */
export function formatAuditReport(report: AuditReport): string {
  const base = report.filesScanned[0] ? dirname(report.filesScanned[0]) : "";
  const where = (f: AuditFinding) => `${relative(base, f.file) || f.file}:${f.jsonPath}`;
  const lines: string[] = [];
  if (report.findings.length > 0) {
    const rows = [["SEVERITY", "CODE", "WHERE", "MESSAGE"], ...report.findings.map((f) => [f.severity, f.code, where(f), f.message])];
    const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const row of rows) lines.push(row.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]!) : cell)).join("  ").trimEnd());
    lines.push("");
  }
  const { summary: s, resolution: r } = report;
  lines.push(`scanned: ${report.filesScanned.join(", ")}`);
  lines.push(
    `refs checked: ${r.refsChecked}` +
      (r.skippedExecRefs > 0 ? `, exec refs skipped: ${r.skippedExecRefs} (pass --allow-exec to run resolvers)` : ""),
  );
  lines.push(
    `status: ${report.status} — ${s.plaintextCount} plaintext, ${s.unresolvedRefCount} unresolved, ` +
      `${s.shadowedRefCount} shadowed, ${s.legacyResidueCount} legacy residue`,
  );
  return `${lines.join("\n")}\n`;
}
