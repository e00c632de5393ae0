/**
 * The exec secret provider: one invocation of an operator's resolver per pass with every id of the
 * provider (protocol v1 on stdin/stdout), no shell, a scrubbed environment, and hard limits enforced by
 * SIGKILL on the whole process group so no child or grandchild outlives the pass.
 */
import type { spawn as cpSpawn } from "node:child_process";
import { dirname } from "node:path";
import { EXEC_PROTOCOL_VERSION } from "../../shared/constants.ts";
import { expandHome } from "../config/home-path.ts";
import { checkSecureFile } from "./path-perms.ts";
import type { ExecProviderConfig, ResolutionLimits } from "../config/provider-config.ts";
import { type ProviderBatchResult, type SecretProvider, failAll } from "./provider-types.ts";
import { type ExecRunner, createInProcessRunner } from "./exec-runner.ts";
import { type SecretErrorCode, SecretResolutionError } from "./secret-errors.ts";

export interface ExecProviderOptions {
  /** Runs the resolver process; defaults to spawning in this process (the node agent uses its spawn host). */
  readonly runner?: ExecRunner;
  /** The in-process runner's spawn, when no `runner` is given (tests count invocations through it). */
  readonly spawn?: typeof cpSpawn;
  /** Where `passEnv` names are copied from. */
  readonly env?: NodeJS.ProcessEnv;
  readonly uid?: number | undefined;
  readonly home?: string;
}

/** Resolver messages are the resolver's own words; cap them so a chatty one cannot flood a log line. */
const MAX_ID_ERROR_CHARS = 200;

export function createExecProvider(
  alias: string,
  config: ExecProviderConfig,
  limits: Pick<ResolutionLimits, "maxRefsPerProvider" | "maxBatchBytes">,
  options: ExecProviderOptions = {},
): SecretProvider {
  const runner = options.runner ?? createInProcessRunner(options.spawn);
  const command = expandHome(config.command, options.home);
  const trustedDirs = config.trustedDirs.map((d) => expandHome(d, options.home));
  const configPath = `secrets.providers.${alias}.command`;
  const sourceEnv = options.env ?? process.env;

  const err = (code: SecretErrorCode, message: string) => new SecretResolutionError(code, `exec provider "${alias}": ${message}`);

  function childEnv(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const name of config.passEnv) {
      const value = sourceEnv[name];
      if (value !== undefined) env[name] = value;
    }
    return Object.assign(env, config.env);
  }

  return {
    alias,
    source: "exec",
    async resolve(requested): Promise<ProviderBatchResult> {
      const ids = [...new Set(requested)];
      if (ids.length > limits.maxRefsPerProvider) {
        return failAll(ids, err("ERR_SECRET_EXEC_BATCH_LIMIT", `${ids.length} ids exceed maxRefsPerProvider (${limits.maxRefsPerProvider})`));
      }
      const request = JSON.stringify({ protocolVersion: EXEC_PROTOCOL_VERSION, provider: alias, ids });
      if (Buffer.byteLength(request) > limits.maxBatchBytes) {
        return failAll(ids, err("ERR_SECRET_EXEC_BATCH_LIMIT", `request of ${Buffer.byteLength(request)} bytes exceeds maxBatchBytes (${limits.maxBatchBytes})`));
      }
      let realCommand: string;
      try {
        realCommand = await checkSecureFile(command, {
          kind: "exec",
          configPath,
          uid: options.uid,
          allowSymlink: config.allowSymlinkCommand,
          trustedDirs,
        });
      } catch (error) {
        return failAll(ids, error as SecretResolutionError);
      }
      const outcome = await runner({
        command: realCommand,
        args: config.args,
        cwd: dirname(command),
        env: childEnv(),
        input: request,
        timeoutMs: config.timeoutMs,
        noOutputTimeoutMs: config.noOutputTimeoutMs,
        maxOutputBytes: config.maxOutputBytes,
      });
      if (!outcome.ok) return failAll(ids, err(outcome.code, outcome.message));
      return parseResponse(outcome.stdout, ids);
    },
  };

  function parseResponse(stdout: string, ids: readonly string[]): ProviderBatchResult {
    const trimmed = stdout.trim();
    if (trimmed === "") return failAll(ids, err("ERR_SECRET_EXEC_PROTOCOL", "resolver printed nothing"));
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      parsed = undefined;
    }
    const isObject = typeof parsed === "object" && parsed !== null && !Array.isArray(parsed);
    if (!isObject) {
      // jsonOnly: false lets a plain CLI (`op read`, `pass show`) answer a single id with its raw output.
      if (!config.jsonOnly && ids.length === 1) return { values: new Map([[ids[0]!, trimmed]]), errors: new Map() };
      return failAll(ids, err("ERR_SECRET_EXEC_PROTOCOL", "response is not a JSON object"));
    }
    const response = parsed as { protocolVersion?: unknown; values?: unknown; errors?: unknown };
    if (response.protocolVersion !== EXEC_PROTOCOL_VERSION) {
      return failAll(ids, err("ERR_SECRET_EXEC_PROTOCOL", `response protocolVersion must be ${EXEC_PROTOCOL_VERSION}`));
    }
    if (typeof response.values !== "object" || response.values === null || Array.isArray(response.values)) {
      return failAll(ids, err("ERR_SECRET_EXEC_PROTOCOL", "response values must be an object"));
    }
    const valueMap = response.values as Record<string, unknown>;
    const errorMap =
      typeof response.errors === "object" && response.errors !== null ? (response.errors as Record<string, unknown>) : {};
    const values = new Map<string, string>();
    const errors = new Map<string, SecretResolutionError>();
    for (const id of ids) {
      if (Object.hasOwn(valueMap, id)) {
        const value = valueMap[id];
        if (typeof value === "string" && value !== "") values.set(id, value);
        else errors.set(id, err("ERR_SECRET_EXEC_PROTOCOL", `value for id "${id}" is not a non-empty string`));
      } else if (Object.hasOwn(errorMap, id)) {
        const message = (errorMap[id] as { message?: unknown } | null)?.message;
        const text = typeof message === "string" ? message.slice(0, MAX_ID_ERROR_CHARS) : "error";
        errors.set(id, err("ERR_SECRET_EXEC_ID_ERROR", `id "${id}": ${text}`));
      } else {
        errors.set(id, err("ERR_SECRET_EXEC_PROTOCOL", `response missing id "${id}"`));
      }
    }
    return { values, errors };
  }
}
