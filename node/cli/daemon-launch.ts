/**
 * `clawgate node start` replaces itself (process.execve: the same pid, so supervisors, pid files and signals
 * see no difference) with the daemon bundle, Node's compile cache on from the first module. Every way of
 * starting the daemon (service files, `npm start`, the CLI) goes through here, so what runs is what the
 * idle-RSS benchmark measures. When the bundle cannot be had, the daemon runs from the sources in this
 * process, as before.
 */
import { type DaemonBundle, ensureDaemonBundle } from "./daemon-bundle.ts";

export interface DaemonLaunchOptions {
  /** The arguments after the script (`node start …`). */
  readonly argv: readonly string[];
  /** The compile-cache directory in use (private, or the operator's NODE_COMPILE_CACHE); none: no bundle. */
  readonly cacheDir: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
  readonly execPath?: string;
  readonly execArgv?: readonly string[];
  readonly execve?: ((file: string, args: readonly string[], env: NodeJS.ProcessEnv) => void) | undefined;
  readonly ensureBundle?: (cacheDir: string) => Promise<DaemonBundle>;
}

/**
 * Execs the bundle and never returns, or returns why the daemon runs from sources instead: no reason for a
 * choice (CLAWGATE_DAEMON_BUNDLE=0, no compile cache), a one-line reason when something is missing or failed.
 */
export async function launchDaemonBundle(options: DaemonLaunchOptions): Promise<{ reason?: string }> {
  const env = options.env ?? process.env;
  if (env["CLAWGATE_DAEMON_BUNDLE"] === "0" || options.cacheDir === undefined) return {};
  const execve = "execve" in options ? options.execve : process.execve?.bind(process);
  if (!execve) return { reason: `process.execve is not available in Node ${process.version} (needs ≥ 22.15 on Linux or macOS)` };
  let bundle: DaemonBundle;
  try {
    bundle = await (options.ensureBundle ?? ((cacheDir) => ensureDaemonBundle({ cacheDir })))(options.cacheDir);
  } catch (error) {
    return { reason: (error as Error).message.split("\n")[0]! };
  }
  const execPath = options.execPath ?? process.execPath;
  // No V8 flags of our own: `--max-semi-space-size=1` saved 2.4 MB idle (7 MB after a burst) but cost ~5% CPU
  // per wake in the hooks benchmark; an operator who prefers the memory sets it in NODE_OPTIONS (kept below).
  const args = [execPath, ...(options.execArgv ?? process.execArgv), bundle.path, ...options.argv];
  try {
    // NODE_COMPILE_CACHE: the cache is on before the first module loads (the bundle and, in children such
    // as the spawn host, their TypeScript sources).
    execve(execPath, args, { ...env, NODE_COMPILE_CACHE: options.cacheDir });
  } catch (error) {
    return { reason: `could not exec the daemon bundle: ${(error as Error).message.split("\n")[0]}` };
  }
  return { reason: "process.execve returned" };
}
