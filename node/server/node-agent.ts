/** Starts the node agent: refuse root and non-loopback binds, resolve secrets (fail fast), then listen on loopback. */
import { rm } from "node:fs/promises";
import { isLoopbackAddress } from "../config/loopback-address.ts";
import type { AddressInfo } from "node:net";
import { type RequestListener, type ServerOptions, createServer as createHttpServer } from "node:http";
import { join } from "node:path";
import { serve, type ServerType } from "@hono/node-server";
import { DEFAULT_NODE_PORT } from "../../shared/constants.ts";
import { loadConfig } from "../config/config-file.ts";
import type { ProviderIo } from "../secrets/provider-registry.ts";
import { findOverriddenPlaintext } from "../secrets/legacy-auth.ts";
import { type ReloadWorker, startReloadWorker } from "../secrets/reload-worker.ts";
import { type SecretsReloader, createSecretsReloader } from "../secrets/secrets-reloader.ts";
import { resolveSnapshotData } from "../secrets/snapshot-data.ts";
import { type SpawnHost, startSpawnHost } from "../secrets/spawn-host.ts";
import { writeAdminToken } from "../state/admin-token.ts";
import { secretMatches } from "../../shared/constant-time.ts";
import { NODE_INFO_FILE, writeNodeInfo } from "../state/node-discovery.ts";
import type { Logger } from "./logger.ts";
import { type DaemonIo, productionDaemonIo } from "../io/daemon-io.ts";
import { getConnInfo } from "@hono/node-server/conninfo";
import type { Context } from "hono";
import { createEnvelopeVerifier, createMemoryReplayCache } from "../../shared/envelope.ts";
import { nodeBodySha256 } from "../intake/token-match.ts";
import { createFailureWindow } from "../../shared/failure-window.ts";
import { compileHooksPolicy, HooksConfigError } from "../intake/hooks-policy.ts";
import { createHookIntake } from "../intake/hook-intake.ts";
import { createHooksRoutes } from "../intake/hooks-routes.ts";
import { type IntakeJournalOptions, openIntakeJournal } from "../intake/intake-journal.ts";
import { type DispatchService, createDispatchService } from "../dispatch/dispatch-service.ts";
import type { MemoryProbe } from "../dispatch/memory-probe.ts";
import { type BrowserBoundary, createBrowserBoundary } from "./browser-boundary.ts";
import { createNodeConsole } from "../console/console-service.ts";
import { type HooksListenerOptions, routeHooks } from "./hooks-listener.ts";
import { createNodeApp } from "./node-app.ts";
import { SecuredResponse } from "./secured-response.ts";
import { readinessOf } from "./readiness.ts";
import { createNodeMetrics } from "./node-metrics.ts";
import { ensureStateDir, resolveStateDir } from "../state/state-dir.ts";

export class NodeStartError extends Error {
  override readonly name = "NodeStartError";
  readonly code: "ERR_RUNNING_AS_ROOT" | "ERR_BIND_NOT_LOOPBACK";
  constructor(code: NodeStartError["code"], message: string) {
    super(message);
    this.code = code;
  }
}

export interface NodeAgentOptions {
  readonly configPath: string;
  readonly logger: Logger;
  readonly port?: number;
  readonly host?: string;
  readonly stateDir?: string;
  readonly allowRoot?: boolean;
  readonly env?: NodeJS.ProcessEnv;
  readonly uid?: number;
  /** Used only with `isolateReloads: false` (tests that inject I/O); the default runs passes in the reload worker. */
  readonly providerIo?: ProviderIo;
  /** Run resolution passes on a worker thread and resolvers from a spawn host (default true). */
  readonly isolateReloads?: boolean;
  /** How long `close()` lets in-flight requests finish before cutting their connections (default 10 s). */
  readonly drainTimeoutMs?: number;
  /** How long `close()` lets running agent runs finish before aborting them (default 10 s); the journal keeps the rest. */
  readonly dispatchGraceMs?: number;
  /** The host memory reading for dispatch admission (default: /proc/meminfo or vm_stat); tests inject one they control. */
  readonly memoryProbe?: MemoryProbe;
  /** The daemon's I/O, built once here and passed whole (default: production I/O over `logger`, which it then logs through); tests inject fakes. */
  readonly io?: DaemonIo;
  /**
   * Called once when the agent can no longer promise that an acknowledged delivery is on disk — the intake journal
   * failed a WAL sync and from then on answers every delivery 503 — so its owner closes it and exits non-zero: the
   * supervisor restarts the node and the journal is reopened from what the disk holds (docs/intake.md). Default:
   * the agent closes itself.
   */
  readonly onFatal?: (error: Error) => void;
  /** The intake journal's WAL sync (default `fs.fdatasync`); tests inject a failing one. */
  readonly journalSync?: IntakeJournalOptions["sync"];
}

export interface NodeAgent {
  readonly url: string;
  readonly port: number;
  readonly stateDir: string;
  readonly secrets: SecretsReloader;
  /**
   * Registers a step of the graceful stop (e.g. the dispatcher's drain). `close()` runs these in order
   * after the listener has stopped and in-flight requests have finished, before the journal closes.
   */
  beforeClose(step: () => Promise<void>): void;
  /**
   * Graceful stop: refuse new connections, let in-flight requests finish (bounded by `drainTimeoutMs`,
   * then cut), run the `beforeClose` steps, then close helpers and the journal. Idempotent.
   */
  close(): Promise<void>;
}

export async function startNodeAgent(options: NodeAgentOptions): Promise<NodeAgent> {
  const env = options.env ?? process.env;
  const uid = options.uid ?? process.getuid?.();
  const io = options.io ?? productionDaemonIo(options.logger);
  const { logger } = io;

  if (uid === 0 && !options.allowRoot && env["CLAWGATE_ALLOW_ROOT"] !== "1") {
    throw new NodeStartError(
      "ERR_RUNNING_AS_ROOT",
      "refusing to run as root: create a dedicated user for the node agent (or pass --allow-root / CLAWGATE_ALLOW_ROOT=1)",
    );
  }

  const loaded = await loadConfig(options.configPath);
  const nodeSection = loaded.config.clawgate?.node;
  const bind = loaded.config.gateway?.bind;
  if (bind !== undefined && bind !== "loopback") {
    throw new NodeStartError(
      "ERR_BIND_NOT_LOOPBACK",
      `refusing gateway.bind "${bind}": the node agent listens on loopback only. ` +
        "Scans in early 2026 found ~42,665 agent gateways exposed on the internet; reach this host through the edge instead.",
    );
  }
  const host = options.host ?? nodeSection?.host ?? "127.0.0.1";
  if (!isLoopbackAddress(host)) {
    throw new NodeStartError(
      "ERR_BIND_NOT_LOOPBACK",
      `refusing to bind ${host}: the node agent listens on loopback only (127.0.0.0/8 or ::1). ` +
        "Scans in early 2026 found ~42,665 agent gateways exposed on the internet; reach this host through the edge instead.",
    );
  }
  const port = options.port ?? nodeSection?.port ?? DEFAULT_NODE_PORT;
  const stateDir = resolveStateDir(options.stateDir, loaded.config.clawgate?.stateDir, env);
  await ensureStateDir(stateDir, uid);

  // Reloads stay off the request path: resolver processes start from the spawn host (fork+exec stalls
  // land there) and whole passes run on the reload worker thread; the main thread only swaps the result.
  // The first pass runs here, before anything listens (no request path yet): that spares the start a
  // worker isolate (~150 ms, ~35 MB). The worker starts on the first reload and stops again when idle.
  const isolate = options.isolateReloads !== false;
  // Lazy: the helper process starts at the first reload, so an idle agent is one process, not two.
  const spawnHostStarting = isolate ? startSpawnHost({ lazy: true, onLaunch: (pid) => logger.info({ spawnHostPid: pid }, "spawn host started") }) : undefined;
  spawnHostStarting?.catch(() => {}); // awaited below; this only keeps a failure from being "unhandled" meanwhile
  const reloads = spawnHostStarting ? createOnDemandReloads(spawnHostStarting, io) : undefined;
  let firstPass = true;
  const secrets = createSecretsReloader({
    configPath: options.configPath,
    logger,
    io,
    ...(reloads
      ? {
          resolve: (path: string) => {
            if (!firstPass) return reloads.resolve(path);
            firstPass = false;
            return resolveSnapshotData(path, { findOverriddenPlaintext });
          },
        }
      : { findOverriddenPlaintext, ...(options.providerIo ? { providerIo: options.providerIo } : {}) }),
  });
  const stopHelpers = async () => {
    await reloads?.close();
    await (await spawnHostStarting?.catch(() => undefined))?.close();
  };
  let spawnHost: SpawnHost | undefined;
  try {
    await secrets.activate(); // fail fast: SecretsActivationError before anything listens
    spawnHost = await spawnHostStarting;
  } catch (error) {
    await stopHelpers();
    throw error;
  }

  const snapshot = secrets.snapshot();
  let policy;
  let envelopes;
  try {
    policy = compileHooksPolicy(loaded.config, {
      hookToken: snapshot.get("hooks.token"),
      gatewayToken: snapshot.get("gateway.auth.token"),
    });
    const edgeKeys = loaded.config.clawgate?.edge?.publicKeys ?? [];
    if (edgeKeys.length > 0) {
      const nodeId = nodeSection?.id;
      if (!nodeId) throw new HooksConfigError("clawgate.node.id is required when clawgate.edge.publicKeys is set");
      envelopes = await createEnvelopeVerifier({ publicJwks: edgeKeys, nodeId, replayCache: createMemoryReplayCache(), now: io.now, bodyDigest: nodeBodySha256 });
    }
  } catch (error) {
    await stopHelpers();
    throw error;
  }
  let agent: NodeAgent | undefined;
  /** Set when the journal failed before the agent below exists (between listening and returning): it closes then. */
  let failedEarly = false;
  const stopSelf = () =>
    void agent!.close().catch((error: unknown) => {
      logger.error({ err: error }, "stopping after the journal failure failed");
    });
  const journal = openIntakeJournal(stateDir, {
    ...(options.journalSync ? { sync: options.journalSync } : {}),
    onFailure: (error) => {
      logger.fatal({ err: error }, "the intake journal failed a WAL sync: deliveries are refused until the node restarts");
      if (options.onFatal) options.onFatal(error);
      else if (agent) stopSelf();
      else failedEarly = true;
    },
  });
  // Dispatch: agents, runtimes and memory settings are checked here, before anything listens.
  let dispatch: DispatchService;
  try {
    dispatch = await createDispatchService({ config: loaded.config, stateDir, journal, secrets, logger, io, env, ...(options.memoryProbe ? { memoryProbe: options.memoryProbe } : {}) });
  } catch (error) {
    journal.close();
    await stopHelpers();
    throw error;
  }
  const clientOf = (c: Context) => getConnInfo(c).remote.address ?? "unknown";
  let boundary;
  try {
    boundary = createBrowserBoundary({ bindHost: host, ...(nodeSection?.publicHostnames ? { publicHostnames: nodeSection.publicHostnames } : {}) });
  } catch (error) {
    journal.close();
    await stopHelpers();
    throw error;
  }
  const intake = policy.enabled
    ? createHookIntake({
          policy,
          journal,
          hookToken: () => secrets.snapshot().get("hooks.token"),
          ...(envelopes ? { envelopes } : {}),
          limiter: createFailureWindow(),
          envelopeLimiter: createFailureWindow(),
          defaultAgentId: dispatch.agents.defaultAgentId,
          refuseTunnelledToken: envelopes !== undefined && loaded.config.clawgate?.edge?.allowTunnelledHookToken !== true,
          logger,
          io,
          admit: (kind) => dispatch.dispatcher.admit(kind),
          onAccepted: (delivery) => dispatch.dispatcher.onAccepted(delivery),
        })
    : undefined;
  // The listener serves hook calls itself (node/server/hooks-listener.ts); the app's routes take what it passes on.
  const hooks = intake ? { path: policy.path, app: createHooksRoutes({ intake, clientOf }) } : undefined;
  const adminToken = await writeAdminToken(stateDir);
  const metrics = createNodeMetrics({ secrets, journal });
  dispatch.registerMetrics(metrics.registry);
  const nodeConsole = createNodeConsole({
    config: loaded.config,
    secrets,
    journal,
    readiness: () => readinessOf({ secrets, journal, dispatchHealth: () => dispatch.dispatcher.health() }),
    dispatch: { runs: dispatch.runLog, scheduler: dispatch.scheduler, agents: dispatch.agents, replay: (id, by) => dispatch.dispatcher.replay(id, by), models: dispatch.models },
    startedAt: io.now(),
    acceptsToken: (presented) => {
      const gatewayToken = secrets.snapshot().get("gateway.auth.token");
      return secretMatches(presented, gatewayToken ? [adminToken, gatewayToken] : [adminToken]);
    },
    logger,
    io,
  });
  const app = createNodeApp({
    secrets,
    adminToken,
    logger,
    io,
    journal,
    metrics,
    dispatch: { health: () => dispatch.dispatcher.health(), runs: dispatch.runLog, replay: (id) => dispatch.dispatcher.replay(id), models: dispatch.models },
    ...(hooks ? { hooks } : {}),
    boundary: boundary.middleware,
    clientOf,
    console: nodeConsole,
  });
  // While draining, every answer says `Connection: close`, so keep-alive clients let go and the
  // listener's close can complete as soon as the last in-flight request is answered.
  let draining = false;
  const fetch = async (request: Request, env: unknown) => {
    // `env` carries Node's incoming/outgoing pair, which getConnInfo reads for the client address.
    const res = await app.fetch(request, env);
    if (draining) {
      try {
        res.headers.set("connection", "close");
      } catch {
        // immutable headers (a proxied Response): the bounded drain still closes the connection
      }
    }
    return res;
  };
  const hooksListener = intake ? { path: policy.path, intake, boundary, metrics, logger, draining: () => draining } : undefined;
  const { server, address } = await listen(fetch, host, port, boundary, hooksListener);
  boundary.listening(address.port);
  // Pending deliveries from before a restart run now; new ones arrive through onAccepted.
  dispatch.dispatcher.start();
  const shownHost = host.includes(":") ? `[${host}]` : host;
  const url = `http://${shownHost}:${address.port}`;
  await writeNodeInfo(stateDir, { url, pid: process.pid, startedAt: new Date(io.now()).toISOString() });
  logger.info({ url, stateDir, spawnHostPid: spawnHost?.pid() }, `clawgate node agent listening on ${url}`);

  const drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
  // The dispatcher stops first: no new runs, running ones get a bounded grace, unfinished ones stay journaled.
  const closeSteps: (() => Promise<void>)[] = [() => dispatch.dispatcher.close(options.dispatchGraceMs ?? 10_000)];
  let closing: Promise<void> | undefined;
  const shutdown = async () => {
    draining = true;
    const stopped = io.now();
    await new Promise<void>((resolve) => {
      // Bounded drain: a client that never finishes its request cannot hold the stop forever.
      const cut = setTimeout(() => {
        logger.warn({ drainTimeoutMs }, "in-flight requests did not finish in time; closing their connections");
        if ("closeAllConnections" in server) server.closeAllConnections();
      }, drainTimeoutMs);
      server.close(() => {
        clearTimeout(cut);
        resolve();
      });
      if ("closeIdleConnections" in server) server.closeIdleConnections();
    });
    // Nothing accepted is lost here: every 200/202 was sent only after its journal commit.
    logger.info({ ms: io.now() - stopped, pending: journal.counts().pending }, "listener closed; accepted deliveries are journaled");
    for (const step of closeSteps) {
      try {
        await step();
      } catch (error) {
        logger.error({ err: error }, "shutdown step failed");
      }
    }
    await stopHelpers();
    journal.close();
    // A stale node.json would send `secrets reload` to a dead port; remove it on a clean stop.
    await rm(join(stateDir, NODE_INFO_FILE), { force: true });
  };

  agent = {
    url,
    port: address.port,
    stateDir,
    secrets,
    beforeClose(step) {
      closeSteps.push(step);
    },
    close() {
      closing ??= shutdown();
      return closing;
    },
  };
  if (failedEarly) stopSelf();
  return agent;
}

/**
 * The reload worker on demand: started for a reload, stopped after `idleMs` without one, so an idle agent
 * does not carry a second V8 isolate. Reloads are serialized by the secrets runtime.
 */
function createOnDemandReloads(spawnHost: Promise<SpawnHost>, io: Pick<DaemonIo, "setTimer" | "clearTimer">, idleMs = 60_000): ReloadWorker {
  let worker: ReloadWorker | undefined;
  let idle: unknown;
  return {
    async resolve(path) {
      io.clearTimer(idle);
      try {
        worker ??= startReloadWorker((await spawnHost).runner);
        return await worker.resolve(path);
      } finally {
        idle = io.setTimer(() => {
          const stopping = worker;
          worker = undefined;
          void stopping?.close();
        }, idleMs);
      }
    },
    async close() {
      io.clearTimer(idle);
      await worker?.close();
      worker = undefined;
    },
  };
}

function listen(
  fetch: (request: Request, env: unknown) => Response | Promise<Response>,
  hostname: string,
  port: number,
  boundary: BrowserBoundary,
  hooks: HooksListenerOptions | undefined,
): Promise<{ server: ServerType; address: AddressInfo }> {
  return new Promise((resolve, reject) => {
    // The boundary's raw checks run in front of the adapter, which would resolve `..` silently and answer a backslash or an odd Host with an empty 400.
    const createServer = (options: ServerOptions, listener: RequestListener) =>
      createHttpServer({ ...options, ServerResponse: SecuredResponse }, boundary.guard(hooks ? routeHooks(hooks, listener) : listener));
    const server = serve({ fetch, hostname, port, createServer: createServer as typeof createHttpServer }, (address) => resolve({ server, address }));
    server.once("error", reject);
  });
}
