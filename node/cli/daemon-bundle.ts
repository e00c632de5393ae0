/**
 * The daemon as one esbuild bundle in its private cache directory, built on demand and rebuilt as soon
 * as any file it was built from changes (a start never runs stale code). Measured idle (bench/hooks.ts):
 * a JavaScript entry means the daemon never loads Node's TypeScript stripper (−15 MB resident), and one
 * module instead of ~300 (records, source text, the ESM loader's pages) another −18 MB.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Plugin } from "esbuild";

/** The subdirectory of the compile-cache directory that holds the bundles: one folder per entry point (checkout). */
export const DAEMON_BUNDLE_DIR = "clawgate-daemon";
const MANIFEST = "current.json";
/** Bundle files are `daemon-<16 hex digits of their sha-256>.mjs`. */
const BUNDLE_PREFIX = "daemon-";
/** Part of every manifest: bumped when the build options change, so an older bundle never passes as fresh. */
const BUILD_FORMAT = 1;
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export class DaemonBundleError extends Error {
  override readonly name = "DaemonBundleError";
  readonly code = "ERR_DAEMON_BUNDLE";
}

interface Manifest {
  readonly format: number;
  readonly entryPoint: string;
  readonly node: string;
  /** File name of the bundle, `daemon-<sha-256 prefix of its content>.mjs`. */
  readonly entry: string;
  /** Every file the bundle was built from (absolute path) → what it was when esbuild read it. */
  readonly inputs: Record<string, InputStamp>;
}

/**
 * A file's identity, taken before esbuild reads it: any write, replacement or rename changes the change
 * time (ctime, which no one can set back, unlike the mtime npm and tar restore), so an equal stamp means
 * the bytes esbuild bundled. The sha-256 is for the record (`clawgate-daemon/current.json`).
 */
interface InputStamp {
  readonly ino: number;
  readonly size: number;
  readonly ctimeNs: string;
  readonly sha256: string;
}

export interface DaemonBundleOptions {
  /** The compile-cache directory (private to this user); the bundle goes into `clawgate-daemon/<entry point hash>/`. */
  readonly cacheDir: string;
  /** The module to bundle (default node/cli/daemon-main.ts). */
  readonly entryPoint?: string;
  /** Older bundles than this are removed after a rebuild (default 60 s; a starting daemon may still exec one). */
  readonly pruneAfterMs?: number;
}

export interface DaemonBundle {
  /** Absolute path of the bundle to run. */
  readonly path: string;
  /** True when this call had to build it. */
  readonly built: boolean;
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

async function stampOf(file: string): Promise<Omit<InputStamp, "sha256">> {
  const info = await stat(file, { bigint: true });
  return { ino: Number(info.ino), size: Number(info.size), ctimeNs: String(info.ctimeNs) };
}

/** The path of a fresh bundle of the daemon, building one when none matches the sources. */
export async function ensureDaemonBundle(options: DaemonBundleOptions): Promise<DaemonBundle> {
  const entryPoint = options.entryPoint ?? join(ROOT, "node/cli/daemon-main.ts");
  // Two checkouts sharing one cache each keep their own bundle (neither ever passes for the other's).
  const dir = join(options.cacheDir, DAEMON_BUNDLE_DIR, sha256(Buffer.from(entryPoint)).slice(0, 16));
  // Checked before anything in it is trusted, not only when building: what is in it runs as the daemon.
  await ensurePrivateDir(join(options.cacheDir, DAEMON_BUNDLE_DIR));
  await ensurePrivateDir(dir);
  const fresh = await freshBundle(dir, entryPoint);
  if (fresh) return { path: fresh, built: false };
  return { path: await buildDaemonBundle(dir, entryPoint, options.pruneAfterMs ?? 60_000), built: true };
}

/** The manifest's bundle when the bundle and every input still hash as recorded; otherwise undefined. */
async function freshBundle(dir: string, entryPoint: string): Promise<string | undefined> {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await readFile(join(dir, MANIFEST), "utf8")) as Manifest;
  } catch {
    return undefined; // none yet (or unreadable): build
  }
  if (manifest.format !== BUILD_FORMAT || manifest.entryPoint !== entryPoint || manifest.node !== process.version || !/^daemon-[0-9a-f]{16}\.mjs$/.test(String(manifest.entry))) {
    return undefined;
  }
  const path = join(dir, manifest.entry);
  const [own, ...stamps] = await Promise.all([
    readFile(path).then(sha256, () => undefined),
    ...Object.keys(manifest.inputs).map((file) => stampOf(file).catch(() => undefined)),
  ]);
  // The bundle's own content too: a truncated or edited bundle is rebuilt, never run.
  if (!own?.startsWith(manifest.entry.slice(BUNDLE_PREFIX.length, BUNDLE_PREFIX.length + 16))) return undefined;
  for (const [i, recorded] of Object.values(manifest.inputs).entries()) {
    const now = stamps[i];
    if (!now || now.ino !== recorded.ino || now.size !== recorded.size || now.ctimeNs !== recorded.ctimeNs) return undefined;
  }
  return path;
}

async function buildDaemonBundle(dir: string, entryPoint: string, pruneAfterMs: number): Promise<string> {
  const inputs: Record<string, InputStamp> = {};
  let esbuild: typeof import("esbuild");
  try {
    esbuild = await import("esbuild");
  } catch (error) {
    throw new DaemonBundleError("esbuild is not installed (npm ci installs it)", { cause: error });
  }
  const before = await childPids();
  let result;
  try {
    result = await esbuild.build({
      entryPoints: [entryPoint],
      bundle: true,
      write: false,
      outfile: join(dir, "daemon.mjs"),
      platform: "node",
      format: "esm",
      target: `node${process.versions.node.split(".")[0]}`,
      // Whitespace and syntax only: identifiers (class and function names in stack traces and logs) stay.
      minifyWhitespace: true,
      minifySyntax: true,
      legalComments: "none",
      logLevel: "silent",
      // CommonJS packages' leftover require() calls resolve as if from the sources, not from the cache dir.
      banner: {
        js: `import { createRequire as __clawgateCreateRequire } from "node:module"; const require = __clawgateCreateRequire(${JSON.stringify(pathToFileURL(entryPoint).href)});`,
      },
      plugins: [sourceLocations(inputs)],
    });
  } catch (error) {
    const first = (error as { errors?: { text: string; location?: { file: string; line: number } }[] }).errors?.[0];
    const where = first?.location ? ` (${first.location.file}:${first.location.line})` : "";
    throw new DaemonBundleError(`the daemon bundle did not build: ${first?.text ?? (error as Error).message}${where}`, { cause: error });
  } finally {
    // esbuild's service process outlives the build; after process.execve nothing would reap it (a zombie for the
    // daemon's whole life). stop() only signals it: wait until it has exited and Node has reaped it.
    await esbuild.stop();
    await childrenReaped(before);
  }
  const bytes = result.outputFiles[0]!.contents;
  const entry = `daemon-${sha256(bytes).slice(0, 16)}.mjs`;
  await writeAtomic(join(dir, entry), bytes);
  const manifest: Manifest = { format: BUILD_FORMAT, entryPoint, node: process.version, entry, inputs };
  await writeAtomic(join(dir, MANIFEST), JSON.stringify(manifest));
  await pruneOld(dir, entry, pruneAfterMs);
  return join(dir, entry);
}

/** This process's child pids (Linux: /proc; elsewhere `pgrep -P`), or undefined when they cannot be listed. */
async function childPids(): Promise<Set<string> | undefined> {
  if (process.platform === "linux") {
    try {
      const tasks = await readdir("/proc/self/task");
      const lists = await Promise.all(tasks.map((t) => readFile(`/proc/self/task/${t}/children`, "utf8").catch(() => "")));
      return new Set(lists.flatMap((l) => l.split(" ").filter(Boolean)));
    } catch {
      return undefined;
    }
  }
  return new Promise((resolve) => {
    execFile("pgrep", ["-P", String(process.pid)], (error, stdout) => {
      // pgrep exits 1 when there is no child; any other failure (no pgrep) means the children cannot be listed.
      if (error && error.code !== 1) resolve(undefined);
      else resolve(new Set(stdout.split("\n").filter(Boolean)));
    });
  });
}

/** Waits (at most 5 s, then goes on) until no child exists that was not in `before`: exited and reaped. */
async function childrenReaped(before: Set<string> | undefined): Promise<void> {
  if (before === undefined) return;
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    const now = await childPids();
    if (now === undefined || [...now].every((pid) => before.has(pid))) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Bundled modules keep behaving as if they ran from their source files: `import.meta.url` (`.filename`,
 * `.dirname`) is the source file's, so spawn-host-main.ts and the reload worker are found beside it;
 * CommonJS `__dirname` is the source folder; dynamic `import()`s stay lazy and load their targets from the
 * sources when first used (undici for model calls, the non-daemon CLI commands). Stamps every file esbuild
 * is given.
 */
function sourceLocations(inputs: Record<string, InputStamp>): Plugin {
  const again = Symbol("resolved by sourceLocations");
  return {
    name: "clawgate-source-locations",
    setup(build) {
      build.onResolve({ filter: /.*/ }, async (args) => {
        if (args.kind !== "dynamic-import" || args.pluginData === again) return undefined;
        const resolved = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: again });
        if (resolved.errors.length > 0) return { errors: resolved.errors };
        return { path: resolved.external ? args.path : resolved.path, external: true };
      });
      build.onLoad({ filter: /\.([cm]?[jt]s|json)$/ }, async (args) => {
        if (args.namespace !== "file") return undefined;
        // Stamp first, then read: a change after the stamp makes the next start rebuild.
        const stamp = await stampOf(args.path);
        const bytes = await readFile(args.path);
        inputs[args.path] = { ...stamp, sha256: sha256(bytes) };
        const url = pathToFileURL(args.path).href;
        let text = bytes
          .toString("utf8")
          .replaceAll("import.meta.url", JSON.stringify(url))
          .replaceAll("import.meta.filename", JSON.stringify(args.path))
          .replaceAll("import.meta.dirname", JSON.stringify(dirname(args.path)));
        const loader = /\.[cm]?ts$/.test(args.path) ? "ts" : args.path.endsWith(".json") ? "json" : "js";
        if (loader === "js" && /\b__(dirname|filename)\b/.test(text) && !/^\s*(import|export)\b/m.test(text)) {
          const header = `var __filename = ${JSON.stringify(args.path)}, __dirname = ${JSON.stringify(dirname(args.path))};`;
          const shebang = text.startsWith("#!") ? text.indexOf("\n") + 1 : 0;
          text = `${text.slice(0, shebang)}${header}${text.slice(shebang)}`;
        }
        return { contents: text, loader, resolveDir: dirname(args.path) };
      });
    },
  };
}

/** The bundle directory must be ours and closed to others: what is in it runs as the daemon. */
async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const info = await stat(dir);
  const uid = process.getuid?.();
  if ((uid !== undefined && info.uid !== uid) || (info.mode & 0o022) !== 0) {
    throw new DaemonBundleError(`${dir} is not private to this user (owner or group/other write permission): not building code there`);
  }
}

async function writeAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, data, { mode: 0o600 });
  await rename(tmp, path);
}

/** Removes bundles other than `keep` once they are older than `afterMs` (a start racing this one may still exec one). */
async function pruneOld(dir: string, keep: string, afterMs: number): Promise<void> {
  const now = Date.now();
  for (const name of await readdir(dir)) {
    if (name === keep || !/^daemon-[0-9a-f]{16}\.mjs$/.test(name)) continue;
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (info && now - info.mtimeMs >= afterMs) await rm(path, { force: true });
  }
}
