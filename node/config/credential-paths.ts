/** The registry of config paths that hold credentials: it drives validation, resolution, audit and apply. */

/**
 * One credential path. `pattern` is dotted with `*` matching any object key or array index.
 * `type` is the plan-file target type (docs/openclaw-compat.md §4). `envNames` are the conventional environment
 * variable names for the credential, used by audit to spot `.env` plaintext and env shadowing.
 */
export interface CredentialPathSpec {
  readonly type: string;
  readonly pattern: string;
  /** Environment variable names conventionally holding this credential; `{1}` is the first `*` match, upper-cased. */
  readonly envNames?: readonly string[];
  /** Whether a plaintext string at this match is a finding (default true). */
  readonly sensitive?: (segments: readonly string[]) => boolean;
  /** Whether the match is on an active surface (default true): disabled channels and skills are not resolved. */
  readonly active?: (config: Record<string, unknown>, segments: readonly string[]) => boolean;
}

/** Header names that carry credentials; other headers (`anthropic-version`) may be plaintext. */
const SENSITIVE_HEADER_RE = /auth|key|token|secret|cookie|password|signature|credential/i;

const enabledAt =
  (depth: number) =>
  (config: Record<string, unknown>, segments: readonly string[]): boolean => {
    const owner = getPath(config, segments.slice(0, depth));
    return !(isRecord(owner) && owner["enabled"] === false);
  };

export const CREDENTIAL_PATHS: readonly CredentialPathSpec[] = [
  { type: "models.providers.apiKey", pattern: "models.providers.*.apiKey", envNames: ["{1}_API_KEY"] },
  {
    type: "models.providers.headers",
    pattern: "models.providers.*.headers.*",
    sensitive: (s) => SENSITIVE_HEADER_RE.test(s[4] ?? ""),
  },
  { type: "skills.entries.apiKey", pattern: "skills.entries.*.apiKey", active: enabledAt(3) },
  { type: "gateway.auth.token", pattern: "gateway.auth.token", envNames: ["OPENCLAW_GATEWAY_TOKEN"] },
  { type: "gateway.auth.password", pattern: "gateway.auth.password", envNames: ["OPENCLAW_GATEWAY_PASSWORD"] },
  // Unlike OpenClaw, the hook token may be a SecretRef (its issues #82439, #140421).
  {
    type: "hooks.token",
    pattern: "hooks.token",
    envNames: ["OPENCLAW_HOOKS_TOKEN"],
    active: (c) => !(isRecord(c["hooks"]) && c["hooks"]["enabled"] === false),
  },
  { type: "channels.botToken", pattern: "channels.*.botToken", envNames: ["{1}_BOT_TOKEN"], active: enabledAt(2) },
  { type: "channels.appToken", pattern: "channels.*.appToken", envNames: ["{1}_APP_TOKEN"], active: enabledAt(2) },
  {
    type: "channels.signingSecret",
    pattern: "channels.*.signingSecret",
    envNames: ["{1}_SIGNING_SECRET"],
    active: enabledAt(2),
  },
  { type: "channels.token", pattern: "channels.*.token", envNames: ["{1}_TOKEN"], active: enabledAt(2) },
  // The node agent's own keys: per-agent runtime credentials (an OpenAI-compatible key, an OpenClaw hook token).
  { type: "agents.runtime.apiKey", pattern: "agents.list.*.runtime.apiKey" },
  { type: "agents.runtime.token", pattern: "agents.list.*.runtime.token" },
  // The edge's operator token, for the console's Edge page: the node calls the edge, the browser never holds it.
  { type: "clawgate.edge.operatorToken", pattern: "clawgate.edge.operatorToken" },
];

/** A credential location found in a config object. */
export interface CredentialMatch {
  readonly spec: CredentialPathSpec;
  readonly segments: readonly string[];
  /** Dotted form used in messages and plan files: `models.providers.openai.apiKey`. */
  readonly path: string;
  readonly value: unknown;
  readonly active: boolean;
}

const FORBIDDEN_SEGMENTS = new Set(["__proto__", "prototype", "constructor"]);

export function isForbiddenSegment(segment: string): boolean {
  return FORBIDDEN_SEGMENTS.has(segment);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Own-property lookup along `segments` (array indices as strings); never walks a prototype. */
export function getPath(root: unknown, segments: readonly string[]): unknown {
  let node: unknown = root;
  for (const segment of segments) {
    if (typeof node !== "object" || node === null || !Object.hasOwn(node, segment)) return undefined;
    node = (node as Record<string, unknown>)[segment];
  }
  return node;
}

/** Dotted form of a path; segments that contain a dot are bracket-quoted so the form stays unambiguous. */
export function formatPath(segments: readonly string[]): string {
  return segments.map((s, i) => (/^[A-Za-z0-9_$-]+$/.test(s) ? (i === 0 ? s : `.${s}`) : `[${JSON.stringify(s)}]`)).join("");
}

const compiled = CREDENTIAL_PATHS.map((spec) => ({ spec, parts: spec.pattern.split(".") }));

/** Parsed documents are never mutated after validation, so a walk is done once per document. */
const walked = new WeakMap<object, readonly CredentialMatch[]>();

/** Every credential location present in `config` (present = the key exists, whatever its value). */
export function findCredentials(config: Record<string, unknown>): readonly CredentialMatch[] {
  let cached = walked.get(config);
  if (!cached) walked.set(config, (cached = Object.freeze(walkCredentials(config))));
  return cached;
}

function walkCredentials(config: Record<string, unknown>): CredentialMatch[] {
  const out: CredentialMatch[] = [];
  for (const { spec, parts } of compiled) {
    walk(config, parts, 0, [], (segments, value) => {
      out.push({
        spec,
        segments,
        path: formatPath(segments),
        value,
        active: spec.active ? spec.active(config, segments) : true,
      });
    });
  }
  return out;
}

function walk(
  node: unknown,
  parts: readonly string[],
  index: number,
  prefix: string[],
  visit: (segments: string[], value: unknown) => void,
): void {
  if (index === parts.length) {
    visit(prefix, node);
    return;
  }
  if (typeof node !== "object" || node === null) return;
  const part = parts[index]!;
  const keys = part === "*" ? Object.keys(node) : Object.hasOwn(node, part) ? [part] : [];
  for (const key of keys) {
    if (isForbiddenSegment(key)) continue;
    walk((node as Record<string, unknown>)[key], parts, index + 1, [...prefix, key], visit);
  }
}

/** The registry entry whose pattern matches `segments` exactly, if any (plan targets are checked with this). */
export function credentialSpecFor(segments: readonly string[]): CredentialPathSpec | undefined {
  return compiled.find(
    ({ parts }) => parts.length === segments.length && parts.every((p, i) => p === "*" || p === segments[i]),
  )?.spec;
}

/** Conventional env variable names for a match (`models.providers.openai.apiKey` → `OPENAI_API_KEY`). */
export function envNamesFor(match: Pick<CredentialMatch, "spec" | "segments">): string[] {
  const parts = match.spec.pattern.split(".");
  const wild = parts.flatMap((p, i) => (p === "*" ? [match.segments[i] ?? ""] : []));
  return (match.spec.envNames ?? []).map((name) =>
    name.replace(/\{(\d)\}/g, (_, n: string) => (wild[Number(n) - 1] ?? "").toUpperCase().replace(/[^A-Z0-9]/g, "_")),
  );
}

export function isSensitive(match: Pick<CredentialMatch, "spec" | "segments">): boolean {
  return match.spec.sensitive ? match.spec.sensitive(match.segments) : true;
}
