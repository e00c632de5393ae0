#!/usr/bin/env node
/** The `clawgate` executable: runs the CLI program and turns errors into a one-line reason and an exit code. */
import { enablePrivateCompileCache } from "./compile-cache.ts";

// Before the program's modules load, so they come from (or go into) the compile cache.
enablePrivateCompileCache();
const { runCli } = await import("./program.ts");
process.exitCode = await runCli(process.argv.slice(2));
