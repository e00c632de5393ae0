/**
 * Per-model memory estimates for the scheduler: configured `memoryGb`, or derived from parameters,
 * quantization and context (weights + KV cache per 1k tokens × context + runtime overhead) with a shipped table
 * of common local models; hosted models need ≈ 0 local memory. Every figure is in GiB (2^30 bytes). Each run gets a
 * hard limit that the command runtime enforces (→ status "memory_limit"); it comes from the configured or first
 * estimate, never from learning. Measured peaks of runs that ended `ok` correct the estimate, which never rises
 * above the hard limit; a killed or failed run teaches nothing but is remembered (last peaks, limit kills), so a
 * runaway cannot raise what later runs reserve. docs/dispatch.md describes the rules.
 */

/** Per-model memory settings, as in `agents.defaults.models["<provider>/<model>"]` (clawgate additions). */
export interface ModelMemorySettings {
  /** Estimate in GiB; also the floor that learning never goes below. */
  readonly memoryGb?: number;
  /** Parameters in billions (e.g. 8, 70, 46.7). */
  readonly params?: number;
  /** GGUF quantization name: Q4_K_M, Q5_K_M, Q6_K, Q8_0, F16, … */
  readonly quant?: string;
  /** Context length the server is started with, in thousands of tokens. */
  readonly contextK?: number;
  /** Hard limit in GiB for one run (default: estimate × limitFactor, at least estimate + minLimitSlackGb). */
  readonly memoryLimitGb?: number;
}

export type EstimateSource = "config" | "derived" | "table" | "hosted" | "learned" | "unknown";

/** How the run whose peak is recorded ended: only `ok` runs teach the estimate. */
export type PeakOutcome = "ok" | "failed" | "memory_limit";

/** One recorded peak (GiB, rounded to 0.001) and how its run ended. */
export interface RecordedPeak {
  readonly peakGb: number;
  readonly outcome: PeakOutcome;
}

/** What is learned about one model (persisted in `<stateDir>/model-memory.json`). */
export interface LearnedModel {
  /** The learned estimate (GiB); absent until an `ok` run taught one. */
  memoryGb?: number;
  /** Peaks that taught the estimate (`ok` runs). */
  samples: number;
  /** Runs killed for crossing the hard limit. */
  limitKills?: number;
  /** The last peaks, oldest first (at most LAST_PEAKS). */
  lastPeaks?: RecordedPeak[];
}

/** Peaks kept per model for `clawgate dispatch models`. */
export const LAST_PEAKS = 5;

/** One model's memory picture, for `clawgate dispatch models` and the doctor. */
export interface ModelMemoryReport {
  readonly model: string;
  /** The estimate before learning (GiB) and where it came from. */
  readonly baseGb: number;
  readonly baseSource: EstimateSource;
  /** The learned estimate (GiB), or null when no `ok` run has taught one. */
  readonly learnedGb: number | null;
  readonly samples: number;
  /** What the scheduler reserves now (GiB). */
  readonly estimateGb: number;
  /** The hard limit of one run (GiB; null = none, a hosted model). */
  readonly hardLimitGb: number | null;
  readonly limitKills: number;
  readonly lastPeaks: readonly RecordedPeak[];
}

export interface ModelEstimate {
  readonly model: string;
  /** What the scheduler reserves. */
  readonly memoryGb: number;
  /** Where the number came from ("learned" once a peak corrected it). */
  readonly source: EstimateSource;
  /** Learning never goes below this. */
  readonly floorGb: number;
  /** The hard limit for one run; Infinity for hosted models (nothing local to limit). */
  readonly hardLimitGb: number;
  /** How many peaks were recorded. */
  readonly samples: number;
}

export interface ModelMemoryOptions {
  /** The model catalog (`agents.defaults.models`), keyed by "<provider>/<model>". */
  readonly models?: Readonly<Record<string, ModelMemorySettings | undefined>>;
  /** Context assumed when neither config nor the model id says (thousands of tokens). Default 8. */
  readonly defaultContextK?: number;
  /** Hard limit = estimate × this. Default 1.5. */
  readonly limitFactor?: number;
  /** …and at least estimate + this (GiB). Default 2. */
  readonly minLimitSlackGb?: number;
  /** Weight of a new peak when it is below the estimate (moving average). Default 0.3. */
  readonly learnAlpha?: number;
  /** For estimates that were not configured, learning stops at this fraction of the first estimate. Default 0.5. */
  readonly floorFraction?: number;
  /** Estimate for a model known to run locally but found nowhere (config, table, id). Default 8 GiB. */
  readonly unknownLocalGb?: number;
  /** Learned estimates from an earlier `snapshot()` (to survive restarts); malformed entries are ignored. */
  readonly learned?: Readonly<Record<string, unknown>>;
}

export interface ModelMemory {
  /** The current estimate; `hint.local` says the runtime is local (command runtime, loopback server). */
  estimate(model: string, hint?: { readonly local?: boolean }): ModelEstimate;
  /**
   * Records a measured peak (GiB, process-tree RSS) of a run that ended `outcome` and returns the estimate after
   * it. Only an `ok` run's peak moves the estimate, and never above the hard limit.
   */
  recordPeak(model: string, peakGb: number, outcome?: PeakOutcome): ModelEstimate;
  /** Forgets what was learned about `model` (estimate, peaks, limit kills); false when nothing was. */
  reset(model: string): boolean;
  /** One model's memory picture; `hint.local` as for `estimate`. */
  report(model: string, hint?: { readonly local?: boolean }): ModelMemoryReport;
  /** The models something was learned about. */
  learnedModels(): string[];
  /** Learned values, to persist and pass back as `learned`. */
  snapshot(): Record<string, LearnedModel>;
}

/** Bits per weight of common GGUF quantizations (llama.cpp's own figures, including block scales). */
export const BITS_PER_WEIGHT: Readonly<Record<string, number>> = {
  iq2_xxs: 2.06,
  iq2_xs: 2.31,
  iq3_xxs: 3.06,
  iq3_m: 3.66,
  iq4_xs: 4.25,
  iq4_nl: 4.5,
  q2_k: 2.63,
  q3_k_s: 3.5,
  q3_k_m: 3.91,
  q3_k_l: 4.27,
  q4_0: 4.55,
  q4_1: 5.0,
  q4_k_s: 4.58,
  q4_k_m: 4.85,
  q5_0: 5.54,
  q5_1: 6.0,
  q5_k_s: 5.54,
  q5_k_m: 5.69,
  q6_k: 6.56,
  q8_0: 8.5,
  f16: 16,
  bf16: 16,
  fp16: 16,
  f32: 32,
  // MLX / GPTQ / AWQ style names
  "4bit": 4.5,
  "8bit": 8.5,
  int4: 4.5,
  int8: 8.5,
};

/** Ollama's default tag (`llama3.1:8b`) is Q4_K_M. */
export const DEFAULT_QUANT = "q4_k_m";

interface Arch {
  /** Billions of parameters. */
  readonly params: number;
  /** KV cache in GiB per 1k tokens at F16: 2 (K and V) × layers × KV heads × head dim × 2 bytes × 1024. */
  readonly kvGbPer1k: number;
}

const kv = (layers: number, kvHeads: number, headDim: number) => (2 * layers * kvHeads * headDim * 2 * 1024) / 1024 ** 3;

/**
 * The shipped table: family → size → architecture (from each model's config.json). Matched against the model id
 * after lower-casing, so `ollama/llama3.1:70b`, `lmstudio/Meta-Llama-3.1-70B-Instruct-Q4_K_M` and
 * `deepseek-r1:70b` (a Llama-70B distill) all find Llama 3 70B.
 */
const TABLE: readonly { readonly family: RegExp; readonly sizes: Readonly<Record<string, Arch>> }[] = [
  {
    family: /llama-?3|llama3/,
    sizes: {
      "1b": { params: 1.24, kvGbPer1k: kv(16, 8, 64) },
      "3b": { params: 3.21, kvGbPer1k: kv(28, 8, 128) },
      "8b": { params: 8.03, kvGbPer1k: kv(32, 8, 128) },
      "70b": { params: 70.6, kvGbPer1k: kv(80, 8, 128) },
    },
  },
  {
    family: /qwen-?2\.5|qwen2/,
    sizes: {
      "0.5b": { params: 0.49, kvGbPer1k: kv(24, 2, 64) },
      "1.5b": { params: 1.54, kvGbPer1k: kv(28, 2, 128) },
      "3b": { params: 3.09, kvGbPer1k: kv(36, 2, 128) },
      "7b": { params: 7.62, kvGbPer1k: kv(28, 4, 128) },
      "14b": { params: 14.7, kvGbPer1k: kv(48, 8, 128) },
      "32b": { params: 32.8, kvGbPer1k: kv(64, 8, 128) },
      "72b": { params: 72.7, kvGbPer1k: kv(80, 8, 128) },
    },
  },
  // DeepSeek-R1 distills: Qwen 2.5 (1.5B, 7B, 14B, 32B) and Llama 3 (8B, 70B) architectures.
  {
    family: /deepseek-r1/,
    sizes: {
      "1.5b": { params: 1.78, kvGbPer1k: kv(28, 2, 128) },
      "7b": { params: 7.62, kvGbPer1k: kv(28, 4, 128) },
      "8b": { params: 8.03, kvGbPer1k: kv(32, 8, 128) },
      "14b": { params: 14.8, kvGbPer1k: kv(48, 8, 128) },
      "32b": { params: 32.8, kvGbPer1k: kv(64, 8, 128) },
      "70b": { params: 70.6, kvGbPer1k: kv(80, 8, 128) },
    },
  },
  { family: /mixtral/, sizes: { "8x7b": { params: 46.7, kvGbPer1k: kv(32, 8, 128) }, "8x22b": { params: 141, kvGbPer1k: kv(56, 8, 128) } } },
  { family: /mistral/, sizes: { "7b": { params: 7.25, kvGbPer1k: kv(32, 8, 128) } } },
  { family: /gemma-?2/, sizes: { "2b": { params: 2.61, kvGbPer1k: kv(26, 4, 256) }, "9b": { params: 9.24, kvGbPer1k: kv(42, 8, 256) }, "27b": { params: 27.2, kvGbPer1k: kv(46, 16, 128) } } },
  {
    family: /phi-?3/,
    sizes: {
      mini: { params: 3.82, kvGbPer1k: kv(32, 32, 96) },
      "3.8b": { params: 3.82, kvGbPer1k: kv(32, 32, 96) },
      medium: { params: 14.0, kvGbPer1k: kv(40, 10, 128) },
      "14b": { params: 14.0, kvGbPer1k: kv(40, 10, 128) },
    },
  },
];

/** Providers whose models run elsewhere (OpenClaw provider ids): no local model memory. */
const HOSTED_PROVIDERS = new Set([
  "openai",
  "anthropic",
  "google",
  "gemini",
  "vertex",
  "bedrock",
  "azure",
  "openrouter",
  "groq",
  "together",
  "fireworks",
  "xai",
  "deepseek",
  "mistral",
  "cohere",
  "perplexity",
  "cerebras",
  "moonshot",
  "zai",
]);

/** Providers (OpenClaw provider ids) that serve models from this host. */
const LOCAL_PROVIDERS = new Set(["ollama", "lmstudio", "llamacpp", "llama.cpp", "llama-cpp", "vllm", "mlx", "local", "localai", "koboldcpp", "jan"]);

/** Runtime overhead besides weights and KV cache: the server process, compute buffers (≈ 5 % of the weights). */
const OVERHEAD_BASE_GB = 0.6;
const OVERHEAD_FRACTION = 0.05;

/** weights + KV cache per 1k tokens × context + runtime overhead, in GiB. */
export function deriveMemoryGb(input: { params: number; quant: string; contextK: number; kvGbPer1k?: number }): number {
  const bpw = BITS_PER_WEIGHT[input.quant.toLowerCase()];
  if (bpw === undefined) throw new TypeError(`unknown quantization "${input.quant}" (known: ${Object.keys(BITS_PER_WEIGHT).join(", ")})`);
  const weightsGb = (input.params * 1e9 * bpw) / 8 / 1024 ** 3;
  // Without an architecture, KV per 1k tokens grows roughly with √params (GQA models, 8B ≈ 0.11, 70B ≈ 0.33).
  const kvPer1k = input.kvGbPer1k ?? 0.04 * Math.sqrt(input.params);
  return weightsGb + kvPer1k * input.contextK + OVERHEAD_BASE_GB + OVERHEAD_FRACTION * weightsGb;
}

/** A persisted entry, or null when it is not one (an unreadable file must not stop the daemon). */
function learnedEntry(raw: unknown): LearnedModel | null {
  if (typeof raw !== "object" || raw === null) return null;
  const r = raw as Record<string, unknown>;
  const samples = r["samples"];
  if (!Number.isInteger(samples) || (samples as number) < 0) return null;
  const out: LearnedModel = { samples: samples as number };
  const gb = r["memoryGb"];
  if (typeof gb === "number" && Number.isFinite(gb) && gb >= 0 && (samples as number) > 0) out.memoryGb = gb;
  const kills = r["limitKills"];
  if (Number.isInteger(kills) && (kills as number) > 0) out.limitKills = kills as number;
  if (Array.isArray(r["lastPeaks"])) {
    out.lastPeaks = (r["lastPeaks"] as unknown[])
      .filter((p): p is RecordedPeak => {
        const q = p as { peakGb?: unknown; outcome?: unknown } | null;
        return typeof q?.peakGb === "number" && Number.isFinite(q.peakGb) && (q.outcome === "ok" || q.outcome === "failed" || q.outcome === "memory_limit");
      })
      .slice(-LAST_PEAKS);
  }
  return out;
}

export function createModelMemory(options: ModelMemoryOptions = {}): ModelMemory {
  const defaultContextK = positive(options.defaultContextK ?? 8, "defaultContextK");
  const limitFactor = options.limitFactor ?? 1.5;
  if (!(limitFactor >= 1) || !Number.isFinite(limitFactor)) throw new TypeError("limitFactor must be a finite number ≥ 1");
  const minLimitSlackGb = nonNegative(options.minLimitSlackGb ?? 2, "minLimitSlackGb");
  const learnAlpha = options.learnAlpha ?? 0.3;
  if (!(learnAlpha > 0 && learnAlpha <= 1)) throw new TypeError("learnAlpha must be in (0, 1]");
  const floorFraction = options.floorFraction ?? 0.5;
  if (!(floorFraction > 0 && floorFraction <= 1)) throw new TypeError("floorFraction must be in (0, 1]");
  const unknownLocalGb = nonNegative(options.unknownLocalGb ?? 8, "unknownLocalGb");
  const models = options.models ?? {};
  // Validate the catalog once: a bad quant or number fails at start, naming the model.
  const base = new Map<string, { memoryGb: number; source: EstimateSource; floorGb: number; limitGb?: number }>();
  for (const [model, settings] of Object.entries(models)) {
    if (settings === undefined) continue;
    const b = baseFromSettings(model, settings);
    if (b !== null) base.set(model, b);
  }
  const learned = new Map<string, LearnedModel>();
  for (const [model, raw] of Object.entries(options.learned ?? {})) {
    const l = learnedEntry(raw);
    if (l !== null) learned.set(model, l);
  }
  const cache = new Map<string, { memoryGb: number; source: EstimateSource; floorGb: number; limitGb?: number }>();

  function baseFromSettings(model: string, s: ModelMemorySettings): { memoryGb: number; source: EstimateSource; floorGb: number; limitGb?: number } | null {
    const where = `agents.defaults.models["${model}"]`;
    if (s.memoryLimitGb !== undefined && !(s.memoryLimitGb > 0)) throw new TypeError(`${where}.memoryLimitGb must be a positive number`);
    if (s.memoryGb !== undefined) {
      if (!(s.memoryGb >= 0) || !Number.isFinite(s.memoryGb)) throw new TypeError(`${where}.memoryGb must be a finite number ≥ 0`);
      return { memoryGb: s.memoryGb, source: "config", floorGb: s.memoryGb, ...(s.memoryLimitGb !== undefined ? { limitGb: s.memoryLimitGb } : {}) };
    }
    if (s.params !== undefined || s.quant !== undefined || s.contextK !== undefined) {
      const fromId = lookup(model);
      const quant = s.quant ?? fromId?.quant ?? DEFAULT_QUANT;
      if (BITS_PER_WEIGHT[quant.toLowerCase()] === undefined) throw new TypeError(`${where}.quant "${quant}" is unknown (known: ${Object.keys(BITS_PER_WEIGHT).join(", ")})`);
      const params = s.params ?? fromId?.arch.params ?? paramsFromId(model.toLowerCase()) ?? undefined;
      if (params === undefined || !(params > 0)) throw new TypeError(`${where}.params must be given (billions of parameters) when the model is not in the shipped table`);
      const contextK = s.contextK ?? defaultContextK;
      if (!(contextK > 0)) throw new TypeError(`${where}.contextK must be a positive number`);
      const gb = deriveMemoryGb({ params, quant, contextK, ...(s.params === undefined && fromId ? { kvGbPer1k: fromId.arch.kvGbPer1k } : {}) });
      return { memoryGb: gb, source: "derived", floorGb: gb * floorFraction, ...(s.memoryLimitGb !== undefined ? { limitGb: s.memoryLimitGb } : {}) };
    }
    return null;
  }

  function lookup(model: string): { arch: Arch; quant: string } | null {
    const id = model.toLowerCase();
    const quant = quantOf(id) ?? DEFAULT_QUANT;
    for (const row of TABLE) {
      if (!row.family.test(id)) continue;
      // Longest size tag first, so "1.5b" is not read as "5b" and "8x7b" not as "7b".
      const sizes = Object.keys(row.sizes).sort((a, b) => b.length - a.length);
      for (const size of sizes) {
        const re = new RegExp(`(^|[^0-9a-z.])${size.replace(".", "\\.")}($|[^0-9a-z])`);
        if (re.test(id)) return { arch: row.sizes[size]!, quant };
      }
    }
    return null;
  }

  function resolveBase(model: string, localHint: boolean): { memoryGb: number; source: EstimateSource; floorGb: number; limitGb?: number } {
    const configured = base.get(model);
    if (configured !== undefined) return configured;
    let local = localHint;
    const key = local ? `local:${model}` : model;
    const cached = cache.get(key);
    if (cached !== undefined) return cached;
    let result: { memoryGb: number; source: EstimateSource; floorGb: number };
    const provider = model.includes("/") ? model.slice(0, model.indexOf("/")).toLowerCase() : "";
    // `ollama/llama3.1` (Ollama's default tag, no size in the id) is still a local model.
    if (LOCAL_PROVIDERS.has(provider)) local = true;
    const found = HOSTED_PROVIDERS.has(provider) && !local ? null : lookup(model);
    if (found !== null) {
      const gb = deriveMemoryGb({ params: found.arch.params, quant: found.quant, contextK: defaultContextK, kvGbPer1k: found.arch.kvGbPer1k });
      result = { memoryGb: gb, source: "table", floorGb: gb * floorFraction };
    } else if (HOSTED_PROVIDERS.has(provider) && !local) {
      result = { memoryGb: 0, source: "hosted", floorGb: 0 };
    } else {
      const params = paramsFromId(model.toLowerCase());
      if (params !== null) {
        const gb = deriveMemoryGb({ params, quant: quantOf(model.toLowerCase()) ?? DEFAULT_QUANT, contextK: defaultContextK });
        result = { memoryGb: gb, source: "derived", floorGb: gb * floorFraction };
      } else {
        // Not configured, not in the table, no size in its id: hosted unless the runtime says local.
        result = local ? { memoryGb: unknownLocalGb, source: "unknown", floorGb: unknownLocalGb } : { memoryGb: 0, source: "unknown", floorGb: 0 };
      }
    }
    cache.set(key, result);
    return result;
  }

  function build(model: string, local: boolean): ModelEstimate {
    const b = resolveBase(model, local);
    const l = learned.get(model);
    const hosted = b.source === "hosted" || (b.source === "unknown" && b.memoryGb === 0 && l === undefined);
    // From the configured or first estimate only: a limit that followed learning would let a runaway raise its own ceiling.
    const hardLimitGb = b.limitGb ?? (hosted ? Infinity : Math.max(b.memoryGb * limitFactor, b.memoryGb + minLimitSlackGb));
    const taught = l?.memoryGb !== undefined && l.samples > 0;
    // Learning stays between the floor and the hard limit (a configured limit below the floor leaves the floor).
    const memoryGb = taught ? Math.min(Math.max(b.floorGb, l.memoryGb!), Math.max(hardLimitGb, b.floorGb)) : b.memoryGb;
    return { model, memoryGb, source: taught ? "learned" : b.source, floorGb: b.floorGb, hardLimitGb, samples: l?.samples ?? 0 };
  }

  return {
    estimate(model, hint) {
      if (typeof model !== "string" || model === "") throw new TypeError("model must be a non-empty string");
      return build(model, hint?.local === true);
    },
    recordPeak(model, peakGb, outcome = "ok") {
      if (typeof model !== "string" || model === "") throw new TypeError("model must be a non-empty string");
      if (typeof peakGb !== "number" || !Number.isFinite(peakGb) || peakGb < 0) throw new TypeError("peakGb must be a finite number ≥ 0");
      const current = build(model, true);
      const entry: LearnedModel = learned.get(model) ?? { samples: 0 };
      entry.lastPeaks = [...(entry.lastPeaks ?? []), { peakGb: Math.round(peakGb * 1000) / 1000, outcome }].slice(-LAST_PEAKS);
      if (outcome === "memory_limit") entry.limitKills = (entry.limitKills ?? 0) + 1;
      if (outcome === "ok") {
        // Up at once (an underestimate can overcommit the host), down slowly by a moving average; never above the limit.
        const capped = Math.min(peakGb, current.hardLimitGb);
        const next = capped > current.memoryGb ? capped : current.memoryGb + learnAlpha * (capped - current.memoryGb);
        entry.memoryGb = Math.min(Math.max(current.floorGb, next), Math.max(current.hardLimitGb, current.floorGb));
        entry.samples++;
      }
      learned.set(model, entry);
      return build(model, true);
    },
    reset: (model) => learned.delete(model),
    report(model, hint) {
      const local = hint?.local === true || learned.has(model);
      const b = resolveBase(model, local);
      const e = build(model, local);
      const l = learned.get(model);
      return {
        model,
        baseGb: b.memoryGb,
        baseSource: b.source,
        learnedGb: l?.memoryGb !== undefined && l.samples > 0 ? e.memoryGb : null,
        samples: l?.samples ?? 0,
        estimateGb: e.memoryGb,
        hardLimitGb: Number.isFinite(e.hardLimitGb) ? e.hardLimitGb : null,
        limitKills: l?.limitKills ?? 0,
        lastPeaks: l?.lastPeaks ?? [],
      };
    },
    learnedModels: () => [...learned.keys()],
    snapshot() {
      const out: Record<string, LearnedModel> = {};
      for (const [m, l] of learned) out[m] = { ...l, ...(l.lastPeaks ? { lastPeaks: [...l.lastPeaks] } : {}) };
      return out;
    },
  };
}

function quantOf(id: string): string | null {
  const m = /(?:^|[^a-z0-9])(iq[2-4]_(?:xxs|xs|nl|m)|q[2-8]_k_[sml]|q[2-8]_k|q[4-8]_[01]|bf16|fp16|f16|f32|[48]bit|int[48])(?:$|[^a-z0-9])/.exec(id);
  return m ? m[1]! : null;
}

/** "…-13b-…" / ":34b" → 13 / 34; "8x7b" → 56 (an upper bound for an MoE that is not in the table). */
function paramsFromId(id: string): number | null {
  const moe = /(?:^|[^0-9a-z.])(\d+)x(\d+(?:\.\d+)?)b(?:$|[^0-9a-z])/.exec(id);
  if (moe) return Number(moe[1]) * Number(moe[2]);
  const m = /(?:^|[^0-9a-z.])(\d+(?:\.\d+)?)b(?:$|[^0-9a-z])/.exec(id);
  return m ? Number(m[1]) : null;
}

function positive(v: number, name: string): number {
  if (typeof v !== "number" || !(v > 0) || !Number.isFinite(v)) throw new TypeError(`${name} must be a positive number`);
  return v;
}

function nonNegative(v: number, name: string): number {
  if (typeof v !== "number" || !(v >= 0) || !Number.isFinite(v)) throw new TypeError(`${name} must be a finite number ≥ 0`);
  return v;
}
