/** `clawgate doctor [--json] [--fix]`: the production audit; exit 1 when any critical finding is left. */
import type { Command } from "commander";
import { resolveConfigPath } from "../config/config-file.ts";
import { formatDoctorReport } from "../doctor/doctor-finding.ts";
import { runDoctor } from "../doctor/doctor.ts";
import type { CliIo } from "./cli-io.ts";
import { configFlag, configOption } from "./cli-io.ts";

interface DoctorFlags {
  json?: boolean;
  fix?: boolean;
  allowExec?: boolean;
  stateDir?: string;
}

export function registerDoctorCommand(program: Command, io: CliIo): void {
  program
    .command("doctor")
    .description("audit this host for production: binding, root, permissions, hooks policy, secrets, edge key, supervision, heartbeat, disk")
    .addOption(configOption())
    .option("--json", "print the report as JSON ({ok, summary, findings, fixed})")
    .option("--fix", "tighten file and folder permissions (chmod 600/700); never changes tokens or bindings")
    .option("--allow-exec", "run exec resolvers to check exec refs and exec-held tokens")
    .option("--state-dir <dir>", "the daemon's state dir (else $CLAWGATE_STATE_DIR, clawgate.stateDir, ~/.clawgate)")
    .action(async (opts: DoctorFlags, command: Command) => {
      const report = await runDoctor({
        configPath: resolveConfigPath(configFlag(command)),
        ...(opts.stateDir === undefined ? {} : { stateDir: opts.stateDir }),
        fix: opts.fix ?? false,
        allowExec: opts.allowExec ?? false,
      });
      io.stdout(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatDoctorReport(report));
      process.exitCode = report.ok ? 0 : 1;
    });
}
