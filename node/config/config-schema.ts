/** zod schemas of the openclaw.json sections clawgate reads; every other section is kept untouched. */
import { z } from "zod";
import { SecretsBlockSchema } from "../secrets/provider-config.ts";

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

/** clawgate's own section; OpenClaw ignores unknown top-level keys, so one file serves both. */
export const ClawgateSectionSchema = z.looseObject({
  stateDir: z.string().min(1).optional(),
  node: z
    .looseObject({
      id: z.string().min(1).optional(),
      host: z.string().min(1).optional(),
      port: z.number().int().min(0).max(65_535).optional(),
    })
    .optional(),
});

export const ConfigSchema = z.looseObject({
  secrets: SecretsBlockSchema.default(SecretsBlockSchema.parse({})),
  gateway: GatewaySchema.optional(),
  clawgate: ClawgateSectionSchema.optional(),
});

export type Config = z.infer<typeof ConfigSchema>;
