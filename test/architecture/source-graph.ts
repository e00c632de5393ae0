/** The import graph of edge/ node/ shared/ as madge reads it (type-only and dynamic imports included), for the architecture tests. */
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import madge from "madge";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const SOURCE_DIRS = ["edge", "node", "shared"] as const;

/** Every `.ts` file under the source folders, relative to the repository root with `/` separators. */
export function sourceFiles(): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".ts")) files.push(path);
    }
  };
  for (const dir of SOURCE_DIRS) walk(dir);
  return files.sort();
}

export interface SourceGraph {
  /** file → the local files it imports. */
  readonly imports: Record<string, string[]>;
  readonly fileCycles: string[][];
  /** Imports madge could not resolve to a file. */
  readonly unresolved: string[];
}

export async function readSourceGraph(): Promise<SourceGraph> {
  const previous = process.cwd();
  process.chdir(ROOT); // madge names files relative to the working directory
  try {
    const result = await madge([...SOURCE_DIRS], {
      fileExtensions: ["ts"],
      tsConfig: join(ROOT, "tsconfig.node.json"),
      detectiveOptions: { ts: { skipTypeImports: false, skipAsyncImports: false } },
    });
    const imports: Record<string, string[]> = {};
    for (const [file, deps] of Object.entries(result.obj())) imports[toPosix(file)] = deps.map(toPosix);
    return { imports, fileCycles: result.circular().map((cycle) => cycle.map(toPosix)), unresolved: result.warnings().skipped };
  } finally {
    process.chdir(previous);
  }
}

const toPosix = (path: string) => relative(ROOT, join(ROOT, path)).split("\\").join("/");

export const folderOf = (file: string) => file.slice(0, file.lastIndexOf("/"));

/**
 * Folder cycles: the strongly connected components (Tarjan) of the graph whose nodes are folders and whose edges
 * are imports between files of different folders; each component of two or more folders, with the imports that
 * close it.
 */
export function folderCycles(imports: Record<string, string[]>): { folders: string[]; imports: string[] }[] {
  const edges = new Map<string, Map<string, string[]>>();
  for (const [file, deps] of Object.entries(imports)) {
    for (const dep of deps) {
      const from = folderOf(file);
      const to = folderOf(dep);
      if (from === to) continue;
      const out = edges.get(from) ?? new Map<string, string[]>();
      out.set(to, [...(out.get(to) ?? []), `${file} → ${dep}`]);
      edges.set(from, out);
    }
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  let next = 0;
  const visit = (folder: string) => {
    index.set(folder, next);
    low.set(folder, next++);
    stack.push(folder);
    onStack.add(folder);
    for (const to of edges.get(folder)?.keys() ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(folder, Math.min(low.get(folder)!, low.get(to)!));
      } else if (onStack.has(to)) low.set(folder, Math.min(low.get(folder)!, index.get(to)!));
    }
    if (low.get(folder) === index.get(folder)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== folder);
      if (component.length > 1) components.push(component.sort());
    }
  };
  for (const folder of [...edges.keys()].sort()) if (!index.has(folder)) visit(folder);
  return components.map((folders) => ({
    folders,
    imports: folders.flatMap((from) => folders.flatMap((to) => edges.get(from)?.get(to) ?? [])),
  }));
}
