/** The admin API credential: the per-start local admin token file (compared by shared/constant-time.ts). */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../config/atomic-write.ts";

export const ADMIN_TOKEN_FILE = "admin.token";

/** A fresh random admin token written 0600 into the state dir, like a database's local socket cookie. */
export async function writeAdminToken(stateDir: string): Promise<string> {
  const token = randomBytes(32).toString("base64url");
  await writeFileAtomic(join(stateDir, ADMIN_TOKEN_FILE), `${token}\n`);
  return token;
}

export async function readAdminToken(stateDir: string): Promise<string | undefined> {
  try {
    return (await readFile(join(stateDir, ADMIN_TOKEN_FILE), "utf8")).trim() || undefined;
  } catch {
    return undefined;
  }
}
