#!/usr/bin/env node
/** The `clawgate` executable: runs the CLI program and turns errors into a one-line reason and an exit code. */
import { runCli } from "./program.ts";

process.exitCode = await runCli(process.argv.slice(2));
