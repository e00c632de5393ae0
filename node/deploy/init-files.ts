/**
 * Files `clawgate init` writes, and which of them it may write again. A manifest in the edge project records the
 * sha-256 of every file init wrote; a file whose content still matches is init's to update, any other existing
 * file is the operator's and is only replaced when they say so (and then kept as a `.bak` copy).
 */
import { createHash } from "node:crypto";
import { copyFile, mkdir, open, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { writeFileAtomic } from "../config/atomic-write.ts";

export const INIT_MANIFEST = ".clawgate-init.json";

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

export type FileState = "missing" | "same" | "ours" | "theirs";

export interface InitFiles {
  /** What writing `content` to `path` would do: nothing (same), a new file, an update of init's own file, or replace the operator's. */
  state(path: string, content: string): Promise<FileState>;
  /** Writes (atomically, with `mode`) and records the file as init's; `backup` first copies an existing file to `<path>.bak`. */
  write(path: string, content: string, mode: number, options?: { backup?: boolean }): Promise<void>;
  /** Creates a new private file (0600), never replacing one: a key file may be the only copy of a key. */
  writeNewPrivate(path: string, content: string): Promise<void>;
  /** Saves the manifest when anything was written. */
  save(): Promise<void>;
}

export async function openInitFiles(edgeDir: string): Promise<InitFiles> {
  const manifestPath = join(edgeDir, INIT_MANIFEST);
  let written: Record<string, string> = {};
  try {
    written = (JSON.parse(await readFile(manifestPath, "utf8")) as { files?: Record<string, string> }).files ?? {};
  } catch {
    written = {};
  }
  let dirty = false;
  const record = (path: string, content: string) => {
    written[path] = sha256(content);
    dirty = true;
  };
  return {
    async state(path, content) {
      let existing: string;
      try {
        existing = await readFile(path, "utf8");
      } catch {
        return "missing";
      }
      if (existing === content) return "same";
      return written[path] === sha256(existing) ? "ours" : "theirs";
    },
    async write(path, content, mode, options = {}) {
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      if (options.backup) await copyFile(path, `${path}.bak`).catch(() => undefined);
      await writeFileAtomic(path, content, mode);
      record(path, content);
    },
    async writeNewPrivate(path, content) {
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      const fh = await open(path, "wx", 0o600);
      try {
        await fh.chmod(0o600);
        await fh.writeFile(content);
      } finally {
        await fh.close();
      }
      record(path, content);
    },
    async save() {
      if (!dirty) return;
      await mkdir(edgeDir, { recursive: true, mode: 0o700 });
      await writeFileAtomic(manifestPath, `${JSON.stringify({ files: written }, null, 2)}\n`);
    },
  };
}
