/** Finds, reads and validates openclaw.json (JSON5): line/column for syntax errors, the JSON path for every invalid field. */
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { resolve as resolvePath } from "node:path";
import JSON5 from "json5";
import type { z } from "zod";
import { findCredentials, isRecord } from "./credential-paths.ts";
import { DEFAULT_ENV_PROVIDER } from "./provider-config.ts";
import { SecretRefSchema, isValidSecretRef, looksLikeRef } from "./secret-ref.ts";
import { ConfigError, type ConfigIssue } from "./config-errors.ts";
import { type Config, ConfigSchema } from "./config-schema.ts";
import { expandHome } from "./home-path.ts";

export interface LoadedConfig {
  /** Absolute path of the file read. */
  readonly path: string;
  /** The whole document as parsed, unknown sections included: what a rewrite starts from. */
  readonly raw: Record<string, unknown>;
  /** The validated sections clawgate uses, defaults applied. */
  readonly config: Config;
  /** The env alias `${VAR}` shorthands resolve through. */
  readonly defaultEnvProvider: string;
}

/** `--config PATH`, else `$CLAWGATE_CONFIG`, else `~/.openclaw/openclaw.json`; `~` expanded, made absolute. */
export function resolveConfigPath(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  home: string = homedir(),
): string {
  const chosen = flag ?? (env["CLAWGATE_CONFIG"] || undefined) ?? "~/.openclaw/openclaw.json";
  return resolvePath(expandHome(chosen, home));
}

export interface LoadConfigIo {
  readFile?: (path: string) => Promise<string>;
}

export async function loadConfig(path: string, io: LoadConfigIo = {}): Promise<LoadedConfig> {
  return parseConfig(await readConfigText(path, io), path);
}

async function readConfigText(path: string, io: LoadConfigIo): Promise<string> {
  const read = io.readFile ?? ((p: string) => readFile(p, "utf8"));
  try {
    return await read(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      throw new ConfigError("ERR_CONFIG_NOT_FOUND", path, [{ path: "", message: "config file not found" }]);
    }
    throw new ConfigError("ERR_CONFIG_READ", path, [{ path: "", message: `cannot read config (${code ?? "error"})` }], {
      cause: error,
    });
  }
}

/**
 * A loader that reads the file on every call but parses and validates only when its text changed since
 * the last call: reloads re-read the config each time, and most of the time it has not changed. Safe
 * because a LoadedConfig is never mutated after validation.
 */
export function createCachingConfigLoader(io: LoadConfigIo = {}): (path: string) => Promise<LoadedConfig> {
  let last: { path: string; text: string; loaded: LoadedConfig } | undefined;
  return async (path) => {
    const text = await readConfigText(path, io);
    if (last && last.path === path && last.text === text) return last.loaded;
    const loaded = parseConfig(text, path);
    last = { path, text, loaded };
    return loaded;
  };
}

/** Parse and validate config text; `file` is only used in messages. */
export function parseConfig(text: string, file: string): LoadedConfig {
  let raw: unknown;
  const body = text.replace(/^\uFEFF/, "");
  try {
    // Plain JSON is valid JSON5 and parses ~20× faster natively; JSON5 handles the rest (and the errors).
    raw = parseJsonOrUndefined(body) ?? JSON5.parse(body);
  } catch (error) {
    const e = error as { lineNumber?: number; columnNumber?: number; message?: string };
    // JSON5's message quotes the offending character only ("invalid character '@' at 2:6"); we keep
    // just the position and the kind of error so no slice of a secret can ever reach a log.
    const kind = /JSON5: (invalid character|invalid end of input|[a-z ]+)/.exec(e.message ?? "")?.[1] ?? "syntax error";
    throw new ConfigError("ERR_CONFIG_SYNTAX", file, [
      { path: "", message: `JSON5 syntax error at line ${e.lineNumber ?? "?"}, column ${e.columnNumber ?? "?"}: ${kind}` },
    ]);
  }
  if (!isRecord(raw)) {
    throw new ConfigError("ERR_CONFIG_INVALID", file, [{ path: "", message: "config must be a JSON5 object" }]);
  }

  const issues: ConfigIssue[] = [];
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) issues.push(...zodIssues(parsed.error));
  issues.push(...credentialIssues(raw));
  if (!parsed.success || issues.length > 0) throw new ConfigError("ERR_CONFIG_INVALID", file, issues);

  const config = parsed.data;
  return { path: file, raw, config, defaultEnvProvider: config.secrets.defaults.env ?? DEFAULT_ENV_PROVIDER };
}

function parseJsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** zod issues as `path: message`; the message never quotes the input value. */
export function zodIssues(error: z.ZodError, prefix: readonly (string | number)[] = []): ConfigIssue[] {
  return error.issues.map((issue) => ({
    path: [...prefix, ...issue.path].map(String).join("."),
    message: issue.message,
  }));
}

/** Each credential field holds a string or a valid SecretRef; anything else names its path. */
function credentialIssues(raw: Record<string, unknown>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const match of findCredentials(raw)) {
    const { value, path } = match;
    if (value === undefined || value === null || typeof value === "string") continue;
    if (isValidSecretRef(value)) continue;
    if (looksLikeRef(value)) {
      const ref = SecretRefSchema.safeParse(value);
      if (!ref.success) issues.push(...zodIssues(ref.error, [path]));
      continue;
    }
    issues.push({ path, message: "expected SecretRef or string" });
  }
  return issues;
}
