/** `clawgate service print|install launchd|systemd` and `clawgate cron print`: supervision and scheduling files for the host. */
import { constants } from "node:fs";
import { access, mkdir, realpath, stat } from "node:fs/promises";
import { homedir, userInfo } from "node:os";
import { delimiter, dirname, isAbsolute, join, resolve } from "node:path";
import { type Command, Option } from "commander";
import { type LoadedConfig, loadConfig, resolveConfigPath } from "../config/config-file.ts";
import { writeFileAtomic } from "../config/atomic-write.ts";
import { expandHome } from "../config/home-path.ts";
import { DEFAULT_HOOKS_PATH } from "../intake/hooks-policy.ts";
import { resolveStateDir } from "../state/state-dir.ts";
import { DEFAULT_NODE_PORT } from "../../shared/constants.ts";
import { buildCronLine } from "../service/cron-line.ts";
import { buildLaunchdPlist, launchdLogPaths } from "../service/launchd-plist.ts";
import { DEFAULT_LAUNCHD_LABEL, SERVICE_KINDS, type ServiceKind, type ServiceSpec, defaultServiceDir, serviceFileName } from "../service/service-spec.ts";
import { buildSystemdUnit } from "../service/systemd-unit.ts";
import { CliError } from "./cli-error.ts";
import { CLI_ENTRY } from "./package-layout.ts";
import type { CliIo } from "./cli-io.ts";
import { configFlag, configOption } from "./cli-io.ts";


interface ServiceFlags {
  user?: string;
  home?: string;
  node?: string;
  cli?: string;
  stateDir?: string;
  path?: string;
  label?: string;
  rwPath?: string[];
  memoryBudgetGb?: string;
  system?: boolean;
  dir?: string;
}

/** The config when it exists and is valid; service files can be printed before the config is final. */
export async function loadConfigLoosely(path: string): Promise<LoadedConfig | undefined> {
  try {
    return await loadConfig(path);
  } catch {
    return undefined;
  }
}

/** A TypeError from a builder names the option: turn it into the CLI's one-line reason. */
function asCliError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof TypeError) throw new CliError(error.message, { code: "ERR_CLI_USAGE" });
    throw error;
  }
}

/** The absolute path of `name` on PATH (cron and supervisors run with a minimal PATH, so files name binaries absolutely). */
export async function findOnPath(name: string, pathEnv: string | undefined): Promise<string | undefined> {
  for (const dir of (pathEnv ?? "").split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue;
    const candidate = join(dir, name);
    if (await access(candidate, constants.X_OK).then(() => true, () => false)) return candidate;
  }
  return undefined;
}

/**
 * The Node running this command, by the name PATH gives it when that is the same binary: Homebrew's and
 * nvm's real paths carry the version (/opt/homebrew/Cellar/node/22.x/bin/node) and vanish on an upgrade,
 * /opt/homebrew/bin/node stays.
 */
async function stableNodePath(execPath: string, pathEnv: string | undefined): Promise<string> {
  const onPath = await findOnPath("node", pathEnv);
  if (!onPath) return execPath;
  const [a, b] = await Promise.all([realpath(onPath).catch(() => undefined), realpath(execPath).catch(() => execPath)]);
  return a === b ? onPath : execPath;
}

function parseKind(value: string): ServiceKind {
  if (!(SERVICE_KINDS as readonly string[]).includes(value)) throw new CliError(`service kind must be launchd or systemd, got "${value}"`);
  return value as ServiceKind;
}

async function buildSpec(kind: ServiceKind, opts: ServiceFlags, command: Command): Promise<ServiceSpec> {
  const me = userInfo().username;
  const user = opts.user ?? me;
  if (user === "root") {
    throw new CliError("--user root: the daemon must not run as root; pass --user with a dedicated account (e.g. clawgate)");
  }
  const home = resolve(opts.home ?? (user === me ? homedir() : process.platform === "darwin" ? `/Users/${user}` : `/home/${user}`));
  const configPath = resolveConfigPath(configFlag(command), process.env, home);
  const loaded = await loadConfigLoosely(configPath);
  const stateDir = opts.stateDir ? resolve(expandHome(opts.stateDir, home)) : resolveStateDir(undefined, loaded?.config.clawgate?.stateDir, {}, home);
  const nodePath = resolve(opts.node ?? (await stableNodePath(process.execPath, process.env["PATH"])));
  const basePath = kind === "launchd" ? "/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" : "/usr/local/bin:/usr/bin:/bin";
  // The daemon's own Node first, so `#!/usr/bin/env node` resolvers (clawgate resolver pass) run on it too.
  const path = opts.path ?? [dirname(nodePath), ...basePath.split(":")].filter((d, i, all) => all.indexOf(d) === i).join(":");
  const budget = opts.memoryBudgetGb !== undefined ? Number(opts.memoryBudgetGb) : memoryBudgetFrom(loaded);
  return {
    user,
    home,
    nodePath,
    cliPath: resolve(opts.cli ?? CLI_ENTRY),
    configPath,
    stateDir,
    path,
    ...(budget === undefined ? {} : { memoryBudgetGb: budget }),
    ...(opts.rwPath ? { readWritePaths: opts.rwPath.map((p) => resolve(expandHome(p, home))) } : {}),
  };
}

/** `clawgate.dispatch.memoryBudgetGb` (the dispatcher's setting), read loosely: a positive number or nothing. */
function memoryBudgetFrom(loaded: LoadedConfig | undefined): number | undefined {
  const section = loaded?.raw["clawgate"] as { dispatch?: { memoryBudgetGb?: unknown } } | undefined;
  const value = section?.dispatch?.memoryBudgetGb;
  return typeof value === "number" && value > 0 ? value : undefined;
}

function render(kind: ServiceKind, spec: ServiceSpec, label: string | undefined): string {
  return asCliError(() => (kind === "launchd" ? buildLaunchdPlist(spec, label ? { label } : {}) : buildSystemdUnit(spec)));
}

function serviceOptions(command: Command): Command {
  return command
    .addOption(configOption())
    .option("--user <name>", "the dedicated account the daemon runs as (default: you; never root)")
    .option("--home <dir>", "that account's home (default: yours, or /Users/<name> | /home/<name>)")
    .option("--node <path>", "absolute path of Node ≥ 22 (default: the one running this command)")
    .option("--cli <path>", "absolute path of the clawgate entry Node runs (default: this clawgate's: the installed dist/node/cli.js, or a checkout's node/cli/bin.ts)")
    .option("--state-dir <dir>", "the daemon's state dir (default: clawgate.stateDir, else <home>/.clawgate)")
    .option("--path <PATH>", "PATH for the daemon and its resolvers")
    .option("--label <label>", `launchd job label (default ${DEFAULT_LAUNCHD_LABEL})`)
    .option("--memory-budget-gb <n>", "systemd MemoryMax = budget + max(1 GiB, 10%) (default: clawgate.dispatch.memoryBudgetGb)")
    .addOption(new Option("--rw-path <dir...>", "extra folders the daemon may write under ProtectSystem=strict (e.g. ~/.gnupg)"));
}

export function registerServiceCommands(program: Command, io: CliIo): void {
  const service = program.command("service").description("supervision files: a launchd plist (macOS) or a systemd unit (Linux)");
  serviceOptions(service.command("print").argument("<kind>", "launchd | systemd").description("print the file to stdout")).action(
    async (kindArg: string, opts: ServiceFlags, command: Command) => {
      const kind = parseKind(kindArg);
      io.stdout(render(kind, await buildSpec(kind, opts, command), opts.label));
    },
  );
  serviceOptions(
    service
      .command("install")
      .argument("<kind>", "launchd | systemd")
      .description("write the file (0644) where the supervisor reads it and print the commands that load it; never loads it itself"),
  )
    .option("--system", "launchd: a LaunchDaemon in /Library/LaunchDaemons (starts at boot without a login, runs as --user)")
    .option("--dir <dir>", "write into this folder instead of the supervisor's")
    .action(async (kindArg: string, opts: ServiceFlags, command: Command) => {
      const kind = parseKind(kindArg);
      const spec = await buildSpec(kind, opts, command);
      const text = render(kind, spec, opts.label);
      // systemd's hardening directives (User=, ProtectSystem=) need a system unit; launchd defaults to a LaunchAgent.
      const scope = kind === "systemd" || opts.system ? "system" : "user";
      const dir = resolve(opts.dir ?? defaultServiceDir(kind, scope, spec.home));
      const file = join(dir, serviceFileName(kind, opts.label ?? DEFAULT_LAUNCHD_LABEL));
      try {
        await mkdir(dir, { recursive: true, mode: 0o755 });
        await writeFileAtomic(file, text, 0o644);
      } catch (error) {
        throw new CliError(`cannot write ${file} (${(error as NodeJS.ErrnoException).code ?? "error"}); run with sudo or pass --dir`);
      }
      const folders = kind === "launchd" ? [spec.stateDir, dirname(launchdLogPaths(spec.stateDir).stdout)] : [spec.stateDir];
      const prepared = spec.user === userInfo().username ? await ensureFolders(folders) : false;
      io.stdout(`wrote ${file}\n`);
      if (!prepared) {
        // Another user's folders: create them as that user, or the supervisor cannot open logs / ReadWritePaths.
        io.stdout(`create the daemon's folders first:\n  ${folders.map((f) => `sudo install -d -m 700 -o ${spec.user} ${f}`).join("\n  ")}\n`);
      }
      io.stdout(`load it with:\n  ${loadCommands(kind, scope, file, spec.user, opts.label ?? DEFAULT_LAUNCHD_LABEL).join("\n  ")}\n`);
    });

  const cron = program.command("cron").description("the same-host fallback heartbeat for crontab (besides the edge's cron)");
  cron
    .command("print")
    .description("print a crontab line that POSTs /hooks/wake on loopback with the hook token read from a 0600 file")
    .addOption(configOption())
    .option("--schedule <fields>", "five cron fields", "*/15 * * * *")
    .option("--token-file <path>", "0600 file holding the hook token (default: hook.token beside the config)")
    .option("--log <path>", "log the line appends to (default: <state-dir>/logs/cron-heartbeat.log)")
    .option("--url <url>", "the wake hook URL (default: from clawgate.node and hooks.path)")
    .option("--state-dir <dir>", "the daemon's state dir")
    .option("--text <text>", "the wake text", "Cron heartbeat")
    .addOption(new Option("--mode <mode>", "wake mode").choices(["now", "next-heartbeat"]).default("now"))
    .option("--curl <path>", "absolute path of curl (default: found on PATH)")
    .option("--sed <path>", "absolute path of sed (default: found on PATH)")
    .action(async (opts: CronFlags, command: Command) => {
      const configPath = resolveConfigPath(configFlag(command));
      const loaded = await loadConfigLoosely(configPath);
      if (loaded && !loaded.config.hooks?.enabled) io.stderr("clawgate: warning: hooks.enabled is not true in the config; the wake would get 404\n");
      const stateDir = resolveStateDir(opts.stateDir, loaded?.config.clawgate?.stateDir);
      const tokenFile = resolve(expandHome(opts.tokenFile ?? join(dirname(configPath), "hook.token"), homedir()));
      await checkTokenFile(tokenFile, io);
      const node = loaded?.config.clawgate?.node;
      const host = node?.host ?? "127.0.0.1";
      const hooksPath = (loaded?.config.hooks?.path ?? DEFAULT_HOOKS_PATH).replace(/\/+$/, "");
      const url = opts.url ?? `http://${host.includes(":") ? `[${host}]` : host}:${node?.port ?? DEFAULT_NODE_PORT}${hooksPath}/wake`;
      const curlPath = opts.curl ?? (await findOnPath("curl", process.env["PATH"]));
      const sedPath = opts.sed ?? (await findOnPath("sed", process.env["PATH"]));
      if (!curlPath || !sedPath) throw new CliError(`${curlPath ? "sed" : "curl"} not found on PATH; pass --${curlPath ? "sed" : "curl"} /absolute/path`);
      const line = asCliError(() =>
        buildCronLine({
          schedule: opts.schedule,
          wakeUrl: url,
          tokenFile,
          logFile: resolve(expandHome(opts.log ?? join(stateDir, "logs", "cron-heartbeat.log"), homedir())),
          curlPath,
          sedPath,
          text: opts.text,
          mode: opts.mode,
        }),
      );
      const logDir = dirname(resolve(expandHome(opts.log ?? join(stateDir, "logs", "cron-heartbeat.log"), homedir())));
      if (!(await stat(logDir).then((st) => st.isDirectory(), () => false))) {
        io.stderr(`clawgate: warning: ${logDir} does not exist; create it (mkdir -p -m 700 ${logDir}) or cron cannot append its log\n`);
      }
      io.stdout(`${line}\n`);
    });
}

interface CronFlags {
  schedule: string;
  tokenFile?: string;
  log?: string;
  url?: string;
  stateDir?: string;
  text: string;
  mode: "now" | "next-heartbeat";
  curl?: string;
  sed?: string;
}

/** The token file must not be readable by others; a missing one is only a warning (it may be written after). */
async function checkTokenFile(path: string, io: CliIo): Promise<void> {
  let mode: number;
  try {
    mode = (await stat(path)).mode & 0o777;
  } catch {
    io.stderr(`clawgate: warning: ${path} does not exist yet; write the hook token into it and chmod 600 it\n`);
    return;
  }
  if (mode & 0o077) {
    throw new CliError(`--token-file ${path} has mode ${mode.toString(8)}; the hook token file must be private (chmod 600 ${path})`);
  }
}

async function ensureFolders(folders: readonly string[]): Promise<boolean> {
  try {
    for (const folder of folders) await mkdir(folder, { recursive: true, mode: 0o700 });
    return true;
  } catch {
    return false;
  }
}

function loadCommands(kind: ServiceKind, scope: "user" | "system", file: string, user: string, label: string): string[] {
  if (kind === "launchd") {
    return scope === "system"
      ? [`sudo launchctl bootstrap system ${file}`, `sudo launchctl print system/${label} | head`]
      : [`launchctl bootstrap gui/$(id -u ${user}) ${file}`, `launchctl print gui/$(id -u ${user})/${label} | head`];
  }
  return ["sudo systemctl daemon-reload", "sudo systemctl enable --now clawgate-node.service", "systemctl status clawgate-node.service"];
}
