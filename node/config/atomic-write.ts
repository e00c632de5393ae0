/** Crash-safe file replacement: write a sibling temp file with mode 0600, fsync it, rename over the target, fsync the folder. */
import { randomBytes } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/**
 * Replace `path` with `data` atomically. Readers see the old or the new file, never a mix; a crash leaves
 * at worst a stray `.tmp` file that holds the NEW content (mode 0600), never a plaintext backup of the old.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  const fh = await open(tmp, "wx", mode);
  try {
    await fh.writeFile(data);
    // The umask may have narrowed the mode; chmod makes it exact (0600 for secrets and config).
    await fh.chmod(mode);
    await fh.sync();
  } catch (error) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw error;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  // Persist the rename itself (POSIX: the directory entry lives in the folder).
  const dh = await open(dir, "r").catch(() => undefined);
  if (dh) await dh.sync().catch(() => {}).finally(() => dh.close());
}
