#!/usr/bin/env node
/** The `clawgate` executable: runs the CLI program and turns errors into a one-line reason and an exit code. */
import { enablePrivateCompileCache } from "./compile-cache.ts";
import { unsupportedNode } from "./node-version.ts";
import { BUILT_DAEMON_ENTRY, RUNS_BUILT } from "./package-layout.ts";

const tooOld = unsupportedNode(process.versions.node);
if (tooOld) {
  process.stderr.write(`clawgate: ${tooOld}\n`);
  process.exit(1);
}
const argv = process.argv.slice(2);
// Only the long-running daemon (its start time and memory are measured targets): every other command
// leaves the home directory untouched, so a dry run really writes nothing.
if (argv[0] === "node" && argv[1] === "start") {
  const cacheDir = enablePrivateCompileCache() ?? (process.env["CLAWGATE_COMPILE_CACHE"] === "0" ? undefined : process.env["NODE_COMPILE_CACHE"] || undefined);
  // Replaces this process with the daemon bundle (daemon-launch.ts): the package's own, or one built from a
  // checkout's sources; returns only to run the daemon in this process.
  const { launchDaemonBundle } = await import("./daemon-launch.ts");
  const { reason } = await launchDaemonBundle({
    argv,
    cacheDir,
    ...(RUNS_BUILT ? { ensureBundle: async () => ({ path: BUILT_DAEMON_ENTRY, built: false }) } : {}),
  });
  if (reason) process.stderr.write(`clawgate: running the daemon ${RUNS_BUILT ? "in this process" : "from sources"} (${reason})\n`);
}
// Loaded after the cache is on, so the program's modules come from (or go into) it.
const { runCli } = await import("./program.ts");
process.exitCode = await runCli(argv);
