/** `secrets audit`: finds plaintext credentials, unresolvable refs, shadowed refs and legacy residue, without printing a value. */
import { dirname, join, relative } from "node:path";
import { type LoadedConfig, loadConfig } from "../config/config-file.ts";
import { type CredentialMatch, envNamesFor, findCredentials, formatPath, isSensitive } from "../config/credential-paths.ts";
import { readDotenvFile } from "./dotenv-file.ts";
import {
  PROVIDER_API_KEY_TYPE,
  type StoredKeyFile,
  findAuthProfileFiles,
  isPlaintextApiKey,
  legacyAuthPath,
  readAuthProfiles,
  readLegacyAuth,
} from "./legacy-auth.ts";
import { type ProviderIo, createProviderRegistry } from "./provider-registry.ts";
import { resolveRefs } from "./resolve-refs.ts";
import { type SecretRef, classifyCredential, refKey } from "../config/secret-ref.ts";

export const SEVERITIES = ["info", "warn", "error"] as const;
export type Severity = (typeof SEVERITIES)[number];
export type FindingCode = "PLAINTEXT_FOUND" | "REF_UNRESOLVED" | "REF_SHADOWED" | "LEGACY_RESIDUE";

export interface AuditFinding {
  readonly code: FindingCode;
  readonly severity: Severity;
  /** Absolute path of the file the finding is about. */
  readonly file: string;
  /** Dotted path in a JSON file, or the variable name in `.env`. */
  readonly jsonPath: string;
  readonly message: string;
  /**
   * REF_UNRESOLVED: the secret provider alias of the ref. auth.json / auth-profile findings: the model
   * provider the stored key is for.
   */
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

export async function runAudit(options: AuditOptions): Promise<AuditReport> {
  const env = options.env ?? process.env;
  const loaded = await (options.loadConfig ?? loadConfig)(options.configPath);
  const configFile = loaded.path;
  const configDir = dirname(configFile);
  const findings: AuditFinding[] = [];
  const filesScanned = [configFile];
  const matches = findCredentials(loaded.raw);

  // 1. Plaintext in the config (inactive surfaces too: the value is at rest either way).
  const refMatches: { match: CredentialMatch; ref: SecretRef }[] = [];
  for (const match of matches) {
    const value = classifyCredential(match.value, loaded.defaultEnvProvider);
    if (value.kind === "ref") {
      // Refs on inactive surfaces are not resolved at run time, so audit does not require them to resolve.
      if (match.active) refMatches.push({ match, ref: value.ref });
    } else if (value.kind === "plaintext" && isSensitive(match)) {
      findings.push({
        code: "PLAINTEXT_FOUND",
        severity: INBOUND_TYPES.has(match.spec.type) ? "error" : "warn",
        file: configFile,
        jsonPath: match.path,
        message: `${match.path} holds a plaintext credential; replace it with a SecretRef`,
      });
    }
  }

  // 2. Resolvability: each distinct ref once; exec refs only with --allow-exec (running resolvers is a choice).
  const refs = new Map<string, SecretRef>();
  let skippedExec = 0;
  for (const { ref } of refMatches) refs.set(refKey(ref), ref);
  const toCheck = [...refs.values()].filter((ref) => {
    if (ref.source === "exec" && !options.allowExec) {
      skippedExec++;
      return false;
    }
    return true;
  });
  const registry = createProviderRegistry(loaded.config.secrets, { ...options.providerIo, env });
  const resolution = await resolveRefs(toCheck, registry, loaded.config.secrets.resolution.maxProviderConcurrency);
  for (const { match, ref } of refMatches) {
    const error = resolution.errors.get(refKey(ref));
    if (!error) continue;
    findings.push({
      code: "REF_UNRESOLVED",
      severity: "error",
      file: configFile,
      jsonPath: match.path,
      message: error.message,
      provider: ref.provider,
    });
  }

  // 3. Env variables of the current process that tools read instead of the configured ref. An env ref
  // whose id IS the variable is the variable's intended use, not a shadow.
  for (const { match, ref } of refMatches) {
    for (const name of envNamesFor(match)) {
      if (!env[name] || (ref.source === "env" && ref.id === name)) continue;
      findings.push({
        code: "REF_SHADOWED",
        severity: "warn",
        file: configFile,
        jsonPath: match.path,
        message: `environment variable ${name} is set; tools that read ${name} use it instead of the ref at ${match.path}`,
      });
    }
  }

  // 4. `.env` beside the config: known secret names with a value.
  const dotenvPath = join(configDir, ".env");
  const dotenv = await readDotenvFile(dotenvPath);
  if (dotenv) {
    filesScanned.push(dotenvPath);
    const registryNames = new Set(matches.flatMap((m) => envNamesFor(m)));
    const reported = new Set<string>();
    for (const entry of dotenv.doc.entries) {
      if (reported.has(entry.key) || !isSecretEnvName(entry.key, registryNames)) continue;
      if (entry.value === "" || isInterpolation(entry.value)) continue;
      reported.add(entry.key);
      findings.push({
        code: "PLAINTEXT_FOUND",
        severity: INBOUND_ENV_NAMES.has(entry.key) ? "error" : "warn",
        file: dotenvPath,
        jsonPath: entry.key,
        message: `${entry.key} holds a plaintext secret in .env; move it to a secret provider`,
      });
    }
  }

  // 5. Stored provider keys: legacy auth.json (residue) and OpenClaw auth profiles (plaintext). OpenClaw
  // uses such a static key before the config's apiKey, so a ref there is shadowed.
  const refProviders = new Map<string, string>();
  for (const { match } of refMatches) {
    if (match.spec.type === PROVIDER_API_KEY_TYPE) refProviders.set(match.segments[2]!, match.path);
  }
  const legacy = await readLegacyAuth(legacyAuthPath(configFile));
  if (legacy) {
    filesScanned.push(legacy.path);
    for (const entry of legacy.entries) {
      const plaintext = isPlaintextApiKey(entry);
      findings.push({
        code: "LEGACY_RESIDUE",
        severity: plaintext ? "warn" : "info",
        file: legacy.path,
        jsonPath: formatPath([entry.id]),
        message: plaintext
          ? `legacy auth.json holds a plaintext API key for "${entry.provider}"; migrate it (clawgate secrets configure)`
          : `legacy auth.json entry for "${entry.provider}" (type ${entry.type}) is no longer read`,
        provider: entry.provider,
      });
      shadowFinding(legacy, entry.id, formatPath([entry.id, "key"]));
    }
  }
  for (const path of await findAuthProfileFiles(configDir)) {
    const store = await readAuthProfiles(path);
    if (!store) continue;
    filesScanned.push(path);
    for (const entry of store.entries) {
      if (!isPlaintextApiKey(entry)) continue;
      const jsonPath = formatPath(["profiles", entry.id, "key"]);
      findings.push({
        code: "PLAINTEXT_FOUND",
        severity: "warn",
        file: path,
        jsonPath,
        message: `auth profile "${entry.id}" holds a plaintext API key; replace it with a SecretRef`,
        provider: entry.provider,
      });
      shadowFinding(store, entry.id, jsonPath);
    }
  }

  function shadowFinding(store: StoredKeyFile, id: string, jsonPath: string): void {
    const entry = store.entries.find((e) => e.id === id)!;
    const refPath = refProviders.get(entry.provider);
    if (!refPath || !isPlaintextApiKey(entry)) return;
    findings.push({
      code: "REF_SHADOWED",
      severity: "warn",
      file: store.path,
      jsonPath,
      message: `a static key for "${entry.provider}" takes precedence over the ref at ${refPath} in OpenClaw`,
      provider: entry.provider,
    });
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
    resolution: { refsChecked: toCheck.length, skippedExecRefs: skippedExec, resolvabilityComplete: skippedExec === 0 },
    filesScanned,
    summary,
    findings: kept,
  };
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
