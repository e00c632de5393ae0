/** No source file in edge/ node/ shared/ is over 500 lines (docs/architecture.md): a longer one is split by responsibility. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { ROOT, sourceFiles } from "./source-graph.ts";

const MAX_LINES = 500;

const lineCount = (file: string) => readFileSync(join(ROOT, file), "utf8").split("\n").length - 1;

it(`keeps every source file at ${MAX_LINES} lines or fewer`, () => {
  const files = sourceFiles();
  expect(files.length).toBeGreaterThan(100); // the walk found the tree
  const long = files.map((file) => ({ file, lines: lineCount(file) })).filter(({ lines }) => lines > MAX_LINES);
  expect(long.map(({ file, lines }) => `${file}: ${lines} lines`)).toEqual([]);
});
