/**
 * `clawgate edge deploy [--dry-run]` and `clawgate edge secret put`: the operator's edge project (clawgate init)
 * deployed with the Worker of this clawgate, through the operator's own wrangler (docs/operations.md says why
 * wrangler is not bundled: ~150 MB with workerd, needed only where one deploys).
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, readdir, rm, stat } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import type { Command } from "commander";
import { expandHome } from "../config/home-path.ts";
import { EdgeProjectError, PLACEHOLDER_HOST_SUFFIX, WRANGLER_CONFIG_FILE, readEdgeProject } from "../deploy/edge-project.ts";
import { CliError } from "./cli-error.ts";
import type { CliIo } from "./cli-io.ts";
import { EDGE_CONFIG_MODULE, WORKER_ENTRY } from "./package-layout.ts";
import { findOnPath } from "./service-commands.ts";

/** The wrangler release the Worker is tested with (package.json devDependencies). */
export const TESTED_WRANGLER = "4.155.0";
const SIGNING_KEY_SECRET = "CLAWGATE_EDGE_SIGNING_KEY";
const SIGNING_KEY_FILE = "signing-key.jwk";

interface EdgeDirFlags {
  edgeDir: string;
  wrangler?: string;
  dryRun?: boolean;
}

/** wrangler without telemetry or Cloudflare lookups it does not need. */
const quietEnv = (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({ ...env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", DO_NOT_TRACK: "1" });

/** --wrangler, else $CLAWGATE_WRANGLER, else `wrangler` on PATH. */
async function findWrangler(flag: string | undefined, env: NodeJS.ProcessEnv): Promise<string> {
  const chosen = flag ?? (env["CLAWGATE_WRANGLER"] || undefined) ?? (await findOnPath("wrangler", env["PATH"]));
  if (!chosen) throw new CliError(`wrangler not found on PATH: install it (npm install -g wrangler@${TESTED_WRANGLER}) or pass --wrangler PATH`);
  return resolve(chosen);
}

interface RunResult {
  readonly code: number | null;
  readonly output: string;
}

/** Runs wrangler (a .js file through this Node), output passed through; `input` goes to its stdin. */
function runWrangler(wrangler: string, args: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv; input?: string; io: CliIo; echo: boolean }): Promise<RunResult> {
  const [file, argv] = /\.[cm]?js$/.test(wrangler) ? [process.execPath, [wrangler, ...args]] : [wrangler, [...args]];
  return new Promise((done, fail) => {
    const child = spawn(file, argv, { cwd: options.cwd, env: quietEnv(options.env), stdio: ["pipe", "pipe", "pipe"] });
    let output = "";
    const take = (write: (t: string) => void) => (d: Buffer) => {
      output += d.toString("utf8");
      if (options.echo) write(d.toString("utf8"));
    };
    child.stdout.on("data", take(options.io.stdout));
    child.stderr.on("data", take(options.io.stderr));
    child.once("error", (error) => fail(new CliError(`cannot run ${wrangler} (${(error as NodeJS.ErrnoException).code ?? "error"})`)));
    child.once("close", (code) => done({ code, output }));
    child.stdin.on("error", () => {});
    child.stdin.end(options.input ?? "");
  });
}

async function project(flags: EdgeDirFlags) {
  const dir = resolve(expandHome(flags.edgeDir, homedir()));
  try {
    return await readEdgeProject(dir, { module: EDGE_CONFIG_MODULE });
  } catch (error) {
    if (error instanceof EdgeProjectError) throw new CliError(error.message, { code: error.code });
    throw error;
  }
}

export function registerEdgeDeployCommands(program: Command, io: CliIo, env: NodeJS.ProcessEnv = process.env): void {
  const edge = program.commands.find((c) => c.name() === "edge") ?? program.command("edge").description("the edge Worker");
  const edgeDirOption = (command: Command) =>
    command
      .option("--edge-dir <dir>", "the edge project folder (clawgate init writes it)", "~/.clawgate/edge")
      .option("--wrangler <path>", "the wrangler to run (default: $CLAWGATE_WRANGLER, else wrangler on PATH)");

  edgeDirOption(
    edge
      .command("deploy")
      .description("check the edge project, build the Worker of this clawgate with it and deploy it with wrangler")
      .option("--dry-run", "check and build only, offline: prints the bundle size, uploads nothing"),
  ).action(async (flags: EdgeDirFlags) => {
    const edgeProject = await project(flags);
    const origin = (edgeProject.edgeConfig["nodes"] as { origin: string }[])[0]!.origin;
    if (!flags.dryRun && new URL(origin).hostname.endsWith(PLACEHOLDER_HOST_SUFFIX)) {
      throw new CliError(`${edgeProject.configFile}: the node's origin ${origin} is a placeholder; rerun clawgate init --hostname <the tunnel's public name>`);
    }
    const wrangler = await findWrangler(flags.wrangler, env);
    const args = ["deploy", WORKER_ENTRY, "--config", join(edgeProject.dir, WRANGLER_CONFIG_FILE)];
    if (!flags.dryRun) {
      const result = await runWrangler(wrangler, args, { cwd: edgeProject.dir, env, io, echo: true });
      if (result.code !== 0) throw new CliError(`wrangler deploy failed (exit ${result.code}); nothing else was changed`);
      io.stdout(`deployed ${edgeProject.name} (cron triggers: ${edgeProject.crons.join(", ") || "none"})\n`);
      return;
    }
    const outDir = await mkdtemp(join(tmpdir(), "clawgate-edge-dry-run-"));
    try {
      const result = await runWrangler(wrangler, [...args, "--dry-run", "--outdir", outDir], { cwd: edgeProject.dir, env, io, echo: false });
      if (result.code !== 0) {
        const reason = result.output.split("\n").find((l) => /ERROR|✘/.test(l))?.replace(/^[✘\s[\]A-Z]*ERROR\]?\s*/, "").trim();
        throw new CliError(`wrangler deploy --dry-run failed (exit ${result.code})${reason ? `: ${reason}` : ""}`);
      }
      const bundle = (await readdir(outDir)).find((f) => /\.m?js$/.test(f));
      if (!bundle) throw new CliError("wrangler deploy --dry-run wrote no bundle");
      const bytes = await readFile(join(outDir, bundle));
      const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
      io.stdout(
        [
          `${edgeProject.configFile}: valid (Worker ${edgeProject.name}; cron triggers: ${edgeProject.crons.join(", ") || "none"})`,
          `Worker bundle: ${kib(bytes.length)} (gzip ${kib(gzipSync(bytes).length)}); dry run, nothing uploaded`,
          "",
        ].join("\n"),
      );
    } finally {
      await rm(outDir, { recursive: true, force: true });
    }
  });

  const secret = edge.command("secret").description("Worker secrets from files clawgate init wrote");
  edgeDirOption(
    secret
      .command("put")
      .description(`send the edge signing key (<edge-dir>/${SIGNING_KEY_FILE}, 0600) to the Worker as ${SIGNING_KEY_SECRET} through wrangler's stdin, then delete the file`),
  ).action(async (flags: EdgeDirFlags) => {
    const edgeProject = await project(flags);
    const keyFile = join(edgeProject.dir, SIGNING_KEY_FILE);
    let info;
    try {
      info = await stat(keyFile);
    } catch {
      throw new CliError(`${keyFile}: not found (already sent? it is deleted after a successful put; a new key: clawgate edge keys)`);
    }
    if ((info.mode & 0o077) !== 0) throw new CliError(`${keyFile} has mode ${(info.mode & 0o777).toString(8)}; it must be private (chmod 600 ${keyFile})`);
    const key = await readFile(keyFile, "utf8");
    const wrangler = await findWrangler(flags.wrangler, env);
    const result = await runWrangler(wrangler, ["secret", "put", SIGNING_KEY_SECRET, "--config", edgeProject.configFile], {
      cwd: edgeProject.dir,
      env,
      input: key.trim(),
      io,
      echo: true,
    });
    if (result.code !== 0) throw new CliError(`wrangler secret put failed (exit ${result.code}); ${keyFile} is kept`);
    await rm(keyFile);
    io.stdout(`${SIGNING_KEY_SECRET} is set on ${edgeProject.name}; deleted ${keyFile}\n`);
  });
}
