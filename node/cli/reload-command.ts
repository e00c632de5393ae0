/** `clawgate secrets reload`: asks the running node agent to re-resolve its secrets through the admin API. */
import type { Command } from "commander";
import { type AgentFlags, adminRequest, agentOptions, findAgent } from "./agent-client.ts";
import { CliError } from "./cli-error.ts";
import type { CliIo } from "./program.ts";

interface ReloadOptions extends AgentFlags {
  json?: boolean;
}

export function addReloadCommand(secrets: Command, io: CliIo, fetchImpl: typeof fetch = fetch): void {
  agentOptions(secrets.command("reload").description("ask the running node agent to re-resolve every secret (keeps the last-known-good on failure)"))
    .option("--json", "print the agent's answer as JSON (on failure {\"ok\":false,\"error\":...}, exit 1)")
    .action(async (opts: ReloadOptions, command: Command) => {
      try {
        const target = await findAgent(opts, command);
        const { body } = await adminRequest(target, "POST", "/secrets/reload", { fetchImpl });
        const warningCount = typeof body["warningCount"] === "number" ? body["warningCount"] : 0;
        if (body["ok"] !== true) {
          const error = typeof body["error"] === "string" ? body["error"] : "";
          throw new CliError(`reload failed; the agent keeps its last-known-good secrets:\n${error}`.trim());
        }
        io.stdout(
          opts.json
            ? `${JSON.stringify({ ok: true, warningCount })}\n`
            : `secrets reloaded (${warningCount} warning${warningCount === 1 ? "" : "s"})\n`,
        );
      } catch (error) {
        // A script reading --json gets JSON on stdout whatever went wrong (OpenClaw's `{ok:false,error}`);
        // the one-line reason still goes to stderr and the exit code stays 1.
        if (opts.json && error instanceof CliError) io.stdout(`${JSON.stringify({ ok: false, error: error.message })}\n`);
        throw error;
      }
    });
}
