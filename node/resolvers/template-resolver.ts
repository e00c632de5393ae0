/** A protocol-v1 resolver over any plain CLI: `--cmd 'op read op://Private/{id}'`, one run per id, never through a shell. */
import type { IdResolver } from "./resolver-protocol.ts";
import { type RunCommandOptions, describeFailure, runCommand } from "./run-command.ts";

export class TemplateError extends Error {
  override readonly name = "TemplateError";
  readonly code = "ERR_RESOLVER_TEMPLATE";
}

/**
 * Split a command template into argv the way a POSIX shell splits words — single quotes, double quotes
 * and backslash escapes — but without any expansion, so `{id}` stays inside one argument.
 */
export function splitTemplate(template: string): string[] {
  const argv: string[] = [];
  let current = "";
  let inWord = false;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < template.length; i++) {
    const ch = template[i]!;
    if (quote === "'") {
      if (ch === "'") quote = undefined;
      else current += ch;
    } else if (quote === '"') {
      if (ch === '"') quote = undefined;
      else if (ch === "\\" && i + 1 < template.length && /["\\$`]/.test(template[i + 1]!)) current += template[++i];
      else current += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      inWord = true;
    } else if (ch === "\\") {
      if (i + 1 >= template.length) throw new TemplateError("--cmd ends with a lone backslash");
      current += template[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) argv.push(current);
      current = "";
      inWord = false;
    } else {
      current += ch;
      inWord = true;
    }
  }
  if (quote) throw new TemplateError(`--cmd has an unterminated ${quote} quote`);
  if (inWord) argv.push(current);
  if (argv.length === 0) throw new TemplateError("--cmd is empty");
  if (!argv.some((a) => a.includes("{id}"))) throw new TemplateError("--cmd must contain {id}");
  return argv;
}

export function templateResolver(template: string, options: Partial<RunCommandOptions> = {}): IdResolver {
  const argv = splitTemplate(template);
  const name = argv[0]!;
  const runOptions: RunCommandOptions = { timeoutMs: 10_000, maxOutputBytes: 65_536, ...options };
  return async (id) => {
    const result = await runCommand(
      argv.map((a) => a.replaceAll("{id}", id)),
      runOptions,
    );
    if (result.code !== 0 || result.killed) return { error: describeFailure(name, result) };
    const value = result.stdout.replace(/\r?\n$/, "");
    return value === "" ? { error: `${name} printed nothing` } : { value };
  };
}
