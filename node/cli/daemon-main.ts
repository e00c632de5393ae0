/** The daemon bundle's entry (daemon-bundle.ts builds it, daemon-launch.ts runs it): the CLI without the launcher step. */
import { runCli } from "./program.ts";

process.exitCode = await runCli(process.argv.slice(2));
