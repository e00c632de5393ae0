/**
 * The runtime secrets snapshot: every active ref resolved eagerly into one immutable snapshot that request
 * paths read; reloads are serialized, resolve everything, then swap atomically or keep the last-known-good.
 */
import { type LoadedConfig, createCachingConfigLoader } from "../config/config-file.ts";
import type { DaemonIo } from "../io/daemon-io.ts";
import type { ProviderIo } from "./provider-registry.ts";
import { SecretsActivationError } from "./secret-errors.ts";
import { type FindOverriddenPlaintext, type SecretsWarning, type SnapshotData, resolveSnapshotData } from "./snapshot-data.ts";

export type { SecretsWarning };

/** An immutable view of every active credential: request paths only ever read this. */
export interface SecretsSnapshot {
  /** Monotonic, starts at 1 with the first activation. */
  readonly version: number;
  readonly activatedAt: Date;
  /** How many distinct refs were resolved. */
  readonly refCount: number;
  readonly warnings: readonly SecretsWarning[];
  /** The credential at a dotted config path (`hooks.token`), resolved, or undefined when unset. */
  get(path: string): string | undefined;
  /** The dotted paths that hold a value. */
  paths(): readonly string[];
}

export type SecretsEvent =
  | {
      readonly type: "SECRETS_RELOADER_DEGRADED";
      readonly message: string;
      readonly at: Date;
      readonly failures: readonly { refKey: string; code: string; message: string }[];
    }
  | { readonly type: "SECRETS_RELOADER_RECOVERED"; readonly message: string; readonly at: Date };

/** The subset of pino's API the runtime logs through. */
export interface SecretsLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface SecretsReloaderOptions {
  readonly configPath: string;
  /**
   * One full resolution pass. Default: in this thread with `loadConfig`/`providerIo`; the node agent
   * passes its reload worker so that a pass never competes with requests for the event loop.
   */
  readonly resolve?: (configPath: string) => Promise<SnapshotData>;
  readonly loadConfig?: (path: string) => Promise<LoadedConfig>;
  readonly providerIo?: ProviderIo;
  /**
   * Plaintext credentials outside the config that a ref overrides (legacy auth.json keys, for one):
   * each becomes a SECRETS_REF_OVERRIDES_PLAINTEXT warning.
   */
  readonly findOverriddenPlaintext?: FindOverriddenPlaintext;
  readonly logger?: SecretsLogger;
  /** The clock that stamps snapshots and events. */
  readonly io: Pick<DaemonIo, "now">;
}

export interface ReloadResult {
  readonly ok: boolean;
  readonly warningCount: number;
  readonly version: number;
  /** Present when `ok` is false: why, one line per failing ref (never a value). */
  readonly error?: string;
}

export type SecretsHealth = "inactive" | "healthy" | "degraded";

export interface SecretsReloader {
  /** First activation: throws SecretsActivationError (or a ConfigError) and leaves the runtime inactive. */
  activate(): Promise<SecretsSnapshot>;
  /** Re-read the config and re-resolve; on any failure the last-known-good snapshot stays. Serialized. */
  reload(): Promise<ReloadResult>;
  /** The current snapshot; throws before the first successful activation. */
  snapshot(): SecretsSnapshot;
  health(): SecretsHealth;
  /** Subscribe to DEGRADED/RECOVERED transitions; returns an unsubscribe function. */
  onEvent(listener: (event: SecretsEvent) => void): () => void;
}

const DEGRADED_MESSAGE = "Secret resolution failed; runtime remains on last-known-good snapshot.";
const RECOVERED_MESSAGE = "Secret resolution recovered; runtime is on a fresh snapshot.";

export function createSecretsReloader(options: SecretsReloaderOptions): SecretsReloader {
  const now = () => new Date(options.io.now());
  const logger = options.logger;
  const listeners = new Set<(event: SecretsEvent) => void>();
  let current: SecretsSnapshot | undefined;
  let health: SecretsHealth = "inactive";
  let version = 0;
  // Activations are serialized: each pass starts after the previous one settled.
  let chain: Promise<unknown> = Promise.resolve();

  const serialize = <T>(task: () => Promise<T>): Promise<T> => {
    const run = chain.then(task, task);
    chain = run.catch(() => {});
    return run;
  };

  const emit = (event: SecretsEvent) => {
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (error) {
        logger?.error({ err: error }, "secrets event listener failed");
      }
    }
  };

  const loadConfig = options.loadConfig ?? createCachingConfigLoader();
  const resolvePass =
    options.resolve ??
    ((configPath: string) =>
      resolveSnapshotData(configPath, {
        loadConfig,
        ...(options.providerIo ? { providerIo: options.providerIo } : {}),
        ...(options.findOverriddenPlaintext ? { findOverriddenPlaintext: options.findOverriddenPlaintext } : {}),
      }));

  async function buildSnapshot(): Promise<SecretsSnapshot> {
    const data = await resolvePass(options.configPath);
    return freezeSnapshot(++version, now(), new Map(data.values), data.refCount, data.warnings);
  }

  return {
    activate() {
      return serialize(async () => {
        const snapshot = await buildSnapshot();
        current = snapshot;
        health = "healthy";
        logWarnings(snapshot);
        logger?.info({ version: snapshot.version, refCount: snapshot.refCount }, "secrets activated");
        return snapshot;
      });
    },

    reload() {
      return serialize(async (): Promise<ReloadResult> => {
        try {
          const snapshot = await buildSnapshot();
          current = snapshot; // the atomic swap: one reference assignment
          logWarnings(snapshot);
          if (health === "degraded") {
            logger?.info({ event: "SECRETS_RELOADER_RECOVERED" }, RECOVERED_MESSAGE);
            emit({ type: "SECRETS_RELOADER_RECOVERED", message: RECOVERED_MESSAGE, at: now() });
          }
          health = "healthy";
          logger?.info({ version: snapshot.version, refCount: snapshot.refCount }, "secrets reloaded");
          return { ok: true, warningCount: snapshot.warnings.length, version: snapshot.version };
        } catch (error) {
          const failures = describeFailures(error);
          if (health === "healthy") {
            health = "degraded";
            logger?.warn({ event: "SECRETS_RELOADER_DEGRADED", failures }, DEGRADED_MESSAGE);
            emit({ type: "SECRETS_RELOADER_DEGRADED", message: DEGRADED_MESSAGE, at: now(), failures });
          }
          const message = error instanceof SecretsActivationError ? error.report() : (error as Error).message;
          return { ok: false, warningCount: 0, version: current?.version ?? 0, error: message };
        }
      });
    },

    snapshot() {
      if (!current) throw new Error("secrets runtime is not active");
      return current;
    },

    health: () => health,

    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };

  function logWarnings(snapshot: SecretsSnapshot) {
    for (const warning of snapshot.warnings) logger?.warn({ code: warning.code, path: warning.path }, warning.message);
  }
}

function describeFailures(error: unknown): { refKey: string; code: string; message: string }[] {
  if (error instanceof SecretsActivationError) {
    return error.failures.map((f) => ({ refKey: f.refKey, code: f.error.code, message: f.error.message }));
  }
  const e = error as { code?: string; message?: string };
  return [{ refKey: "", code: e.code ?? "ERR_SECRETS_RELOAD", message: e.message ?? String(error) }];
}

function freezeSnapshot(
  version: number,
  activatedAt: Date,
  values: ReadonlyMap<string, string>,
  refCount: number,
  warnings: readonly SecretsWarning[],
): SecretsSnapshot {
  const paths = Object.freeze([...values.keys()]);
  return Object.freeze({
    version,
    activatedAt,
    refCount,
    warnings: Object.freeze([...warnings]),
    get: (path: string) => values.get(path),
    paths: () => paths,
  });
}
