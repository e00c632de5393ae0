/** `secrets configure` in a terminal: the prompts that pick or add a provider and decide, credential by credential, what moves. */
import { dirname, join } from "node:path";
import type { LoadedConfig } from "../config/config-file.ts";
import { isForbiddenSegment, isRecord } from "../config/credential-paths.ts";
import { PROVIDER_ALIAS_RE, SINGLE_VALUE_ID, type SecretSource, refIdProblem, refKey } from "../config/secret-ref.ts";
import { type MigrationCandidate, describeOrigin } from "./configure-discovery.ts";
import { ConfigureError } from "./configure-error.ts";
import { type DecidedTarget, type ProviderChoice, suggestRefId } from "./configure-plan.ts";

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

export function cancelled(): ConfigureError {
  return new ConfigureError("ERR_CONFIGURE_CANCELLED", "configure cancelled; nothing written");
}

export async function ask<T>(answer: Promise<T | undefined>): Promise<T> {
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
