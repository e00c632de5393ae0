/** The `clawgate` command tree (commander): every command takes --config and answers --help. */
import { Command, CommanderError, Option } from "commander";
import { ConfigError } from "../config/config-errors.ts";
import { SecretsActivationError } from "../secrets/secret-errors.ts";
import { CliError } from "./cli-error.ts";
import { registerNodeCommands } from "./node-commands.ts";

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

const defaultIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** `--config PATH`; falls back to $CLAWGATE_CONFIG, then ~/.openclaw/openclaw.json. */
export function configOption(): Option {
  return new Option("--config <path>", "config file (else $CLAWGATE_CONFIG, else ~/.openclaw/openclaw.json)");
}

/**
 * The command tree. `clawgate node …` (the long-running agent) loads only its own commands: the other
 * groups' modules (prompts, plist, yaml, …) would cost the agent ~13 MB and ~50 ms for nothing.
 */
export async function buildProgram(io: CliIo = defaultIo, argv: readonly string[] = []): Promise<Command> {
  const program = new Command("clawgate")
    .description("Run an always-on AI agent host in production: secrets, node agent, edge and supervision.")
    .addOption(configOption())
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride();
  if (argv[0] === "node") {
    registerNodeCommands(program, io);
  } else {
    const [secrets, resolver, doctor, service, deploy, intake, dispatch] = await Promise.all([
      import("./secrets-commands.ts"),
      import("./resolver-commands.ts"),
      import("./doctor-command.ts"),
      import("./service-commands.ts"),
      import("./deploy-commands.ts"),
      import("./intake-commands.ts"),
      import("./dispatch-commands.ts"),
    ]);
    secrets.registerSecretsCommands(program, io);
    registerNodeCommands(program, io);
    resolver.registerResolverCommands(program, io);
    doctor.registerDoctorCommand(program, io);
    service.registerServiceCommands(program, io);
    deploy.registerDeployCommands(program, io);
    intake.registerIntakeCommands(program, io);
    dispatch.registerDispatchCommands(program, io);
  }
  for (const command of program.commands) command.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  return program;
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

/** The --config of a command, falling back to the program-level option. */
export function configFlag(command: Command): string | undefined {
  return command.optsWithGlobals<{ config?: string }>().config;
}
