/** `clawgate secrets reload`: asks the running node agent to re-resolve its secrets through the admin API. */
import { Command, Option } from "commander";
import { ADMIN_PREFIX } from "../../shared/constants.ts";
import { loadConfig, resolveConfigPath } from "../config/config-file.ts";
import { readAdminToken, readNodeInfo } from "../server/admin-auth.ts";
import { resolveStateDir } from "../server/state-dir.ts";
import { CliError } from "./cli-error.ts";
import type { CliIo } from "./program.ts";
import { configFlag, configOption } from "./program.ts";

interface ReloadOptions {
  json?: boolean;
  url?: string;
  token?: string;
  stateDir?: string;
}

export function addReloadCommand(secrets: Command, io: CliIo, fetchImpl: typeof fetch = fetch): void {
  secrets
    .command("reload")
    .description("ask the running node agent to re-resolve every secret (keeps the last-known-good on failure)")
    .addOption(configOption())
    .option("--json", "print the agent's answer as JSON")
    .option("--url <url>", "admin URL of the agent (default: from <state-dir>/node.json)")
    .addOption(new Option("--token <token>", "admin token (default: $OPENCLAW_GATEWAY_TOKEN, else <state-dir>/admin.token)"))
    .option("--state-dir <dir>", "the agent's state dir (else $CLAWGATE_STATE_DIR, clawgate.stateDir, ~/.clawgate)")
    .action(async (opts: ReloadOptions, command: Command) => {
      const configValue = await stateDirFromConfig(configFlag(command));
      const stateDir = resolveStateDir(opts.stateDir, configValue);
      const url = opts.url ?? (await readNodeInfo(stateDir))?.url;
      if (!url) throw new CliError(`no running node agent found (no ${stateDir}/node.json); start one with: clawgate node start`);
      const token = opts.token ?? (process.env["OPENCLAW_GATEWAY_TOKEN"] || undefined) ?? (await readAdminToken(stateDir));
      if (!token) throw new CliError(`no admin token: pass --token or set OPENCLAW_GATEWAY_TOKEN (${stateDir}/admin.token is missing)`);

      let response: Response;
      try {
        response = await fetchImpl(new URL(`${ADMIN_PREFIX}/secrets/reload`, url), {
          method: "POST",
          headers: { authorization: `Bearer ${token}` },
          signal: AbortSignal.timeout(60_000),
        });
      } catch {
        throw new CliError(`no node agent answers at ${url}; is it running? (clawgate node start)`);
      }
      if (response.status === 401) throw new CliError(`the node agent at ${url} refused the admin token (401)`);
      const body = (await response.json().catch(() => undefined)) as
        | { ok: boolean; warningCount?: number; error?: string }
        | undefined;
      if (!body) throw new CliError(`unexpected answer from ${url} (HTTP ${response.status})`);
      if (!body.ok) throw new CliError(`reload failed; the agent keeps its last-known-good secrets:\n${body.error ?? ""}`.trim());
      io.stdout(
        opts.json
          ? `${JSON.stringify({ ok: true, warningCount: body.warningCount ?? 0 })}\n`
          : `secrets reloaded (${body.warningCount ?? 0} warning${body.warningCount === 1 ? "" : "s"})\n`,
      );
    });
}

/** The state dir configured in the config file, when the file exists and parses; reload works without one. */
async function stateDirFromConfig(flag: string | undefined): Promise<string | undefined> {
  try {
    return (await loadConfig(resolveConfigPath(flag))).config.clawgate?.stateDir;
  } catch {
    return undefined;
  }
}
