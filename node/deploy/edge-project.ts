/**
 * The operator's edge project (`clawgate init` writes it, `clawgate edge deploy` reads it): one wrangler.jsonc
 * holding the Worker's Durable Object bindings and migrations, its Cron Triggers and the edge configuration
 * (the `CLAWGATE_EDGE_CONFIG` var, docs/edge.md). The Worker's code is not in it: deploy takes that from the
 * installed clawgate, so an upgrade redeploys the new Worker with the operator's unchanged project.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import JSON5 from "json5";
import { pathToFileURL } from "node:url";
import { parseDurationMs } from "../dispatch/heartbeat.ts";

export const WRANGLER_CONFIG_FILE = "wrangler.jsonc";
/** The var the Worker reads its configuration from (docs/edge.md). */
export const CONFIG_VAR = "CLAWGATE_EDGE_CONFIG";

/**
 * The edge's own configuration check, loaded as an artifact of the edge (as the Worker is handed to wrangler),
 * not imported: the two halves share no source. `module` is the path of edge/edge-config.ts in a checkout, or
 * of the package's dist/edge/edge-config.js (node/cli/package-layout.ts).
 */
export interface EdgeConfigCheck {
  readonly module: string;
}

interface EdgeConfigModule {
  readonly CONFIG_VAR: string;
  parseEdgeConfig(env: Readonly<Record<string, unknown>>): unknown;
}
/** The Worker's compatibility settings: the ones its tests run under (the repository's wrangler.toml). */
export const COMPATIBILITY_DATE = "2026-10-01";

/** A tunnel hostname that cannot resolve (RFC 2606): `clawgate edge deploy` refuses it until init runs with --hostname. */
export const PLACEHOLDER_HOST_SUFFIX = ".invalid";

export class EdgeProjectError extends Error {
  override readonly name = "EdgeProjectError";
  readonly code = "ERR_EDGE_PROJECT";
}

/** A heartbeat interval as a cron expression, when cron can say it exactly (whole minutes dividing an hour, whole hours dividing a day, one day). */
export function heartbeatCron(every: string): string | undefined {
  const ms = parseDurationMs(every);
  const minutes = ms / 60_000;
  if (ms === 0 || !Number.isInteger(minutes)) return undefined;
  if (minutes < 60 && 60 % minutes === 0) return minutes === 1 ? "* * * * *" : `*/${minutes} * * * *`;
  const hours = minutes / 60;
  if (Number.isInteger(hours) && hours < 24 && 24 % hours === 0) return hours === 1 ? "0 * * * *" : `0 */${hours} * * *`;
  if (hours === 24) return "0 0 * * *";
  return undefined;
}

export interface EdgeCronJob {
  readonly id: string;
  readonly schedule: string;
  readonly action: { readonly kind: "wake"; readonly text: string; readonly mode: "now" };
}

/**
 * One wake job per distinct heartbeat interval in the node config (agents.defaults and each agent): the edge's
 * cron wakes the node, which runs the heartbeats that are due. Intervals cron cannot express are returned in
 * `skipped` (the node's own timer still runs them).
 */
export function cronJobsFromConfig(raw: Record<string, unknown>): { jobs: EdgeCronJob[]; skipped: string[] } {
  const agents = (raw["agents"] ?? {}) as { defaults?: { heartbeat?: { every?: unknown } }; list?: { heartbeat?: { every?: unknown } }[] };
  const intervals = [agents.defaults?.heartbeat?.every, ...(Array.isArray(agents.list) ? agents.list.map((a) => a?.heartbeat?.every) : [])];
  const jobs: EdgeCronJob[] = [];
  const skipped: string[] = [];
  const seen = new Set<string>();
  for (const every of intervals) {
    if (typeof every !== "string" || seen.has(every)) continue;
    seen.add(every);
    let schedule: string | undefined;
    try {
      schedule = heartbeatCron(every);
    } catch {
      schedule = undefined;
    }
    if (!schedule) {
      if (every !== "0m") skipped.push(every);
      continue;
    }
    if (jobs.some((j) => j.schedule === schedule)) continue;
    jobs.push({ id: `heartbeat-${every}`, schedule, action: { kind: "wake", text: "Scheduled heartbeat", mode: "now" } });
  }
  return { jobs, skipped };
}

export interface EdgeConfigInput {
  readonly nodeId: string;
  /** https origin of the tunnel to this node. */
  readonly origin: string;
  readonly hooksPath: string;
  readonly agents: readonly string[];
  readonly callers: readonly { readonly name: string; readonly sha256: string }[];
  readonly jobs: readonly EdgeCronJob[];
}

/** The `CLAWGATE_EDGE_CONFIG` value: this node as the primary, wake and agent routes behind the callers' bearer tokens, the cron jobs. */
export function buildEdgeConfig(input: EdgeConfigInput): Record<string, unknown> {
  const auth = [{ type: "bearer", tokens: input.callers.map((c) => ({ name: c.name, sha256: c.sha256 })) }];
  return {
    nodes: [{ id: input.nodeId, origin: input.origin, hooksPath: input.hooksPath, agents: [...input.agents], primary: true }],
    routes: { wake: { auth }, agent: { auth } },
    hooks: { allowedAgentIds: [...input.agents] },
    cron: { jobs: input.jobs.map((j) => ({ ...j, action: { ...j.action } })) },
  };
}

/** wrangler.jsonc for the edge project: JSON with a header comment; the edge config is the string wrangler passes as a var. */
export function buildWranglerConfig(options: { name: string; edgeConfig: Record<string, unknown> }): string {
  const jobs = (options.edgeConfig["cron"] as { jobs?: { schedule: string }[] } | undefined)?.jobs ?? [];
  const config = {
    name: options.name,
    compatibility_date: COMPATIBILITY_DATE,
    compatibility_flags: ["nodejs_compat"],
    // A workers.dev URL for the first wake; add routes or a custom domain and turn it off when you have one.
    workers_dev: true,
    send_metrics: false,
    triggers: { crons: [...new Set(jobs.map((j) => j.schedule))] },
    durable_objects: {
      bindings: [
        { name: "OUTBOX", class_name: "EdgeOutbox" },
        { name: "AUTH_STATE", class_name: "CallerAuthState" },
      ],
    },
    migrations: [{ tag: "v1", new_sqlite_classes: ["EdgeOutbox", "CallerAuthState"] }],
    vars: { [CONFIG_VAR]: JSON.stringify(options.edgeConfig) },
  };
  return [
    "// The clawgate edge Worker's project, written by `clawgate init`; deploy with `clawgate edge deploy`.",
    "// The Worker's code comes from the installed clawgate (no `main` here). Each cron job's schedule in",
    `// ${CONFIG_VAR} must be one of triggers.crons. Secrets (signing key, …) go in with wrangler secret put.`,
    JSON.stringify(config, null, 2),
    "",
  ].join("\n");
}

export interface EdgeProject {
  readonly dir: string;
  readonly configFile: string;
  readonly name: string;
  readonly crons: readonly string[];
  readonly edgeConfig: Record<string, unknown>;
}

/**
 * Reads and checks an edge project without deploying anything: wrangler.jsonc parses, the edge config is valid
 * (as the Worker will parse it), and every cron job's schedule has a Cron Trigger. Errors name the file and field.
 */
export async function readEdgeProject(dir: string, check: EdgeConfigCheck): Promise<EdgeProject> {
  const configFile = join(dir, WRANGLER_CONFIG_FILE);
  let text: string;
  try {
    text = await readFile(configFile, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new EdgeProjectError(code === "ENOENT" ? `${configFile}: not found (run clawgate init, or pass --edge-dir)` : `${configFile}: cannot read (${code ?? "error"})`);
  }
  let doc: Record<string, unknown>;
  try {
    doc = JSON5.parse(text) as Record<string, unknown>;
  } catch (error) {
    const e = error as { lineNumber?: number; columnNumber?: number };
    throw new EdgeProjectError(`${configFile}:${e.lineNumber ?? 1}:${e.columnNumber ?? 1}: not valid JSON with comments`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw new EdgeProjectError(`${configFile}: must be a JSON object`);
  const name = doc["name"];
  if (typeof name !== "string" || name === "") throw new EdgeProjectError(`${configFile}: name: the Worker's name is missing`);
  const varText = (doc["vars"] as Record<string, unknown> | undefined)?.[CONFIG_VAR];
  // The key only needs a private JWK's shape here; the real one is a secret the Worker reads at run time.
  const shapeOnlyKey = JSON.stringify({ kty: "OKP", crv: "Ed25519", kid: "validation", alg: "EdDSA", d: "x", x: "x" });
  const edge = (await import(pathToFileURL(check.module).href)) as EdgeConfigModule;
  if (edge.CONFIG_VAR !== CONFIG_VAR) throw new EdgeProjectError(`${check.module} reads ${edge.CONFIG_VAR}, not ${CONFIG_VAR}: a mismatched clawgate install`);
  try {
    edge.parseEdgeConfig({ [CONFIG_VAR]: varText, CLAWGATE_EDGE_SIGNING_KEY: shapeOnlyKey });
  } catch (error) {
    if ((error as { code?: unknown }).code === "ERR_EDGE_CONFIG") throw new EdgeProjectError(`${configFile}: vars.${(error as Error).message}`);
    throw error;
  }
  const edgeConfig = JSON.parse(varText as string) as Record<string, unknown>;
  const triggers = (doc["triggers"] as { crons?: unknown } | undefined)?.crons;
  const crons = Array.isArray(triggers) ? triggers.filter((c): c is string => typeof c === "string") : [];
  const jobs = (edgeConfig["cron"] as { jobs?: { id: string; schedule: string }[] } | undefined)?.jobs ?? [];
  for (const job of jobs) {
    if (!crons.includes(job.schedule)) {
      throw new EdgeProjectError(`${configFile}: triggers.crons: cron job "${job.id}" runs on "${job.schedule}", which is not a Cron Trigger`);
    }
  }
  return { dir, configFile, name, crons, edgeConfig };
}
