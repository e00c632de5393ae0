/**
 * The exec secret provider: one invocation of an operator's resolver per pass with every id of the
 * provider (protocol v1 on stdin/stdout), no shell, a scrubbed environment, and hard limits enforced by
 * SIGKILL on the whole process group so no child or grandchild outlives the pass.
 */
import { type ChildProcess, spawn as cpSpawn } from "node:child_process";
import { dirname } from "node:path";
import { EXEC_PROTOCOL_VERSION } from "../../shared/constants.ts";
import { expandHome } from "../config/home-path.ts";
import { checkSecureFile } from "./path-perms.ts";
import type { ExecProviderConfig, ResolutionLimits } from "./provider-config.ts";
import { type ProviderBatchResult, type SecretProvider, failAll } from "./provider-types.ts";
import { type SecretErrorCode, SecretResolutionError } from "./secret-errors.ts";

export interface ExecProviderOptions {
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
  const spawn = options.spawn ?? cpSpawn;
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
      let stdout: string;
      try {
        stdout = await run(realCommand, request);
      } catch (error) {
        return failAll(ids, error as SecretResolutionError);
      }
      return parseResponse(stdout, ids);
    },
  };

  function run(realCommand: string, request: string): Promise<string> {
    return new Promise((resolve, reject) => {
      let child: ChildProcess;
      try {
        child = spawn(realCommand, config.args, {
          cwd: dirname(command),
          env: childEnv(),
          stdio: ["pipe", "pipe", "pipe"],
          shell: false,
          // Its own process group: a kill reaches every process the resolver started.
          detached: true,
          windowsHide: true,
        });
      } catch (error) {
        reject(err("ERR_SECRET_EXEC_SPAWN", `cannot start ${command} (${(error as NodeJS.ErrnoException).code ?? "error"})`));
        return;
      }

      const chunks: Buffer[] = [];
      let outputBytes = 0;
      let failure: SecretResolutionError | undefined;
      const killGroup = (reason: SecretResolutionError) => {
        failure ??= reason;
        killTree(child);
      };
      const totalTimer = setTimeout(
        () => killGroup(err("ERR_SECRET_EXEC_TIMEOUT", `timed out after ${config.timeoutMs} ms`)),
        config.timeoutMs,
      );
      let quietTimer: NodeJS.Timeout | undefined = setTimeout(
        () => killGroup(err("ERR_SECRET_EXEC_NO_OUTPUT_TIMEOUT", `no output within noOutputTimeoutMs (${config.noOutputTimeoutMs} ms)`)),
        config.noOutputTimeoutMs,
      );
      const onOutput = (chunk: Buffer, keep: boolean) => {
        if (quietTimer) {
          clearTimeout(quietTimer);
          quietTimer = undefined;
        }
        outputBytes += chunk.length;
        if (outputBytes > config.maxOutputBytes) {
          killGroup(err("ERR_SECRET_EXEC_OUTPUT_TOO_LARGE", `stdout+stderr exceeded maxOutputBytes (${config.maxOutputBytes})`));
          return;
        }
        if (keep) chunks.push(chunk);
      };
      child.stdout!.on("data", (c: Buffer) => onOutput(c, true));
      // stderr counts toward the limit but is never kept: it may echo a secret.
      child.stderr!.on("data", (c: Buffer) => onOutput(c, false));
      // A resolver that exits without reading stdin makes our write fail with EPIPE; its exit status tells the story.
      child.stdin!.on("error", () => {});
      child.stdin!.end(request);

      child.once("error", (error: NodeJS.ErrnoException) => {
        failure ??= err("ERR_SECRET_EXEC_SPAWN", `cannot start ${command} (${error.code ?? "error"})`);
      });
      // 'close' fires after the process exited AND its stdio closed: nothing is left to reap.
      child.once("close", (code, signal) => {
        clearTimeout(totalTimer);
        if (quietTimer) clearTimeout(quietTimer);
        // Anything the resolver left running in its group dies with the pass.
        killTree(child);
        if (failure) return reject(failure);
        if (code !== 0) {
          return reject(err("ERR_SECRET_EXEC_EXIT", signal ? `resolver was killed by ${signal}` : `resolver exited with code ${code}`));
        }
        resolve(Buffer.concat(chunks).toString("utf8"));
      });
    });
  }

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

/** SIGKILL the child's whole process group (it was spawned detached, so its pid is the group id). */
function killTree(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // The group is already gone.
  }
}
