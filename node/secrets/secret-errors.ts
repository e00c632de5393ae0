/** Error classes of the secrets engine: a stable `code`, the ref key or config path, never a secret value. */

export type SecretErrorCode =
  | "ERR_SECRET_REF_INVALID"
  | "ERR_SECRET_PROVIDER_UNKNOWN"
  | "ERR_SECRET_PROVIDER_SOURCE_MISMATCH"
  | "ERR_SECRET_ENV_NOT_ALLOWED"
  | "ERR_SECRET_ENV_MISSING"
  | "ERR_SECRET_FILE_PATH"
  | "ERR_SECRET_FILE_PERMS"
  | "ERR_SECRET_FILE_READ"
  | "ERR_SECRET_FILE_TOO_LARGE"
  | "ERR_SECRET_FILE_TIMEOUT"
  | "ERR_SECRET_FILE_FORMAT"
  | "ERR_SECRET_POINTER_MISSING"
  | "ERR_SECRET_EXEC_COMMAND"
  | "ERR_SECRET_EXEC_PERMS"
  | "ERR_SECRET_EXEC_SPAWN"
  | "ERR_SECRET_EXEC_TIMEOUT"
  | "ERR_SECRET_EXEC_NO_OUTPUT_TIMEOUT"
  | "ERR_SECRET_EXEC_OUTPUT_TOO_LARGE"
  | "ERR_SECRET_EXEC_EXIT"
  | "ERR_SECRET_EXEC_PROTOCOL"
  | "ERR_SECRET_EXEC_ID_ERROR"
  | "ERR_SECRET_EXEC_BATCH_LIMIT"
  | "ERR_SECRET_EXEC_NOT_ALLOWED";

/**
 * One failure to resolve a ref or a whole provider. `message` is what an operator reads; it names the
 * config path, file path or ref id, and by construction never a resolved value.
 */
export class SecretResolutionError extends Error {
  override readonly name = "SecretResolutionError";
  readonly code: SecretErrorCode;
  /** The ref key `source:provider:id` when the failure is about one ref. */
  readonly refKey: string | undefined;

  constructor(code: SecretErrorCode, message: string, options: { refKey?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.refKey = options.refKey;
  }
}

/** Raised by activation when any active ref fails; `failures` keeps one entry per failing ref. */
export class SecretsActivationError extends Error {
  override readonly name = "SecretsActivationError";
  readonly code = "ERR_SECRETS_UNAVAILABLE";
  readonly failures: readonly { refKey: string; error: SecretResolutionError }[];

  constructor(failures: readonly { refKey: string; error: SecretResolutionError }[]) {
    super("Startup failed: required secrets are unavailable.");
    this.failures = failures;
  }

  /** The operator-facing report: the headline, then one line per failing ref (never a value). */
  report(): string {
    return [this.message, ...this.failures.map((f) => `- ${f.refKey}: ${f.error.message}`)].join("\n");
  }
}
