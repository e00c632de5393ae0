/** A protocol-v1 resolver over `pass` (passwordstore.org): `pass show <id>`, the first line is the secret. */
import type { IdResolver } from "./resolver-protocol.ts";
import { type RunCommandOptions, describeFailure, runCommand } from "./run-command.ts";

export function passResolver(options: Partial<RunCommandOptions> & { passCommand?: string } = {}): IdResolver {
  const runOptions: RunCommandOptions = { timeoutMs: 10_000, maxOutputBytes: 65_536, ...options };
  const pass = options.passCommand ?? "pass";
  return async (id) => {
    // `--` ends options, so an id can never be read as a flag.
    const result = await runCommand([pass, "show", "--", id], runOptions);
    if (result.code !== 0 || result.killed) {
      // pass exits 1 for a missing entry; its stderr is not captured (it could echo anything).
      return { error: result.code === 1 && !result.killed ? "not found" : describeFailure("pass", result) };
    }
    // pass's convention: the password is the first line; later lines are metadata.
    const value = result.stdout.split(/\r?\n/, 1)[0] ?? "";
    return value === "" ? { error: "entry is empty" } : { value };
  };
}
