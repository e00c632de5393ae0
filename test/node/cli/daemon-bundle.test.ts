/** The daemon bundle: real esbuild builds of a small project, run by a real node; rebuilt on any input change, never stale. */
import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, expect, it } from "vitest";
import { DAEMON_BUNDLE_DIR, DaemonBundleError, ensureDaemonBundle } from "../../../node/cli/daemon-bundle.ts";

const run = promisify(execFile);
let dir: string;
let src: string;
let cacheDir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "clawgate-bundle-"));
  src = join(dir, "src");
  cacheDir = join(dir, "cache");
  await mkdir(join(src, "node_modules", "cjs-pkg"), { recursive: true });
  await mkdir(cacheDir, { mode: 0o700 });
  // A static import, a lazy one, import.meta.url and a CommonJS package using __dirname: the shapes the agent has.
  await writeFile(
    join(src, "main.ts"),
    [
      'import { message } from "./dep.ts";',
      'import where from "cjs-pkg";',
      "const label: string = message;",
      'const lazy = await import("./lazy.ts");',
      'console.log(JSON.stringify({ label, lazy: lazy.value, beside: new URL("./dep.ts", import.meta.url).pathname, here: import.meta.dirname, where }));',
    ].join("\n"),
  );
  await writeFile(join(src, "dep.ts"), 'export const message: string = "first";\n');
  await writeFile(join(src, "lazy.ts"), 'export const value: string = "lazy-1";\n');
  await writeFile(join(src, "node_modules", "cjs-pkg", "package.json"), JSON.stringify({ name: "cjs-pkg", main: "index.js" }));
  await writeFile(join(src, "node_modules", "cjs-pkg", "index.js"), "module.exports = __dirname;\n");
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ensure = () => ensureDaemonBundle({ cacheDir, entryPoint: join(src, "main.ts"), pruneAfterMs: 0 });

async function runBundle(path: string): Promise<Record<string, string>> {
  const { stdout } = await run(process.execPath, [path], { cwd: dir });
  return JSON.parse(stdout) as Record<string, string>;
}

it("builds once, runs as if from the sources, and is reused while nothing changes", async () => {
  const first = await ensure();
  expect(first.built).toBe(true);
  expect(first.path.startsWith(join(cacheDir, DAEMON_BUNDLE_DIR))).toBe(true);
  expect(await runBundle(first.path)).toEqual({
    label: "first",
    lazy: "lazy-1",
    beside: join(src, "dep.ts"),
    here: src,
    where: join(src, "node_modules", "cjs-pkg"),
  });
  // Private: the bundle runs as the agent.
  expect((await stat(join(cacheDir, DAEMON_BUNDLE_DIR))).mode & 0o777).toBe(0o700);
  expect((await stat(first.path)).mode & 0o777).toBe(0o600);
  // The lazy module stays outside the bundle: loaded from its source when first used.
  expect(await readFile(first.path, "utf8")).not.toContain("lazy-1");

  const again = await ensure();
  expect(again).toEqual({ path: first.path, built: false });
});

it("rebuilds when any bundled input changes, even with its size and mtime restored, and drops the old bundle", async () => {
  const first = await ensure();
  const dep = join(src, "dep.ts");
  const before = await stat(dep);
  // Same length, same mtime (as npm and tar restore them): only the change time tells.
  await writeFile(dep, 'export const message: string = "secnd";\n');
  const { utimes } = await import("node:fs/promises");
  await utimes(dep, before.atime, before.mtime);
  expect((await stat(dep)).size).toBe(before.size);

  const second = await ensure();
  expect(second.built).toBe(true);
  expect(second.path).not.toBe(first.path);
  expect((await runBundle(second.path)).label).toBe("secnd");
  expect((await readdir(dirname(second.path))).filter((n) => n.endsWith(".mjs"))).toEqual([basename(second.path)]);

  // A package file counts too.
  await writeFile(join(src, "node_modules", "cjs-pkg", "index.js"), "module.exports = 'changed:' + __dirname;\n");
  const third = await ensure();
  expect(third.built).toBe(true);
  expect((await runBundle(third.path)).where).toBe(`changed:${join(src, "node_modules", "cjs-pkg")}`);
});

it("rebuilds a truncated bundle or an unreadable manifest instead of running them", async () => {
  const first = await ensure();
  await truncate(first.path, 100);
  const second = await ensure();
  expect(second.built).toBe(true);
  expect((await runBundle(second.path)).label).toBe("first");

  await writeFile(join(dirname(first.path), "current.json"), "{not json");
  expect((await ensure()).built).toBe(true);
});

it("refuses a bundle directory others can write to, and reports a build error with its file and line", async () => {
  await mkdir(join(cacheDir, DAEMON_BUNDLE_DIR), { mode: 0o700 });
  await chmod(join(cacheDir, DAEMON_BUNDLE_DIR), 0o777);
  const refused = await ensure().catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(DaemonBundleError);
  expect((refused as DaemonBundleError).code).toBe("ERR_DAEMON_BUNDLE");
  expect((refused as Error).message).toBe(`${join(cacheDir, DAEMON_BUNDLE_DIR)} is not private to this user (owner or group/other write permission): not building code there`);

  await chmod(join(cacheDir, DAEMON_BUNDLE_DIR), 0o700);
  await writeFile(join(src, "dep.ts"), "export const message: string = ;\n");
  const broken = await ensure().catch((e: unknown) => e);
  expect(broken).toBeInstanceOf(DaemonBundleError);
  expect((broken as Error).message).toMatch(/^the daemon bundle did not build: Unexpected ";" \(.*dep\.ts:1\)$/);
  const [entryDir, ...others] = await readdir(join(cacheDir, DAEMON_BUNDLE_DIR));
  expect(others).toEqual([]);
  expect(await readdir(join(cacheDir, DAEMON_BUNDLE_DIR, entryDir!))).toEqual([]);
});

it("keeps one bundle per entry point: two checkouts sharing a cache never run each other's code", async () => {
  const other = join(src, "other.ts");
  await writeFile(other, 'console.log(JSON.stringify({ label: "other" }));\n');
  const a = await ensure();
  const b = await ensureDaemonBundle({ cacheDir, entryPoint: other, pruneAfterMs: 0 });
  expect(b.built).toBe(true);
  expect(dirname(b.path)).not.toBe(dirname(a.path));
  expect((await runBundle(b.path)).label).toBe("other");
  // Each is still fresh after the other was built (and nothing of one was pruned by the other).
  expect(await ensure()).toEqual({ path: a.path, built: false });
  expect(await ensureDaemonBundle({ cacheDir, entryPoint: other })).toEqual({ path: b.path, built: false });
});
