/** `clawgate secrets reload`: asks the running node agent to re-resolve its secrets through the admin API. */
import type { Command } from "commander";
import { type AgentFlags, adminRequest, agentOptions, findAgent } from "./agent-client.ts";
import { CliError } from "./cli-error.ts";
import type { CliIo } from "./cli-io.ts";

interface ReloadOptions extends AgentFlags {
  json?: boolean;
}

export function addReloadCommand(secrets: Command, io: CliIo, fetchImpl: typeof fetch = fetch): void {
  agentOptions(secrets.command("reload").description("ask the running node agent to re-resolve every secret (keeps the last-known-good on failure)"))
    .option("--json", "print the agent's answer as JSON")
    .action(async (opts: ReloadOptions, command: Command) => {
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
    });
}
