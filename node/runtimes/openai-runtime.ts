/**
 * The `openai` runtime: one OpenAI-compatible `POST <baseUrl>/chat/completions` per run through undici — Ollama,
 * llama.cpp server, LM Studio, vLLM and hosted APIs all speak it — with the provider's key from the secrets
 * snapshot, thinking mapped to `reasoning_effort`, the run's AbortSignal as the timeout, and bounded retries
 * of 429/5xx that honor `Retry-After` (RFC 9110 §10.2.3).
 */
import { type HttpRequest, lazyHttpRequest } from "./lazy-http-request.ts";
import type { DaemonIo } from "../io/daemon-io.ts";
import { type AgentRuntime, type ChatMessage, type RuntimeRequest, type RuntimeResult, type ThinkingLevel, RuntimeError, abortableSleep, isLoopbackUrl } from "./runtime-types.ts";

/**
 * OpenClaw thinking level → OpenAI `reasoning_effort`. `off` asks for no reasoning ("none", which current
 * OpenAI reasoning models and Ollama accept); `adaptive` leaves the choice to the server (field omitted).
 * Sent only for models marked `reasoning: true` (runtime or model catalog): others reject unknown efforts.
 */
export const REASONING_EFFORT: Readonly<Record<ThinkingLevel, string | undefined>> = {
  off: "none",
  minimal: "minimal",
  low: "low",
  medium: "medium",
  high: "high",
  xhigh: "xhigh",
  adaptive: undefined,
};

/** Statuses worth another attempt: rate limited, or the server (or a proxy before it) failed transiently. */
const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);

type Request = HttpRequest;

export interface OpenAiRuntimeOptions {
  /** The provider's base URL including `/v1` (`models.providers.<p>.baseUrl`), e.g. `http://127.0.0.1:11434/v1`. */
  readonly baseUrl: string;
  /** Read on every run from the current secrets snapshot, so a reload rotates the key. Undefined → no header. */
  readonly apiKey: () => string | undefined;
  /** Extra headers (`models.providers.<p>.headers`), read per run like the key. */
  readonly headers?: () => Readonly<Record<string, string>>;
  /** Whether to send `reasoning_effort` for a model (see REASONING_EFFORT). Default: never. */
  readonly reasoning?: (model: string) => boolean;
  /** Attempts per run including the first (429/5xx/connection errors retry). Default 3. */
  readonly maxAttempts?: number;
  /** First backoff delay; doubles per attempt, with full jitter. Default 500 ms. */
  readonly retryBaseMs?: number;
  /** A Retry-After above this ends the run (`ERR_RUNTIME_RATE_LIMITED`) instead of waiting. Default 60 s. */
  readonly maxRetryDelayMs?: number;
  /** Whether the model runs on this host; default: the base URL is loopback. */
  readonly local?: boolean;
  readonly request?: Request;
  readonly random?: () => number;
  /** The clock a Retry-After date is measured against. */
  readonly io: Pick<DaemonIo, "now">;
}

/** `provider/model` → the id the server knows (`ollama/llama3.1:8b` → `llama3.1:8b`). */
export function serverModelId(model: string): string {
  const slash = model.indexOf("/");
  return slash >= 0 ? model.slice(slash + 1) : model;
}

/** Retry-After as delay-seconds or an HTTP-date (RFC 9110 §10.2.3), in ms from now; undefined when absent/bad. */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === "") return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const date = Date.parse(v);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export function createOpenAiRuntime(options: OpenAiRuntimeOptions): AgentRuntime {
  let base: URL;
  try {
    base = new URL(options.baseUrl);
  } catch {
    throw new TypeError("baseUrl must be an absolute http(s) URL");
  }
  if (base.protocol !== "http:" && base.protocol !== "https:") throw new TypeError("baseUrl must be an absolute http(s) URL");
  const endpoint = `${options.baseUrl.replace(/\/+$/, "")}/chat/completions`;
  if (typeof options.apiKey !== "function") throw new TypeError("apiKey must be a function returning the current key");
  const maxAttempts = options.maxAttempts ?? 3;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 10) throw new TypeError("maxAttempts must be an integer from 1 to 10");
  const retryBaseMs = options.retryBaseMs ?? 500;
  if (!(retryBaseMs >= 0)) throw new TypeError("retryBaseMs must be a non-negative number");
  const maxRetryDelayMs = options.maxRetryDelayMs ?? 60_000;
  if (!(maxRetryDelayMs >= 0)) throw new TypeError("maxRetryDelayMs must be a non-negative number");
  const request = options.request ?? lazyHttpRequest;
  const random = options.random ?? Math.random;
  const { now } = options.io;
  const reasoning = options.reasoning ?? (() => false);

  return {
    type: "openai",
    local: options.local ?? isLoopbackUrl(options.baseUrl),
    async run(req: RuntimeRequest): Promise<RuntimeResult> {
      const messages: ChatMessage[] = [...req.history, { role: "user", content: req.message }];
      const body: Record<string, unknown> = { model: serverModelId(req.model), messages, stream: false };
      const effort = req.thinking === undefined ? undefined : REASONING_EFFORT[req.thinking];
      if (effort !== undefined && reasoning(req.model)) body["reasoning_effort"] = effort;
      const payload = JSON.stringify(body);
      for (let attempt = 1; ; attempt++) {
        const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json", ...(options.headers?.() ?? {}) };
        const key = options.apiKey();
        if (key) headers["authorization"] = `Bearer ${key}`;
        let retryDelay: number | undefined;
        let failure: RuntimeError;
        try {
          // No undici header/body timeouts: a local 70B model may think for minutes; the run's signal bounds it.
          const res = await request(endpoint, { method: "POST", headers, body: payload, signal: req.signal, headersTimeout: 0, bodyTimeout: 0 });
          if (res.statusCode >= 200 && res.statusCode < 300) {
            const json = (await res.body.json().catch(() => undefined)) as { choices?: { message?: { content?: unknown } }[] } | undefined;
            const content = json?.choices?.[0]?.message?.content;
            if (typeof content !== "string") throw new RuntimeError("ERR_RUNTIME_BAD_RESPONSE", "model server answered without choices[0].message.content");
            return { reply: content, attempts: attempt };
          }
          await res.body.dump();
          // The response body may echo the request (and so the prompt): only the status goes into the message.
          if (!RETRYABLE.has(res.statusCode)) {
            throw new RuntimeError(res.statusCode === 401 || res.statusCode === 403 ? "ERR_RUNTIME_AUTH" : "ERR_RUNTIME_HTTP", `model server answered HTTP ${res.statusCode}`);
          }
          retryDelay = parseRetryAfter(res.headers["retry-after"], now());
          failure = new RuntimeError(res.statusCode === 429 ? "ERR_RUNTIME_RATE_LIMITED" : "ERR_RUNTIME_HTTP", `model server answered HTTP ${res.statusCode}`, { retryable: true, retryAfterMs: retryDelay });
        } catch (error) {
          if (req.signal.aborted) throw req.signal.reason;
          if (error instanceof RuntimeError) throw error;
          const code = (error as { code?: string }).code ?? "unknown";
          failure = new RuntimeError("ERR_RUNTIME_UNREACHABLE", `model server request failed (${code})`, { retryable: true, cause: error });
        }
        if (attempt >= maxAttempts) throw failure;
        if (retryDelay !== undefined && retryDelay > maxRetryDelayMs) {
          throw new RuntimeError(failure.code, `${failure.message}; Retry-After ${Math.ceil(retryDelay / 1000)} s exceeds maxRetryDelayMs`, { retryAfterMs: retryDelay });
        }
        // Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"), but never sooner than Retry-After.
        const backoff = Math.min(maxRetryDelayMs, retryBaseMs * 2 ** (attempt - 1) * random());
        await abortableSleep(Math.max(retryDelay ?? 0, backoff), req.signal);
      }
    },
  };
}
