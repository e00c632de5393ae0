/**
 * The daemon's JSON log stream on a real pipe (node/server/logger.ts): lines logged in one turn of the event loop
 * leave in one write, nothing is held back once the loop idles, and lines still held when the process exits —
 * by `process.exit` right after logging — are written, in order, before it ends.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const LOGGER = fileURLToPath(new URL("../../../node/server/logger.ts", import.meta.url));

/** Runs `body` in a child whose stdout is a pipe; returns each chunk as the parent received it. */
function runChild(body: string): Promise<{ code: number | null; chunks: string[] }> {
  const script = `import { createLogger } from ${JSON.stringify(LOGGER)};\nconst logger = createLogger({ format: "json" });\n${body}`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  const chunks: string[] = [];
  child.stdout.setEncoding("utf8").on("data", (d: string) => chunks.push(d));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, chunks }));
  });
}

const messages = (chunks: string[]) =>
  chunks
    .join("")
    .split("\n")
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { msg: string }).msg);

describe("the JSON log stream", () => {
  it("writes the lines of one turn of the loop together, and every line once the loop idles", async () => {
    // Three lines in one turn; the parent is told when they are out by the fourth, logged a turn later.
    const { code, chunks } = await runChild(`
      logger.info("a"); logger.info("b"); logger.info("c");
      setTimeout(() => { logger.info("d"); setTimeout(() => process.exit(0), 200); }, 200);
    `);
    expect(code).toBe(0);
    expect(messages(chunks)).toEqual(["a", "b", "c", "d"]);
    // a, b and c arrived in one chunk (one write), before d.
    expect(chunks[0]!.split("\n").filter(Boolean)).toHaveLength(3);
  });

  it("writes the lines still held when the process exits right after logging them", async () => {
    const { code, chunks } = await runChild(`logger.info("first"); logger.error("last words"); process.exit(3);`);
    expect(code).toBe(3);
    expect(messages(chunks)).toEqual(["first", "last words"]);
  });

  it("writes every line, in order, when far more than a pipe holds is logged just before exit", async () => {
    const { code, chunks } = await runChild(`for (let i = 0; i < 2000; i++) logger.info("line " + i); process.exit(0);`);
    expect(code).toBe(0);
    expect(messages(chunks)).toEqual(Array.from({ length: 2000 }, (_, i) => `line ${i}`));
  });

  it("flushes what it holds when asked (pino's logger.flush)", async () => {
    const { code, chunks } = await runChild(`logger.info("before flush"); logger.flush(() => { process.stdout.write("FLUSHED\\n"); });`);
    expect(code).toBe(0);
    expect(chunks.join("")).toMatch(/"msg":"before flush"[^\n]*\n(.|\n)*FLUSHED/);
  });
});
