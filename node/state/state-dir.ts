/** The daemon's state folder: where it lives, created 0700, refused when other users can reach into it. */
import { mkdir, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { resolve } from "node:path";
import { expandHome } from "../config/home-path.ts";

export class StateDirError extends Error {
  override readonly name = "StateDirError";
  readonly code = "ERR_STATE_DIR";
}

/** `--state-dir`, else `$CLAWGATE_STATE_DIR`, else `clawgate.stateDir` in config, else `~/.clawgate`. */
export function resolveStateDir(
  flag: string | undefined,
  configValue: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  home: string = homedir(),
): string {
  return resolve(expandHome(flag ?? (env["CLAWGATE_STATE_DIR"] || undefined) ?? configValue ?? "~/.clawgate", home));
}

/** Create the folder (mode 0700) or check an existing one is ours and closed to group and others. */
export async function ensureStateDir(path: string, uid: number | undefined = process.getuid?.()): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
  const st = await stat(path);
  if (!st.isDirectory()) throw new StateDirError(`state dir is not a directory: ${path}`);
  if (uid !== undefined && st.uid !== uid) throw new StateDirError(`state dir is not owned by the current user: ${path}`);
  if ((st.mode & 0o077) !== 0) {
    throw new StateDirError(
      `state dir permissions are too open (${(st.mode & 0o777).toString(8)}): ${path} (run: chmod 700 ${path})`,
    );
  }
}
