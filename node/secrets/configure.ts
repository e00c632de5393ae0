/** `secrets configure`: finds plaintext credentials, moves their values into a secret store, and builds (and applies) a refs-only plan. */
import { lstat, mkdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { writeFileAtomic } from "../config/atomic-write.ts";
import { type LoadedConfig, loadConfig } from "../config/config-file.ts";
import { expandHome } from "../config/home-path.ts";
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
import { readDotenvFile } from "./dotenv-file.ts";
import { formatPointer, parsePointer } from "./json-pointer.ts";
import {
  PROVIDER_API_KEY_TYPE,
  type StoredKeyFile,
  findAuthProfileFiles,
  isPlaintextApiKey,
  legacyAuthPath,
  readAuthProfiles,
  readLegacyAuth,
} from "./legacy-auth.ts";
import { type ProviderIo } from "./provider-registry.ts";
import {
  ENV_ID_RE,
  PROVIDER_ALIAS_RE,
  SINGLE_VALUE_ID,
  type SecretRef,
  type SecretSource,
  classifyCredential,
  isExecId,
  refIdProblem,
  refKey,
} from "../config/secret-ref.ts";
import { type ApplyResult, type SecretsPlan, applyPlan, writePlanFile } from "./secrets-plan.ts";

/** Why configure stopped before writing anything (or, for ERR_CONFIGURE_CANCELLED, at the operator's request). */
export class ConfigureError extends Error {
  override readonly name = "ConfigureError";
  readonly code: "ERR_CONFIGURE_INVALID" | "ERR_CONFIGURE_CANCELLED" | "ERR_CONFIGURE_STORE";

  constructor(code: ConfigureError["code"], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

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
  readonly legacyAuth?: StoredKeyFile;
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
  const legacyAuth = await readLegacyAuth(legacyAuthPath(configPath));
  return {
    ...(dotenv ? { dotenv: new Map(dotenv.doc.entries.map((e) => [e.key, e.value])), dotenvPath } : {}),
    ...(legacyAuth ? { legacyAuth } : {}),
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
    ...(sources.legacyAuth ? [[sources.legacyAuth, "legacy-auth"] as [StoredKeyFile, "legacy-auth"]] : []),
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

/** A provider as the plan will use it: its alias, its config entry, and whether the plan must create it. */
export interface ProviderChoice {
  readonly alias: string;
  readonly config: Record<string, unknown> & { source: SecretSource };
  /** True when the entry goes into the plan's providerUpserts. */
  readonly upsert: boolean;
}

/** The file provider configure creates when asked for an alias that does not exist yet. */
export function defaultFileProvider(configPath: string): Record<string, unknown> & { source: "file" } {
  return { source: "file", path: join(dirname(configPath), "secrets.json"), mode: "json" };
}

/**
 * The provider for a non-interactive `--provider <alias>`: an existing entry; the default env alias (it
 * works without an entry); else a new file provider at `<configDir>/secrets.json`. Exec providers are
 * refused: clawgate cannot write a value into a resolver, so refs there are mapped by hand.
 */
export function chooseProvider(loaded: LoadedConfig, alias: string, options: { skipProviderSetup?: boolean } = {}): ProviderChoice {
  if (!PROVIDER_ALIAS_RE.test(alias) || isForbiddenSegment(alias)) {
    throw new ConfigureError("ERR_CONFIGURE_INVALID", `--provider must match ^[a-z][a-z0-9_-]{0,63}$ and not be constructor or prototype`);
  }
  const existing = loaded.raw["secrets"] && isRecord(loaded.raw["secrets"]) ? loaded.raw["secrets"]["providers"] : undefined;
  const entry = isRecord(existing) && Object.hasOwn(existing, alias) ? existing[alias] : undefined;
  const parsed = Object.hasOwn(loaded.config.secrets.providers, alias) ? loaded.config.secrets.providers[alias] : undefined;
  if (parsed && isRecord(entry)) {
    if (parsed.source === "exec") {
      throw new ConfigureError(
        "ERR_CONFIGURE_INVALID",
        `provider "${alias}" is an exec provider: exec providers are read-only, so clawgate cannot store values in them; ` +
          `run configure in a terminal to map refs by hand, or write a plan for secrets apply`,
      );
    }
    if (parsed.source === "file" && parsed.mode === "singleValue") {
      throw new ConfigureError(
        "ERR_CONFIGURE_INVALID",
        `provider "${alias}" is a singleValue file provider: it holds one value, not one per credential; use a json-mode file provider`,
      );
    }
    return { alias, config: entry as ProviderChoice["config"], upsert: false };
  }
  if (alias === loaded.defaultEnvProvider) return { alias, config: { source: "env" }, upsert: false };
  if (options.skipProviderSetup) {
    throw new ConfigureError("ERR_CONFIGURE_INVALID", `provider "${alias}" is not configured and --skip-provider-setup forbids creating it`);
  }
  return { alias, config: defaultFileProvider(loaded.path), upsert: true };
}

/** `skills.entries.foo.apiKey` → `SKILLS_ENTRIES_FOO_APIKEY`: an env name for a path without a conventional one. */
export function derivedEnvName(segments: readonly string[]): string {
  const name = segments.join("_").toUpperCase().replace(/[^A-Z0-9_]/g, "_");
  const fixed = /^[A-Z]/.test(name) ? name : `S_${name}`;
  return fixed.slice(0, 128);
}

/** The ref id configure proposes for a credential in a provider of `source`. */
export function suggestRefId(candidate: Pick<MigrationCandidate, "spec" | "segments">, provider: ProviderChoice["config"]): string {
  switch (provider.source) {
    case "file":
      return provider["mode"] === "singleValue" ? SINGLE_VALUE_ID : formatPointer(candidate.segments);
    case "env": {
      const conventional = envNamesFor(candidate).find((n) => ENV_ID_RE.test(n));
      return conventional ?? derivedEnvName(candidate.segments);
    }
    case "exec": {
      const id = candidate.segments.map((s) => s.replace(/[^A-Za-z0-9._:-]/g, "_")).join("/");
      return isExecId(id) ? id : "value";
    }
  }
}

export interface PlanInput {
  readonly choice: ProviderChoice;
  /**
   * The credentials to migrate, each with its ref id in the chosen provider. A candidate that already
   * holds a ref keeps it (no id needed): its target only lets apply scrub the leftovers.
   */
  readonly targets: readonly PlanTargetInput[];
  readonly now?: () => Date;
}

export interface PlanTargetInput {
  readonly candidate: Pick<MigrationCandidate, "spec" | "segments" | "path" | "existingRef">;
  readonly id?: string;
}

/** The ref a target gets: its existing ref, else `id` in the chosen provider. */
export function targetRef(target: PlanTargetInput, choice: ProviderChoice): SecretRef {
  if (target.candidate.existingRef) return target.candidate.existingRef;
  if (target.id === undefined) throw new TypeError(`no ref id for ${target.candidate.path}`);
  return { source: choice.config.source, provider: choice.alias, id: target.id };
}

/** The refs-only plan: targets, the provider upsert when the provider is new, all scrubs on. */
export function buildPlan(input: PlanInput): SecretsPlan {
  const { choice } = input;
  const usesChoice = input.targets.some((t) => !t.candidate.existingRef);
  return {
    version: 1,
    protocolVersion: 1,
    generatedAt: (input.now ?? (() => new Date()))().toISOString(),
    generatedBy: "clawgate secrets configure",
    ...(choice.upsert && (usesChoice || input.targets.length === 0) ? { providerUpserts: { [choice.alias]: choice.config } } : {}),
    targets: input.targets.map((target) => {
      const { candidate } = target;
      return {
        type: candidate.spec.type,
        path: candidate.path,
        pathSegments: [...candidate.segments],
        ...(candidate.spec.type === PROVIDER_API_KEY_TYPE ? { providerId: candidate.segments[2]! } : {}),
        ref: { ...targetRef(target, choice) },
      };
    }),
    options: { scrubEnv: true, scrubAuthProfilesForProviderTargets: true, scrubLegacyAuthJson: true },
  };
}

export interface StoreWriteResult {
  readonly file: string;
  readonly count: number;
  /** False when the file already held exactly these values (nothing written). */
  readonly changed: boolean;
}

/**
 * Put values into a file provider's store: a JSON object (json mode, one pointer per id, other keys kept)
 * or the single value (singleValue mode). Folder 0700 if created, file 0600, atomic, never via a symlink.
 */
export async function writeFileStore(
  provider: Record<string, unknown>,
  entries: readonly { id: string; value: string }[],
  home?: string,
): Promise<StoreWriteResult> {
  const file = expandHome(String(provider["path"]), home);
  let existing: string | undefined;
  try {
    if ((await lstat(file)).isSymbolicLink()) {
      throw new ConfigureError("ERR_CONFIGURE_STORE", `refusing to write the secret store through a symlink: ${file}`);
    }
    existing = await readFile(file, "utf8");
  } catch (error) {
    if (error instanceof ConfigureError) throw error;
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new ConfigureError("ERR_CONFIGURE_STORE", `cannot read the secret store ${file} (${(error as NodeJS.ErrnoException).code ?? "error"})`, {
        cause: error,
      });
    }
  }

  let text: string;
  if (provider["mode"] === "singleValue") {
    if (entries.length !== 1) {
      throw new ConfigureError("ERR_CONFIGURE_STORE", `singleValue store ${file} holds exactly one value, not ${entries.length}`);
    }
    text = `${entries[0]!.value}\n`;
  } else {
    let doc: Record<string, unknown> = {};
    if (existing !== undefined && existing.trim() !== "") {
      let parsed: unknown;
      try {
        parsed = JSON.parse(existing.replace(/^\uFEFF/, ""));
      } catch {
        throw new ConfigureError("ERR_CONFIGURE_STORE", `the secret store ${file} is not valid JSON; fix or move it first`);
      }
      if (!isRecord(parsed)) throw new ConfigureError("ERR_CONFIGURE_STORE", `the secret store ${file} is not a JSON object`);
      doc = parsed;
    }
    for (const { id, value } of entries) setAtSegments(doc, parsePointer(id), value, file);
    text = `${JSON.stringify(doc, null, 2)}\n`;
  }
  if (text === existing) return { file, count: entries.length, changed: false };
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, text, 0o600);
  return { file, count: entries.length, changed: true };
}

function setAtSegments(doc: Record<string, unknown>, segments: readonly string[], value: string, file: string): void {
  if (segments.length === 0) throw new ConfigureError("ERR_CONFIGURE_STORE", `cannot store a value at the root of ${file}`);
  let node = doc;
  for (const [i, segment] of segments.entries()) {
    if (isForbiddenSegment(segment)) throw new ConfigureError("ERR_CONFIGURE_STORE", `segment "${segment}" is not allowed in a pointer`);
    if (i === segments.length - 1) {
      node[segment] = value;
      return;
    }
    const child = Object.hasOwn(node, segment) ? node[segment] : undefined;
    if (child === undefined) node = node[segment] = {} as Record<string, unknown>;
    else if (isRecord(child)) node = child;
    else throw new ConfigureError("ERR_CONFIGURE_STORE", `${formatPointer(segments.slice(0, i + 1))} in ${file} is not an object`);
  }
}

/** What an injected prompt returns on cancel: undefined. The CLI binds these to @clack/prompts. */
export interface ConfigurePrompts {
  intro(title: string): void;
  outro(message: string): void;
  note(message: string, title?: string): void;
  info(message: string): void;
  warn(message: string): void;
  select<T extends string>(options: {
    message: string;
    options: { value: T; label: string; hint?: string }[];
    initialValue?: T;
  }): Promise<T | undefined>;
  text(options: { message: string; initialValue?: string; placeholder?: string; validate?: (value: string) => string | undefined }): Promise<
    string | undefined
  >;
  confirm(options: { message: string; initialValue?: boolean }): Promise<boolean | undefined>;
}

function cancelled(): ConfigureError {
  return new ConfigureError("ERR_CONFIGURE_CANCELLED", "configure cancelled; nothing written");
}

async function ask<T>(answer: Promise<T | undefined>): Promise<T> {
  const value = await answer;
  if (value === undefined) throw cancelled();
  return value;
}

export interface InteractiveInput {
  readonly loaded: LoadedConfig;
  readonly candidates: readonly MigrationCandidate[];
  readonly provider?: string;
  readonly providersOnly?: boolean;
  readonly skipProviderSetup?: boolean;
}

/** A decided target: a candidate to migrate (with its ref id) or whose leftovers to scrub (existingRef, no id). */
export interface DecidedTarget {
  readonly candidate: MigrationCandidate;
  readonly id?: string;
}

export interface InteractiveDecisions {
  readonly choice: ProviderChoice;
  readonly targets: DecidedTarget[];
}

/**
 * The interactive decisions, separate from any I/O so tests drive them with scripted prompts: pick or
 * add a provider, then for each plaintext credential migrate it (with an id, defaulting to the suggestion)
 * or leave it; for leftovers of a path that already holds a ref, scrub them or leave them.
 */
export async function interactiveDecisions(input: InteractiveInput, prompts: ConfigurePrompts): Promise<InteractiveDecisions> {
  const { loaded } = input;
  const choice = await pickProvider(input, prompts);
  const targets: DecidedTarget[] = [];
  if (input.providersOnly) return { choice, targets };
  if (input.candidates.length === 0) {
    prompts.note("No plaintext credentials found in the config, .env, auth.json or auth profiles.");
    return { choice, targets };
  }
  const configDir = dirname(loaded.path);
  const singleValue = choice.config.source === "file" && choice.config["mode"] === "singleValue";
  for (const candidate of input.candidates) {
    const from = candidate.origins.map((o) => describeOrigin(o, configDir)).join(", ");
    if (candidate.existingRef) {
      const scrub = await ask(
        prompts.confirm({
          message: `${candidate.path} already uses ${refKey(candidate.existingRef)}; remove the leftover plaintext in ${from}?`,
          initialValue: true,
        }),
      );
      if (scrub) targets.push({ candidate });
      continue;
    }
    if (singleValue && targets.some((t) => !t.candidate.existingRef)) {
      prompts.warn(`"${choice.alias}" is a singleValue file: it holds one value, so ${candidate.path} stays as it is`);
      continue;
    }
    const move = await ask(prompts.confirm({ message: `Move ${candidate.path} (plaintext in ${from}) to "${choice.alias}"?`, initialValue: true }));
    if (!move) continue;
    const id = await ask(
      prompts.text({
        message: `Ref id for ${candidate.path} in ${choice.config.source} provider "${choice.alias}"`,
        initialValue: suggestRefId(candidate, choice.config),
        validate: (value) => refIdProblem(choice.config.source, value) ?? fileModeProblem(choice.config, value),
      }),
    );
    targets.push({ candidate, id });
  }
  return { choice, targets };
}

/** A file ref id must suit the file's mode: `value` for singleValue, a non-empty JSON pointer for json. */
function fileModeProblem(provider: ProviderChoice["config"], id: string): string | undefined {
  if (provider.source !== "file") return undefined;
  if (provider["mode"] === "singleValue") return id === SINGLE_VALUE_ID ? undefined : `a singleValue file answers only to "${SINGLE_VALUE_ID}"`;
  return id.startsWith("/") ? undefined : "must be a JSON pointer into the file, such as /providers/openai/apiKey";
}

async function pickProvider(input: InteractiveInput, prompts: ConfigurePrompts): Promise<ProviderChoice> {
  const { loaded } = input;
  const configured = loaded.config.secrets.providers;
  const rawProviders = isRecord(loaded.raw["secrets"]) && isRecord(loaded.raw["secrets"]["providers"]) ? loaded.raw["secrets"]["providers"] : {};
  const existing = (alias: string): ProviderChoice | undefined => {
    if (Object.hasOwn(configured, alias) && isRecord(rawProviders[alias])) return { alias, config: rawProviders[alias] as ProviderChoice["config"], upsert: false };
    if (alias === loaded.defaultEnvProvider) return { alias, config: { source: "env" }, upsert: false };
    return undefined;
  };
  if (input.provider) {
    const found = existing(input.provider);
    if (found) return found;
  }
  const options: { value: string; label: string; hint?: string }[] = Object.entries(configured).map(([alias, p]) => ({
    value: `use:${alias}`,
    label: alias,
    hint: p.source === "file" ? `file ${p.path}` : p.source,
  }));
  if (!Object.hasOwn(configured, loaded.defaultEnvProvider)) {
    options.push({ value: `use:${loaded.defaultEnvProvider}`, label: loaded.defaultEnvProvider, hint: "env (built in)" });
  }
  if (!input.skipProviderSetup) {
    options.push(
      { value: "new:file", label: "add a file provider", hint: "a 0600 JSON file clawgate writes the values into" },
      { value: "new:env", label: "add an env provider", hint: "you set the variables where the agent runs" },
      { value: "new:exec", label: "add an exec provider", hint: "a resolver command (vault, op, pass); you load the values" },
    );
  }
  const picked = await ask(prompts.select({ message: "Which secret provider should hold these credentials?", options }));
  if (picked.startsWith("use:")) return existing(picked.slice(4))!;

  const source = picked.slice(4) as SecretSource;
  const alias = await ask(
    prompts.text({
      message: "Provider alias",
      initialValue: input.provider ?? (source === "file" ? "filemain" : source === "env" ? "envmain" : "vault"),
      validate: (v) =>
        !PROVIDER_ALIAS_RE.test(v) || isForbiddenSegment(v)
          ? "must match ^[a-z][a-z0-9_-]{0,63}$ (and not be constructor or prototype)"
          : Object.hasOwn(configured, v)
            ? `"${v}" already exists`
            : undefined,
    }),
  );
  if (source === "file") {
    const path = await ask(
      prompts.text({
        message: "Secrets file (JSON, mode 0600)",
        initialValue: join(dirname(loaded.path), "secrets.json"),
        validate: (v) => (v.startsWith("/") || v.startsWith("~/") ? undefined : "must be an absolute path (or start with ~/)"),
      }),
    );
    return { alias, config: { source: "file", path, mode: "json" }, upsert: true };
  }
  if (source === "env") return { alias, config: { source: "env" }, upsert: true };
  const command = await ask(
    prompts.text({
      message: "Resolver command (absolute path; it receives the ids on stdin, protocol v1)",
      validate: (v) => (v.startsWith("/") ? undefined : "must be an absolute path"),
    }),
  );
  return { alias, config: { source: "exec", command }, upsert: true };
}

export interface ConfigureOptions {
  readonly configPath: string;
  /** `--provider`: the alias to migrate into (required when not interactive). */
  readonly provider?: string;
  readonly planOut?: string;
  readonly apply?: boolean;
  readonly yes?: boolean;
  readonly providersOnly?: boolean;
  readonly skipProviderSetup?: boolean;
  /** True when stdin is a terminal: the prompts drive the decisions. */
  readonly interactive: boolean;
  readonly prompts?: ConfigurePrompts;
  readonly env?: NodeJS.ProcessEnv;
  readonly providerIo?: ProviderIo;
  readonly now?: () => Date;
  /** Human progress lines (never a value). */
  readonly log?: (line: string) => void;
}

export interface ConfigureResult {
  readonly plan: SecretsPlan;
  readonly planPath?: string;
  readonly store?: StoreWriteResult;
  readonly applied?: ApplyResult;
  /** True when only a preview was produced (no --plan-out, no --apply): nothing was written. */
  readonly preview: boolean;
  readonly warnings: string[];
}

/**
 * The whole configure run. Ordering matters because a plan never carries values:
 * 1. every decision and check happens first (nothing written yet);
 * 2. the values go into the file provider's store, the one place a value may live;
 * 3. the plan (refs only) is written with --plan-out; its refs now resolve, so a later
 *    `secrets apply --from` passes its preflight;
 * 4. with --apply the same plan goes through the apply engine, which preflights again and only then
 *    rewrites the config and scrubs .env / auth.json / auth profiles.
 * A failure in 4 leaves the config untouched and the values in the store, where they belong; running
 * configure again is idempotent.
 */
export async function runConfigure(options: ConfigureOptions): Promise<ConfigureResult> {
  // In a terminal session progress goes through the prompt UI so it stays inside clack's guide line.
  const log = options.interactive && options.prompts ? (line: string) => options.prompts!.info(line) : (options.log ?? (() => {}));
  const loaded = await loadConfig(options.configPath);
  const sources = await readCandidateSources(loaded.path);
  const candidates = findMigrationCandidates(loaded, sources);
  const warnings: string[] = [];

  let decisions: InteractiveDecisions;
  if (options.interactive) {
    if (!options.prompts) throw new TypeError("interactive configure needs prompts");
    options.prompts.intro("clawgate secrets configure");
    decisions = await interactiveDecisions({ loaded, candidates, ...pick(options) }, options.prompts);
  } else {
    if (!options.provider) {
      throw new ConfigureError(
        "ERR_CONFIGURE_INVALID",
        "stdin is not a terminal: pass --provider <alias> (with --plan-out FILE and/or --apply --yes) to configure non-interactively",
      );
    }
    if (options.apply && !options.yes) {
      throw new ConfigureError("ERR_CONFIGURE_INVALID", "--apply needs --yes when stdin is not a terminal (nothing written)");
    }
    const choice = chooseProvider(loaded, options.provider, options);
    const targets: DecidedTarget[] = [];
    for (const candidate of options.providersOnly ? [] : candidates) {
      if (candidate.existingRef?.source === "exec") {
        // Scrubbing needs the ref's preflight, and running a resolver needs consent configure cannot get here.
        warnings.push(`${candidate.path} uses an exec ref; its leftover plaintext is kept (run configure in a terminal to remove it)`);
        continue;
      }
      targets.push(candidate.existingRef ? { candidate } : { candidate, id: suggestRefId(candidate, choice.config) });
    }
    decisions = { choice, targets };
  }

  const { targets } = decisions;
  const choice = withAllowlisted(decisions.choice, targets);
  const plan = buildPlan({ choice, targets, ...(options.now ? { now: options.now } : {}) });
  // Only a terminal session can end up with exec refs here: the operator picked them, which is the consent.
  const allowExec = plan.targets.some((t) => t.ref.source === "exec") || Object.values(plan.providerUpserts ?? {}).some((p) => p.source === "exec");
  const moved = targets.filter((t): t is DecidedTarget & { id: string } => !t.candidate.existingRef && t.id !== undefined);
  if (choice.config.source === "env" && moved.length > 0) {
    warnings.push(
      `env provider "${choice.alias}" stores nothing: set ${moved.map((t) => t.id).join(", ")} in the agent's environment (values are not copied)`,
    );
  }
  if (choice.config.source === "exec" && moved.length > 0) {
    warnings.push(`exec provider "${choice.alias}" is read-only: make its resolver answer ${moved.map((t) => t.id).join(", ")}`);
  }
  if (plan.targets.length === 0 && !plan.providerUpserts) {
    const why = candidates.length === 0 ? "no plaintext credentials found; nothing to do" : "nothing selected; nothing to do";
    if (options.interactive) options.prompts?.outro(why);
    else log(why);
    return { plan, preview: true, warnings };
  }

  let doApply = options.apply === true;
  let preview = !options.planOut && !doApply;
  if (options.interactive && options.prompts) {
    const lines = plan.targets.map((t) => `${t.path} → ${refKey(t.ref)}`);
    if (plan.providerUpserts) lines.unshift(`new ${choice.config.source} provider "${choice.alias}"`);
    options.prompts.note(lines.join("\n"), "Plan");
    if (!doApply || !options.yes) {
      const storeNote =
        choice.config.source === "file" && moved.length > 0 ? `store ${moved.length} value(s) in ${String(choice.config["path"])} and ` : "";
      doApply = await ask(options.prompts.confirm({ message: `${storeNote}apply this plan now?`, initialValue: true }));
      if (!doApply && !options.planOut) throw cancelled();
    }
    preview = false;
  }
  if (preview) return { plan, preview: true, warnings };

  // Step 2: values into the store (file providers only; env and exec hold values outside clawgate).
  let store: StoreWriteResult | undefined;
  if (choice.config.source === "file" && moved.length > 0) {
    const entries = new Map<string, string>();
    for (const t of moved) if (!entries.has(t.id) && t.candidate.plaintext !== undefined) entries.set(t.id, t.candidate.plaintext);
    store = await writeFileStore(
      choice.config,
      [...entries].map(([id, value]) => ({ id, value })),
      options.env?.["HOME"],
    );
    log(`${store.changed ? "stored" : "already stored"} ${store.count} value(s) in ${store.file}`);
  }
  // Step 3: the plan, refs only.
  if (options.planOut) {
    await writePlanFile(options.planOut, plan);
    log(`plan written to ${options.planOut} (refs only, mode 0600)`);
  }
  // Step 4: apply.
  let applied: ApplyResult | undefined;
  if (doApply) {
    applied = await applyPlan(plan, {
      configPath: loaded.path,
      allowExec,
      ...(options.env ? { env: options.env } : {}),
      ...(options.providerIo ? { providerIo: options.providerIo } : {}),
    });
    warnings.push(...applied.warnings);
  }
  options.prompts?.outro(applied ? "done" : `plan written; apply it with: clawgate secrets apply --from ${options.planOut}`);
  return {
    plan,
    ...(options.planOut ? { planPath: options.planOut } : {}),
    ...(store ? { store } : {}),
    ...(applied ? { applied } : {}),
    preview: false,
    warnings,
  };
}

/** An env provider with an allowlist gets the new ids added (as a provider upsert), or its refs could never resolve. */
function withAllowlisted(choice: ProviderChoice, targets: readonly DecidedTarget[]): ProviderChoice {
  const allowlist = choice.config["allowlist"];
  if (choice.config.source !== "env" || !Array.isArray(allowlist)) return choice;
  const missing = [...new Set(targets.filter((t) => !t.candidate.existingRef && t.id !== undefined).map((t) => t.id!))].filter(
    (id) => !allowlist.includes(id),
  );
  if (missing.length === 0) return choice;
  return { ...choice, config: { ...choice.config, allowlist: [...allowlist, ...missing] }, upsert: true };
}

function pick(options: ConfigureOptions): Omit<InteractiveInput, "loaded" | "candidates"> {
  return {
    ...(options.provider ? { provider: options.provider } : {}),
    ...(options.providersOnly ? { providersOnly: true } : {}),
    ...(options.skipProviderSetup ? { skipProviderSetup: true } : {}),
  };
}
