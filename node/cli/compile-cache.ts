/**
 * Node's on-disk compile cache (module.enableCompileCache) in a private per-user directory: the CLI runs
 * from TypeScript sources, and caching the stripped and compiled modules cuts a start by ~100 ms. The
 * entry (bin.ts) is stripped before the cache can be turned on, so the type stripper still loads here;
 * `clawgate node start` therefore execs the daemon bundle with NODE_COMPILE_CACHE set (daemon-launch.ts).
 * Never the shared tmpdir default: a cache another local user can write is code they can inject. Used by
 * `clawgate node start` only (bin.ts): other commands leave the home directory untouched.
 */
import { mkdirSync, statSync } from "node:fs";
import module from "node:module";
import { homedir } from "node:os";
import { join } from "node:path";

/** The directory in use, or undefined when caching is off (opt-out, not private, or not possible). */
export function enablePrivateCompileCache(env: NodeJS.ProcessEnv = process.env): string | undefined {
  // CLAWGATE_COMPILE_CACHE=0 opts out; NODE_COMPILE_CACHE means the operator already chose a directory.
  if (env["CLAWGATE_COMPILE_CACHE"] === "0" || env["NODE_COMPILE_CACHE"]) return undefined;
  try {
    const parent = join(env["XDG_CACHE_HOME"] || join(homedir(), ".cache"), "clawgate");
    const dir = join(parent, "compile-cache");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const uid = process.getuid?.();
    for (const path of [parent, dir]) {
      const stat = statSync(path);
      if ((uid !== undefined && stat.uid !== uid) || (stat.mode & 0o022) !== 0) return undefined;
    }
    const result = module.enableCompileCache(dir);
    return result.status === module.constants.compileCacheStatus.FAILED ? undefined : dir;
  } catch {
    return undefined; // no writable home (a bare service user): run uncached
  }
}
