/** `npm run bench` as a real process refuses what it does not know with exit 2 and one line naming it, before running anything. */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const RUN = fileURLToPath(new URL("../../bench/run.ts", import.meta.url));

function bench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    // A refused argument exits at once; a bench that started running instead would take many seconds.
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`bench ${args.join(" ")} did not exit: it ran benches instead of refusing\n${stderr}`));
    }, 10_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe("bench arguments", () => {
  it.each([
    [["--smok"], "bench: unknown option --smok (known: --smoke, --vs-openclaw, --help)"],
    [["dispatch", "-s"], "bench: unknown option -s (known: --smoke, --vs-openclaw, --help)"],
    [["--smoke=yes"], 'bench: option --smoke takes no value, got "yes"'],
    [["--smoke", "dispatch", "nope"], "bench: unknown benchmark: nope (known: secrets, hooks, dispatch, runs, edge, outbox, console)"],
  ])("%j exits 2 with one line naming what it refused", async (args, line) => {
    const run = await bench(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(`${line}\n`);
    expect(run.stdout).toBe("");
  });

  it("--help prints the usage and exits 0", async () => {
    const run = await bench(["--help"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("usage: npm run bench -- [--smoke] [--vs-openclaw] [secrets|hooks|dispatch|runs|edge|outbox|console ...]\n");
  });
});
