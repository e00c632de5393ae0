/**
 * Runs one resolver process for the exec provider: no shell, its own process group, stdin written once,
 * and SIGKILL to the whole group on the total timeout, on silence, or on too much output. Everything the
 * resolver started dies with the pass, so no child or grandchild outlives it.
 */
import { type ChildProcess, spawn as cpSpawn } from "node:child_process";
import type { SecretErrorCode } from "./secret-errors.ts";

/** What to run; plain data, so it can cross to the spawn host. */
export interface ExecSpec {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly input: string;
  readonly timeoutMs: number;
  readonly noOutputTimeoutMs: number;
  readonly maxOutputBytes: number;
}

/** The result; messages never include the resolver's output (it may hold secrets). */
export type ExecOutcome = { readonly ok: true; readonly stdout: string } | { readonly ok: false; readonly code: SecretErrorCode; readonly message: string };

export type ExecRunner = (spec: ExecSpec) => Promise<ExecOutcome>;

export function createInProcessRunner(spawn: typeof cpSpawn = cpSpawn): ExecRunner {
  return (spec) => runResolverProcess(spec, spawn);
}

export function runResolverProcess(
  spec: ExecSpec,
  spawn: typeof cpSpawn = cpSpawn,
  onSpawn?: (child: ChildProcess) => void,
): Promise<ExecOutcome> {
  return new Promise((resolve) => {
    const fail = (code: SecretErrorCode, message: string): ExecOutcome => ({ ok: false, code, message });
    let child: ChildProcess;
    try {
      child = spawn(spec.command, [...spec.args], {
        cwd: spec.cwd,
        env: { ...spec.env },
        stdio: ["pipe", "pipe", "pipe"],
        shell: false,
        // Its own process group: a kill reaches every process the resolver started.
        detached: true,
        windowsHide: true,
      });
    } catch (error) {
      resolve(fail("ERR_SECRET_EXEC_SPAWN", `cannot start ${spec.command} (${(error as NodeJS.ErrnoException).code ?? "error"})`));
      return;
    }

    onSpawn?.(child);
    const chunks: Buffer[] = [];
    let outputBytes = 0;
    let failure: ExecOutcome | undefined;
    const killGroup = (reason: ExecOutcome) => {
      failure ??= reason;
      killTree(child);
    };
    const totalTimer = setTimeout(() => killGroup(fail("ERR_SECRET_EXEC_TIMEOUT", `timed out after ${spec.timeoutMs} ms`)), spec.timeoutMs);
    let quietTimer: NodeJS.Timeout | undefined = setTimeout(
      () => killGroup(fail("ERR_SECRET_EXEC_NO_OUTPUT_TIMEOUT", `no output within noOutputTimeoutMs (${spec.noOutputTimeoutMs} ms)`)),
      spec.noOutputTimeoutMs,
    );
    const onOutput = (chunk: Buffer, keep: boolean) => {
      if (quietTimer) {
        clearTimeout(quietTimer);
        quietTimer = undefined;
      }
      outputBytes += chunk.length;
      if (outputBytes > spec.maxOutputBytes) {
        killGroup(fail("ERR_SECRET_EXEC_OUTPUT_TOO_LARGE", `stdout+stderr exceeded maxOutputBytes (${spec.maxOutputBytes})`));
        return;
      }
      if (keep) chunks.push(chunk);
    };
    child.stdout!.on("data", (c: Buffer) => onOutput(c, true));
    // stderr counts toward the limit but is never kept: it may echo a secret.
    child.stderr!.on("data", (c: Buffer) => onOutput(c, false));
    // A resolver that exits without reading stdin makes our write fail with EPIPE; its exit status tells the story.
    child.stdin!.on("error", () => {});
    child.stdin!.end(spec.input);

    child.once("error", (error: NodeJS.ErrnoException) => {
      failure ??= fail("ERR_SECRET_EXEC_SPAWN", `cannot start ${spec.command} (${error.code ?? "error"})`);
    });
    // 'close' fires after the process exited AND its stdio closed: nothing is left to reap.
    child.once("close", (code, signal) => {
      clearTimeout(totalTimer);
      if (quietTimer) clearTimeout(quietTimer);
      // Anything the resolver left running in its group dies with the pass. (The group id cannot have
      // been reused yet: Linux does not hand out a pid that is still some group's id.)
      killTree(child);
      if (failure) return resolve(failure);
      if (code !== 0) {
        return resolve(fail("ERR_SECRET_EXEC_EXIT", signal ? `resolver was killed by ${signal}` : `resolver exited with code ${code}`));
      }
      resolve({ ok: true, stdout: Buffer.concat(chunks).toString("utf8") });
    });
  });
}

/** SIGKILL the child's whole process group (it was spawned detached, so its pid is the group id). */
export function killTree(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // The group is already gone.
  }
}
