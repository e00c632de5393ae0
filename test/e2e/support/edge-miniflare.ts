/**
 * The real edge Worker in workerd from Node: bundled in memory with esbuild, run by Miniflare with the
 * outbox Durable Object (SQLite) and cron trigger handlers, reaching loopback servers the test starts.
 */
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";
import { Miniflare, convertV4MiniflareOptions } from "miniflare";
import { WORKER_BUNDLE_OPTIONS } from "../../../scripts/worker-bundle-options.ts";

const ENTRY = fileURLToPath(new URL("../../../edge/index.ts", import.meta.url));

/** Bundles edge/index.ts the way wrangler would target workerd (~50 ms, nothing written to disk). */
export async function bundleEdge(plugins: Plugin[] = []): Promise<string> {
  const result = await build({
    entryPoints: [ENTRY],
    ...WORKER_BUNDLE_OPTIONS,
    write: false,
    plugins,
    logLevel: "silent",
  });
  return result.outputFiles[0]!.text;
}

export interface EdgeInstance {
  readonly mf: Miniflare;
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** Fires the Worker's scheduled handler as a Cron Trigger would. */
  tick(cron: string, scheduledTime: number): Promise<void>;
  dispose(): Promise<void>;
}

export async function startEdge(
  bindings: Record<string, string>,
  options: { plugins?: Plugin[]; /** Receives the Worker's log lines instead of this process's stdout. */ onLog?: (message: string) => void } = {},
): Promise<EdgeInstance> {
  const contents = await bundleEdge(options.plugins);
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      modules: [{ type: "ESModule", path: "index.js", contents }],
      compatibilityDate: "2026-10-01",
      compatibilityFlags: ["nodejs_compat"],
      bindings,
      durableObjects: { OUTBOX: { className: "EdgeOutbox", useSQLite: true }, AUTH_STATE: { className: "CallerAuthState", useSQLite: true } },
      unsafeTriggerHandlers: true,
      ...(options.onLog ? { handleStructuredLogs: (log: { message: string }) => options.onLog!(log.message) } : {}),
    } as Parameters<typeof convertV4MiniflareOptions>[0]),
  );
  await mf.ready;
  return {
    mf,
    async fetch(path, init) {
      const res = await mf.dispatchFetch(`http://edge.test${path}`, init as never);
      return res as unknown as Response;
    },
    async tick(cron, scheduledTime) {
      const worker = await mf.getWorker();
      await worker.scheduled({ cron, scheduledTime: new Date(scheduledTime) });
    },
    dispose: () => mf.dispose(),
  };
}
