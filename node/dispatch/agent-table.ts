/**
 * The agents the dispatcher can run, compiled once at start from `agents` (docs/openclaw-compat.md §6–§7): each agent's
 * model, thinking default, timeout, heartbeat timing and built runtime. Without an `agents.list` there is one
 * implicit agent "main" (OpenClaw's default). Mistakes throw naming the config path.
 */
import type { AgentsConfig, ThinkingLevel } from "../config/agents-schema.ts";
import type { DaemonIo } from "../io/daemon-io.ts";
import { type RuntimeConfig, RuntimeConfigError, RuntimeConfigSchema, buildRuntime } from "../runtimes/runtime-config.ts";
import type { AgentRuntime } from "../runtimes/runtime-types.ts";
import { type ActiveHours, DEFAULT_HEARTBEAT_PROMPT, checkTimezone, parseDurationMs } from "./heartbeat.ts";

export interface HeartbeatSettings {
  readonly everyMs: number;
  readonly activeHours?: ActiveHours | undefined;
  readonly prompt: string;
  readonly ackMaxChars: number;
  readonly maxEventDelayMs: number;
  readonly model?: string | undefined;
}

export interface ResolvedAgent {
  readonly id: string;
  readonly model: string | undefined;
  /** Primary then fallbacks (`model: { primary, fallbacks }`): a failed run's retry moves down this list. */
  readonly models: readonly string[];
  readonly thinkingDefault: ThinkingLevel | undefined;
  readonly timeoutSeconds: number;
  readonly heartbeat: HeartbeatSettings;
  /** Undefined when the agent has no model to run (no runtime can be built): its runs end ERR_NO_MODEL. */
  readonly runtime: AgentRuntime | undefined;
}

export interface AgentTable {
  readonly defaultAgentId: string;
  readonly agents: ReadonlyMap<string, ResolvedAgent>;
  get(id: string): ResolvedAgent | undefined;
}

/** OpenClaw's defaults: heartbeat every 30 m, 600 s per run; clawgate's maxEventDelay 30 m. */
export const DEFAULT_HEARTBEAT_EVERY = "30m";
export const DEFAULT_TIMEOUT_SECONDS = 600;
export const DEFAULT_MAX_EVENT_DELAY = "30m";

export interface AgentTableInput {
  readonly agents: AgentsConfig | undefined;
  /** `models.providers` (kept raw by the loose config schema). */
  readonly providers: Readonly<Record<string, { baseUrl?: unknown; headers?: unknown } | undefined>>;
  readonly secret: (path: string) => string | undefined;
  readonly env?: NodeJS.ProcessEnv;
  /** Passed to the runtimes built here. */
  readonly io: Pick<DaemonIo, "now" | "spawn">;
}

const modelsOf = (model: string | { primary: string; fallbacks?: string[] | undefined } | undefined): string[] =>
  model === undefined ? [] : typeof model === "string" ? [model] : [model.primary, ...(model.fallbacks ?? [])];

export function compileAgentTable(input: AgentTableInput): AgentTable {
  const defaults = input.agents?.defaults ?? {};
  const list = input.agents?.list?.length ? input.agents.list : [{ id: "main" }];
  const catalog = defaults.models ?? {};
  const reasoningOf = (model: string) => (catalog[model] as { reasoning?: unknown } | undefined)?.reasoning === true;
  if (defaults.runtime && ("apiKey" in defaults.runtime || "token" in defaults.runtime)) {
    throw new RuntimeConfigError("agents.defaults.runtime", "credentials belong in agents.list[].runtime (apiKey/token) or models.providers.<p>.apiKey");
  }
  const agents = new Map<string, ResolvedAgent>();
  for (const [i, entry] of list.entries()) {
    const base = input.agents?.list?.length ? `agents.list.${i}` : "agents.defaults";
    const a = entry as NonNullable<AgentsConfig["list"]>[number];
    const models = modelsOf(a.model ?? defaults.model);
    const model = models[0];
    const hb = { ...(defaults.heartbeat ?? {}), ...(a.heartbeat ?? {}) };
    const hbPath = a.heartbeat ? `${base}.heartbeat` : "agents.defaults.heartbeat";
    try {
      checkTimezone(hb.activeHours?.timezone, `${hbPath}.activeHours.timezone`);
    } catch (error) {
      throw new RuntimeConfigError(`${hbPath}.activeHours.timezone`, (error as Error).message.replace(/^[^:]+: /, ""));
    }
    const heartbeat: HeartbeatSettings = {
      everyMs: parseDurationMs(hb.every ?? DEFAULT_HEARTBEAT_EVERY),
      activeHours: hb.activeHours,
      prompt: hb.prompt ?? DEFAULT_HEARTBEAT_PROMPT,
      ackMaxChars: hb.ackMaxChars ?? 300,
      maxEventDelayMs: parseDurationMs(hb.maxEventDelay ?? DEFAULT_MAX_EVENT_DELAY),
      model: hb.model,
    };
    if (heartbeat.maxEventDelayMs <= 0) throw new RuntimeConfigError(`${hbPath}.maxEventDelay`, "must be longer than 0");
    // A per-agent runtime replaces the default one as a whole (no field merging: credentials stay with their block).
    const rawRuntime = a.runtime ?? defaults.runtime;
    const runtimePath = a.runtime ? `${base}.runtime` : "agents.defaults.runtime";
    let runtimeConfig: RuntimeConfig | undefined;
    if (rawRuntime !== undefined) {
      const parsed = RuntimeConfigSchema.safeParse(rawRuntime);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new RuntimeConfigError([runtimePath, ...issue.path.map(String)].join("."), issue.message);
      }
      runtimeConfig = parsed.data;
    } else if (model !== undefined) {
      runtimeConfig = { type: "openai" };
    }
    const runtime = runtimeConfig
      ? buildRuntime(runtimeConfig, { agentId: a.id, path: runtimePath, model, providers: input.providers, reasoningOf, secret: input.secret, io: input.io, ...(input.env ? { env: input.env } : {}) })
      : undefined;
    agents.set(a.id, {
      id: a.id,
      model,
      models,
      thinkingDefault: a.thinkingDefault ?? defaults.thinkingDefault,
      timeoutSeconds: a.timeoutSeconds ?? defaults.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
      heartbeat,
      runtime,
    });
  }
  const defaultAgentId = (list as { id: string; default?: boolean }[]).find((a) => a.default === true)?.id ?? list[0]!.id;
  return { defaultAgentId, agents, get: (id) => agents.get(id) };
}
