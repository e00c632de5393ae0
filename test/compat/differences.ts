/**
 * The deliberate differences from OpenClaw 2026.2.26 as docs/openclaw-compat.md lists them ("Differences from
 * OpenClaw", one `- **<id>**` bullet each): the suite reads them from the doc, so a difference the harness expects
 * must be documented, and a documented one the matrix exercises must be the one it shows.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const DOC = fileURLToPath(new URL("../../docs/openclaw-compat.md", import.meta.url));

/** The ids under "## Differences from OpenClaw", in order. */
export function documentedDifferences(): string[] {
  const text = readFileSync(DOC, "utf8");
  const start = text.indexOf("## Differences from OpenClaw");
  if (start === -1) return [];
  const rest = text.slice(start + 1);
  const end = rest.search(/\n## /);
  const section = end === -1 ? rest : rest.slice(0, end);
  return [...section.matchAll(/^- \*\*([a-z0-9-]+)\*\*/gm)].map((m) => m[1]!);
}
