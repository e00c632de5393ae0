/** How CLI commands reach the running daemon's admin API: discovery via <state-dir>/node.json, the admin token, one request. */
import { type Command, Option } from "commander";
import { ADMIN_PREFIX } from "../../shared/constants.ts";
import { loadConfig, resolveConfigPath } from "../config/config-file.ts";
import { readAdminToken } from "../state/admin-token.ts";
import { readNodeInfo } from "../state/node-discovery.ts";
import { resolveStateDir } from "../state/state-dir.ts";
import { CliError } from "./cli-error.ts";
import { configFlag, configOption } from "./cli-io.ts";

/** The flags every command that talks to the daemon takes (besides --config). */
export interface DaemonFlags {
  url?: string;
  token?: string;
  stateDir?: string;
}

export interface DaemonTarget {
  readonly url: string;
  readonly token: string;
}

/** Adds --config, --url, --token and --state-dir to a command. */
export function daemonOptions(command: Command): Command {
  return command
    .addOption(configOption())
    .option("--url <url>", "admin URL of the daemon (default: from <state-dir>/node.json)")
    .addOption(new Option("--token <token>", "admin token (default: $OPENCLAW_GATEWAY_TOKEN, else <state-dir>/admin.token)"))
    .option("--state-dir <dir>", "the daemon's state dir (else $CLAWGATE_STATE_DIR, clawgate.stateDir, ~/.clawgate)");
}

/**
 * The running daemon's URL and a token for it: --url, else the node.json the daemon wrote at start; --token, else
 * $OPENCLAW_GATEWAY_TOKEN, else the per-start admin.token — all in the state dir the flags and config point at.
 */
export async function findDaemon(flags: DaemonFlags, command: Command): Promise<DaemonTarget> {
  const configValue = await stateDirFromConfig(configFlag(command));
  const stateDir = resolveStateDir(flags.stateDir, configValue);
  const url = flags.url ?? (await readNodeInfo(stateDir))?.url;
  if (!url) throw new CliError(`no running daemon found (no ${stateDir}/node.json); start one with: clawgate node start`);
  const token = flags.token ?? (process.env["OPENCLAW_GATEWAY_TOKEN"] || undefined) ?? (await readAdminToken(stateDir));
  if (!token) throw new CliError(`no admin token: pass --token or set OPENCLAW_GATEWAY_TOKEN (${stateDir}/admin.token is missing)`);
  return { url, token };
}

/**
 * One admin API request (`path` below the admin prefix). A daemon that does not answer, refuses the token or
 * answers something other than JSON ends the command with a one-line reason; any other status is the caller's.
 */
export async function adminRequest(
  target: DaemonTarget,
  method: "GET" | "POST",
  path: string,
  options: { fetchImpl?: typeof fetch; timeoutMs?: number } = {},
): Promise<{ readonly status: number; readonly body: Record<string, unknown> }> {
  let response: Response;
  try {
    response = await (options.fetchImpl ?? fetch)(new URL(`${ADMIN_PREFIX}${path}`, target.url), {
      method,
      headers: { authorization: `Bearer ${target.token}` },
      signal: AbortSignal.timeout(options.timeoutMs ?? 60_000),
    });
  } catch {
    throw new CliError(`no daemon answers at ${target.url}; is it running? (clawgate node start)`);
  }
  if (response.status === 401) throw new CliError(`the daemon at ${target.url} refused the admin token (401)`);
  const body = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
  if (!body || typeof body !== "object") throw new CliError(`unexpected answer from ${target.url} (HTTP ${response.status})`);
  return { status: response.status, body };
}

/** The state dir configured in the config file, when the file exists and parses; talking to the daemon works without one. */
async function stateDirFromConfig(flag: string | undefined): Promise<string | undefined> {
  try {
    return (await loadConfig(resolveConfigPath(flag))).config.clawgate?.stateDir;
  } catch {
    return undefined;
  }
}
