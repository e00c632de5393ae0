/** Doctor checks on the running host: is the agent up and ready, is it supervised, did a heartbeat run in time, is there disk. */
import type { StatsFs } from "node:fs";
import { ADMIN_PREFIX } from "../../shared/constants.ts";
import { AGENT_MODEL_FIX } from "../config/agent-model-rule.ts";
import { heartbeatDeadlineMs } from "../dispatch/heartbeat.ts";
import type { DoctorFinding } from "./doctor-finding.ts";

export interface AgentProbeIo {
  readonly fetch: typeof fetch;
  readonly now: () => number;
}

/** What the running agent told us; `undefined` url = no node.json. */
export interface AgentState {
  readonly running: boolean;
  readonly url?: string;
  readonly startedAt?: number;
  /** `undefined` when the agent has no heartbeat API (yet). */
  readonly lastHeartbeatAt?: number | null;
  /** The last heartbeat of each agent that ran one (same source as `lastHeartbeatAt`). */
  readonly lastHeartbeatByAgent?: Readonly<Record<string, number>>;
  readonly heartbeatApi: boolean;
}

const TIMEOUT_MS = 3_000;

/** Ask the agent at `url` (from `<stateDir>/node.json`) whether it is alive, ready, and when it last ran a heartbeat. */
export async function probeAgent(
  info: { url: string; startedAt?: string } | undefined,
  adminToken: string | undefined,
  io: AgentProbeIo,
): Promise<{ state: AgentState; findings: DoctorFinding[] }> {
  const notRunning = (detail: string): { state: AgentState; findings: DoctorFinding[] } => ({
    state: { running: false, heartbeatApi: false },
    findings: [
      {
        checkId: "node.not_running",
        severity: "critical",
        title: "the node agent is not running",
        detail,
        remediation: "start it under supervision: clawgate service install launchd|systemd (then load it), or clawgate node start",
      },
    ],
  });
  if (!info) return notRunning("no <stateDir>/node.json: the agent has not started, or stopped cleanly");
  const get = (path: string, auth = false) =>
    io.fetch(new URL(path, info.url), {
      ...(auth && adminToken ? { headers: { authorization: `Bearer ${adminToken}` } } : {}),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  try {
    const health = await get("/healthz");
    if (!health.ok) return notRunning(`${info.url}/healthz answered ${health.status}`);
  } catch {
    return notRunning(`no answer at ${info.url} (a stale node.json: the agent died without cleaning up)`);
  }
  const findings: DoctorFinding[] = [];
  try {
    const ready = await get("/readyz", true);
    if (!ready.ok) {
      const body = (await ready.json().catch(() => ({}))) as { problems?: unknown };
      const problems = Array.isArray(body.problems) ? body.problems.filter((p) => typeof p === "string").join(", ") : `HTTP ${ready.status}`;
      findings.push({
        checkId: "node.not_ready",
        severity: "critical",
        title: "the node agent is not ready",
        detail: `${info.url}/readyz: ${problems}`,
        remediation: "for degraded secrets: clawgate secrets audit --check, fix the provider, then clawgate secrets reload",
      });
    }
  } catch {
    // /healthz answered a moment ago; a timeout here is reported by the heartbeat check below.
  }
  findings.push(...(await intakeFindings(get)));
  const heartbeat = await lastHeartbeat(get);
  const startedAt = info.startedAt ? Date.parse(info.startedAt) : undefined;
  return {
    state: {
      running: true,
      url: info.url,
      ...(startedAt !== undefined && !Number.isNaN(startedAt) ? { startedAt } : {}),
      heartbeatApi: heartbeat !== "unsupported",
      ...(heartbeat !== "unsupported" ? { lastHeartbeatAt: heartbeat.latest, lastHeartbeatByAgent: heartbeat.byAgent } : {}),
    },
    findings,
  };
}

/** Deliveries the node gave up on (dead) are accepted calls that did not happen: an operator must look. */
async function intakeFindings(get: (path: string, auth?: boolean) => Promise<Response>): Promise<DoctorFinding[]> {
  try {
    const response = await get(`${ADMIN_PREFIX}/intake?limit=1`, true);
    if (!response.ok) return [];
    const body = (await response.json()) as { counts?: { dead?: unknown; pending?: unknown } };
    const dead = typeof body.counts?.dead === "number" ? body.counts.dead : 0;
    if (dead === 0) return [];
    return [
      {
        checkId: "intake.dead_deliveries",
        severity: "warn",
        title: "deliveries were given up",
        detail: `${dead === 1 ? "1 accepted delivery is dead (its runs" : `${dead} accepted deliveries are dead (their runs`} failed every retry); see ${ADMIN_PREFIX}/runs?status=error`,
        remediation: "read the runs' errorCode/deadReason (`clawgate intake list --state dead`), fix the agent's runtime or model, then `clawgate intake replay <deliveryId>`",
      },
    ];
  } catch {
    return [];
  }
}

/**
 * When the agent last ran a heartbeat, from its run log (`GET <admin>/runs`, newest first): the latest
 * heartbeat record that completed (`ok`) or was deliberately skipped (`skipped`: outside active hours, no
 * events) — either shows the heartbeat machinery is alive. "unsupported" when the agent has no run log API.
 */
async function lastHeartbeat(
  get: (path: string, auth?: boolean) => Promise<Response>,
): Promise<{ latest: number | null; byAgent: Record<string, number> } | "unsupported"> {
  let latest: number | null = null;
  const byAgent: Record<string, number> = {};
  try {
    for (const status of ["ok", "skipped"]) {
      // kind=heartbeat: on a busy host the newest 1,000 runs could all be agent runs (an older agent ignores it).
      const response = await get(`${ADMIN_PREFIX}/runs?kind=heartbeat&status=${status}&limit=1000`, true);
      if (!response.ok) return "unsupported";
      const body = (await response.json()) as { runs?: unknown };
      if (!Array.isArray(body.runs)) return "unsupported";
      for (const run of body.runs as { kind?: unknown; agentId?: unknown; finishedAt?: unknown; startedAt?: unknown }[]) {
        if (run.kind !== "heartbeat") continue;
        const at = typeof run.finishedAt === "number" ? run.finishedAt : run.startedAt;
        if (typeof at !== "number") continue;
        if (latest === null || at > latest) latest = at;
        if (typeof run.agentId === "string" && !(at <= (byAgent[run.agentId] ?? -Infinity))) byAgent[run.agentId] = at;
      }
    }
    return { latest, byAgent };
  } catch {
    return "unsupported";
  }
}

/** `30m`, `1h`, `45s`, `2h30m`, `0m` (OpenClaw's heartbeat.every); undefined when not a duration. */
export function parseEvery(value: string): number | undefined {
  const text = value.trim();
  if (!/^(\d+(ms|s|m|h|d))+$/.test(text)) return undefined;
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
  let total = 0;
  for (const m of text.matchAll(/(\d+)(ms|s|m|h|d)/g)) total += Number(m[1]) * unit[m[2] as keyof typeof unit];
  return total;
}

/** OpenClaw's default heartbeat period. */
export const DEFAULT_HEARTBEAT_EVERY = "30m";

/**
 * The heartbeat check for one agent. `agent` names it when the node has several (each runs its own heartbeat):
 * its last heartbeat is then that agent's, and the texts say which agent and which config field.
 */
export function heartbeatFindings(
  every: string | undefined,
  state: AgentState,
  now: number,
  agentsConfigured = true,
  agent?: { readonly id: string; readonly everyField: string },
): DoctorFinding[] {
  if (!agentsConfigured) {
    return [
      {
        checkId: "heartbeat.no_agents",
        severity: "info",
        title: "no agents configured",
        detail: "the config has no agents section: the node journals deliveries and leaves them pending, and runs no heartbeat",
        remediation: AGENT_MODEL_FIX,
      },
    ];
  }
  const period = parseEvery(every ?? DEFAULT_HEARTBEAT_EVERY);
  if (period === undefined) {
    return [{ checkId: "heartbeat.every_invalid", severity: "warn", title: "heartbeat.every is not a duration", detail: `${agent?.everyField ?? "agents.defaults.heartbeat.every"} is "${every}"`, remediation: 'use e.g. "30m"' }];
  }
  if (period === 0) {
    return [
      {
        checkId: "heartbeat.disabled",
        severity: "warn",
        title: "heartbeats are disabled",
        detail: `${agent?.everyField ?? "agents.defaults.heartbeat.every"} is "0m": next-heartbeat wakes would wait forever (OpenClaw #7588, #14658)`,
        remediation: `set ${agent?.everyField ?? "agents.defaults.heartbeat.every"}, e.g. "30m"`,
      },
    ];
  }
  if (!state.running) return [];
  if (!state.heartbeatApi) {
    return [
      {
        checkId: "heartbeat.unchecked",
        severity: "info",
        title: "heartbeat delivery not checked",
        detail: `the agent at ${state.url} has no run log API (${ADMIN_PREFIX}/runs)`,
      },
    ];
  }
  const deadline = heartbeatDeadlineMs(period);
  const last = agent ? state.lastHeartbeatByAgent?.[agent.id] : (state.lastHeartbeatAt ?? undefined);
  const who = agent ? ` of agent "${agent.id}"` : "";
  const since = last ?? state.startedAt;
  if (since === undefined || now - since <= deadline) return [];
  const minutes = (ms: number) => `${Math.round(ms / 60_000)} min`;
  return [
    {
      checkId: "heartbeat.overdue",
      severity: "critical",
      title: "no heartbeat within period + grace",
      detail:
        last === undefined
          ? `no heartbeat${who} has run since the agent started ${minutes(now - since)} ago (period ${minutes(period)}, deadline ${minutes(deadline)})`
          : `the last heartbeat${who} ran ${minutes(now - last)} ago (period ${minutes(period)}, deadline ${minutes(deadline)})`,
      remediation: "check the edge's cron trigger and outbox (queued deliveries), or the local cron line's log (clawgate cron print)",
    },
  ];
}

export function supervisionFindings(found: readonly string[], searched: readonly string[]): DoctorFinding[] {
  if (found.length > 0) return [];
  return [
    {
      checkId: "supervision.not_installed",
      severity: "warn",
      title: "no supervision installed",
      detail: `none of ${searched.join(", ")} exists: a crash or a reboot leaves the host down (docs/operations.md#supervision)`,
      remediation: "clawgate service install launchd (macOS) or clawgate service install systemd --user <name> (Linux)",
    },
  ];
}

/** A service file whose Node, clawgate entry or config is gone: the supervisor restarts into "not found" forever. */
export function servicePathFindings(file: string, missing: readonly string[]): DoctorFinding[] {
  if (missing.length === 0) return [];
  return [
    {
      checkId: "supervision.path_missing",
      severity: "critical",
      title: "the service file starts a file that does not exist",
      detail: `${file} names ${missing.join(", ")}, which ${missing.length === 1 ? "does" : "do"} not exist (docs/operations.md#upgrades)`,
      remediation: "write it again from the installed clawgate: clawgate service install launchd|systemd (then reload it)",
    },
  ];
}

/** Low disk stops the journal's writes (SQLite needs room for the WAL): warn under 1 GiB or 5%, critical under 256 MiB. */
export function diskFindings(stateDir: string, fs: StatsFs | undefined): DoctorFinding[] {
  if (!fs) return [];
  const free = fs.bavail * fs.bsize;
  const total = fs.blocks * fs.bsize;
  const mib = (n: number) => `${Math.floor(n / 1_048_576)} MiB`;
  const detail = `${stateDir}: ${mib(free)} free of ${mib(total)}`;
  const remediation = "free space on that volume or move clawgate.stateDir";
  if (free < 256 * 1_048_576) return [{ checkId: "disk.state_dir_low", severity: "critical", title: "almost no disk left for the state dir", detail, remediation }];
  if (free < 1_073_741_824 || (total > 0 && free / total < 0.05)) {
    return [{ checkId: "disk.state_dir_low", severity: "warn", title: "little disk left for the state dir", detail, remediation }];
  }
  return [];
}
