/** The contract between the dispatcher and an agent runtime (openai, command, openclaw): one run in, one reply out. */

import type { ThinkingLevel } from "../config/agents-schema.ts";

export type { ThinkingLevel };

export interface ChatMessage {
  readonly role: "system" | "user" | "assistant";
  readonly content: string;
}

export interface RuntimeRequest {
  readonly runId: string;
  readonly agentId: string;
  /** The stored session key (`agent:<id>:…`). */
  readonly sessionKey: string;
  /** `<provider>/<model>` as in the model catalog. */
  readonly model: string;
  /** The session's earlier turns, oldest first (OpenClaw #29518: a session continues its history). */
  readonly history: readonly ChatMessage[];
  /** This run's user message (system-event lines already included). */
  readonly message: string;
  readonly thinking?: ThinkingLevel;
  /** The hook's `name` (OpenClaw's `/hooks/agent` field), for runtimes that forward it. */
  readonly name?: string;
  readonly timeoutSeconds?: number;
  /** Aborted on timeout, cancel and shutdown; the runtime must stop its work and settle. */
  readonly signal: AbortSignal;
  /** The run's hard memory limit in GiB (model-memory); runtimes that measure memory enforce it. */
  readonly memoryLimitGb?: number;
}

export interface RuntimeResult {
  readonly reply: string;
  /** Peak memory of the run's process tree in GiB, when the runtime measured one. */
  readonly peakMemoryGb?: number;
  /** HTTP attempts made (1 + retries), for the run record. */
  readonly attempts?: number;
}

export interface AgentRuntime {
  readonly type: "openai" | "command" | "openclaw";
  /**
   * True when the model runs on this host (a command, or a server on loopback): the scheduler then reserves
   * the model's memory estimate. Hosted APIs reserve nothing.
   */
  readonly local: boolean;
  run(request: RuntimeRequest): Promise<RuntimeResult>;
}

/** A runtime failure with a stable code; the message never carries a credential or a response body. */
export class RuntimeError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  /**
   * The server's `Retry-After` (ms from when it answered) on a failure the runtime gave up on: the dispatcher's next
   * run of the delivery is a follow-up request too, so it must not come sooner (RFC 9110 §10.2.3).
   */
  readonly retryAfterMs?: number;
  constructor(code: string, message: string, options: { retryable?: boolean; cause?: unknown; retryAfterMs?: number | undefined } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "RuntimeError";
    this.code = code;
    this.retryable = options.retryable ?? false;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}

/** True for 127.0.0.0/8, ::1 and localhost URLs: a model server on this host. */
export function isLoopbackUrl(url: string): boolean {
  try {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
    return host === "localhost" || host === "::1" || /^127\./.test(host);
  } catch {
    return false;
  }
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** What a runtime throws when a run exceeds its hard memory limit; the run ends "memory_limit". */
export class MemoryLimitError extends Error {
  readonly code = "ERR_MEMORY_LIMIT";
  readonly limitGb: number;
  readonly peakGb: number;
  constructor(limitGb: number, peakGb: number) {
    super(`run exceeded its memory limit of ${limitGb.toFixed(2)} GiB (peak ${peakGb.toFixed(2)} GiB)`);
    this.name = "MemoryLimitError";
    this.limitGb = limitGb;
    this.peakGb = peakGb;
  }
}
