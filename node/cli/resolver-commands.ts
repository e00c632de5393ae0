/** `clawgate resolver pass | template --cmd '…'`: ready-made exec-provider resolvers speaking protocol v1. */
import type { Command } from "commander";
import { passResolver } from "../resolvers/pass-resolver.ts";
import { type IdResolver, runResolver } from "../resolvers/resolver-protocol.ts";
import { TemplateError, templateResolver } from "../resolvers/template-resolver.ts";
import { CliError } from "./cli-error.ts";
import type { CliIo } from "./cli-io.ts";
import { configOption } from "./cli-io.ts";

interface ResolverOptions {
  concurrency: string;
  timeoutMs: string;
}

export function registerResolverCommands(program: Command, io: CliIo): void {
  const resolver = program
    .command("resolver")
    .description("exec-provider resolvers: read a protocol-v1 request on stdin, answer values and per-id errors on stdout");

  const common = (command: Command) =>
    command
      .addOption(configOption())
      .option("--concurrency <n>", "ids resolved at once", "4")
      .option("--timeout-ms <n>", "time limit per id", "10000");

  common(resolver.command("pass").description("resolve each id with `pass show <id>` (first line)")).action(
    async (opts: ResolverOptions) => {
      await serve(passResolver({ timeoutMs: positive(opts.timeoutMs, "--timeout-ms") }), opts, io);
    },
  );

  common(
    resolver
      .command("template")
      .description("resolve each id by running a command template, e.g. --cmd 'op read op://Private/{id}'")
      .requiredOption("--cmd <template>", "command with {id}; quoted like a shell, but no shell runs it"),
  ).action(async (opts: ResolverOptions & { cmd: string }) => {
    let resolveId: IdResolver;
    try {
      resolveId = templateResolver(opts.cmd, { timeoutMs: positive(opts.timeoutMs, "--timeout-ms") });
    } catch (error) {
      if (error instanceof TemplateError) throw new CliError(error.message, { exitCode: 2 });
      throw error;
    }
    await serve(resolveId, opts, io);
  });
}

async function serve(resolveId: IdResolver, opts: ResolverOptions, io: CliIo): Promise<void> {
  const code = await runResolver(resolveId, { stdin: process.stdin, stdout: io.stdout, stderr: io.stderr }, positive(opts.concurrency, "--concurrency"));
  if (code !== 0) process.exitCode = code;
}

function positive(value: string, flag: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1) throw new CliError(`${flag} must be a positive integer, got "${value}"`, { exitCode: 2 });
  return n;
}
