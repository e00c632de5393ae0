/** `clawgate secrets audit | configure | apply | reload`: the operator's commands for moving credentials out of plaintext. */
import * as clack from "@clack/prompts";
import { type Command, Option } from "commander";
import { dirname, relative, resolve as resolvePath } from "node:path";
import { resolveConfigPath } from "../config/config-file.ts";
import { LegacyAuthError } from "../secrets/legacy-auth.ts";
import { type Severity, SEVERITIES, auditExitCode, formatAuditReport, runAudit } from "../secrets/audit.ts";
import { runConfigure } from "../secrets/configure.ts";
import { ConfigureError } from "../secrets/configure-error.ts";
import type { ConfigurePrompts } from "../secrets/configure-prompts.ts";
import { type ApplyResult, SecretsPlanError, applyPlan, readPlanFile } from "../secrets/secrets-plan.ts";
import { CliError } from "./cli-error.ts";
import type { CliIo } from "./cli-io.ts";
import { configFlag, configOption } from "./cli-io.ts";
import { addReloadCommand } from "./reload-command.ts";

/** What the commands read from the process; tests inject. */
export interface SecretsCommandDeps {
  readonly env?: NodeJS.ProcessEnv;
  /** Whether stdin is a terminal (interactive configure). */
  readonly isInteractive?: () => boolean;
  readonly prompts?: ConfigurePrompts;
}

interface AuditFlags {
  check?: boolean;
  json?: boolean;
  allowExec?: boolean;
  severityMin?: Severity;
}

interface ConfigureFlags {
  planOut?: string;
  apply?: boolean;
  yes?: boolean;
  providersOnly?: boolean;
  skipProviderSetup?: boolean;
  provider?: string;
}

interface ApplyFlags {
  from: string;
  dryRun?: boolean;
  allowExec?: boolean;
  json?: boolean;
}

export function registerSecretsCommands(program: Command, io: CliIo, deps: SecretsCommandDeps = {}): void {
  const env = () => deps.env ?? process.env;
  const secrets = program.command("secrets").description("audit, migrate and reload SecretRefs (OpenClaw-compatible)");

  secrets
    .command("audit")
    .description("find plaintext credentials, unresolvable refs, shadowed refs and legacy residue (never prints a value)")
    .addOption(configOption())
    .option("--check", "exit 1 when there are findings (2 when a ref is unresolved, always)")
    .option("--json", "print only the JSON report")
    .option("--allow-exec", "run exec resolvers to check exec refs (else they are counted as skipped)")
    .addOption(new Option("--severity-min <level>", "ignore findings below this severity").choices(SEVERITIES).default("info"))
    .action(async (opts: AuditFlags, command: Command) => {
      const report = await withKnownErrors(() =>
        runAudit({
          configPath: resolveConfigPath(configFlag(command), env()),
          env: env(),
          ...(opts.allowExec ? { allowExec: true } : {}),
          ...(opts.severityMin ? { severityMin: opts.severityMin } : {}),
        }),
      );
      io.stdout(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatAuditReport(report));
      const code = auditExitCode(report, opts.check === true);
      if (code === 2) {
        throw new CliError(`${report.summary.unresolvedRefCount} ref(s) cannot be resolved`, { code: "ERR_AUDIT_UNRESOLVED", exitCode: 2 });
      }
      if (code === 1) throw new CliError(`${report.findings.length} finding(s)`, { code: "ERR_AUDIT_FINDINGS", exitCode: 1 });
    });

  secrets
    .command("configure")
    .description("move plaintext credentials into a secret provider: writes the values to the store and a refs-only plan")
    .addOption(configOption())
    .option("--provider <alias>", "provider to move every plaintext credential into (required without a terminal)")
    .option("--plan-out <file>", "write the plan (refs only, mode 0600)")
    .option("--apply", "apply the plan after building it")
    .option("--yes", "do not ask for confirmation (required with --apply without a terminal)")
    .option("--providers-only", "only set up the provider; migrate no credential")
    .option("--skip-provider-setup", "use an existing provider only; never create one")
    .action(async (opts: ConfigureFlags, command: Command) => {
      const interactive = deps.isInteractive ? deps.isInteractive() : process.stdin.isTTY === true;
      const result = await withKnownErrors(() =>
        runConfigure({
          configPath: resolveConfigPath(configFlag(command), env()),
          interactive,
          env: env(),
          log: (line) => io.stdout(`${line}\n`),
          ...(interactive ? { prompts: deps.prompts ?? clackPrompts() } : {}),
          ...(opts.provider ? { provider: opts.provider } : {}),
          ...(opts.planOut ? { planOut: resolvePath(opts.planOut) } : {}),
          ...(opts.apply ? { apply: true } : {}),
          ...(opts.yes ? { yes: true } : {}),
          ...(opts.providersOnly ? { providersOnly: true } : {}),
          ...(opts.skipProviderSetup ? { skipProviderSetup: true } : {}),
        }),
      );
      if (result.preview && result.plan.targets.length + Object.keys(result.plan.providerUpserts ?? {}).length > 0) {
        const lines = result.plan.targets.map((t) => `  ${t.path} → ${t.ref.source}:${t.ref.provider}:${t.ref.id}`);
        for (const alias of Object.keys(result.plan.providerUpserts ?? {})) lines.unshift(`  new provider "${alias}"`);
        io.stdout(`preview, nothing written:\n${lines.join("\n")}\npass --plan-out FILE and/or --apply --yes to carry it out\n`);
      }
      if (result.applied) io.stdout(formatApply(result.applied, dirname(resolveConfigPath(configFlag(command), env()))));
      for (const warning of result.warnings) io.stderr(`warning: ${warning}\n`);
    });

  secrets
    .command("apply")
    .description("apply a plan file: refs into the config, provider changes, scrub migrated plaintext (atomic, no backups)")
    .addOption(configOption())
    .requiredOption("--from <plan>", "plan file written by secrets configure (or by hand)")
    .option("--dry-run", "validate and preflight only; write nothing")
    .option("--allow-exec", "accept exec refs and providers and run their resolvers in the preflight")
    .option("--json", "print {ok, dryRun, changes, warnings}")
    .action(async (opts: ApplyFlags, command: Command) => {
      const configPath = resolveConfigPath(configFlag(command), env());
      const result = await withKnownErrors(async () =>
        applyPlan(await readPlanFile(opts.from), {
          configPath,
          env: env(),
          ...(opts.dryRun ? { dryRun: true } : {}),
          ...(opts.allowExec ? { allowExec: true } : {}),
        }),
      );
      if (opts.json) {
        io.stdout(`${JSON.stringify(result, null, 2)}\n`);
        return;
      }
      io.stdout(formatApply(result, dirname(configPath)));
      for (const warning of result.warnings) io.stderr(`warning: ${warning}\n`);
    });

  addReloadCommand(secrets, io);
}

/** Errors of the secrets engine end the command with their one-line (or per-field) reason. */
async function withKnownErrors<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof SecretsPlanError || error instanceof ConfigureError || error instanceof LegacyAuthError) {
      throw new CliError(error.message, { code: error.code, exitCode: 1, cause: error });
    }
    throw error;
  }
}

function formatApply(result: ApplyResult, base: string): string {
  const lines: string[] = [];
  if (result.changes.length > 0) {
    const rows = result.changes.map((c) => [c.action, relative(base, c.file) || c.file, c.path]);
    const widths = [0, 1].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
    lines.push(result.dryRun ? "would change:" : "changed:");
    for (const row of rows) lines.push(`  ${row[0]!.padEnd(widths[0]!)}  ${row[1]!.padEnd(widths[1]!)}  ${row[2]}`);
  }
  const n = result.changes.length;
  lines.push(
    result.dryRun
      ? `dry run: ${n} change(s) would be made; nothing written`
      : n === 0
        ? "no changes: the plan is already applied"
        : `applied ${n} change(s)`,
  );
  return `${lines.join("\n")}\n`;
}

/** @clack/prompts behind the ConfigurePrompts seam; a cancel (Ctrl-C, Esc) becomes undefined. */
export function clackPrompts(): ConfigurePrompts {
  const orUndefined = <T>(value: T | symbol): T | undefined => (typeof value === "symbol" ? undefined : value);
  return {
    intro: (title) => clack.intro(title),
    outro: (message) => clack.outro(message),
    note: (message, title) => clack.note(message, title),
    info: (message) => clack.log.info(message),
    warn: (message) => clack.log.warn(message),
    async select(options) {
      return orUndefined(
        await clack.select({
          message: options.message,
          options: options.options.map((o) => ({ value: o.value, label: o.label, ...(o.hint ? { hint: o.hint } : {}) })) as never,
          ...(options.initialValue === undefined ? {} : { initialValue: options.initialValue }),
        }),
      ) as never;
    },
    async text(options) {
      const validate = options.validate;
      return orUndefined<string>(
        await clack.text({
          message: options.message,
          ...(options.initialValue === undefined ? {} : { initialValue: options.initialValue }),
          ...(options.placeholder === undefined ? {} : { placeholder: options.placeholder }),
          ...(validate ? { validate: (value: string | undefined) => validate(value ?? "") } : {}),
        }),
      );
    },
    async confirm(options) {
      return orUndefined<boolean>(
        await clack.confirm({ message: options.message, ...(options.initialValue === undefined ? {} : { initialValue: options.initialValue }) }),
      );
    },
  };
}
