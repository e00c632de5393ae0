/** `secrets configure`: writes the migrated values into a file provider's store — the one place a value may live. */
import { lstat, mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { writeFileAtomic } from "../config/atomic-write.ts";
import { isForbiddenSegment, isRecord } from "../config/credential-paths.ts";
import { expandHome } from "../config/home-path.ts";
import { ConfigureError } from "./configure-error.ts";
import { formatPointer, parsePointer } from "./json-pointer.ts";

export interface StoreWriteResult {
  readonly file: string;
  readonly count: number;
  /** False when the file already held exactly these values (nothing written). */
  readonly changed: boolean;
}

/**
 * Put values into a file provider's store: a JSON object (json mode, one pointer per id, other keys kept)
 * or the single value (singleValue mode). Folder 0700 if created, file 0600, atomic, never via a symlink.
 */
export async function writeFileStore(
  provider: Record<string, unknown>,
  entries: readonly { id: string; value: string }[],
  home?: string,
): Promise<StoreWriteResult> {
  const file = expandHome(String(provider["path"]), home);
  let existing: string | undefined;
  try {
    if ((await lstat(file)).isSymbolicLink()) {
      throw new ConfigureError("ERR_CONFIGURE_STORE", `refusing to write the secret store through a symlink: ${file}`);
    }
    existing = await readFile(file, "utf8");
  } catch (error) {
    if (error instanceof ConfigureError) throw error;
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new ConfigureError("ERR_CONFIGURE_STORE", `cannot read the secret store ${file} (${(error as NodeJS.ErrnoException).code ?? "error"})`, {
        cause: error,
      });
    }
  }

  let text: string;
  if (provider["mode"] === "singleValue") {
    if (entries.length !== 1) {
      throw new ConfigureError("ERR_CONFIGURE_STORE", `singleValue store ${file} holds exactly one value, not ${entries.length}`);
    }
    text = `${entries[0]!.value}\n`;
  } else {
    let doc: Record<string, unknown> = {};
    if (existing !== undefined && existing.trim() !== "") {
      let parsed: unknown;
      try {
        parsed = JSON.parse(existing.replace(/^\uFEFF/, ""));
      } catch {
        throw new ConfigureError("ERR_CONFIGURE_STORE", `the secret store ${file} is not valid JSON; fix or move it first`);
      }
      if (!isRecord(parsed)) throw new ConfigureError("ERR_CONFIGURE_STORE", `the secret store ${file} is not a JSON object`);
      doc = parsed;
    }
    for (const { id, value } of entries) setAtSegments(doc, parsePointer(id), value, file);
    text = `${JSON.stringify(doc, null, 2)}\n`;
  }
  if (text === existing) return { file, count: entries.length, changed: false };
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, text, 0o600);
  return { file, count: entries.length, changed: true };
}

function setAtSegments(doc: Record<string, unknown>, segments: readonly string[], value: string, file: string): void {
  if (segments.length === 0) throw new ConfigureError("ERR_CONFIGURE_STORE", `cannot store a value at the root of ${file}`);
  let node = doc;
  for (const [i, segment] of segments.entries()) {
    if (isForbiddenSegment(segment)) throw new ConfigureError("ERR_CONFIGURE_STORE", `segment "${segment}" is not allowed in a pointer`);
    if (i === segments.length - 1) {
      node[segment] = value;
      return;
    }
    const child = Object.hasOwn(node, segment) ? node[segment] : undefined;
    if (child === undefined) node = node[segment] = {} as Record<string, unknown>;
    else if (isRecord(child)) node = child;
    else throw new ConfigureError("ERR_CONFIGURE_STORE", `${formatPointer(segments.slice(0, i + 1))} in ${file} is not an object`);
  }
}
