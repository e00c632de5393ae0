/** The error `secrets configure` stops with: a stable code and a one-line reason that never carries a value. */

/** Why configure stopped before writing anything (or, for ERR_CONFIGURE_CANCELLED, at the operator's request). */
export class ConfigureError extends Error {
  override readonly name = "ConfigureError";
  readonly code: "ERR_CONFIGURE_INVALID" | "ERR_CONFIGURE_CANCELLED" | "ERR_CONFIGURE_STORE";

  constructor(code: ConfigureError["code"], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
