/** Runs one CLI for one id without a shell: bounded time and output, whole process group killed, exit status reported. */
import { spawn as cpSpawn } from "node:child_process";

export interface CommandResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  /** Set when we killed it: "timeout" or "output". */
  readonly killed?: "timeout" | "output";
}

export interface RunCommandOptions {
  readonly timeoutMs: number;
  readonly maxOutputBytes: number;
  readonly env?: NodeJS.ProcessEnv;
  readonly spawn?: typeof cpSpawn;
}

export function runCommand(argv: readonly string[], options: RunCommandOptions): Promise<CommandResult> {
  const spawn = options.spawn ?? cpSpawn;
  return new Promise((resolve) => {
    const [file, ...args] = argv;
    const child = spawn(file!, args, {
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "ignore"],
      shell: false,
      detached: true,
    });
    const chunks: Buffer[] = [];
    let bytes = 0;
    let killed: CommandResult["killed"];
    const kill = (why: NonNullable<CommandResult["killed"]>) => {
      killed ??= why;
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    };
    const timer = setTimeout(() => kill("timeout"), options.timeoutMs);
    child.stdout!.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > options.maxOutputBytes) kill("output");
      else chunks.push(chunk);
    });
    let spawnError = false;
    child.once("error", () => {
      spawnError = true;
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({
        code: spawnError ? 127 : code,
        signal,
        stdout: Buffer.concat(chunks).toString("utf8"),
        ...(killed ? { killed } : {}),
      });
    });
  });
}

/** A one-line, value-free description of why a command failed for an id. */
export function describeFailure(name: string, result: CommandResult): string {
  if (result.killed === "timeout") return `${name} timed out`;
  if (result.killed === "output") return `${name} printed too much output`;
  if (result.code === 127) return `${name} could not be started (is it installed and on PATH?)`;
  if (result.signal) return `${name} was killed by ${result.signal}`;
  return `${name} exited with code ${result.code}`;
}
