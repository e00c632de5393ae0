/**
 * What the console and `clawgate status` show, gathered from the node's own parts (secrets reloader, intake journal,
 * run log, scheduler, agent table): plain JSON-able values, never a secret value or a delivery's payload unless a
 * page asks for that one payload. Built once per node; every read is a lookup or one walk of the in-memory run log.
 */
import { noModelProblem } from "../config/agent-model-rule.ts";
import type { AgentTable } from "../dispatch/agent-table.ts";
import type { DaemonIo } from "../io/daemon-io.ts";
import type { ReplayResult } from "../dispatch/dispatcher.ts";
import { heartbeatDeadlineMs } from "../dispatch/heartbeat.ts";
import type { ModelMemoryReport } from "../dispatch/model-memory.ts";
import type { RunLog, RunRecord } from "../dispatch/run-log.ts";
import type { Scheduler } from "../dispatch/scheduler.ts";
import type { IntakeJournal, JournalEntry } from "../intake/intake-journal.ts";
import type { SecretsReloader } from "../secrets/secrets-reloader.ts";

/** Ready or not, with one short phrase per problem (the daemon's /readyz rule, passed in by the daemon). */
export interface Readiness {
  readonly ok: boolean;
  readonly problems: readonly string[];
}

export interface ConsoleSources {
  readonly secrets: SecretsReloader;
  readonly readiness: () => Readiness;
  readonly journal?: IntakeJournal | undefined;
  readonly dispatch?:
    | {
        readonly runs: RunLog;
        readonly scheduler: Pick<Scheduler, "state" | "on">;
        readonly agents: AgentTable;
        readonly replay: (deliveryId: string, by: string) => ReplayResult;
        /** Each model's memory estimate (configured or learned from measured peaks). */
        readonly models?: { list(): { readonly models: readonly ModelMemoryReport[] } } | undefined;
      }
    | undefined;
  /** The host's memory now, when it can be read cheaply (host-memory.ts); else the scheduler's last probe reading is shown. */
  readonly hostMemory?: (() => { readonly availableGb: number; readonly totalGb: number } | undefined) | undefined;
  /** When this process started (ms): the base of a heartbeat that has not run since. */
  readonly startedAt: number;
  /** The clock of ages and windows. */
  readonly io: Pick<DaemonIo, "now">;
}

export interface SecretsTransition {
  readonly type: "DEGRADED" | "RECOVERED";
  readonly at: number;
  /** The refs that failed (ref keys and error codes, never values). */
  readonly failures: readonly { readonly refKey: string; readonly code: string }[];
}

export interface HeartbeatView {
  readonly agentId: string;
  readonly everyMs: number;
  /** The latest heartbeat record of the agent (any status), or null. */
  readonly last: { readonly at: number; readonly status: string } | null;
  /** When the next one is due (null when periodic heartbeats are off). */
  readonly nextAt: number | null;
  readonly overdue: boolean;
  /** Why the agent can run nothing (no model or runtime: every run is given up), or null. */
  readonly problem: string | null;
}

export interface MemoryView {
  readonly budgetGb: number;
  readonly reservedGb: number;
  readonly availableGb: number | null;
  readonly totalGb: number | null;
  /** Current reservations of running runs, by model, largest first. */
  readonly byModel: readonly { readonly model: string; readonly gb: number; readonly runs: number }[];
  /** What one run of each known model reserves, and whether that was learned from measured peaks. */
  readonly models: readonly { readonly model: string; readonly estimateGb: number; readonly learned: boolean; readonly samples: number; readonly hardLimitGb: number | null; readonly limitKills: number }[];
}

export interface Overview {
  readonly generatedAt: number;
  readonly live: { readonly ok: true; readonly pid: number; readonly startedAt: number };
  readonly ready: Readiness;
  readonly secrets: {
    readonly health: string;
    readonly version: number | null;
    readonly activatedAt: number | null;
    readonly refCount: number;
    readonly warnings: number;
    readonly transitions: readonly SecretsTransition[];
  };
  readonly heartbeats: readonly HeartbeatView[];
  readonly memory: MemoryView | null;
  readonly queue: { readonly queued: number; readonly queuedHigh: number; readonly running: number; readonly blocked: string | null };
  readonly deliveries: { readonly pending: number; readonly done: number; readonly dead: number };
  readonly runs: Readonly<Record<string, number>>;
}

/** A journaled delivery as the console lists it: metadata and its runs' summary, never the payload. */
export interface DeliveryView {
  readonly deliveryId: string;
  readonly kind: string;
  readonly state: string;
  readonly receivedAt: number;
  readonly attempts: number;
  readonly reason: string | null;
  readonly lastRunId: string | null;
}

export interface RunsPerHour {
  /** Start of each hour bucket (ms), oldest first. */
  readonly hours: readonly { readonly start: number; readonly ok: number; readonly failed: number; readonly p50Ms: number | null; readonly maxMs: number | null }[];
}

export interface ConsoleData {
  overview(): Overview;
  deliveries(state: "pending" | "dead" | "done", filter: string, limit: number): { readonly list: readonly DeliveryView[]; readonly total: number };
  delivery(deliveryId: string): (DeliveryView & { readonly runs: readonly RunRecord[] }) | undefined;
  /** The stored request of one delivery (shown only when a page asks for it). */
  payload(deliveryId: string): string | undefined;
  runs(filter: RunFilter, offset: number, limit: number): { readonly list: readonly RunRecord[]; readonly more: boolean };
  run(id: string): RunRecord | undefined;
  runsPerHour(hours: number): RunsPerHour;
  /** The journal's deliveries by state. */
  counts(): { readonly pending: number; readonly done: number; readonly dead: number };
  agentIds(): readonly string[];
  replay(deliveryId: string): ReplayResult;
  now(): number;
}

export interface RunFilter {
  readonly status?: string | undefined;
  readonly agentId?: string | undefined;
  readonly kind?: string | undefined;
  readonly deliveryId?: string | undefined;
}

const TRANSITIONS_KEPT = 5;
const HOUR = 3_600_000;

interface Aggregates {
  readonly key: string;
  readonly first: number;
  readonly buckets: readonly { readonly ok: number; readonly failed: number; readonly durations: readonly number[] }[];
  readonly latest: ReadonlyMap<string, RunRecord>;
  readonly alive: ReadonlyMap<string, number>;
}
/** Statuses that show a heartbeat machinery is alive (as `clawgate doctor` reads them). */
const ALIVE = new Set(["ok", "skipped"]);
const FAILED = new Set(["error", "timeout", "memory_limit", "interrupted", "cancelled"]);

export function createConsoleData(sources: ConsoleSources): ConsoleData {
  const { now } = sources.io;
  const { secrets, journal, dispatch } = sources;
  const transitions: SecretsTransition[] = [];
  secrets.onEvent((event) => {
    transitions.unshift(
      event.type === "SECRETS_RELOADER_DEGRADED"
        ? { type: "DEGRADED", at: event.at.getTime(), failures: event.failures.map((f) => ({ refKey: f.refKey, code: f.code })) }
        : { type: "RECOVERED", at: event.at.getTime(), failures: [] },
    );
    transitions.length = Math.min(transitions.length, TRANSITIONS_KEPT);
  });
  // The scheduler knows a running task's reservation, the run log its model: together, the budget by model.
  const running = new Map<string, number>();
  let cached: Aggregates | undefined;
  dispatch?.scheduler.on("started", (task) => running.set(task.id, task.memoryGb));
  dispatch?.scheduler.on("finished", (outcome) => running.delete(outcome.id));

  const attemptsOf = (runs: readonly RunRecord[]) => {
    // Runs since the last operator replay: the attempts the current try has used.
    let n = 0;
    for (const r of runs) n = r.kind === "replay" ? 0 : n + 1;
    return n;
  };
  const viewOf = (d: JournalEntry): DeliveryView => {
    const runs = dispatch?.runs.forDelivery(d.deliveryId) ?? [];
    const lastRun = runs.findLast((r) => r.kind !== "replay");
    const reason = d.state === "dead" ? (runs.findLast((r) => r.deadReason !== undefined)?.deadReason ?? null) : (lastRun?.errorMessage ?? lastRun?.errorCode ?? null);
    return { deliveryId: d.deliveryId, kind: d.kind, state: d.state, receivedAt: d.receivedAt, attempts: attemptsOf(runs), reason, lastRunId: lastRun?.id ?? null };
  };

  return {
    now,
    overview() {
      const t = now();
      let snapshot: { version: number; activatedAt: Date; refCount: number; warnings: readonly unknown[] } | undefined;
      try {
        snapshot = secrets.snapshot();
      } catch {
        snapshot = undefined;
      }
      const st = dispatch?.scheduler.state();
      let counts = { pending: 0, done: 0, dead: 0 };
      try {
        if (journal) counts = journal.counts();
      } catch {
        // the readiness check names an unavailable journal
      }
      return {
        generatedAt: t,
        live: { ok: true, pid: process.pid, startedAt: sources.startedAt },
        ready: sources.readiness(),
        secrets: {
          health: secrets.health(),
          version: snapshot?.version ?? null,
          activatedAt: snapshot?.activatedAt.getTime() ?? null,
          refCount: snapshot?.refCount ?? 0,
          warnings: snapshot?.warnings.length ?? 0,
          transitions: [...transitions],
        },
        heartbeats: heartbeats(t),
        memory: st ? { budgetGb: st.budgetGb, reservedGb: st.reservedGb, ...hostMemory(st), byModel: byModel(), models: models() } : null,
        queue: { queued: st?.queued ?? 0, queuedHigh: st?.queuedHigh ?? 0, running: st?.running ?? 0, blocked: st?.blocked?.reason ?? null },
        deliveries: counts,
        runs: dispatch?.runs.counts() ?? {},
      };
    },
    deliveries(state, filter, limit) {
      if (!journal) return { list: [], total: 0 };
      const needle = filter.trim().toLowerCase();
      const rows = state === "pending" ? journal.pending(needle ? 1000 : limit) : journal.list(state, needle ? 1000 : limit);
      const matched = needle ? rows.filter((d) => d.deliveryId.toLowerCase().includes(needle) || d.kind.toLowerCase().includes(needle)) : rows;
      return { list: matched.slice(0, limit).map(viewOf), total: journal.counts()[state] };
    },
    delivery(deliveryId) {
      const d = journal?.get(deliveryId);
      return d ? { ...viewOf(d), runs: dispatch?.runs.forDelivery(deliveryId) ?? [] } : undefined;
    },
    payload: (deliveryId) => journal?.get(deliveryId)?.payload,
    runs(filter, offset, limit) {
      if (!dispatch) return { list: [], more: false };
      if (filter.deliveryId) {
        const all = [...dispatch.runs.forDelivery(filter.deliveryId)].reverse().filter((r) => matches(r, filter));
        return { list: all.slice(offset, offset + limit), more: all.length > offset + limit };
      }
      const page = dispatch.runs.list({ ...definedOnly(filter), limit: offset + limit + 1 });
      return { list: page.slice(offset, offset + limit), more: page.length > offset + limit };
    },
    run: (id) => dispatch?.runs.get(id),
    runsPerHour(hours) {
      const { buckets, first } = aggregates(now(), hours);
      return {
        hours: buckets.map((b, i) => {
          const sorted = [...b.durations].sort((x, y) => x - y);
          return { start: first + i * HOUR, ok: b.ok, failed: b.failed, p50Ms: sorted.length ? sorted[Math.floor(sorted.length / 2)]! : null, maxMs: sorted.at(-1) ?? null };
        }),
      };
    },
    counts: () => {
      try {
        return journal?.counts() ?? { pending: 0, done: 0, dead: 0 };
      } catch {
        return { pending: 0, done: 0, dead: 0 };
      }
    },
    agentIds: () => (dispatch ? [...dispatch.agents.agents.keys()] : []),
    replay(deliveryId) {
      if (!dispatch) return { ok: false, code: "ERR_DELIVERY_NOT_FOUND", message: "delivery not found" };
      return dispatch.replay(deliveryId, "console");
    },
  };

  /** A fresh reading where one is cheap, else the scheduler's last probe (null until a local run was queued). */
  function hostMemory(st: { readonly availableGb: number | null; readonly totalGb: number | null }): { availableGb: number | null; totalGb: number | null } {
    const now = sources.hostMemory?.();
    return now ? { availableGb: now.availableGb, totalGb: now.totalGb } : { availableGb: st.availableGb, totalGb: st.totalGb };
  }

  function heartbeats(t: number): HeartbeatView[] {
    if (!dispatch) return [];
    const { latest, alive } = aggregates(t, 24);
    return [...dispatch.agents.agents.values()].map((agent) => {
      const everyMs = agent.heartbeat.everyMs;
      const last = latest.get(agent.id);
      const lastAt = last ? (last.finishedAt ?? last.startedAt ?? last.queuedAt ?? null) : null;
      // The timer restarts with the process: the base is the later of the last live heartbeat and this start.
      const base = Math.max(alive.get(agent.id) ?? 0, sources.startedAt);
      return {
        agentId: agent.id,
        everyMs,
        last: last && lastAt !== null ? { at: lastAt, status: last.status } : null,
        nextAt: everyMs > 0 ? base + everyMs : null,
        overdue: everyMs > 0 && t > base + heartbeatDeadlineMs(everyMs),
        problem: noModelProblem(agent) ?? null,
      };
    });
  }

  /**
   * One walk of the run log for both the hourly chart and each agent's latest heartbeat, kept until the log changes
   * (a run written or updated moves its status counts) or the hour turns: a page refreshed every few seconds on an
   * idle node costs a lookup, a busy one one walk per change.
   */
  function aggregates(t: number, hours: number): Aggregates {
    const first = Math.floor(t / HOUR) * HOUR - (hours - 1) * HOUR;
    const counts = dispatch?.runs.counts() ?? {};
    const key = `${first}|${hours}|${Object.entries(counts).map(([k, v]) => `${k}=${v}`).join(",")}`;
    if (cached?.key === key) return cached;
    const buckets = Array.from({ length: hours }, () => ({ ok: 0, failed: 0, durations: [] as number[] }));
    const latest = new Map<string, RunRecord>();
    const alive = new Map<string, number>();
    for (const r of dispatch?.runs.list({ limit: Number.MAX_SAFE_INTEGER }) ?? []) {
      const at = r.finishedAt ?? r.startedAt;
      if (r.kind === "heartbeat") {
        if (!latest.has(r.agentId)) latest.set(r.agentId, r);
        if (!alive.has(r.agentId) && ALIVE.has(r.status) && at !== undefined) alive.set(r.agentId, at);
      }
      if (at === undefined || at < first) continue;
      const bucket = buckets[Math.floor((at - first) / HOUR)];
      if (!bucket) continue;
      if (r.status === "ok") bucket.ok++;
      else if (FAILED.has(r.status)) bucket.failed++;
      else continue;
      if (r.durationMs !== undefined) bucket.durations.push(r.durationMs);
    }
    cached = { key, first, buckets, latest, alive };
    return cached;
  }

  function models(): MemoryView["models"] {
    return (dispatch?.models?.list().models ?? []).map((m) => ({
      model: m.model,
      estimateGb: m.estimateGb,
      learned: m.learnedGb !== null,
      samples: m.samples,
      hardLimitGb: m.hardLimitGb,
      limitKills: m.limitKills,
    }));
  }

  function byModel(): MemoryView["byModel"] {
    const models = new Map<string, { gb: number; runs: number }>();
    for (const [id, gb] of running) {
      const model = dispatch?.runs.get(id)?.model ?? "(unknown model)";
      const entry = models.get(model) ?? { gb: 0, runs: 0 };
      entry.gb += gb;
      entry.runs++;
      models.set(model, entry);
    }
    return [...models].map(([model, v]) => ({ model, gb: v.gb, runs: v.runs })).sort((a, b) => b.gb - a.gb);
  }
}

function matches(r: RunRecord, f: RunFilter): boolean {
  return (f.status === undefined || r.status === f.status) && (f.agentId === undefined || r.agentId === f.agentId) && (f.kind === undefined || r.kind === f.kind);
}

function definedOnly(f: RunFilter): { status?: string; agentId?: string; kind?: string } {
  return { ...(f.status ? { status: f.status } : {}), ...(f.agentId ? { agentId: f.agentId } : {}), ...(f.kind ? { kind: f.kind } : {}) };
}
