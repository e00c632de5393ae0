/** How local CLIs find the running daemon: `<stateDir>/node.json` (0600), written at start with its URL and pid. */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../config/atomic-write.ts";

export const NODE_INFO_FILE = "node.json";

/** What the running daemon tells local CLIs about itself (`<stateDir>/node.json`, 0600). */
export interface NodeInfo {
  readonly url: string;
  readonly pid: number;
  readonly startedAt: string;
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
