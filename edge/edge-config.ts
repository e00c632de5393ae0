/**
 * The edge's one configuration: plain values from the `CLAWGATE_EDGE_CONFIG` var (JSON, in wrangler.toml)
 * and everything sensitive from Worker secrets, validated once with zod/mini into an immutable object.
 */
import * as z from "zod/mini";
import { ENVELOPE_ALGORITHMS } from "../shared/envelope.ts";
import { MAX_DEFAULT_BODY_BYTES, SVIX_RETRY_SCHEDULE_SECONDS } from "./edge-defaults.ts";
import { RouteAuthSchema } from "./auth/auth-config.ts";

/** Names of the Worker secrets the edge reads (never in wrangler.toml; `wrangler secret put NAME`). */
export const SECRET_NAMES = {
  signingKey: "CLAWGATE_EDGE_SIGNING_KEY",
  operatorTokenSha256: "CLAWGATE_OPERATOR_TOKEN_SHA256",
  alertWebhookUrl: "CLAWGATE_ALERT_WEBHOOK_URL",
  accessClientId: "CF_ACCESS_CLIENT_ID",
  accessClientSecret: "CF_ACCESS_CLIENT_SECRET",
} as const;

export const CONFIG_VAR = "CLAWGATE_EDGE_CONFIG";

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** A route name is one path segment under /hooks (OpenClaw mappings use the same). */
const ROUTE_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const Id = z.string().check(z.regex(ID_RE));

/** http is accepted only for loopback (tests, `wrangler dev`); anything else must be https. */
const Origin = z.string().check(
  z.refine((value) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return false;
    }
    if (url.pathname !== "/" || url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "") return false;
    if (url.protocol === "https:") return true;
    return url.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
  }, "must be an https origin (http only for loopback) without path, query or credentials"),
);

const HooksPath = z.string().check(z.regex(/^\/[A-Za-z0-9._~/-]*[A-Za-z0-9._~-]$/, "must start with / and not end with /"));

const NodeSchema = z.strictObject({
  id: Id,
  origin: Origin,
  /** The node's `hooks.path` (docs/openclaw-compat.md §5); default /hooks. */
  hooksPath: z.optional(HooksPath),
  /** Agents this node serves; `/hooks/agent` with one of them goes here. Omitted: none named explicitly. */
  agents: z.optional(z.array(Id)),
  primary: z.optional(z.boolean()),
});

const RouteSchema = z.strictObject({
  /** Caller authentication: a list of methods, any one suffices (edge/auth/auth-config.ts). */
  auth: RouteAuthSchema,
  /** Pass-through routes only: the node that receives them (default: the primary). */
  node: z.optional(Id),
});

const HooksPolicySchema = z.strictObject({
  maxBodyBytes: z.optional(z.int().check(z.gte(1), z.lte(MAX_DEFAULT_BODY_BYTES * 4))),
  allowedAgentIds: z.optional(z.array(z.string().check(z.minLength(1)))),
  allowRequestSessionKey: z.optional(z.boolean()),
  allowedSessionKeyPrefixes: z.optional(z.array(z.string().check(z.minLength(1)))),
  defaultSessionKey: z.optional(z.string().check(z.minLength(1))),
});

const WakeAction = z.strictObject({
  kind: z.literal("wake"),
  text: z.string().check(z.minLength(1)),
  mode: z.optional(z.enum(["now", "next-heartbeat"])),
});
const AgentAction = z.strictObject({
  kind: z.literal("agent"),
  message: z.string().check(z.minLength(1)),
  agentId: z.optional(Id),
  name: z.optional(z.string().check(z.minLength(1))),
  model: z.optional(z.string().check(z.minLength(1))),
  thinking: z.optional(z.string().check(z.minLength(1))),
  timeoutSeconds: z.optional(z.int().check(z.gte(1))),
  deliver: z.optional(z.boolean()),
});

const CronJobSchema = z.strictObject({
  id: Id,
  /** Must equal one of wrangler.toml's `[triggers] crons` expressions exactly. */
  schedule: z.string().check(z.minLength(9), z.maxLength(128)),
  node: z.optional(Id),
  action: z.discriminatedUnion("kind", [WakeAction, AgentAction]),
  /** Dead-man's switch: alert when no run of this job was delivered for period + grace. */
  deadMan: z.optional(
    z.strictObject({
      periodSeconds: z.number().check(z.gt(0)),
      graceSeconds: z.optional(z.number().check(z.gte(0))),
    }),
  ),
});

export const EdgeConfigSchema = z.strictObject({
  nodes: z.array(NodeSchema).check(z.minLength(1)),
  routes: z.record(z.string().check(z.regex(ROUTE_RE)), RouteSchema),
  hooks: z.optional(HooksPolicySchema),
  forward: z.optional(z.strictObject({ timeoutMs: z.optional(z.int().check(z.gte(100), z.lte(60_000))) })),
  outbox: z.optional(
    z.strictObject({
      /** Delays after the first attempt, in seconds; the last entry is the last retry, then dead letter. */
      retryScheduleSeconds: z.optional(z.array(z.number().check(z.gte(0), z.lte(86_400))).check(z.minLength(1), z.maxLength(20))),
      keepDeliveredHours: z.optional(z.number().check(z.gte(0), z.lte(24 * 30))),
    }),
  ),
  cron: z.optional(
    z.strictObject({
      jobs: z.array(CronJobSchema),
      catchUp: z.optional(z.enum(["coalesce", "skip"])),
      historySize: z.optional(z.int().check(z.gte(1), z.lte(200))),
    }),
  ),
  alert: z.optional(z.strictObject({ ntfyTopic: z.optional(z.string().check(z.regex(/^[A-Za-z0-9_-]{1,64}$/))) })),
});

export type EdgeConfigInput = z.infer<typeof EdgeConfigSchema>;
export type CronJob = z.infer<typeof CronJobSchema>;
export type RouteAuthMethods = z.infer<typeof RouteAuthSchema>;

export interface EdgeNode {
  readonly id: string;
  readonly origin: string;
  readonly hooksPath: string;
  readonly agents: readonly string[];
  readonly primary: boolean;
}

export interface EdgeRoute {
  readonly name: string;
  readonly auth: RouteAuthMethods;
  readonly nodeId: string | undefined;
}

/** The validated configuration, defaults applied; secrets appear only as the parsed values the edge needs. */
export interface EdgeConfig {
  readonly nodes: ReadonlyMap<string, EdgeNode>;
  readonly primary: EdgeNode;
  readonly routes: ReadonlyMap<string, EdgeRoute>;
  readonly hooks: {
    readonly maxBodyBytes: number;
    readonly allowedAgentIds: readonly string[] | undefined;
    readonly allowRequestSessionKey: boolean;
    readonly allowedSessionKeyPrefixes: readonly string[] | undefined;
  };
  readonly forwardTimeoutMs: number;
  readonly retryScheduleSeconds: readonly number[];
  readonly keepDeliveredMs: number;
  readonly cron: { readonly jobs: readonly CronJob[]; readonly catchUp: "coalesce" | "skip"; readonly historySize: number };
  readonly ntfyTopic: string | undefined;
  readonly signingJwk: Record<string, unknown> & { kid: string; alg: "EdDSA" | "ES256" };
  readonly operatorTokenSha256: string | undefined;
  readonly alertWebhookUrl: string | undefined;
  readonly accessHeaders: Readonly<Record<string, string>>;
}

/** Why the configuration was refused; `field` names the var/secret and path, never a value. */
export class EdgeConfigError extends Error {
  override readonly name = "EdgeConfigError";
  readonly code = "ERR_EDGE_CONFIG";
  readonly field: string;
  constructor(field: string, problem: string) {
    super(`${field}: ${problem}`);
    this.field = field;
  }
}

type EnvRecord = Readonly<Record<string, unknown>>;

function describeIssue(issue: z.core.$ZodIssue): EdgeConfigError {
  const path = issue.path.map(String).join(".");
  const where = path === "" ? CONFIG_VAR : `${CONFIG_VAR}.${path}`;
  const detail =
    issue.code === "invalid_type"
      ? `expected ${issue.expected}`
      : issue.code === "unrecognized_keys"
        ? `unknown key(s) ${issue.keys.join(", ")}`
        : issue.code === "custom" && issue.message !== "Invalid input"
          ? issue.message
          : issue.code.replace(/_/g, " ");
  return new EdgeConfigError(where, detail);
}

function secretString(env: EnvRecord, name: string): string | undefined {
  const value = env[name];
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw new EdgeConfigError(name, "must be a string secret");
  return value;
}

function parseSigningKey(env: EnvRecord): EdgeConfig["signingJwk"] {
  const raw = secretString(env, SECRET_NAMES.signingKey);
  if (raw === undefined) throw new EdgeConfigError(SECRET_NAMES.signingKey, "secret is not set (wrangler secret put)");
  let jwk: unknown;
  try {
    jwk = JSON.parse(raw);
  } catch {
    throw new EdgeConfigError(SECRET_NAMES.signingKey, "is not JSON (expected the private JWK that `clawgate edge keys` prints)");
  }
  if (typeof jwk !== "object" || jwk === null || Array.isArray(jwk)) throw new EdgeConfigError(SECRET_NAMES.signingKey, "must be a JWK object");
  const record = jwk as Record<string, unknown>;
  if (typeof record["kid"] !== "string" || !ID_RE.test(record["kid"])) throw new EdgeConfigError(`${SECRET_NAMES.signingKey}.kid`, "missing or invalid");
  if (!ENVELOPE_ALGORITHMS.includes(record["alg"] as "EdDSA")) {
    throw new EdgeConfigError(`${SECRET_NAMES.signingKey}.alg`, `must be one of ${ENVELOPE_ALGORITHMS.join(", ")}`);
  }
  if (typeof record["d"] !== "string") throw new EdgeConfigError(`${SECRET_NAMES.signingKey}.d`, "missing: this is not a private key");
  return record as EdgeConfig["signingJwk"];
}

function loopbackOrHttps(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "https:" || (url.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname));
  } catch {
    return false;
  }
}

/** Validates the whole configuration; throws EdgeConfigError naming the first bad field. */
export function parseEdgeConfig(env: EnvRecord): EdgeConfig {
  const text = env[CONFIG_VAR];
  if (typeof text !== "string" || text.trim() === "") throw new EdgeConfigError(CONFIG_VAR, "var is not set (wrangler.toml [vars])");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new EdgeConfigError(CONFIG_VAR, "is not valid JSON");
  }
  const parsed = EdgeConfigSchema.safeParse(json);
  if (!parsed.success) {
    throw describeIssue(parsed.error.issues[0]!);
  }
  const input = parsed.data;

  const nodes = new Map<string, EdgeNode>();
  for (const [i, node] of input.nodes.entries()) {
    if (nodes.has(node.id)) throw new EdgeConfigError(`${CONFIG_VAR}.nodes.${i}.id`, "duplicate node id");
    nodes.set(node.id, {
      id: node.id,
      origin: new URL(node.origin).origin,
      hooksPath: node.hooksPath ?? "/hooks",
      agents: node.agents ?? [],
      primary: node.primary === true || input.nodes.length === 1,
    });
  }
  const primaries = [...nodes.values()].filter((n) => n.primary);
  if (primaries.length !== 1) throw new EdgeConfigError(`${CONFIG_VAR}.nodes`, "exactly one node must have primary: true");
  const nodeRef = (id: string | undefined, field: string) => {
    if (id !== undefined && !nodes.has(id)) throw new EdgeConfigError(field, `names no configured node`);
    return id;
  };

  const routes = new Map<string, EdgeRoute>();
  for (const [name, route] of Object.entries(input.routes)) {
    if ((name === "wake" || name === "agent") && route.node !== undefined) {
      throw new EdgeConfigError(`${CONFIG_VAR}.routes.${name}.node`, "only pass-through routes name a node (wake: ?node=, agent: by agentId)");
    }
    routes.set(name, { name, auth: route.auth, nodeId: nodeRef(route.node, `${CONFIG_VAR}.routes.${name}.node`) });
  }

  const hooks = input.hooks ?? {};
  // The node's own start-up rule (docs/openclaw-compat.md §5), so the edge cannot accept what the node refuses.
  if (hooks.allowedSessionKeyPrefixes && hooks.defaultSessionKey === undefined && !hooks.allowedSessionKeyPrefixes.includes("hook:")) {
    throw new EdgeConfigError(`${CONFIG_VAR}.hooks.allowedSessionKeyPrefixes`, "must include 'hook:' when hooks.defaultSessionKey is unset");
  }

  const jobs = input.cron?.jobs ?? [];
  const jobIds = new Set<string>();
  for (const [i, job] of jobs.entries()) {
    if (jobIds.has(job.id)) throw new EdgeConfigError(`${CONFIG_VAR}.cron.jobs.${i}.id`, "duplicate job id");
    jobIds.add(job.id);
    nodeRef(job.node, `${CONFIG_VAR}.cron.jobs.${i}.node`);
  }

  const alertWebhookUrl = secretString(env, SECRET_NAMES.alertWebhookUrl);
  if (alertWebhookUrl !== undefined && !loopbackOrHttps(alertWebhookUrl)) {
    throw new EdgeConfigError(SECRET_NAMES.alertWebhookUrl, "must be an https URL");
  }
  if (alertWebhookUrl === undefined && jobs.some((j) => j.deadMan)) {
    throw new EdgeConfigError(SECRET_NAMES.alertWebhookUrl, "secret is required when a cron job has deadMan");
  }
  const operatorTokenSha256 = secretString(env, SECRET_NAMES.operatorTokenSha256)?.toLowerCase();
  if (operatorTokenSha256 !== undefined && !/^[0-9a-f]{64}$/.test(operatorTokenSha256)) {
    throw new EdgeConfigError(SECRET_NAMES.operatorTokenSha256, "must be 64 hex characters (SHA-256 of the operator token)");
  }
  const accessId = secretString(env, SECRET_NAMES.accessClientId);
  const accessSecret = secretString(env, SECRET_NAMES.accessClientSecret);
  if ((accessId === undefined) !== (accessSecret === undefined)) {
    throw new EdgeConfigError(accessId === undefined ? SECRET_NAMES.accessClientId : SECRET_NAMES.accessClientSecret, "set both CF Access secrets or neither");
  }

  return {
    nodes,
    primary: primaries[0]!,
    routes,
    hooks: {
      maxBodyBytes: hooks.maxBodyBytes ?? MAX_DEFAULT_BODY_BYTES,
      allowedAgentIds: hooks.allowedAgentIds,
      allowRequestSessionKey: hooks.allowRequestSessionKey === true,
      allowedSessionKeyPrefixes: hooks.allowedSessionKeyPrefixes,
    },
    forwardTimeoutMs: input.forward?.timeoutMs ?? 10_000,
    retryScheduleSeconds: input.outbox?.retryScheduleSeconds ?? SVIX_RETRY_SCHEDULE_SECONDS,
    keepDeliveredMs: (input.outbox?.keepDeliveredHours ?? 24) * 3_600_000,
    cron: { jobs, catchUp: input.cron?.catchUp ?? "coalesce", historySize: input.cron?.historySize ?? 20 },
    ntfyTopic: input.alert?.ntfyTopic,
    signingJwk: parseSigningKey(env),
    operatorTokenSha256,
    alertWebhookUrl,
    accessHeaders: accessId !== undefined && accessSecret !== undefined ? { "cf-access-client-id": accessId, "cf-access-client-secret": accessSecret } : {},
  };
}
