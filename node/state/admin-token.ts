/** Admin API credentials: the gateway token from the secrets snapshot, or the per-start local admin token file. */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../config/atomic-write.ts";

export const ADMIN_TOKEN_FILE = "admin.token";

const digest = (s: string) => createHash("sha256").update(s).digest();

/**
 * Constant-time comparison of a presented token against each accepted one. Hashing first gives equal
 * lengths, so neither the content nor the length of an accepted token leaks through timing.
 */
export function tokenMatches(presented: string, accepted: readonly string[]): boolean {
  const p = digest(presented);
  let ok = false;
  for (const token of accepted) ok = timingSafeEqual(p, digest(token)) || ok;
  return ok;
}

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
