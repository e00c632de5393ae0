/** The `clawgate` command tree (commander): every command takes --config and answers --help. */
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { ConfigError } from "../config/config-errors.ts";
import { SecretsActivationError } from "../secrets/secret-errors.ts";
import { CliError } from "./cli-error.ts";
import { type CliIo, configOption, defaultIo } from "./cli-io.ts";
import { registerNodeCommands } from "./node-commands.ts";
import { PACKAGE_JSON } from "./package-layout.ts";

/** Adds one command group to the program. */
type RegisterCommands = (program: Command, io: CliIo) => void;

/**
 * Every command group, in help order. A new group is one line here; its module imports `cli-io.ts`, never
 * this file. Loaded on demand (see buildProgram), `node` is the one always loaded.
 */
const COMMAND_GROUPS: readonly (() => Promise<RegisterCommands> | RegisterCommands)[] = [
  async () => (await import("./secrets-commands.ts")).registerSecretsCommands,
  () => registerNodeCommands,
  async () => (await import("./resolver-commands.ts")).registerResolverCommands,
  async () => (await import("./doctor-command.ts")).registerDoctorCommand,
  async () => (await import("./service-commands.ts")).registerServiceCommands,
  async () => (await import("./deploy-commands.ts")).registerDeployCommands,
  async () => (await import("./intake-commands.ts")).registerIntakeCommands,
  async () => (await import("./dispatch-commands.ts")).registerDispatchCommands,
  async () => (await import("./status-command.ts")).registerStatusCommand,
  async () => (await import("./init-command.ts")).registerInitCommand,
  async () => (await import("./edge-deploy-command.ts")).registerEdgeDeployCommands,
];

/**
 * The command tree. `clawgate node …` (the long-running daemon) loads only its own commands: the other
 * groups' modules (prompts, plist, yaml, …) would cost the daemon ~13 MB and ~50 ms for nothing.
 */
export async function buildProgram(io: CliIo = defaultIo, argv: readonly string[] = []): Promise<Command> {
  const program = new Command("clawgate")
    .description("Run an always-on AI agent host in production: secrets, the node daemon, edge and supervision.")
    .version(packageVersion(), "-V, --version", "print the clawgate version")
    .addOption(configOption())
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride();
  const groups = argv[0] === "node" ? [registerNodeCommands] : await Promise.all(COMMAND_GROUPS.map((load) => load()));
  for (const register of groups) register(program, io);
  for (const command of program.commands) command.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  return program;
}

/** This clawgate's version, from its package.json. */
function packageVersion(): string {
  try {
    return String((JSON.parse(readFileSync(PACKAGE_JSON, "utf8")) as { version?: unknown }).version ?? "unknown");
  } catch {
    return "unknown";
  }
}

/** Run the CLI; resolves to the exit code. Errors print one line (activation failures one line per ref). */
export async function runCli(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  const program = await buildProgram(io, argv);
  try {
    await program.parseAsync([...argv], { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    if (error instanceof CliError) {
      io.stderr(`clawgate: ${error.message}\n`);
      return error.exitCode;
    }
    if (error instanceof SecretsActivationError) {
      io.stderr(`${error.report()}\n`);
      return 1;
    }
    if (error instanceof ConfigError) {
      io.stderr(`clawgate: ${error.message}\n`);
      return 1;
    }
    const e = error as { code?: string; message?: string };
    io.stderr(`clawgate: ${e.message ?? String(error)}${e.code ? ` (${e.code})` : ""}\n`);
    return 1;
  }
}
