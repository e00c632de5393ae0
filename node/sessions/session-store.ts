/**
 * Session transcripts: one JSON-lines file (0600) per session key under `<stateDir>/sessions/`, so the same
 * `sessionKey` continues its conversation across runs and restarts — the history is fed to the next run
 * (OpenClaw issue #29518 is the bug this avoids). File names come from keys but can never escape the directory.
 */
import { createHash } from "node:crypto";
import { chmodSync, closeSync, fstatSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { ChatMessage } from "../runtimes/runtime-types.ts";

export const SESSIONS_DIR = "sessions";

export interface TranscriptEntry extends ChatMessage {
  /** ms since epoch */
  readonly at: number;
  readonly runId?: string;
}

export interface SessionStore {
  /** The last `maxMessages` turns of a session (oldest first); [] for a new session. */
  history(sessionKey: string, maxMessages?: number): ChatMessage[];
  append(sessionKey: string, entries: readonly TranscriptEntry[]): void;
  /** The transcript file of a key (for operators and tests). */
  fileOf(sessionKey: string): string;
}

/** OpenClaw stores sessions as `agent:<id>:<key>` (docs/openclaw-compat.md §7): `hook:<uuid>` → `agent:main:hook:<uuid>`. */
export function storedSessionKey(agentId: string, sessionKey: string): string {
  return sessionKey.startsWith("agent:") ? sessionKey : `agent:${agentId}:${sessionKey}`;
}

export function mainSessionKey(agentId: string): string {
  return `agent:${agentId}:main`;
}

/**
 * A readable, collision-free, traversal-proof file name: the key's safe characters (at most 80) plus a SHA-256
 * prefix of the whole key, so `a/b` and `a_b` differ and `../x` cannot leave the directory.
 */
export function sessionFileName(sessionKey: string): string {
  const readable = sessionKey.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 80);
  const digest = createHash("sha256").update(sessionKey).digest("hex").slice(0, 16);
  return `${readable}.${digest}.jsonl`;
}

export function createSessionStore(stateDir: string, options: { defaultHistory?: number; compactAboveBytes?: number; keepOnCompact?: number } = {}): SessionStore {
  const compactAboveBytes = options.compactAboveBytes ?? 4 * 1024 * 1024;
  const keepOnCompact = options.keepOnCompact ?? 1000;
  const dir = join(stateDir, SESSIONS_DIR);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const defaultHistory = options.defaultHistory ?? 50;
  const fileOf = (key: string) => join(dir, sessionFileName(key));
  return {
    fileOf,
    history(sessionKey, maxMessages = defaultHistory) {
      let text: string;
      try {
        text = readFileSync(fileOf(sessionKey), "utf8");
      } catch (error) {
        if ((error as { code?: string }).code === "ENOENT") return [];
        throw error;
      }
      const out: ChatMessage[] = [];
      for (const line of text.split("\n")) {
        if (line === "") continue;
        try {
          const e = JSON.parse(line) as TranscriptEntry;
          if ((e.role === "user" || e.role === "assistant" || e.role === "system") && typeof e.content === "string") out.push({ role: e.role, content: e.content });
        } catch {
          // a torn last line after a crash: skip it, keep the rest
        }
      }
      return out.slice(-maxMessages);
    },
    append(sessionKey, entries) {
      if (entries.length === 0) return;
      const fd = openSync(fileOf(sessionKey), "a", 0o600);
      let size = 0;
      try {
        // A leading newline would be needed only after a torn line; JSON.parse skips empty lines either way.
        writeSync(fd, entries.map((e) => JSON.stringify(e)).join("\n") + "\n");
        fsyncSync(fd);
        size = fstatSync(fd).size;
      } finally {
        closeSync(fd);
      }
      // A long-lived session (the main one gets every heartbeat) is trimmed to its last turns, atomically, so
      // reading its history stays cheap; only `keepOnCompact` turns could ever be fed to a run anyway.
      if (size > compactAboveBytes) {
        const file = fileOf(sessionKey);
        const lines = readFileSync(file, "utf8").split("\n").filter((l) => l !== "");
        const tmp = `${file}.compact.tmp`;
        const out = openSync(tmp, "w", 0o600);
        try {
          writeSync(out, lines.slice(-keepOnCompact).join("\n") + "\n");
          fsyncSync(out);
        } finally {
          closeSync(out);
        }
        renameSync(tmp, file);
      }
    },
  };
}
