/** The error that refuses a start over the `hooks` section; its message names the field and never a value of a secret. */
export class HooksConfigError extends Error {
  override readonly name = "HooksConfigError";
  readonly code = "ERR_HOOKS_CONFIG";
}
