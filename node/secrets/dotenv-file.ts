/** Reads the `.env` beside openclaw.json and removes chosen variables from it, keeping every other line byte for byte. */
import { readFile } from "node:fs/promises";

/** One `KEY=value` assignment; `startLine`..`endLine` (inclusive) are the physical lines it spans. */
export interface DotenvEntry {
  readonly key: string;
  readonly value: string;
  readonly startLine: number;
  readonly endLine: number;
}

export interface DotenvDocument {
  /** The physical lines, each with its own line ending (`\n`, `\r\n` or none for the last). */
  readonly lines: readonly string[];
  readonly entries: readonly DotenvEntry[];
}

// The syntax of dotenv (motdotla/dotenv `lib/main.js`), which OpenClaw uses to load `~/.openclaw/.env`:
// optional `export `, a name, `=`, then a bare value (an inline comment starts at ` #`) or a quoted one.
const ASSIGNMENT_RE = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/s;

/** Split keeping each line's ending, so a scrubbed file keeps its CRLF or LF style. */
function splitLines(text: string): string[] {
  if (text === "") return [];
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

function stripEol(line: string): string {
  return line.replace(/\r?\n$/, "");
}

/** Parse `.env` text. Lines that are not assignments (comments, blanks, garbage) are kept as they are. */
export function parseDotenv(text: string): DotenvDocument {
  const lines = splitLines(text.replace(/^\uFEFF/, ""));
  const entries: DotenvEntry[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = ASSIGNMENT_RE.exec(stripEol(lines[i]!));
    if (!m) continue;
    const key = m[1]!;
    const rest = m[2]!;
    const quote = rest[0];
    if (quote === '"' || quote === "'" || quote === "`") {
      // A quoted value may span lines; it ends at the first unescaped matching quote.
      let body = rest.slice(1);
      let end = i;
      let close = findClose(body, quote);
      while (close < 0 && end + 1 < lines.length) {
        end++;
        body += `\n${stripEol(lines[end]!)}`;
        close = findClose(body, quote);
      }
      if (close < 0) {
        // No closing quote anywhere: dotenv takes the rest of the line literally.
        entries.push({ key, value: rest.trim(), startLine: i, endLine: i });
        continue;
      }
      const raw = body.slice(0, close);
      const value = quote === '"' ? unescapeDouble(raw) : raw;
      entries.push({ key, value, startLine: i, endLine: end });
      i = end;
      continue;
    }
    const comment = rest.search(/(^|\s)#/);
    const value = (comment < 0 ? rest : rest.slice(0, comment)).trim();
    entries.push({ key, value, startLine: i, endLine: i });
  }
  return { lines, entries };
}

function findClose(body: string, quote: string): number {
  for (let j = 0; j < body.length; j++) {
    if (body[j] === "\\" && quote === '"') {
      j++;
      continue;
    }
    if (body[j] === quote) return j;
  }
  return -1;
}

function unescapeDouble(raw: string): string {
  return raw.replace(/\\([nrt"\\])/g, (_, c: string) => ({ n: "\n", r: "\r", t: "\t" })[c as "n"] ?? c);
}

/** The value of each variable; a later assignment wins, as in dotenv. */
export function dotenvValues(doc: DotenvDocument): Map<string, string> {
  return new Map(doc.entries.map((e) => [e.key, e.value]));
}

export interface DotenvScrubResult {
  readonly text: string;
  /** The names whose assignments were removed (each once, in file order). */
  readonly removed: readonly string[];
}

/**
 * Remove every assignment of the given names (all lines of a multi-line value); comments, blank lines,
 * other variables and line endings stay exactly as they were.
 */
export function scrubDotenv(text: string, names: ReadonlySet<string>): DotenvScrubResult {
  const bom = text.startsWith("\uFEFF") ? "\uFEFF" : "";
  const doc = parseDotenv(text);
  const drop = new Set<number>();
  const removed: string[] = [];
  for (const entry of doc.entries) {
    if (!names.has(entry.key)) continue;
    for (let l = entry.startLine; l <= entry.endLine; l++) drop.add(l);
    if (!removed.includes(entry.key)) removed.push(entry.key);
  }
  if (drop.size === 0) return { text, removed };
  // Every kept line keeps its own ending, so CRLF files stay CRLF.
  const out = doc.lines.filter((_, i) => !drop.has(i)).join("");
  return { text: bom + out, removed };
}

/** The parsed `.env` at `path`, with its text, or undefined when the file does not exist. */
export async function readDotenvFile(path: string): Promise<{ text: string; doc: DotenvDocument } | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  return { text, doc: parseDotenv(text) };
}
