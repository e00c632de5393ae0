/** Client of the reload worker thread: a `resolve` function for the secrets runtime that runs each pass off the main thread. */
import { SHARE_ENV, Worker } from "node:worker_threads";
import { ConfigError, type ConfigErrorCode, type ConfigIssue } from "../config/config-errors.ts";
import type { ExecOutcome, ExecRunner, ExecSpec } from "./exec-runner.ts";
import { type SecretErrorCode, SecretResolutionError, SecretsActivationError } from "./secret-errors.ts";
import type { SnapshotData } from "./snapshot-data.ts";

// The built package (dist/node/) runs reload-worker.js beside this bundle; a checkout runs the sources.
const WORKER_MAIN = new URL(import.meta.url.endsWith(".ts") ? "./reload-worker-main.ts" : "./reload-worker.js", import.meta.url);

export type PassFailure =
  | { kind: "activation"; failures: { refKey: string; code: SecretErrorCode; message: string }[] }
  | { kind: "config"; code: ConfigErrorCode; file: string; issues: readonly ConfigIssue[] }
  | { kind: "other"; code: string; message: string };

export type WorkerRequest =
  | { type: "pass"; passId: number; configPath: string }
  | { type: "exec-result"; execId: number; outcome: ExecOutcome };

export type WorkerReply =
  | { type: "pass"; passId: number; data?: SnapshotData; failure?: PassFailure }
  | { type: "exec"; execId: number; spec: ExecSpec };

export interface ReloadWorker {
  resolve(configPath: string): Promise<SnapshotData>;
  close(): Promise<void>;
}

/** `runner` executes the resolver processes the worker asks for (the node agent's spawn host). */
export function startReloadWorker(runner: ExecRunner): ReloadWorker {
  let worker: Worker | undefined;
  let nextPassId = 1;
  const pending = new Map<number, { resolve: (d: SnapshotData) => void; reject: (e: Error) => void }>();

  const ensure = (): Worker => {
    if (worker) return worker;
    // SHARE_ENV: env refs read the agent's live environment, as they would on the main thread.
    const w = new Worker(WORKER_MAIN, { env: SHARE_ENV });
    w.on("message", (reply: WorkerReply) => {
      if (reply.type === "exec") {
        void runner(reply.spec).then((outcome) => w.postMessage({ type: "exec-result", execId: reply.execId, outcome } satisfies WorkerRequest));
        return;
      }
      const waiter = pending.get(reply.passId);
      pending.delete(reply.passId);
      if (!waiter) return;
      if (reply.data) waiter.resolve(reply.data);
      else waiter.reject(rebuild(reply.failure!));
    });
    w.on("exit", () => {
      if (worker === w) worker = undefined;
      for (const [id, waiter] of pending) {
        waiter.reject(new Error("the reload worker stopped during a pass"));
        pending.delete(id);
      }
    });
    w.on("error", () => {
      // 'exit' follows and fails the pending passes; the next pass starts a fresh worker.
    });
    return (worker = w);
  };

  return {
    resolve(configPath) {
      const w = ensure();
      const passId = nextPassId++;
      return new Promise((resolve, reject) => {
        pending.set(passId, { resolve, reject });
        w.postMessage({ type: "pass", passId, configPath } satisfies WorkerRequest);
      });
    },
    async close() {
      await worker?.terminate();
    },
  };
}

function rebuild(failure: PassFailure): Error {
  switch (failure.kind) {
    case "activation":
      return new SecretsActivationError(
        failure.failures.map((f) => ({ refKey: f.refKey, error: new SecretResolutionError(f.code, f.message, { refKey: f.refKey }) })),
      );
    case "config":
      return new ConfigError(failure.code, failure.file, failure.issues);
    case "other":
      return Object.assign(new Error(failure.message), { code: failure.code });
  }
}
