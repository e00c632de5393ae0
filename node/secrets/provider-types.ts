/** The contract every secret provider (env, file, exec) implements: one batch of ids in, values or per-id errors out. */
import type { SecretResolutionError } from "./secret-errors.ts";
import type { SecretSource } from "../config/secret-ref.ts";

export interface ProviderBatchResult {
  /** id → resolved value. */
  readonly values: Map<string, string>;
  /** id → why it failed. Every requested id is in exactly one of `values` and `errors`. */
  readonly errors: Map<string, SecretResolutionError>;
}

export interface SecretProvider {
  readonly alias: string;
  readonly source: SecretSource;
  /**
   * Resolve a deduplicated batch of ids in one pass (one file read, one exec invocation).
   * A failure of the whole provider (bad permissions, spawn failure, timeout) is reported as the same
   * error for every id; `resolve` itself rejects only on programming errors.
   */
  resolve(ids: readonly string[], signal?: AbortSignal): Promise<ProviderBatchResult>;
}

/** Helper for providers: every id fails with the same error. */
export function failAll(ids: readonly string[], error: SecretResolutionError): ProviderBatchResult {
  return { values: new Map(), errors: new Map(ids.map((id) => [id, error])) };
}
