/** One resolution pass: group refs by provider, one batch per provider, at most `maxProviderConcurrency` at once. */
import type { ProviderRegistry } from "./provider-registry.ts";
import type { SecretProvider } from "./provider-types.ts";
import { SecretResolutionError } from "./secret-errors.ts";
import { type SecretRef, refKey } from "../config/secret-ref.ts";

export interface ResolutionResult {
  /** refKey → value. */
  readonly values: Map<string, string>;
  /** refKey → why it failed. */
  readonly errors: Map<string, SecretResolutionError>;
}

export async function resolveRefs(
  refs: Iterable<SecretRef>,
  registry: ProviderRegistry,
  maxProviderConcurrency: number,
  signal?: AbortSignal,
): Promise<ResolutionResult> {
  const values = new Map<string, string>();
  const errors = new Map<string, SecretResolutionError>();
  const batches = new Map<SecretProvider, Map<string, SecretRef>>();

  for (const ref of refs) {
    const provider = registry.lookup(ref);
    if (provider instanceof SecretResolutionError) {
      errors.set(refKey(ref), provider);
      continue;
    }
    let ids = batches.get(provider);
    if (!ids) batches.set(provider, (ids = new Map()));
    ids.set(ref.id, ref);
  }

  const jobs = [...batches].map(([provider, byId]) => async () => {
    const ids = [...byId.keys()];
    let result;
    try {
      result = await provider.resolve(ids, signal);
    } catch (cause) {
      // Providers report failures per id; a throw is a bug, still surfaced per ref and without a value.
      const error = new SecretResolutionError("ERR_SECRET_EXEC_PROTOCOL", `provider "${provider.alias}" failed unexpectedly`, {
        cause,
      });
      for (const ref of byId.values()) errors.set(refKey(ref), error);
      return;
    }
    for (const [id, ref] of byId) {
      const value = result.values.get(id);
      if (value !== undefined) values.set(refKey(ref), value);
      else
        errors.set(
          refKey(ref),
          result.errors.get(id) ??
            new SecretResolutionError("ERR_SECRET_EXEC_PROTOCOL", `provider "${provider.alias}" returned no result for "${id}"`),
        );
    }
  });

  await runLimited(jobs, maxProviderConcurrency);
  return { values, errors };
}

/** Run async jobs with at most `limit` in flight. */
async function runLimited(jobs: readonly (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) await jobs[next++]!();
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
}
