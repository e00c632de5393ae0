/** Assembles the console for the node agent: its data view, the edge operator client when configured, and its routes. */
import type { Hono } from "hono";
import type { DaemonIo } from "../io/daemon-io.ts";
import type { Config } from "../config/config-schema.ts";
import { type ConsoleSources, type Overview, createConsoleData } from "./console-data.ts";
import { type ConsoleLogger, createConsoleRoutes } from "./console-routes.ts";
import { createEdgeOperatorClient } from "./edge-operator-client.ts";
import { createHostMemoryReader } from "./host-memory.ts";

/** The credential path of the edge's operator token (a SecretRef, resolved into the secrets snapshot). */
export const EDGE_OPERATOR_TOKEN_PATH = "clawgate.edge.operatorToken";

export interface NodeConsole {
  /** Mounted at `/_clawgate/console`. */
  readonly routes: Hono;
  /** What `GET /_clawgate/admin/overview` and `clawgate status` show. */
  overview(): Overview;
}

export interface NodeConsoleOptions extends ConsoleSources {
  readonly config: Config;
  readonly acceptsToken: (presented: string) => boolean | Promise<boolean>;
  readonly logger: ConsoleLogger;
  /** The clock (data, routes, edge client) and the edge client's fetch. */
  readonly io: Pick<DaemonIo, "now" | "fetch">;
}

export function createNodeConsole(options: NodeConsoleOptions): NodeConsole {
  // Without an `agents` section the dispatcher runs nothing (an intake-only node): no agent, so no heartbeat to be late.
  const dispatch = options.dispatch && options.config.agents === undefined ? { ...options.dispatch, agents: { ...options.dispatch.agents, agents: new Map() } } : options.dispatch;
  const data = createConsoleData({ ...options, dispatch, hostMemory: options.hostMemory ?? createHostMemoryReader({ io: options.io }) });
  const operatorUrl = options.config.clawgate?.edge?.operatorUrl;
  const edge = operatorUrl
    ? createEdgeOperatorClient({
        url: operatorUrl,
        token: () => options.secrets.snapshot().get(EDGE_OPERATOR_TOKEN_PATH),
        io: options.io,
      })
    : undefined;
  const routes = createConsoleRoutes({ data, acceptsToken: options.acceptsToken, edge, logger: options.logger, io: options.io });
  return { routes: routes as unknown as Hono, overview: () => data.overview() };
}
