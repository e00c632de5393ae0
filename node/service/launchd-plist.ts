/** The launchd job (seed §07) that keeps the node agent running on macOS: restarted on exit, started at boot, logs to files. */
import { join } from "node:path";
import { build } from "plist";
import { DEFAULT_LAUNCHD_LABEL, type ServiceSpec, startArgs, validateServiceSpec } from "./service-spec.ts";

export interface LaunchdOptions {
  readonly label?: string;
  /** Seconds launchd waits before restarting a job that exited (its default is 10; we say it explicitly). */
  readonly throttleIntervalSeconds?: number;
}

const LABEL_RE = /^[A-Za-z0-9][A-Za-z0-9.-]{0,127}$/;

export function launchdLogPaths(stateDir: string): { stdout: string; stderr: string } {
  return { stdout: join(stateDir, "logs", "node.out.log"), stderr: join(stateDir, "logs", "node.err.log") };
}

export function buildLaunchdPlist(spec: ServiceSpec, options: LaunchdOptions = {}): string {
  validateServiceSpec(spec);
  const label = options.label ?? DEFAULT_LAUNCHD_LABEL;
  if (!LABEL_RE.test(label)) throw new TypeError(`label must be a reverse-DNS name (letters, digits, '.', '-'): ${label}`);
  const throttle = options.throttleIntervalSeconds ?? 10;
  if (!Number.isInteger(throttle) || throttle < 1) throw new TypeError("throttleIntervalSeconds must be a positive integer");
  const logs = launchdLogPaths(spec.stateDir);
  const job = {
    Label: label,
    ProgramArguments: startArgs(spec),
    // KeepAlive true: launchd restarts the agent whenever it exits, crash or not (seed §07); RunAtLoad starts it at boot/login.
    KeepAlive: true,
    RunAtLoad: true,
    // A crash loop restarts at most once per ThrottleInterval seconds instead of spinning the CPU.
    ThrottleInterval: throttle,
    // launchd opens these before the agent starts; their folder must exist (`clawgate service install` says so).
    StandardOutPath: logs.stdout,
    StandardErrorPath: logs.stderr,
    // launchd jobs get a minimal environment: PATH for resolvers such as /opt/homebrew/bin/op, HOME for ~ in the config.
    EnvironmentVariables: { PATH: spec.path, HOME: spec.home },
    // Honoured for LaunchDaemons (system domain): the agent runs as this dedicated user, never root.
    UserName: spec.user,
    WorkingDirectory: spec.home,
    // 0077: every file the agent creates is private to its user (decimal 63 = octal 077).
    Umask: 63,
    // SIGTERM, then SIGKILL after this many seconds: the agent closes its journal and resolvers in time.
    ExitTimeOut: 30,
    ProcessType: "Standard",
  };
  return build(job);
}
