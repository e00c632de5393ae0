/** zod schemas of the openclaw.json sections clawgate reads; every other section is kept untouched. */
import { z } from "zod";
import { SecretsBlockSchema } from "./provider-config.ts";
import { AgentsSchema, DispatchSchema } from "./agents-schema.ts";

export const GatewaySchema = z.looseObject({
  port: z.number().int().min(0).max(65_535).optional(),
  /** OpenClaw: loopback (default) | lan | tailnet | custom. The node agent accepts loopback only. */
  bind: z.string().optional(),
  auth: z
    .looseObject({
      mode: z.enum(["token", "password", "none", "trusted-proxy"]).optional(),
    })
    .optional(),
});

/**
 * One `hooks.mappings[]` entry (OpenClaw's shape): `POST <hooks.path>/<match.path>` (and `payload.source`
 * = `match.source`) becomes a wake or an agent run rendered from `{{…}}` templates. `transform` is parsed
 * only so the node can refuse it at start by name: it never loads config-named modules.
 */
export const HookMappingSchema = z.looseObject({
  id: z.string().min(1).optional(),
  match: z.looseObject({ path: z.string().optional(), source: z.string().optional() }).optional(),
  action: z.enum(["wake", "agent"]).optional(),
  wakeMode: z.enum(["now", "next-heartbeat"]).optional(),
  name: z.string().optional(),
  agentId: z.string().optional(),
  sessionKey: z.string().optional(),
  messageTemplate: z.string().optional(),
  textTemplate: z.string().optional(),
  deliver: z.boolean().optional(),
  allowUnsafeExternalContent: z.boolean().optional(),
  channel: z.string().optional(),
  to: z.string().optional(),
  model: z.string().optional(),
  thinking: z.string().optional(),
  timeoutSeconds: z.number().int().positive().optional(),
  transform: z.looseObject({ module: z.string().optional(), export: z.string().optional() }).optional(),
});

/** docs/openclaw-compat.md §5; `token` is a credential path (SecretInput), validated by the registry. */
export const HooksSchema = z.looseObject({
  enabled: z.boolean().optional(),
  path: z.string().startsWith("/", "must start with /").optional(),
  maxBodyBytes: z.number().int().positive().optional(),
  defaultSessionKey: z.string().min(1).optional(),
  allowRequestSessionKey: z.boolean().optional(),
  allowedSessionKeyPrefixes: z.array(z.string().min(1)).optional(),
  allowedAgentIds: z.array(z.string().min(1)).optional(),
  mappings: z.array(HookMappingSchema).optional(),
});

/** `agents` (§6–§7 plus clawgate's memory fields) lives in agents-schema.ts; the model catalog doubles as the allowlist. */
export { AgentsSchema } from "./agents-schema.ts";

/** An edge public key (JWK) the node accepts envelopes from; several at once during a rotation. */
export const EdgePublicKeySchema = z.looseObject({
  kty: z.string(),
  kid: z.string().min(1),
  alg: z.enum(["EdDSA", "ES256"]),
});

/** https, or http to a loopback address (a local `wrangler dev`): the operator token must not cross a network in clear. */
export const EdgeOperatorUrlSchema = z.string().refine(
  (text) => {
    if (!URL.canParse(text)) return false;
    const url = new URL(text);
    if (url.username || url.password || url.search || url.hash) return false;
    return url.protocol === "https:" || (url.protocol === "http:" && /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(url.hostname));
  },
  { message: "must be an https:// URL (http:// only to a loopback address), without credentials, query or fragment" },
);

/** clawgate's own section; OpenClaw ignores unknown top-level keys, so one file serves both. */
export const ClawgateSectionSchema = z.looseObject({
  stateDir: z.string().min(1).optional(),
  node: z
    .looseObject({
      id: z.string().min(1).optional(),
      host: z.string().min(1).optional(),
      port: z.number().int().min(0).max(65_535).optional(),
      /** Names a tunnel delivers under (cloudflared keeps the caller's Host); accepted as Host besides loopback. */
      publicHostnames: z.array(z.string().min(1)).optional(),
    })
    .optional(),
  edge: z
    .looseObject({
      publicKeys: z.array(EdgePublicKeySchema).optional(),
      /** Accept the plain hook token from callers that came through Cloudflare although edge keys are set (default false). */
      allowTunnelledHookToken: z.boolean().optional(),
      /** The edge Worker's base URL, for the console's Edge page; its operator token is `operatorToken` (a credential path). */
      operatorUrl: EdgeOperatorUrlSchema.optional(),
    })
    .optional(),
  dispatch: DispatchSchema.optional(),
});

export const ConfigSchema = z.looseObject({
  secrets: SecretsBlockSchema.default(SecretsBlockSchema.parse({})),
  gateway: GatewaySchema.optional(),
  hooks: HooksSchema.optional(),
  agents: AgentsSchema.optional(),
  clawgate: ClawgateSectionSchema.optional(),
});

export type Config = z.infer<typeof ConfigSchema>;
