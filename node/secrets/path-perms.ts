/**
 * Ownership and permission checks for secret files and resolver commands (docs/openclaw-compat.md §2): absolute,
 * a regular file, no symlink unless allowed (then the target is checked, inside trustedDirs when set),
 * owned by the current uid, and not writable — for secret files not readable either — by group or others.
 */
import { lstat as fsLstat, realpath as fsRealpath, stat as fsStat } from "node:fs/promises";
import type { Stats } from "node:fs";
import { isAbsolute, sep } from "node:path";
import { type SecretErrorCode, SecretResolutionError } from "./secret-errors.ts";

export interface SecurePathOptions {
  /** "file": a secrets file (mode must be 0600 or tighter); "exec": a resolver command (0755 is fine). */
  readonly kind: "file" | "exec";
  /** The config path named in messages, e.g. `secrets.providers.filemain.path`. */
  readonly configPath: string;
  readonly uid?: number | undefined;
  readonly allowSymlink?: boolean;
  readonly trustedDirs?: readonly string[];
  readonly lstat?: (path: string) => Promise<Stats>;
  readonly stat?: (path: string) => Promise<Stats>;
  readonly realpath?: (path: string) => Promise<string>;
}

/** Checks `path` and returns the real path to open (the symlink target when a symlink was allowed). */
export async function checkSecureFile(path: string, options: SecurePathOptions): Promise<string> {
  const { kind, configPath } = options;
  const lstat = options.lstat ?? fsLstat;
  const stat = options.stat ?? fsStat;
  const realpath = options.realpath ?? fsRealpath;
  const uid = options.uid === undefined ? process.getuid?.() : options.uid;
  const pathCode: SecretErrorCode = kind === "file" ? "ERR_SECRET_FILE_PATH" : "ERR_SECRET_EXEC_COMMAND";
  const permsCode: SecretErrorCode = kind === "file" ? "ERR_SECRET_FILE_PERMS" : "ERR_SECRET_EXEC_PERMS";
  const fail = (code: SecretErrorCode, what: string, p: string = path) =>
    new SecretResolutionError(code, `${configPath} ${what}: ${p}`);

  if (!isAbsolute(path)) throw fail(pathCode, "must be an absolute path");

  let st: Stats;
  try {
    st = await lstat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw fail(pathCode, code === "ENOENT" ? "does not exist" : `cannot be inspected (${code ?? "error"})`);
  }

  let target = path;
  if (st.isSymbolicLink()) {
    if (kind === "file" || !options.allowSymlink) throw fail(pathCode, "is a symlink");
    try {
      target = await realpath(path);
      st = await stat(target);
    } catch {
      throw fail(pathCode, "is a dangling symlink");
    }
    const trusted = options.trustedDirs ?? [];
    if (trusted.length > 0 && !trusted.some((dir) => isInside(target, dir))) {
      throw fail(pathCode, "is outside trustedDirs", target);
    }
  }

  if (!st.isFile()) throw fail(pathCode, st.isDirectory() ? "is a directory, not a regular file" : "is not a regular file", target);
  if (uid !== undefined && st.uid !== uid) throw fail(permsCode, "is not owned by the current user", target);
  // Secrets: no group/other bits at all. Commands: group/other may read and execute, never write.
  const forbidden = kind === "file" ? 0o077 : 0o022;
  if ((st.mode & forbidden) !== 0) throw fail(permsCode, "permissions are too open", target);
  return target;
}

function isInside(path: string, dir: string): boolean {
  const d = dir.endsWith(sep) ? dir : dir + sep;
  return path.startsWith(d);
}
