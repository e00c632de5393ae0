/** SecretRef and SecretInput exactly as OpenClaw defines them (docs/openclaw-compat.md §1), plus the env shorthands. */
import { z } from "zod";

export const SECRET_SOURCES = ["env", "file", "exec"] as const;
export type SecretSource = (typeof SECRET_SOURCES)[number];

export const PROVIDER_ALIAS_RE = /^[a-z][a-z0-9_-]{0,63}$/;
export const ENV_ID_RE = /^[A-Z][A-Z0-9_]{0,127}$/;
export const EXEC_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,255}$/;
/** The id a `singleValue` file provider and a `jsonOnly: false` exec resolver answer to. */
export const SINGLE_VALUE_ID = "value";

/** `${VAR}` or `$VAR` on a secret field means an env ref on the default env provider. */
const SHORTHAND_RE = /^\$(?:\{([A-Z][A-Z0-9_]{0,127})\}|([A-Z][A-Z0-9_]{0,127}))$/;

export interface SecretRef {
  readonly source: SecretSource;
  readonly provider: string;
  readonly id: string;
}

/** True when `id` is a JSON pointer per RFC 6901 §3 (absolute, `~` only as `~0`/`~1`). */
export function isJsonPointer(id: string): boolean {
  return id === "" || (id.startsWith("/") && !/~[^01]|~$/.test(id));
}

/** An exec id matches the id regex and has no `.` or `..` path segment (`a/../b` is refused). */
export function isExecId(id: string): boolean {
  return EXEC_ID_RE.test(id) && !id.split("/").some((s) => s === "." || s === "..");
}

/** Why `id` is not a valid id for `source`, or undefined when it is. */
export function refIdProblem(source: SecretSource, id: string): string | undefined {
  switch (source) {
    case "env":
      return ENV_ID_RE.test(id) ? undefined : "env ref id must match ^[A-Z][A-Z0-9_]{0,127}$";
    case "file":
      return id === SINGLE_VALUE_ID || (id !== "" && isJsonPointer(id))
        ? undefined
        : 'file ref id must be an absolute JSON pointer (RFC 6901) or "value"';
    case "exec":
      return isExecId(id)
        ? undefined
        : "exec ref id must match ^[A-Za-z0-9][A-Za-z0-9._:/-]{0,255}$ with no . or .. segments";
  }
}

/** A SecretRef object: exactly the keys source, provider, id; each valid for its source. */
export const SecretRefSchema = z
  .strictObject({
    source: z.enum(SECRET_SOURCES),
    provider: z.string().regex(PROVIDER_ALIAS_RE, "provider must match ^[a-z][a-z0-9_-]{0,63}$"),
    id: z.string().min(1, "id must not be empty"),
  })
  .superRefine((ref, ctx) => {
    const problem = refIdProblem(ref.source, ref.id);
    if (problem) ctx.addIssue({ code: "custom", path: ["id"], message: problem });
  });

/** A secret field's value: a plaintext string (or an env shorthand) or a SecretRef. */
export const SecretInputSchema = z.union([z.string(), SecretRefSchema], {
  error: "expected SecretRef or string",
});
export type SecretInput = string | SecretRef;

/** The internal key of a ref: `source:provider:id`. */
export function refKey(ref: SecretRef): string {
  return `${ref.source}:${ref.provider}:${ref.id}`;
}

/** True for a plain object that looks like a SecretRef attempt (has a `source` key). */
export function looksLikeRef(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && "source" in value;
}

/** The env ref a shorthand string stands for, or undefined when the string is plaintext. */
export function parseEnvShorthand(value: string, defaultEnvProvider: string): SecretRef | undefined {
  const m = SHORTHAND_RE.exec(value);
  const id = m?.[1] ?? m?.[2];
  return id === undefined ? undefined : { source: "env", provider: defaultEnvProvider, id };
}

/**
 * What a credential field holds: a ref (given as an object or a shorthand), plaintext, or nothing.
 * Invalid ref objects are reported by config validation before this is ever called.
 */
export type CredentialValue =
  | { kind: "ref"; ref: SecretRef; shorthand: boolean }
  | { kind: "plaintext"; value: string }
  | { kind: "empty" };

export function classifyCredential(value: unknown, defaultEnvProvider: string): CredentialValue {
  if (typeof value === "string") {
    if (value === "") return { kind: "empty" };
    const ref = parseEnvShorthand(value, defaultEnvProvider);
    return ref ? { kind: "ref", ref, shorthand: true } : { kind: "plaintext", value };
  }
  if (isValidSecretRef(value)) return { kind: "ref", ref: { source: value.source, provider: value.provider, id: value.id }, shorthand: false };
  return { kind: "empty" };
}

const SOURCE_SET: ReadonlySet<string> = new Set(SECRET_SOURCES);

/**
 * The same verdict as SecretRefSchema, without building zod issues: resolution classifies every
 * credential on every reload, and only an invalid ref needs the schema's messages.
 */
export function isValidSecretRef(value: unknown): value is SecretRef {
  if (!looksLikeRef(value)) return false;
  const keys = Object.keys(value);
  if (keys.length !== 3) return false;
  const { source, provider, id } = value as Record<string, unknown>;
  return (
    typeof source === "string" &&
    SOURCE_SET.has(source) &&
    typeof provider === "string" &&
    PROVIDER_ALIAS_RE.test(provider) &&
    typeof id === "string" &&
    id !== "" &&
    refIdProblem(source as SecretSource, id) === undefined
  );
}
