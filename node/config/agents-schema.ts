/** zod schemas of `agents` (docs/openclaw-compat.md §6–§7) and clawgate's `clawgate.dispatch` section, with the memory fields clawgate adds. */
import { z } from "zod";

/** OpenClaw's thinking levels, in increasing cost; "adaptive" lets the model choose (treated as the top level by caps). */
export const THINKING_LEVELS = ["off", "minimal", "low", "medium", "high", "xhigh", "adaptive"] as const;
export type ThinkingLevel = (typeof THINKING_LEVELS)[number];

/** OpenClaw durations: "30m", "0m" (disabled), "1h30m", "90s", "500ms", "1d". */
const Duration = z.string().regex(/^(\d+(ms|s|m|h|d))+$/, 'must be a duration such as "30m", "1h" or "0m"');
/** "HH:MM", with "24:00" allowed as the end of a day. */
const HourMinute = z.string().regex(/^(([01]\d|2[0-3]):[0-5]\d|24:00)$/, 'must be "HH:MM"');
const ModelId = z.string().min(1);

/** `model`: a string, or `{ primary, fallbacks }` (§7). */
export const AgentModelSchema = z.union([ModelId, z.looseObject({ primary: ModelId, fallbacks: z.array(ModelId).optional() })]);

/**
 * One entry of the `models` catalog (the catalog is also the allowlist). clawgate additions, all optional:
 * `memoryGb` (estimate and learning floor), or `params` (billions) + `quant` (GGUF name) + `contextK`
 * (thousands of tokens) to derive it; `memoryLimitGb` (hard limit per run).
 */
export const ModelCatalogEntrySchema = z.looseObject({
  alias: z.string().optional(),
  memoryGb: z.number().min(0).optional(),
  params: z.number().positive().optional(),
  quant: z.string().min(1).optional(),
  contextK: z.number().positive().optional(),
  memoryLimitGb: z.number().positive().optional(),
});

/** §6 heartbeat; `maxEventDelay` is clawgate's: the longest a `next-heartbeat` event may wait (default 30m). */
export const HeartbeatSchema = z.looseObject({
  every: Duration.optional(),
  model: ModelId.optional(),
  prompt: z.string().optional(),
  target: z.string().optional(),
  ackMaxChars: z.number().int().min(0).optional(),
  activeHours: z.looseObject({ start: HourMinute, end: HourMinute, timezone: z.string().min(1).optional() }).optional(),
  maxEventDelay: Duration.optional(),
});

/** Per-agent runtime; a placeholder for the runtimes (openai | command | openclaw) to refine. */
export const AgentRuntimeSchema = z.looseObject({ type: z.string().min(1) });

const AgentCommon = {
  model: AgentModelSchema.optional(),
  thinkingDefault: z.enum(THINKING_LEVELS).optional(),
  timeoutSeconds: z.number().int().positive().optional(),
  maxConcurrent: z.number().int().positive().optional(),
  heartbeat: HeartbeatSchema.optional(),
  runtime: AgentRuntimeSchema.optional(),
};

export const AgentDefaultsSchema = z.looseObject({
  ...AgentCommon,
  models: z.record(ModelId, ModelCatalogEntrySchema).optional(),
});

export const AgentEntrySchema = z.looseObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/i, "must be letters, digits, - or _"),
  default: z.boolean().optional(),
  name: z.string().optional(),
  ...AgentCommon,
});

function modelsOf(model: z.infer<typeof AgentModelSchema> | undefined): string[] {
  if (model === undefined) return [];
  return typeof model === "string" ? [model] : [model.primary, ...(model.fallbacks ?? [])];
}

/**
 * `agents` (§7). Cross-field rules: ids are unique, at most one agent is `default`, and when a `models` catalog
 * exists every model an agent names (primary, fallbacks, heartbeat model) is in it — the catalog is the allowlist.
 */
export const AgentsSchema = z
  .looseObject({
    defaults: AgentDefaultsSchema.optional(),
    list: z.array(AgentEntrySchema).optional(),
  })
  .superRefine((agents, ctx) => {
    const seen = new Set<string>();
    let defaults = 0;
    for (const [i, a] of (agents.list ?? []).entries()) {
      if (seen.has(a.id)) ctx.addIssue({ code: "custom", path: ["list", i, "id"], message: `duplicate agent id "${a.id}"` });
      seen.add(a.id);
      if (a.default === true && ++defaults > 1) ctx.addIssue({ code: "custom", path: ["list", i, "default"], message: "only one agent may be the default" });
    }
    const catalog = agents.defaults?.models;
    if (catalog === undefined) return;
    const check = (model: string, path: (string | number)[]) => {
      if (!(model in catalog)) ctx.addIssue({ code: "custom", path, message: `model "${model}" is not in agents.defaults.models` });
    };
    const checkAgent = (a: { model?: z.infer<typeof AgentModelSchema> | undefined; heartbeat?: { model?: string | undefined } | undefined }, base: (string | number)[]) => {
      for (const [j, m] of modelsOf(a.model).entries()) check(m, typeof a.model === "string" ? [...base, "model"] : j === 0 ? [...base, "model", "primary"] : [...base, "model", "fallbacks", j - 1]);
      if (a.heartbeat?.model !== undefined) check(a.heartbeat.model, [...base, "heartbeat", "model"]);
    };
    if (agents.defaults) checkAgent(agents.defaults, ["defaults"]);
    for (const [i, a] of (agents.list ?? []).entries()) checkAgent(a, ["list", i]);
  });

/**
 * `clawgate.dispatch`: the node's memory budget and queue. `memoryBudgetGb` defaults to total memory minus
 * `reserveGb` (default: the larger of 4 GiB and 15 % of total, left to the OS); every *Gb key is in GiB; `maxThinking` caps thinking
 * levels (a request above it is clamped, with a log line — friendlier to cron jobs than a refusal).
 */
export const DispatchSchema = z
  .looseObject({
    memoryBudgetGb: z.number().positive().optional(),
    reserveGb: z.number().min(0).optional(),
    exclusiveAboveGb: z.number().positive().optional(),
    headroomGb: z.number().min(0).optional(),
    maxQueue: z.number().int().positive().optional(),
    maxConcurrent: z.number().int().positive().optional(),
    maxThinking: z.enum(THINKING_LEVELS).optional(),
    probeIntervalMs: z.number().int().min(0).optional(),
    /** First delay before a failed agent run is retried (doubles per retry). Fractions allowed; at most an hour. */
    retryDelaySeconds: z.number().positive().max(3600).optional(),
  })
  .superRefine((d, ctx) => {
    if (d.memoryBudgetGb !== undefined && d.exclusiveAboveGb !== undefined && d.exclusiveAboveGb >= d.memoryBudgetGb) {
      ctx.addIssue({ code: "custom", path: ["exclusiveAboveGb"], message: "must be below memoryBudgetGb (only a run strictly above it is exclusive, and no run exceeds the budget)" });
    }
  });

export type AgentsConfig = z.infer<typeof AgentsSchema>;
export type DispatchConfig = z.infer<typeof DispatchSchema>;
