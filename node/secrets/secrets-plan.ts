/** The `secrets apply` plan file (docs/openclaw-compat.md §4): its zod schema, full validation before any write, and the apply engine. */
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { z } from "zod";
import { writeFileAtomic } from "../config/atomic-write.ts";
import { type LoadedConfig, parseConfig, zodIssues } from "../config/config-file.ts";
import { ConfigError, type ConfigIssue } from "../config/config-errors.ts";
import {
  type CredentialPathSpec,
  credentialSpecFor,
  envNamesFor,
  findCredentials,
  formatPath,
  isForbiddenSegment,
  isRecord,
} from "../config/credential-paths.ts";
import { readDotenvFile, scrubDotenv } from "./dotenv-file.ts";
import {
  PROVIDER_API_KEY_TYPE,
  type StoredKeyFile,
  findAuthProfileFiles,
  findLegacyAuthFiles,
  openclawStateDir,
  readAuthProfiles,
  readLegacyAuth,
  scrubAuthProfiles,
  scrubLegacyAuth,
} from "./legacy-auth.ts";
import { ProviderConfigSchema } from "../config/provider-config.ts";
import { type ProviderIo, createProviderRegistry } from "./provider-registry.ts";
import { resolveRefs } from "./resolve-refs.ts";
import { PROVIDER_ALIAS_RE, SECRET_SOURCES, type SecretRef, SecretRefSchema, classifyCredential, refKey } from "../config/secret-ref.ts";

const AliasSchema = z.string().regex(PROVIDER_ALIAS_RE, "provider alias must match ^[a-z][a-z0-9_-]{0,63}$");

/**
 * A provider entry to insert or replace. It is checked against the provider schema but kept exactly as
 * written (no defaults filled in), so the config receives what the plan author wrote.
 */
const ProviderUpsertSchema = z.looseObject({ source: z.enum(SECRET_SOURCES) }).superRefine((value, ctx) => {
  const parsed = ProviderConfigSchema.safeParse(value);
  if (!parsed.success) for (const issue of parsed.error.issues) ctx.addIssue({ code: "custom", path: issue.path, message: issue.message });
});

export const PlanTargetSchema = z.strictObject({
  /** The credential type from the registry (`models.providers.apiKey`). */
  type: z.string().min(1, "type must not be empty"),
  /** Dotted config path (`models.providers.openai.apiKey`; a key with a dot is written `["a.b"]`). */
  path: z.string().min(1, "path must not be empty"),
  pathSegments: z.array(z.string()).min(1, "pathSegments must not be empty").optional(),
  /** For provider targets: the model provider id (`openai`), whose stored keys apply may scrub. */
  providerId: z.string().min(1).optional(),
  ref: SecretRefSchema,
});

export const SecretsPlanSchema = z.strictObject({
  version: z.literal(1),
  protocolVersion: z.literal(1),
  generatedAt: z.iso.datetime({ offset: true, error: "generatedAt must be an ISO 8601 date-time" }),
  /** `clawgate secrets configure`, `openclaw secrets configure`, or `manual`. */
  generatedBy: z.string().min(1),
  providerUpserts: z.record(AliasSchema, ProviderUpsertSchema).optional(),
  providerDeletes: z.array(AliasSchema).optional(),
  targets: z.array(PlanTargetSchema),
  /** Each scrub is on unless set to false. */
  options: z
    .strictObject({
      scrubEnv: z.boolean().optional(),
      scrubAuthProfilesForProviderTargets: z.boolean().optional(),
      scrubLegacyAuthJson: z.boolean().optional(),
    })
    .optional(),
});

export type SecretsPlan = z.infer<typeof SecretsPlanSchema>;
export type PlanTarget = z.infer<typeof PlanTargetSchema>;

export type PlanErrorCode = "ERR_SECRETS_PLAN_INVALID" | "ERR_SECRETS_PLAN_PREFLIGHT";

/** A plan refused before anything was written: every issue names the plan field (`targets.0.path`). */
export class SecretsPlanError extends Error {
  override readonly name = "SecretsPlanError";
  readonly code: PlanErrorCode;
  readonly issues: readonly ConfigIssue[];

  constructor(code: PlanErrorCode, issues: readonly ConfigIssue[], options?: { cause?: unknown }) {
    const head = code === "ERR_SECRETS_PLAN_PREFLIGHT" ? "plan preflight failed, nothing written" : "plan refused, nothing written";
    super(ConfigError.format(head, issues), options);
    this.code = code;
    this.issues = issues;
  }
}

/** Inverse of formatPath: `a.b.0.c` and `a["x.y"].c`. Throws a TypeError on malformed input. */
export function parseDottedPath(path: string): string[] {
  const segments: string[] = [];
  let i = 0;
  while (i < path.length) {
    if (path[i] === "[") {
      const m = /^\[("(?:[^"\\]|\\.)*")\]/.exec(path.slice(i));
      if (!m) throw new TypeError("malformed bracket segment");
      segments.push(JSON.parse(m[1]!) as string);
      i += m[0].length;
    } else {
      const m = /^[A-Za-z0-9_$-]+/.exec(path.slice(i));
      if (!m) throw new TypeError("malformed segment");
      segments.push(m[0]);
      i += m[0].length;
    }
    if (i < path.length) {
      if (path[i] === ".") {
        i++;
        if (i >= path.length || path[i] === "[") throw new TypeError("malformed segment");
      } else if (path[i] !== "[") throw new TypeError("malformed segment");
    }
  }
  if (segments.length === 0) throw new TypeError("empty path");
  return segments;
}

/** Parse plan text; zod issues name the field, JSON errors never quote the text. */
export function parsePlan(text: string, file: string): SecretsPlan {
  let doc: unknown;
  try {
    doc = JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch {
    throw new SecretsPlanError("ERR_SECRETS_PLAN_INVALID", [{ path: "", message: `${file} is not valid JSON` }]);
  }
  const parsed = SecretsPlanSchema.safeParse(doc);
  if (!parsed.success) throw new SecretsPlanError("ERR_SECRETS_PLAN_INVALID", zodIssues(parsed.error));
  return parsed.data;
}

export async function readPlanFile(path: string): Promise<SecretsPlan> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new SecretsPlanError("ERR_SECRETS_PLAN_INVALID", [{ path: "", message: `cannot read plan ${path} (${code ?? "error"})` }]);
  }
  return parsePlan(text, path);
}

/** Write a plan (refs only, never a value) with mode 0600. */
export async function writePlanFile(path: string, plan: SecretsPlan): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(plan, null, 2)}\n`, 0o600);
}

export type ChangeAction = "set-ref" | "upsert-provider" | "delete-provider" | "scrub-env" | "scrub-legacy-auth" | "scrub-auth-profile";

export interface PlanChange {
  readonly file: string;
  /** Config path, `.env` variable name, or stored-key entry id. */
  readonly path: string;
  readonly action: ChangeAction;
}

export interface ApplyResult {
  readonly ok: true;
  readonly dryRun: boolean;
  readonly changes: PlanChange[];
  readonly warnings: string[];
}

export interface ApplyOptions {
  readonly configPath: string;
  /** Validate and preflight, write nothing. */
  readonly dryRun?: boolean;
  /** Accept exec refs and exec providers, and run their resolvers in the preflight. */
  readonly allowExec?: boolean;
  /** The environment env refs resolve from during the preflight. */
  readonly env?: NodeJS.ProcessEnv;
  readonly providerIo?: ProviderIo;
}

interface CheckedTarget {
  readonly index: number;
  readonly target: PlanTarget;
  readonly segments: string[];
  readonly spec: CredentialPathSpec;
}

/**
 * Apply a plan. Every check runs before the first write: schema, forbidden segments, registry type,
 * provider existence, exec consent, config validity after the change, and a preflight resolution of every
 * target ref. Then the config is written (refs in place first, so a crash never loses a credential), then
 * `.env`, auth.json and auth profiles are scrubbed. Files whose content would not change are not touched.
 */
export async function applyPlan(plan: SecretsPlan, options: ApplyOptions): Promise<ApplyResult> {
  const configPath = options.configPath;
  let configText: string;
  try {
    configText = await readFile(configPath, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(code === "ENOENT" ? "ERR_CONFIG_NOT_FOUND" : "ERR_CONFIG_READ", configPath, [
      { path: "", message: code === "ENOENT" ? "config file not found" : `cannot read config (${code ?? "error"})` },
    ]);
  }
  const loaded = parseConfig(configText, configPath);
  const issues: ConfigIssue[] = [];
  const warnings: string[] = [];

  // 1. Targets: path shape, forbidden segments, registry membership and type.
  const targets: CheckedTarget[] = [];
  plan.targets.forEach((target, index) => {
    const at = `targets.${index}`;
    let segments: string[];
    try {
      segments = parseDottedPath(target.path);
    } catch {
      issues.push({ path: `${at}.path`, message: "not a dotted config path" });
      return;
    }
    const forbidden = [...segments, ...(target.pathSegments ?? [])].find(isForbiddenSegment);
    if (forbidden !== undefined) {
      issues.push({ path: `${at}.path`, message: `segment "${forbidden}" is not allowed` });
      return;
    }
    if (target.pathSegments && !isDeepStrictEqual(target.pathSegments, segments)) {
      issues.push({ path: `${at}.pathSegments`, message: `does not match path ${target.path}` });
      return;
    }
    const spec = credentialSpecFor(segments);
    if (!spec) {
      issues.push({ path: `${at}.path`, message: `${target.path} is not a credential path` });
      return;
    }
    if (spec.type !== target.type) {
      issues.push({ path: `${at}.type`, message: `${target.path} is a "${spec.type}" credential path, not "${target.type}"` });
      return;
    }
    if (spec.type === PROVIDER_API_KEY_TYPE && target.providerId !== undefined && target.providerId !== segments[2]) {
      issues.push({ path: `${at}.providerId`, message: `does not match path ${target.path}` });
      return;
    }
    if (targets.some((t) => isDeepStrictEqual(t.segments, segments))) {
      issues.push({ path: `${at}.path`, message: `${target.path} is targeted twice` });
      return;
    }
    targets.push({ index, target, segments, spec });
  });

  // 2. Exec consent: writing an exec ref or provider means the agent will run that command.
  const upserts = plan.providerUpserts ?? {};
  const deletes = plan.providerDeletes ?? [];
  if (!options.dryRun && !options.allowExec) {
    for (const t of targets) {
      if (t.target.ref.source === "exec") issues.push({ path: `targets.${t.index}.ref.source`, message: "exec refs are refused without --allow-exec" });
    }
    for (const [alias, upsert] of Object.entries(upserts)) {
      if (upsert.source === "exec") issues.push({ path: `providerUpserts.${alias}.source`, message: "exec providers are refused without --allow-exec" });
    }
  }
  // Aliases become object keys in the config: the same prototype-pollution names as paths are refused.
  for (const alias of Object.keys(upserts)) {
    if (isForbiddenSegment(alias)) issues.push({ path: `providerUpserts.${alias}`, message: `alias "${alias}" is not allowed` });
  }
  deletes.forEach((alias, i) => {
    if (isForbiddenSegment(alias)) issues.push({ path: `providerDeletes.${i}`, message: `alias "${alias}" is not allowed` });
    if (Object.hasOwn(upserts, alias)) issues.push({ path: `providerDeletes.${i}`, message: `"${alias}" is also in providerUpserts` });
  });
  if (issues.length > 0) throw new SecretsPlanError("ERR_SECRETS_PLAN_INVALID", issues);

  // 3. The would-be config.
  const next = structuredClone(loaded.raw);
  const changes: PlanChange[] = [];
  const secrets = ensureObject(next, "secrets");
  const providers = ensureObject(secrets, "providers");
  for (const [alias, upsert] of Object.entries(upserts)) {
    if (Object.hasOwn(providers, alias) && isDeepStrictEqual(providers[alias], upsert)) continue;
    providers[alias] = structuredClone(upsert);
    changes.push({ file: configPath, path: `secrets.providers.${alias}`, action: "upsert-provider" });
  }
  for (const alias of deletes) {
    if (!Object.hasOwn(providers, alias)) continue; // already gone: a re-applied plan changes nothing
    delete providers[alias];
    changes.push({ file: configPath, path: `secrets.providers.${alias}`, action: "delete-provider" });
  }
  for (const t of targets) {
    const problem = setRef(next, t.segments, t.target.ref, loaded.defaultEnvProvider);
    if (problem === "unchanged") continue;
    if (problem) {
      issues.push({ path: `targets.${t.index}.path`, message: problem });
      continue;
    }
    changes.push({ file: configPath, path: t.target.path, action: "set-ref" });
  }
  if (issues.length > 0) throw new SecretsPlanError("ERR_SECRETS_PLAN_INVALID", issues);

  let nextLoaded: LoadedConfig;
  try {
    nextLoaded = parseConfig(JSON.stringify(next), configPath);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new SecretsPlanError(
      "ERR_SECRETS_PLAN_INVALID",
      error.issues.map((i) => ({ path: i.path ? `config ${i.path}` : "config", message: i.message })),
    );
  }

  // 4. Every target ref names a provider of its source (configured or upserted), and no deleted
  // provider is still referenced anywhere.
  const nextProviders = nextLoaded.config.secrets.providers;
  for (const t of targets) {
    const { ref } = t.target;
    const provider = Object.hasOwn(nextProviders, ref.provider) ? nextProviders[ref.provider] : undefined;
    if (!provider) {
      if (ref.source === "env" && ref.provider === nextLoaded.defaultEnvProvider) continue;
      issues.push({
        path: `targets.${t.index}.ref.provider`,
        message: `provider "${ref.provider}" is neither configured nor in providerUpserts`,
      });
    } else if (provider.source !== ref.source) {
      issues.push({
        path: `targets.${t.index}.ref.source`,
        message: `provider "${ref.provider}" has source "${provider.source}" but the ref requests "${ref.source}"`,
      });
    }
  }
  const deleted = new Set(deletes);
  for (const match of findCredentials(nextLoaded.raw)) {
    const value = classifyCredential(match.value, nextLoaded.defaultEnvProvider);
    if (value.kind === "ref" && deleted.has(value.ref.provider) && !Object.hasOwn(nextProviders, value.ref.provider)) {
      issues.push({
        path: `providerDeletes.${deletes.indexOf(value.ref.provider)}`,
        message: `provider "${value.ref.provider}" is still referenced by ${match.path}`,
      });
    }
  }
  if (issues.length > 0) throw new SecretsPlanError("ERR_SECRETS_PLAN_INVALID", issues);

  // 5. Preflight: every target ref resolves against the would-be config. Exec refs without consent only
  // get here in a dry run, where they are skipped rather than run.
  const preflight = targets.filter((t) => t.target.ref.source !== "exec" || options.allowExec);
  const skipped = targets.length - preflight.length;
  if (skipped > 0) warnings.push(`preflight skipped ${skipped} exec ref(s); pass --allow-exec to run their resolvers`);
  const registry = createProviderRegistry(nextLoaded.config.secrets, { ...options.providerIo, env: options.env ?? process.env });
  const resolution = await resolveRefs(
    dedupeRefs(preflight.map((t) => t.target.ref)),
    registry,
    nextLoaded.config.secrets.resolution.maxProviderConcurrency,
  );
  for (const t of preflight) {
    const error = resolution.errors.get(refKey(t.target.ref));
    if (error) issues.push({ path: `targets.${t.index}.ref`, message: error.message });
  }
  if (issues.length > 0) throw new SecretsPlanError("ERR_SECRETS_PLAN_PREFLIGHT", issues);

  // 6. Scrubs, computed (not written) now so that a read error also stops everything before the first write.
  const writes: { file: string; text: string }[] = [];
  const configChanged = JSON.stringify(next) !== JSON.stringify(loaded.raw);
  if (configChanged) {
    writes.push({ file: configPath, text: `${JSON.stringify(next, null, 2)}\n` });
    if (!isPlainJson(configText)) {
      warnings.push(`comments and JSON5 formatting in ${configPath} are not preserved: it is rewritten as plain JSON`);
    }
  }

  const scrub = plan.options ?? {};
  if (scrub.scrubEnv !== false) {
    // Variables an env ref reads are kept: OpenClaw loads this .env into the environment those refs read.
    const envRefIds = new Set<string>();
    for (const match of findCredentials(nextLoaded.raw)) {
      const value = classifyCredential(match.value, nextLoaded.defaultEnvProvider);
      if (value.kind === "ref" && value.ref.source === "env") envRefIds.add(value.ref.id);
    }
    const names = new Set(targets.flatMap((t) => envNamesFor({ spec: t.spec, segments: t.segments })).filter((n) => !envRefIds.has(n)));
    const dotenvPath = join(dirname(configPath), ".env");
    const dotenv = names.size > 0 ? await readDotenvFile(dotenvPath) : undefined;
    if (dotenv) {
      const result = scrubDotenv(dotenv.text, names);
      if (result.removed.length > 0) {
        writes.push({ file: dotenvPath, text: result.text });
        for (const name of result.removed) changes.push({ file: dotenvPath, path: name, action: "scrub-env" });
      }
    }
  }

  const modelProviders = new Set(targets.filter((t) => t.spec.type === PROVIDER_API_KEY_TYPE).map((t) => t.segments[2]!));
  if (modelProviders.size > 0 && scrub.scrubLegacyAuthJson !== false) {
    // Both legacy locations: OpenClaw's per-agent auth.json under its state dir, and the older one beside the config.
    for (const path of await findLegacyAuthFiles(configPath, openclawStateDir(configPath, process.env))) {
      const legacy = await readLegacyAuth(path);
      if (legacy) scrubStore(legacy, scrubLegacyAuth(legacy, modelProviders), "scrub-legacy-auth");
    }
  }
  if (modelProviders.size > 0 && scrub.scrubAuthProfilesForProviderTargets !== false) {
    for (const path of await findAuthProfileFiles(dirname(configPath))) {
      const store = await readAuthProfiles(path);
      if (store) scrubStore(store, scrubAuthProfiles(store, modelProviders), "scrub-auth-profile");
    }
  }

  function scrubStore(store: StoredKeyFile, result: { text: string; removed: readonly string[] }, action: ChangeAction): void {
    if (result.removed.length === 0) return;
    writes.push({ file: store.path, text: result.text });
    for (const id of result.removed) changes.push({ file: store.path, path: id, action });
  }

  // 7. Write: config first, then the scrubs. Each write is atomic (temp file + rename, 0600), no backup.
  if (!options.dryRun) {
    for (const write of writes) await writeFileAtomic(write.file, write.text, 0o600);
  }
  return { ok: true, dryRun: options.dryRun === true, changes, warnings };
}

function dedupeRefs(refs: readonly SecretRef[]): SecretRef[] {
  return [...new Map(refs.map((r) => [refKey(r), r])).values()];
}

function isPlainJson(text: string): boolean {
  try {
    JSON.parse(text.replace(/^\uFEFF/, ""));
    return true;
  } catch {
    return false;
  }
}

function ensureObject(owner: Record<string, unknown>, key: string): Record<string, unknown> {
  const existing = owner[key];
  if (isRecord(existing)) return existing;
  const created: Record<string, unknown> = {};
  owner[key] = created;
  return created;
}

/**
 * Put `ref` at `segments`, creating missing objects on the way. Returns "unchanged" when the same ref is
 * already there (shorthand included), a reason when the path runs through something that is not an object, else undefined.
 */
function setRef(root: Record<string, unknown>, segments: readonly string[], ref: SecretRef, defaultEnvProvider: string): string | undefined {
  let node: Record<string, unknown> | unknown[] = root;
  for (let i = 0; i < segments.length - 1; i++) {
    const key = segments[i]!;
    let child: unknown = Object.hasOwn(node, key) ? (node as Record<string, unknown>)[key] : undefined;
    if (child === undefined && !Array.isArray(node)) {
      child = {};
      (node as Record<string, unknown>)[key] = child;
    }
    if (typeof child !== "object" || child === null) return `${formatPath(segments.slice(0, i + 1))} is not an object`;
    node = child as Record<string, unknown> | unknown[];
  }
  const last = segments.at(-1)!;
  if (Array.isArray(node)) return `${formatPath(segments.slice(0, -1))} is a list`;
  // The same ref already there, as an object or as a `${VAR}` shorthand, is left exactly as written.
  const current = Object.hasOwn(node, last) ? classifyCredential(node[last], defaultEnvProvider) : undefined;
  if (current?.kind === "ref" && refKey(current.ref) === refKey(ref)) return "unchanged";
  const value = { source: ref.source, provider: ref.provider, id: ref.id };
  node[last] = value;
  return undefined;
}
