/** The node agent bundle's entry (agent-bundle.ts builds it, agent-launch.ts runs it): the CLI without the launcher step. */
import { runCli } from "./program.ts";

process.exitCode = await runCli(process.argv.slice(2));
