/** RFC 6901 JSON pointers: parse, format, read and write along own properties only (no prototype walking). */

const FORBIDDEN = new Set(["__proto__", "prototype", "constructor"]);

export class JsonPointerError extends Error {
  override readonly name = "JsonPointerError";
  readonly code = "ERR_JSON_POINTER";
}

/** `/a~1b/c~0d` → `["a/b", "c~d"]`. RFC 6901 §4: decode `~1` before `~0`, so `~01` is `~1`. */
export function parsePointer(pointer: string): string[] {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) throw new JsonPointerError(`JSON pointer must start with "/"`);
  if (/~[^01]|~$/.test(pointer)) throw new JsonPointerError(`JSON pointer has an invalid ~ escape`);
  return pointer
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

/** `["a/b", "c~d"]` → `/a~1b/c~0d`: escape `~` first, then `/`. */
export function formatPointer(segments: readonly string[]): string {
  return segments.map((s) => `/${s.replace(/~/g, "~0").replace(/\//g, "~1")}`).join("");
}

export type PointerLookup = { found: true; value: unknown } | { found: false };

const ARRAY_INDEX = /^(0|[1-9][0-9]*)$/;

export function getAtPointer(doc: unknown, pointer: string): PointerLookup {
  let node = doc;
  for (const segment of parsePointer(pointer)) {
    if (Array.isArray(node)) {
      if (!ARRAY_INDEX.test(segment)) return { found: false };
      const index = Number(segment);
      if (index >= node.length) return { found: false };
      node = node[index];
    } else if (typeof node === "object" && node !== null && Object.hasOwn(node, segment)) {
      node = (node as Record<string, unknown>)[segment];
    } else {
      return { found: false };
    }
  }
  return { found: true, value: node };
}

/** Set `value` at `segments`, creating plain objects on the way; prototype-polluting segments are refused. */
export function setAtPointer(doc: Record<string, unknown>, segments: readonly string[], value: unknown): void {
  if (segments.length === 0) throw new JsonPointerError("cannot replace the whole document");
  let node: Record<string, unknown> = doc;
  for (const [i, segment] of segments.entries()) {
    if (FORBIDDEN.has(segment)) throw new JsonPointerError(`JSON pointer segment "${segment}" is not allowed`);
    if (i === segments.length - 1) {
      node[segment] = value;
      return;
    }
    const next = Object.hasOwn(node, segment) ? node[segment] : undefined;
    if (typeof next !== "object" || next === null || Array.isArray(next)) {
      const created: Record<string, unknown> = {};
      node[segment] = created;
      node = created;
    } else {
      node = next as Record<string, unknown>;
    }
  }
}
