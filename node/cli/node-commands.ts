/** `clawgate node start`: run the daemon in the foreground (supervisors: launchd, systemd). */
import type { Command } from "commander";
import { resolveConfigPath } from "../config/config-file.ts";
import { type LogFormat, chooseLogFormat } from "../server/log-format.ts";
import { createLogger } from "../server/logger.ts";
import { type NodeAgent, startNodeAgent } from "../server/node-agent.ts";
import { CliError } from "./cli-error.ts";
import type { CliIo } from "./cli-io.ts";
import { configFlag, configOption } from "./cli-io.ts";

interface StartOptions {
  port?: string;
  host?: string;
  stateDir?: string;
  allowRoot?: boolean;
  logFormat?: string;
}

export function registerNodeCommands(program: Command, _io: CliIo): void {
  const node = program.command("node").description("the daemon (loopback-only)");
  node
    .command("start")
    .description("resolve secrets (fail fast), then serve on loopback until SIGTERM/SIGINT; SIGHUP reloads secrets")
    .addOption(configOption())
    .option("--port <n>", "port to listen on (default 18789; 0 picks a free one)")
    .option("--host <addr>", "loopback address to bind (127.0.0.0/8 or ::1)")
    .option("--state-dir <dir>", "state dir (else $CLAWGATE_STATE_DIR, clawgate.stateDir, ~/.clawgate)")
    .option("--allow-root", "allow running as root (also CLAWGATE_ALLOW_ROOT=1)")
    .option("--log-format <format>", "pretty (one readable line per event) or json (default: pretty on a terminal, else json; $CLAWGATE_LOG_FORMAT)")
    .action(async (opts: StartOptions, command: Command) => {
      const port = opts.port === undefined ? undefined : parsePort(opts.port);
      let format: LogFormat;
      try {
        format = chooseLogFormat(opts.logFormat, process.env, process.stdout.isTTY === true);
      } catch (error) {
        throw new CliError((error as Error).message);
      }
      const logger = createLogger({ format });
      // Installed before start: SIGHUP's default action kills the process, and a supervisor (or a test)
      // may send it as soon as the listening line appears. A SIGHUP during start queues one reload.
      let agent: NodeAgent | undefined;
      let reloadQueued = false;
      process.on("SIGHUP", () => {
        logger.info({ signal: "SIGHUP" }, "reloading secrets");
        if (agent) void agent.secrets.reload();
        else reloadQueued = true;
      });
      // Likewise SIGTERM/SIGINT: a stop asked for during start is carried out as soon as start is done.
      let stopRequested = false;
      let onStop: (() => void) | undefined;
      const stop = (signal: NodeJS.Signals) => {
        logger.info({ signal }, "shutting down");
        stopRequested = true;
        onStop?.();
      };
      process.once("SIGTERM", stop);
      process.once("SIGINT", stop);
      // The agent can no longer vouch for what it acknowledges: stop, and exit non-zero for the supervisor to restart it.
      let fatal: Error | undefined;
      const onFatal = (error: Error) => {
        fatal ??= error;
        stopRequested = true;
        onStop?.();
      };
      agent = await startNodeAgent({
        configPath: resolveConfigPath(configFlag(command)),
        logger,
        ...(port === undefined ? {} : { port }),
        ...(opts.host === undefined ? {} : { host: opts.host }),
        ...(opts.stateDir === undefined ? {} : { stateDir: opts.stateDir }),
        ...(opts.allowRoot ? { allowRoot: true } : {}),
        onFatal,
      });

      if (reloadQueued) void agent.secrets.reload();
      const running = agent;
      await new Promise<void>((resolve) => {
        onStop = () => void running.close().then(resolve, resolve);
        if (stopRequested) onStop();
      });
      logger.flush();
      if (fatal) throw new CliError("the intake journal failed a WAL sync; exiting so the supervisor restarts the node", { code: "ERR_JOURNAL_FAILED", cause: fatal });
    });
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65_535) throw new CliError(`--port must be an integer from 0 to 65535, got "${value}"`);
  return port;
}
