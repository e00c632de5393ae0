/**
 * What a user reads points where they can follow: every docs/….md(#anchor) named in a string of node/, edge/
 * or shared/ (doctor hints, error texts) is a file in the repo with that heading, and no text names a document
 * the repo does not have ("seed §…", "openclaw-compat §…").
 */
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

async function sourceFiles(): Promise<string[]> {
  const out: string[] = [];
  for (const top of ["node", "edge", "shared"]) {
    for (const entry of await readdir(join(ROOT, top), { recursive: true })) if (entry.endsWith(".ts")) out.push(join(top, entry));
  }
  return out;
}

/** Code lines only: comment lines state purpose for the next engineer; strings are what a user reads. */
const codeLines = (text: string) => text.split("\n").filter((l) => !/^\s*(\/\/|\/\*|\*)/.test(l));

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
const slug = (heading: string) => heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s-]/gu, "").replace(/\s/g, "-");

it("every docs/ link in a user-facing string exists, anchors included; no string cites a document the repo lacks", async () => {
  const links = new Map<string, string[]>();
  const internal: string[] = [];
  for (const file of await sourceFiles()) {
    for (const line of codeLines(await readFile(join(ROOT, file), "utf8"))) {
      for (const m of line.matchAll(/docs\/[a-z0-9-]+\.md(#[a-z0-9-]+)?/g)) links.set(m[0], [...(links.get(m[0]) ?? []), file]);
      if (/\b(seed|openclaw-compat) §/.test(line)) internal.push(`${file}: ${line.trim()}`);
    }
  }
  expect(internal).toEqual([]);
  expect(links.size).toBeGreaterThan(0);
  const broken: string[] = [];
  for (const [link, files] of links) {
    const [path, anchor] = link.split("#") as [string, string | undefined];
    let text: string;
    try {
      text = await readFile(join(ROOT, path), "utf8");
    } catch {
      broken.push(`${link} (from ${files.join(", ")}): no such file`);
      continue;
    }
    const anchors = new Set(text.split("\n").filter((l) => /^#{1,6} /.test(l)).map((l) => slug(l.replace(/^#+ /, ""))));
    if (anchor && !anchors.has(anchor)) broken.push(`${link} (from ${files.join(", ")}): no heading with that anchor`);
  }
  expect(broken).toEqual([]);
});
