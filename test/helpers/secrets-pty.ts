/** Drives the real CLI inside a pseudo-terminal (util-linux `script`), answering prompts as they appear. */
import { spawn, spawnSync } from "node:child_process";
import { CLAWGATE_BIN } from "./run-cli.ts";

/** True when util-linux `script` is installed (it provides the pty; tmux is not needed). */
export function hasScript(): boolean {
  return spawnSync("script", ["--version"], { stdio: "ignore" }).status === 0;
}

const ANSI_RE = /\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r/g;

/** The keys clack understands. */
export const KEY = { enter: "\r", down: "\x1b[B", up: "\x1b[A" } as const;

export interface PtyStep {
  /** Wait until the output (ANSI stripped) after the previous step matches this... */
  readonly waitFor: RegExp;
  /** ...then type these keys. */
  readonly keys: string;
}

/**
 * Run `clawgate <args>` with a 120x40 terminal, play `steps`, and resolve with the exit code and the
 * ANSI-stripped transcript. Rejects (after SIGKILL) when a prompt does not show up in time.
 */
export async function runCliInPty(
  args: readonly string[],
  options: { env: NodeJS.ProcessEnv; steps: readonly PtyStep[]; timeoutMs?: number },
): Promise<{ code: number | null; output: string }> {
  const quote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
  const command = `stty cols 120 rows 40; exec ${[process.execPath, CLAWGATE_BIN, ...args].map(quote).join(" ")}`;
  // -e: return the child's exit code; -f: flush output at once; the transcript file is /dev/null.
  const child = spawn("script", ["-qefc", command, "/dev/null"], {
    env: { TERM: "xterm-256color", SHELL: "/bin/sh", ...options.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let raw = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (raw += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (raw += d));
  const closed = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  const text = () => raw.replace(ANSI_RE, "");
  try {
    let from = 0;
    for (const step of options.steps) {
      for (;;) {
        if (step.waitFor.test(text().slice(from))) break;
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`prompt ${step.waitFor} did not appear:\n${text()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      from = text().length;
      // Let the prompt finish attaching its keypress listener before typing.
      await new Promise((r) => setTimeout(r, 40));
      child.stdin.write(step.keys);
    }
    const timer = setTimeout(() => child.kill("SIGKILL"), Math.max(deadline - Date.now(), 1_000));
    const code = await closed;
    clearTimeout(timer);
    return { code, output: text() };
  } catch (error) {
    child.kill("SIGKILL");
    await closed;
    throw error;
  }
}
