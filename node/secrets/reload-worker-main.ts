/**
 * The reload worker thread: runs whole resolution passes (config parse, validation, providers) away from
 * the node agent's event loop. Exec runs are handed back to the main thread, which owns the spawn host.
 */
import { parentPort } from "node:worker_threads";
import { ConfigError } from "../config/config-errors.ts";
import { createCachingConfigLoader } from "../config/config-file.ts";
import type { ExecOutcome, ExecSpec } from "./exec-runner.ts";
import { lowerOwnPriority } from "./background-priority.ts";
import { findOverriddenPlaintext } from "./legacy-auth.ts";
import { SecretsActivationError } from "./secret-errors.ts";
import { resolveSnapshotData } from "./snapshot-data.ts";
import type { PassFailure, WorkerReply, WorkerRequest } from "./reload-worker.ts";

const port = parentPort!;
lowerOwnPriority();
const loadConfig = createCachingConfigLoader();
const execWaiters = new Map<number, (outcome: ExecOutcome) => void>();
let nextExecId = 1;

const runner = (spec: ExecSpec) =>
  new Promise<ExecOutcome>((resolve) => {
    const execId = nextExecId++;
    execWaiters.set(execId, resolve);
    port.postMessage({ type: "exec", execId, spec } satisfies WorkerReply);
  });

port.on("message", (message: WorkerRequest) => {
  if (message.type === "exec-result") {
    execWaiters.get(message.execId)?.(message.outcome);
    execWaiters.delete(message.execId);
    return;
  }
  resolveSnapshotData(message.configPath, { loadConfig, providerIo: { exec: { runner } }, findOverriddenPlaintext }).then(
    (data) => port.postMessage({ type: "pass", passId: message.passId, data } satisfies WorkerReply),
    (error: unknown) => port.postMessage({ type: "pass", passId: message.passId, failure: describe(error) } satisfies WorkerReply),
  );
});

function describe(error: unknown): PassFailure {
  if (error instanceof SecretsActivationError) {
    return { kind: "activation", failures: error.failures.map((f) => ({ refKey: f.refKey, code: f.error.code, message: f.error.message })) };
  }
  if (error instanceof ConfigError) return { kind: "config", code: error.code, file: error.file, issues: error.issues };
  const e = error as { code?: string; message?: string };
  return { kind: "other", code: e.code ?? "ERR_SECRETS_RELOAD", message: e.message ?? String(error) };
}
