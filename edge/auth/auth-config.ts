/**
 * The configuration shape of a route's caller authentication (zod/mini, bundled by the Worker): a route lists
 * methods and any one of them suffices. Secrets are never inline — a method names the Worker secret binding
 * (`wrangler secret put NAME`) that holds its secret, and bearer tokens appear only as SHA-256 hashes.
 */
import * as z from "zod/mini";

/** A Worker binding name (`wrangler secret put NAME`). */
const Binding = z.string().check(z.regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, "must be a Worker secret binding name"));
/** One binding, or several while a secret is rotated (any of them verifies). */
const Bindings = z.union([Binding, z.array(Binding).check(z.minLength(1), z.maxLength(8))]);
/** Names appear in principals (`token:<name>`), logs and the envelope's `sub`. */
const Name = z.string().check(z.regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, "must be 1–64 of A-Z a-z 0-9 . _ @ - (leading alphanumeric)"));
const Sha256Hex = z.string().check(z.regex(/^[0-9a-fA-F]{64}$/, "must be 64 hex digits (SHA-256 of the token)"));
const HttpsUrl = z.string().check(
  z.refine((value) => {
    try {
      return new URL(value).protocol === "https:";
    } catch {
      return false;
    }
  }, "must be an https URL"),
);
const NonEmpty = z.string().check(z.minLength(1), z.maxLength(512));
const OneOrMany = z.union([NonEmpty, z.array(NonEmpty).check(z.minLength(1), z.maxLength(16))]);
/** Seconds a timestamp / `exp` / `nbf` may be off; capped so a typo cannot disable the check. */
const Tolerance = z.int().check(z.gte(0), z.lte(900));

/** Algorithms a JWT method may allow (RFC 7518 names). `none` is not among them, by construction. */
export const JWT_ALGORITHMS = ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"] as const;
export const HMAC_SCHEMES = ["standard", "github", "stripe", "slack"] as const;

/**
 * `{ "type": "bearer", "tokens": [{ "name": "ci", "sha256": "<hex>" }] }` — the caller sends
 * `Authorization: Bearer <token>` (or OpenClaw's `X-OpenClaw-Token`). `clawgate edge token NAME` prints a
 * fresh `cg_…` token and this entry. Principal: `token:<name>`. Revoke one caller by deleting its entry.
 */
export const BearerMethodSchema = z.strictObject({
  type: z.literal("bearer"),
  tokens: z.array(z.strictObject({ name: Name, sha256: Sha256Hex })).check(z.minLength(1), z.maxLength(256)),
});

/**
 * A JWT in `Authorization: Bearer`. Exactly one key source: `secretBinding` (HS256/384/512 shared secret) or
 * `jwksUrl` (RS/PS/ES/EdDSA, a remote key set cached across isolates). `issuer` and `audience` are required;
 * `algorithms` is an explicit allowlist that may not mix HMAC and public-key algorithms (key confusion).
 * Principal: `jwt:<iss>#<sub>` (the issuer names whose `sub` it is).
 */
export const JwtMethodSchema = z.strictObject({
  type: z.literal("jwt"),
  secretBinding: z.optional(Binding),
  jwksUrl: z.optional(HttpsUrl),
  issuer: OneOrMany,
  audience: OneOrMany,
  algorithms: z.array(z.enum(JWT_ALGORITHMS)).check(z.minLength(1)),
  /** Default 30 s. */
  clockToleranceSeconds: z.optional(Tolerance),
  /** Longest accepted token lifetime (exp − iat); optional. */
  maxTokenAgeSeconds: z.optional(z.int().check(z.gte(1), z.lte(31_536_000))),
});

/**
 * Cloudflare Access in front of the Worker: the `Cf-Access-Jwt-Assertion` header verified against the team's
 * key set (`https://<team>.cloudflareaccess.com/cdn-cgi/access/certs`, RS256) with the application's AUD
 * tag. Service-token JWTs carry no `email` and no `nbf`; their principal is `access:<team>#<common_name>`, a
 * user's is `access:<team>#<email>`. `emails` / `commonNames`, when given, narrow who is accepted.
 */
export const AccessMethodSchema = z.strictObject({
  type: z.literal("access"),
  /** The team name (`myteam`) or its domain (`myteam.cloudflareaccess.com`). */
  team: z.string().check(z.regex(/^[a-z0-9][a-z0-9-]{0,62}(\.cloudflareaccess\.com)?$/, "must be the Access team name, e.g. myteam")),
  /** The Access application's AUD tag(s). */
  audience: OneOrMany,
  emails: z.optional(z.array(NonEmpty).check(z.minLength(1))),
  commonNames: z.optional(z.array(NonEmpty).check(z.minLength(1))),
  clockToleranceSeconds: z.optional(Tolerance),
});

/**
 * An HMAC signature over the raw body: `standard` (Standard Webhooks: webhook-id / -timestamp / -signature,
 * `whsec_` secrets), `github` (X-Hub-Signature-256), `stripe` (Stripe-Signature), `slack` (X-Slack-Signature
 * v0). `secretBinding` may list several bindings during a rotation. Principal: `hmac:<scheme>:<name>`.
 */
export const HmacMethodSchema = z.strictObject({
  type: z.literal("hmac"),
  scheme: z.enum(HMAC_SCHEMES),
  name: Name,
  secretBinding: Bindings,
  /** Timestamped schemes (standard, stripe, slack): allowed skew in both directions; default 300 s. */
  toleranceSeconds: z.optional(Tolerance),
});

/**
 * Callers whose `CF-Connecting-IP` lies in one of these IPv4/IPv6 CIDRs (a bare address = /32 or /128).
 * `X-Forwarded-For` and `X-Real-IP` never count. Principal: `ip:<cidr as configured>`.
 */
export const IpMethodSchema = z.strictObject({
  type: z.literal("ip"),
  cidrs: z.array(z.string().check(z.minLength(2), z.maxLength(64))).check(z.minLength(1), z.maxLength(1024)),
});

export const AuthMethodSchema = z.discriminatedUnion("type", [BearerMethodSchema, JwtMethodSchema, AccessMethodSchema, HmacMethodSchema, IpMethodSchema]);

/** A route's methods; any one suffices. At least one: a route without authentication is not configurable. */
export const RouteAuthSchema = z.array(AuthMethodSchema).check(z.minLength(1), z.maxLength(16));

export type AuthMethod = z.infer<typeof AuthMethodSchema>;
export type BearerMethod = z.infer<typeof BearerMethodSchema>;
export type JwtMethod = z.infer<typeof JwtMethodSchema>;
export type AccessMethod = z.infer<typeof AccessMethodSchema>;
export type HmacMethod = z.infer<typeof HmacMethodSchema>;
export type IpMethod = z.infer<typeof IpMethodSchema>;
export type RouteAuth = z.infer<typeof RouteAuthSchema>;
