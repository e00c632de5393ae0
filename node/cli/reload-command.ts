/** `clawgate secrets reload`: asks the running daemon to re-resolve its secrets through the admin API. */
import type { Command } from "commander";
import { type DaemonFlags, adminRequest, daemonOptions, findDaemon } from "./daemon-client.ts";
import { CliError } from "./cli-error.ts";
import type { CliIo } from "./cli-io.ts";

interface ReloadOptions extends DaemonFlags {
  json?: boolean;
}

export function addReloadCommand(secrets: Command, io: CliIo, fetchImpl: typeof fetch = fetch): void {
  daemonOptions(secrets.command("reload").description("ask the running daemon to re-resolve every secret (keeps the last-known-good on failure)"))
    .option("--json", "print the daemon's answer as JSON (on failure {\"ok\":false,\"error\":...}, exit 1)")
    .action(async (opts: ReloadOptions, command: Command) => {
      try {
        const target = await findDaemon(opts, command);
        const { body } = await adminRequest(target, "POST", "/secrets/reload", { fetchImpl });
        const warningCount = typeof body["warningCount"] === "number" ? body["warningCount"] : 0;
        if (body["ok"] !== true) {
          const error = typeof body["error"] === "string" ? body["error"] : "";
          throw new CliError(`reload failed; the daemon keeps its last-known-good secrets:\n${error}`.trim());
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
