/** What a supervision file describes: who runs the node agent, with which binaries, config and state dir, and where the file goes. */
import { isAbsolute, join } from "node:path";

export const SERVICE_KINDS = ["launchd", "systemd"] as const;
export type ServiceKind = (typeof SERVICE_KINDS)[number];

/** launchd's job label and the systemd unit's name; doctor looks for files by these names. */
export const DEFAULT_LAUNCHD_LABEL = "com.clawgate.node";
export const DEFAULT_SYSTEMD_UNIT = "clawgate-node.service";

export interface ServiceSpec {
  /** The account the agent runs as (never root). */
  readonly user: string;
  readonly home: string;
  /** Absolute path of a Node ≥ 22 binary. */
  readonly nodePath: string;
  /** Absolute path of the CLI entry (a checkout's `node/cli/bin.ts`, or the installed `dist/node/cli.js`). */
  readonly cliPath: string;
  readonly configPath: string;
  readonly stateDir: string;
  /** PATH for the agent and its resolvers (exec resolvers see only what `passEnv` lets through). */
  readonly path: string;
  /** The dispatch memory budget (`clawgate.dispatch.memoryBudgetGb`), when configured. */
  readonly memoryBudgetGb?: number;
  /** Extra folders the agent (or its resolvers, e.g. gpg's ~/.gnupg) must write under ProtectSystem=strict. */
  readonly readWritePaths?: readonly string[];
}

/** Where the files go by default; `--dir` overrides for tests and unusual layouts. */
export function defaultServiceDir(kind: ServiceKind, scope: "user" | "system", home: string): string {
  if (kind === "launchd") return scope === "system" ? "/Library/LaunchDaemons" : join(home, "Library/LaunchAgents");
  return scope === "system" ? "/etc/systemd/system" : join(home, ".config/systemd/user");
}

export function serviceFileName(kind: ServiceKind, label: string = DEFAULT_LAUNCHD_LABEL): string {
  return kind === "launchd" ? `${label}.plist` : DEFAULT_SYSTEMD_UNIT;
}

/** Every place `clawgate service install` may have written a file, for doctor's supervision check. */
export function knownServiceFiles(home: string, label: string = DEFAULT_LAUNCHD_LABEL): string[] {
  return [
    join(defaultServiceDir("launchd", "user", home), serviceFileName("launchd", label)),
    join(defaultServiceDir("launchd", "system", home), serviceFileName("launchd", label)),
    join(defaultServiceDir("systemd", "system", home), serviceFileName("systemd")),
    join(defaultServiceDir("systemd", "user", home), serviceFileName("systemd")),
  ];
}

const USER_RE = /^[a-z_][a-z0-9_.-]{0,31}$/i;

/** Checks a spec once; a TypeError names the field. */
export function validateServiceSpec(spec: ServiceSpec): ServiceSpec {
  if (!USER_RE.test(spec.user)) throw new TypeError(`user is not a valid account name: ${spec.user}`);
  if (spec.user === "root") {
    throw new TypeError("user root: the node agent must not run as root; create a dedicated user (e.g. clawgate)");
  }
  for (const [field, value] of [
    ["home", spec.home],
    ["nodePath", spec.nodePath],
    ["cliPath", spec.cliPath],
    ["configPath", spec.configPath],
    ["stateDir", spec.stateDir],
    ...(spec.readWritePaths ?? []).map((p) => ["readWritePaths", p] as const),
  ] as const) {
    if (!isAbsolute(value)) throw new TypeError(`${field} must be an absolute path, got "${value}"`);
    // Unit files split on whitespace and expand % and $; plist strings would survive, but keep one rule.
    if (/[\s%$"'\\]/.test(value)) throw new TypeError(`${field} must not contain spaces, quotes, %, $ or \\: "${value}"`);
  }
  if (spec.memoryBudgetGb !== undefined && !(Number.isFinite(spec.memoryBudgetGb) && spec.memoryBudgetGb > 0)) {
    throw new TypeError("memoryBudgetGb must be a positive number");
  }
  return spec;
}

/** The agent's command line, the same in both files. */
export function startArgs(spec: ServiceSpec): string[] {
  return [spec.nodePath, spec.cliPath, "node", "start", "--config", spec.configPath, "--state-dir", spec.stateDir];
}
