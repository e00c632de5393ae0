/**
 * Imports point one way (docs/architecture.md): no cycle between files or between folders of edge/ node/ shared/,
 * shared/ imports neither half, and the halves never import each other. madge reads the graph, type-only and
 * dynamic imports included.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { type SourceGraph, folderCycles, readSourceGraph, sourceFiles } from "./source-graph.ts";

let graph: SourceGraph;
beforeAll(async () => {
  graph = await readSourceGraph();
}, 120_000);

describe("the import graph of edge/ node/ shared/", () => {
  it("covers every source file and resolves every local import", () => {
    expect(Object.keys(graph.imports).sort()).toEqual(sourceFiles());
    // Anything madge could not resolve must be a package or a runtime builtin, never a local path it lost.
    expect(graph.unresolved.filter((specifier) => specifier.startsWith(".") || specifier.startsWith("/") || specifier.endsWith(".ts"))).toEqual([]);
  });

  it("has no cycle between files", () => {
    expect(graph.fileCycles.map((cycle) => cycle.join(" → "))).toEqual([]);
  });

  it("has no cycle between folders", () => {
    expect(folderCycles(graph.imports)).toEqual([]);
  });

  it("keeps shared/ free of both halves, and the halves apart", () => {
    const crossing = Object.entries(graph.imports).flatMap(([file, deps]) =>
      deps
        .filter((dep) => {
          if (file.startsWith("shared/")) return !dep.startsWith("shared/");
          if (file.startsWith("edge/")) return dep.startsWith("node/");
          return dep.startsWith("edge/");
        })
        .map((dep) => `${file} → ${dep}`),
    );
    expect(crossing).toEqual([]);
  });
});

describe("folderCycles", () => {
  it("finds a cycle through three folders and names the imports that close it, and none in a one-way graph", () => {
    const cyclic = {
      "a/x.ts": ["b/y.ts"],
      "b/y.ts": ["c/z.ts"],
      "c/z.ts": ["a/w.ts"],
      "a/w.ts": [],
      "d/v.ts": ["a/x.ts"],
    };
    expect(folderCycles(cyclic)).toEqual([{ folders: ["a", "b", "c"], imports: ["a/x.ts → b/y.ts", "b/y.ts → c/z.ts", "c/z.ts → a/w.ts"] }]);
    expect(folderCycles({ "a/x.ts": ["b/y.ts"], "b/y.ts": ["c/z.ts"], "a/w.ts": ["a/x.ts"] })).toEqual([]);
  });
});
