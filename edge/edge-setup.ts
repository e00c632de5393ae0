/**
 * What the edge builds once per isolate from its env — validated config, envelope signer, forwarder and
 * each route's compiled caller authentication — cached by env identity; a bad config is cached as the
 * failure, logged once with the field it names, and never half-used.
 */
import { createEnvelopeSigner } from "../shared/envelope.ts";
import { compileCallerAuth, type CallerAuth } from "./auth/caller-auth.ts";
import { CONFIG_VAR, EdgeConfigError, parseEdgeConfig, type EdgeConfig } from "./edge-config.ts";
import type { EdgeIo } from "./edge-io.ts";
import { createNodeForwarder, type NodeForwarder } from "./node-forwarder.ts";

export interface EdgeSetup {
  readonly config: EdgeConfig;
  readonly forwarder: NodeForwarder;
  /** Compiled caller authentication per route name. */
  readonly routeAuth: ReadonlyMap<string, CallerAuth>;
}

/** The I/O the setup uses: fetch and clock for caller auth, signers and forwarders; the one misconfiguration line. */
export type EdgeSetupIo = Pick<EdgeIo, "fetch" | "now" | "log">;

export type SetupLoader = (env: object) => Promise<EdgeSetup>;

/** One loader per set of dependencies; its cache is keyed by the env object, so a new deployment starts over. */
export function createSetupLoader(io: EdgeSetupIo): SetupLoader {
  const cache = new WeakMap<object, Promise<EdgeSetup>>();
  return (env) => {
    let setup = cache.get(env);
    if (!setup) {
      setup = buildSetup(env as Record<string, unknown>, io);
      // The one log line per isolate: the field at fault, never a value.
      setup.catch((error: unknown) => {
        const field = error instanceof EdgeConfigError ? error.message : "unexpected error while loading the configuration";
        io.log(`clawgate edge misconfigured, refusing every request: ${field}`);
      });
      cache.set(env, setup);
    }
    return setup;
  };
}

async function buildSetup(env: Record<string, unknown>, io: EdgeSetupIo): Promise<EdgeSetup> {
  const config = parseEdgeConfig(env);
  const forwarder = await buildForwarder(config, io);
  const routeAuth = new Map<string, CallerAuth>();
  for (const route of config.routes.values()) {
    try {
      routeAuth.set(route.name, await compileCallerAuth(route.auth, { env, fetch: io.fetch, now: io.now }));
    } catch (error) {
      const why = error instanceof Error ? error.message : "invalid";
      throw new EdgeConfigError(`${CONFIG_VAR}.routes.${route.name}.auth`, why);
    }
  }
  return { config, forwarder, routeAuth };
}

/** One envelope signer per node (the envelope's `aud` is the node id), all with the edge's one key. */
export async function buildForwarder(config: EdgeConfig, io: Pick<EdgeIo, "fetch" | "now">): Promise<NodeForwarder> {
  const forwarders = new Map<string, NodeForwarder>();
  for (const node of config.nodes.values()) {
    let signer;
    try {
      signer = await createEnvelopeSigner({ privateJwk: config.signingJwk, nodeId: node.id, now: io.now });
    } catch {
      throw new EdgeConfigError("CLAWGATE_EDGE_SIGNING_KEY", "is not a usable EdDSA/ES256 private JWK");
    }
    forwarders.set(
      node.id,
      createNodeForwarder({ signer, timeoutMs: config.forwardTimeoutMs, accessHeaders: config.accessHeaders, fetch: io.fetch }),
    );
  }
  return { forward: (node, delivery) => forwarders.get(node.id)!.forward(node, delivery) };
}
