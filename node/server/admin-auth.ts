/** Admin API credentials: the per-start local admin token file (compared by shared/constant-time.ts), and node.json. */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../config/atomic-write.ts";

export const ADMIN_TOKEN_FILE = "admin.token";
export const NODE_INFO_FILE = "node.json";

/** What the running agent tells local CLIs about itself (`<stateDir>/node.json`, 0600). */
export interface NodeInfo {
  readonly url: string;
  readonly pid: number;
  readonly startedAt: string;
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

export async function writeNodeInfo(stateDir: string, info: NodeInfo): Promise<void> {
  await writeFileAtomic(join(stateDir, NODE_INFO_FILE), `${JSON.stringify(info)}\n`);
}

export async function readNodeInfo(stateDir: string): Promise<NodeInfo | undefined> {
  try {
    const parsed = JSON.parse(await readFile(join(stateDir, NODE_INFO_FILE), "utf8")) as Partial<NodeInfo>;
    return typeof parsed.url === "string" && typeof parsed.pid === "number" ? (parsed as NodeInfo) : undefined;
  } catch {
    return undefined;
  }
}
