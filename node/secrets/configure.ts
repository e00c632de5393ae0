/** `secrets configure`: finds plaintext credentials, moves their values into a secret store, and builds (and applies) a refs-only plan. */
import { loadConfig } from "../config/config-file.ts";
import { refKey } from "../config/secret-ref.ts";
import { findMigrationCandidates, readCandidateSources } from "./configure-discovery.ts";
import { ConfigureError } from "./configure-error.ts";
import { type DecidedTarget, buildPlan, chooseProvider, suggestRefId, withAllowlisted } from "./configure-plan.ts";
import { type ConfigurePrompts, type InteractiveDecisions, type InteractiveInput, ask, cancelled, interactiveDecisions } from "./configure-prompts.ts";
import { type StoreWriteResult, writeFileStore } from "./configure-store.ts";
import { type ProviderIo } from "./provider-registry.ts";
import { type ApplyResult, type SecretsPlan, applyPlan, writePlanFile } from "./secrets-plan.ts";

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

function pick(options: ConfigureOptions): Omit<InteractiveInput, "loaded" | "candidates"> {
  return {
    ...(options.provider ? { provider: options.provider } : {}),
    ...(options.providersOnly ? { providersOnly: true } : {}),
    ...(options.skipProviderSetup ? { skipProviderSetup: true } : {}),
  };
}
