/** `secrets configure`: the provider the credentials go to, the ref id each gets, and the refs-only plan built from those decisions. */
import { dirname, join } from "node:path";
import type { LoadedConfig } from "../config/config-file.ts";
import { envNamesFor, isForbiddenSegment, isRecord } from "../config/credential-paths.ts";
import { ENV_ID_RE, PROVIDER_ALIAS_RE, SINGLE_VALUE_ID, type SecretRef, type SecretSource, isExecId } from "../config/secret-ref.ts";
import { ConfigureError } from "./configure-error.ts";
import type { MigrationCandidate } from "./configure-discovery.ts";
import { formatPointer } from "./json-pointer.ts";
import { PROVIDER_API_KEY_TYPE } from "./legacy-auth.ts";
import type { SecretsPlan } from "./secrets-plan.ts";

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

/** A decided target: a candidate to migrate (with its ref id) or whose leftovers to scrub (existingRef, no id). */
export interface DecidedTarget {
  readonly candidate: MigrationCandidate;
  readonly id?: string;
}

/** An env provider with an allowlist gets the new ids added (as a provider upsert), or its refs could never resolve. */
export function withAllowlisted(choice: ProviderChoice, targets: readonly DecidedTarget[]): ProviderChoice {
  const allowlist = choice.config["allowlist"];
  if (choice.config.source !== "env" || !Array.isArray(allowlist)) return choice;
  const missing = [...new Set(targets.filter((t) => !t.candidate.existingRef && t.id !== undefined).map((t) => t.id!))].filter(
    (id) => !allowlist.includes(id),
  );
  if (missing.length === 0) return choice;
  return { ...choice, config: { ...choice.config, allowlist: [...allowlist, ...missing] }, upsert: true };
}
