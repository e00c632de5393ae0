/** What every CLI command shares: the output streams it writes to and the `--config` option it reads. */
import type { Command } from "commander";
import { Option } from "commander";

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

export const defaultIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** `--config PATH`; falls back to $CLAWGATE_CONFIG, then ~/.openclaw/openclaw.json. */
export function configOption(): Option {
  return new Option("--config <path>", "config file (else $CLAWGATE_CONFIG, else ~/.openclaw/openclaw.json)");
}

/** The --config of a command, falling back to the program-level option. */
export function configFlag(command: Command): string | undefined {
  return command.optsWithGlobals<{ config?: string }>().config;
}
