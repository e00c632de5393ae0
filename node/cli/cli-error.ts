/** The error a CLI command throws to end with a one-line reason and a chosen exit code. */
export class CliError extends Error {
  override readonly name = "CliError";
  readonly code: string;
  readonly exitCode: number;

  constructor(message: string, options: { code?: string; exitCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code ?? "ERR_CLI";
    this.exitCode = options.exitCode ?? 1;
  }
}
