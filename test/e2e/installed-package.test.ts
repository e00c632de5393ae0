/**
 * clawgate as an operator installs it: `npm pack` (prepack builds dist/), `npm install -g` into a temporary
 * prefix, then the installed `clawgate` — first on PATH, a temporary HOME, no checkout in sight — runs init
 * twice, starts the daemon, prints a service file and checks the edge project with a dry-run deploy.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cp, mkdir, mkdtemp, readFile, symlink, writeFile, readdir, realpath, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { SUPPORTED_NODE, unsupportedNode } from "../../node/cli/node-version.ts";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const WRANGLER = join(ROOT, "node_modules/wrangler/bin/wrangler.js");
const asRoot = process.getuid?.() === 0;

let dir: string;
let tarball: string;
let prefix: string;
let home: string;
let env: NodeJS.ProcessEnv;
let daemon: ChildProcess | undefined;
const timings: Record<string, number> = {};

async function timed<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await fn();
  } finally {
    timings[name] = Date.now() - started;
  }
}

/** The installed clawgate, by name from PATH, as a shell would find it. */
function clawgate(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run("clawgate", [...args], { env, cwd: home, timeout: 60_000 }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" }),
  );
}

async function treeHashes(base: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(base, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out[relative(base, path)] = createHash("sha256").update(await readFile(path)).digest("hex");
  }
  return out;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "clawgate-install-"));
  prefix = join(dir, "prefix");
  home = join(dir, "home");
  await mkdir(home, { mode: 0o700 });
  const npmEnv = { ...process.env, npm_config_loglevel: "error", npm_config_fund: "false", npm_config_audit: "false", npm_config_update_notifier: "false" };
  // Packed from a copy of the checkout (its node_modules linked in): prepack writes dist/ and swaps package.json
  // for the packed one, which other tests running at the same time must not see.
  const source = join(dir, "source");
  const skip = new Set(["node_modules", ".git", "dist", ".clawgate-dev", ".wrangler"].map((d) => join(ROOT, d)));
  await cp(ROOT, source, { recursive: true, filter: (path) => !skip.has(path.replace(/\/$/, "")) });
  await symlink(join(ROOT, "node_modules"), join(source, "node_modules"));
  const packed = await timed("npm pack", () => run("npm", ["pack", "--json", "--pack-destination", dir], { cwd: source, env: npmEnv, timeout: 120_000 }));
  tarball = join(dir, (JSON.parse(packed.stdout) as { filename: string }[])[0]!.filename);
  // The package has no dependencies (dist/ bundles them), so this install needs no registry.
  await timed("npm install -g", () => run("npm", ["install", "-g", "--offline", "--prefix", prefix, tarball], { cwd: dir, env: npmEnv, timeout: 120_000 }));
  env = {
    PATH: [join(prefix, "bin"), dirname(process.execPath), "/usr/bin", "/bin"].join(":"),
    HOME: home,
    LANG: "C.UTF-8",
    ...(asRoot ? { CLAWGATE_ALLOW_ROOT: "1" } : {}),
  };
}, 240_000);

afterAll(async () => {
  daemon?.kill("SIGKILL");
  process.stdout.write(`installed-package timings (ms): ${JSON.stringify(timings)}\n`);
  await rm(dir, { recursive: true, force: true });
});

it("installs a package with no TypeScript and no dependencies; clawgate --version and npx <tarball> --help work", async () => {
  const installed = join(prefix, "lib/node_modules/clawgate");
  const files = await readdir(installed, { recursive: true });
  expect(files.filter((f) => /\.[cm]?ts$/.test(f))).toEqual([]);
  expect(files.some((f) => f.startsWith("node_modules"))).toBe(false);
  const manifest = JSON.parse(await readFile(join(installed, "package.json"), "utf8")) as Record<string, unknown>;
  expect(manifest["private"]).toBeUndefined();
  expect(manifest["optionalDependencies"]).toBeUndefined();
  expect(manifest["engines"]).toEqual({ node: SUPPORTED_NODE });
  // What dist/ bundles travels with its licenses.
  const licenses = await readFile(join(installed, "dist/THIRD-PARTY-LICENSES.txt"), "utf8");
  for (const name of ["hono", "pino", "commander", "zod", "undici"]) expect(licenses).toMatch(new RegExp(`^${name}@\\d+\\.\\d+\\.\\d+ \\(MIT\\)$`, "m"));
  // The packed checkout's package.json is back after the pack.
  expect(JSON.parse(await readFile(join(dir, "source/package.json"), "utf8")).optionalDependencies).toBeDefined();
  const checkoutVersion = (JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
  const version = await timed("clawgate --version", () => clawgate(["--version"]));
  // The machine's Node 20 (/usr/bin/node) gets one line, not a stack trace.
  if (spawnSync("/usr/bin/node", ["--version"]).status === 0 && unsupportedNode(spawnSync("/usr/bin/node", ["--version"], { encoding: "utf8" }).stdout.trim())) {
    const old = spawnSync("/usr/bin/node", [join(prefix, "bin/clawgate"), "--version"], { encoding: "utf8", env });
    expect([old.status, old.stderr]).toEqual([1, expect.stringMatching(/^clawgate: clawgate needs Node 22\.13 or newer \(23\.4\+ on the 23 line\) for node:sqlite; this is Node v\d+\.\d+\.\d+\n$/)]);
  }
  expect(version).toMatchObject({ code: 0, stdout: `${checkoutVersion}\n` });
  const npx = await timed("npx <tarball> --help", () => run("npx", ["--yes", "--offline", `./${basename(tarball)}`, "--help"], { env, cwd: dir, timeout: 60_000 }));
  expect(npx.stdout).toMatch(/^Usage: clawgate \[options\] \[command\]\n/);
  expect(npx.stdout).toContain("init [options]");
});

it("clawgate init --yes creates the config, keys and edge project; a second run changes nothing and says so", async () => {
  const first = await timed("init (first)", () => clawgate(["init", "--yes"]));
  expect(first.stderr).toBe("");
  expect(first.code).toBe(0);
  const config = join(home, ".openclaw/openclaw.json");
  const edgeDir = join(home, ".clawgate/edge");
  for (const [file, mode] of [
    [config, 0o600],
    [join(home, ".openclaw/secrets.json"), 0o600],
    [join(edgeDir, "signing-key.jwk"), 0o600],
    [join(edgeDir, "caller-main.token"), 0o600],
    [join(edgeDir, "wrangler.jsonc"), 0o644],
  ] as const) {
    expect(((await stat(file)).mode & 0o777).toString(8), file).toBe(mode.toString(8));
  }
  const written = JSON.parse(await readFile(config, "utf8")) as { gateway: { bind: string }; hooks: { token: unknown }; clawgate: { node: { id: string }; edge: { publicKeys: unknown[] } } };
  expect(written.gateway.bind).toBe("loopback");
  expect(written.hooks.token).toEqual({ source: "file", provider: "clawgate", id: "/hooks/token" });
  expect(written.clawgate.node.id).toMatch(/^node-[0-9a-f]{6}$/);
  expect(written.clawgate.edge.publicKeys).toHaveLength(1);
  expect(first.stdout).toContain(`clawgate edge deploy --edge-dir ${edgeDir}`);

  const before = await treeHashes(home);
  const second = await timed("init (second)", () => clawgate(["init", "--yes"]));
  expect(second.code).toBe(0);
  expect(second.stdout).toContain(`nothing to change: ${config} and ${edgeDir} are already set up`);
  expect(await treeHashes(home)).toEqual(before);
});

it("clawgate node start --port 0 runs the installed daemon bundle, answers /healthz, reloads on SIGHUP and logs readable lines", async () => {
  const started = Date.now();
  daemon = spawn("clawgate", ["node", "start", "--port", "0", "--log-format", "pretty"], { env, cwd: home, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  daemon.stdout!.setEncoding("utf8").on("data", (d: string) => (output += d));
  daemon.stderr!.setEncoding("utf8").on("data", (d: string) => (output += d));
  let url: string | undefined;
  const deadline = Date.now() + 30_000;
  while (!url && Date.now() < deadline && daemon.exitCode === null) {
    url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
    if (!url) await new Promise((r) => setTimeout(r, 50));
  }
  expect(url, output).toBeDefined();
  expect((await fetch(`${url}/healthz`)).status).toBe(200);
  timings["node start → /healthz"] = Date.now() - started;
  // The same pid now runs the package's daemon bundle (process.execve), not TypeScript sources.
  const cmdline = (await readFile(`/proc/${daemon.pid}/cmdline`, "utf8")).split("\0");
  expect(cmdline.some((a) => a.endsWith("/lib/node_modules/clawgate/dist/node/daemon.js")), cmdline.join(" ")).toBe(true);
  // The reload worker (dist/node/reload-worker.js) resolves the secrets again.
  expect(output).toMatch(/^\d\d:\d\d:\d\d INFO  secrets activated version=1 refCount=1$/m);
  daemon.kill("SIGHUP");
  const reloadDeadline = Date.now() + 15_000;
  while (!/ INFO  secrets reloaded version=2 /.test(output) && Date.now() < reloadDeadline) await new Promise((r) => setTimeout(r, 50));
  expect(output).toMatch(/^\d\d:\d\d:\d\d INFO  secrets reloaded version=2 refCount=1$/m);
  daemon.kill("SIGTERM");
  await new Promise((r) => daemon!.once("close", r));
  daemon = undefined;
  expect(output).not.toContain("from sources");
});

it("clawgate service print systemd --user clawgate names the installed bin and its Node", async () => {
  const printed = await clawgate(["service", "print", "systemd", "--user", "clawgate"]);
  expect(printed.code).toBe(0);
  const cli = await realpath(join(prefix, "bin/clawgate"));
  expect(cli).toBe(join(prefix, "lib/node_modules/clawgate/dist/node/cli.js"));
  expect(printed.stdout).toContain(`ExecStart=${process.execPath} ${cli} node start`);
});

it("clawgate edge deploy --dry-run checks the edge project and builds the Worker offline", async () => {
  const result = await timed("edge deploy --dry-run", () => clawgate(["edge", "deploy", "--dry-run", "--wrangler", WRANGLER]));
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  expect(result.stdout).toMatch(/wrangler\.jsonc: valid \(Worker clawgate-edge; cron triggers: \*\/30 \* \* \* \*\)\nWorker bundle: [\d.]+ KiB \(gzip [\d.]+ KiB\); dry run, nothing uploaded\n/);
  // The edge's own configuration check (dist/edge/edge-config.js) runs before wrangler: an http origin is refused.
  const file = join(home, ".clawgate/edge/wrangler.jsonc");
  await writeFile(file, (await readFile(file, "utf8")).replace(/\\"origin\\":\\"https:/, '\\"origin\\":\\"http:'));
  const refused = await clawgate(["edge", "deploy", "--dry-run", "--wrangler", WRANGLER]);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toBe(`clawgate: ${file}: vars.CLAWGATE_EDGE_CONFIG.nodes.0.origin: must be an https origin (http only for loopback) without path, query or credentials\n`);
}, 60_000);
