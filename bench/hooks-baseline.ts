/**
 * The hooks bench's baselines: a bare `node:http` server doing the agent's verification of `POST /hooks/wake`
 * (the edge envelope through shared/envelope.ts, or the hook token compared in constant time), the same payload
 * validation, and then one of: (a) `fsync`: one durable insert per request (node:sqlite, WAL, synchronous=FULL,
 * one transaction each); (b) `memory`: no journal at all — the ceiling of the HTTP path, and what an in-memory
 * gateway does; (c) `floor`: the least any durable server adds to (b) — each wake a line appended to a plain
 * file, one write and one fdatasync per group of wakes that arrive together (the agent's group-commit policy),
 * with no index, no idempotency and no audit line. Run as
 * `node bench/hooks-baseline.ts <dir> <public JWK> <hook token> fsync|memory|floor`; it prints its URL when
 * listening.
 */
import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import { fdatasync, fsyncSync, openSync, writeSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { ENVELOPE_HEADER, createEnvelopeVerifier, createMemoryReplayCache } from "../shared/envelope.ts";
import { nodeBodySha256 } from "../node/intake/token-match.ts";
import { hookPayloadOf, normalizeWakePayload, parseHookBody } from "../shared/hook-payloads.ts";

export type BaselineJournal = "fsync" | "memory" | "floor";

const WAKE_ANSWER = JSON.stringify({ ok: true, mode: "now" });
const UNAUTHORIZED = '{"ok":false,"error":"unauthorized"}';
const NOT_STORED = '{"ok":false,"error":"the delivery could not be stored; retry"}';

async function main(dir: string, publicJwk: string, hookToken: string, journal: BaselineJournal): Promise<void> {
  const jwk = JSON.parse(publicJwk) as { kid: string };
  const verifier = await createEnvelopeVerifier({ publicJwks: [jwk], nodeId: process.env["BENCH_NODE_ID"] ?? "node-bench", replayCache: createMemoryReplayCache(), now: Date.now, bodyDigest: nodeBodySha256 });
  const tokenDigest = createHash("sha256").update(hookToken).digest();
  /** Stores a wake; a promise when it is durable only later (the floor's group sync); throws or rejects when it cannot. */
  let record: ((id: string, payload: string) => void | Promise<void>) | undefined;
  if (journal === "floor") record = appendLog(join(dir, "floor.log"));
  if (journal === "fsync") {
    const db = new DatabaseSync(join(dir, "baseline.sqlite"));
    db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = FULL;
      CREATE TABLE deliveries (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, delivery_id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
        payload TEXT NOT NULL, response TEXT NOT NULL, received_at INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'dead')));
      CREATE INDEX deliveries_pending ON deliveries (state, seq);
    `);
    const statement = db.prepare(
      `INSERT INTO deliveries (delivery_id, kind, payload, response, received_at, state)
       VALUES (?, ?, ?, ?, ?, 'pending') ON CONFLICT (delivery_id) DO NOTHING`,
    );
    record = (id, payload) => void statement.run(id, "wake", payload, WAKE_ANSWER, Date.now());
  }
  const tokenOk = (presented: string | undefined) => presented !== undefined && timingSafeEqual(createHash("sha256").update(presented).digest(), tokenDigest);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        const body = new Uint8Array(Buffer.concat(chunks));
        try {
          const envelope = req.headers[ENVELOPE_HEADER];
          let id: string;
          if (typeof envelope === "string") {
            const claims = await verifier.verify(envelope, { method: req.method!, path: req.url!, body });
            id = claims.did ?? claims.jti;
          } else {
            const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "")?.[1]?.trim();
            const header = req.headers["x-openclaw-token"];
            if (!tokenOk(bearer ?? (typeof header === "string" ? header : undefined))) throw new Error("unauthorized");
            id = randomUUID();
          }
          const parsed = parseHookBody(body);
          if (!parsed.ok) throw new Error(parsed.error);
          const wake = normalizeWakePayload(hookPayloadOf(parsed.value));
          if (!wake.ok) throw new Error(wake.error);
          try {
            // Awaited only when it is a promise: (a) and (b) answer in the same turn, as before.
            const stored = record?.(id, JSON.stringify(wake.value));
            if (stored) await stored;
          } catch {
            res.writeHead(503, { "content-type": "application/json" }).end(NOT_STORED);
            return;
          }
          res.writeHead(200, { "content-type": "application/json" }).end(WAKE_ANSWER);
        } catch {
          res.writeHead(401, { "content-type": "application/json" }).end(UNAUTHORIZED);
        }
      })();
    });
  });
  server.listen(0, "127.0.0.1", () => {
    const address = server.address() as { port: number };
    console.log(`baseline listening on http://127.0.0.1:${address.port}`);
  });
  process.once("SIGTERM", () => server.close(() => process.exit(0)));
}

/**
 * (c)'s journal: a file written full once at start and then overwritten in place from its beginning, as SQLite
 * reuses its WAL after a checkpoint, so a sync carries data only, never a size or block-allocation change. Lines
 * are written on the event loop (as SQLite writes its WAL frames); the wakes that arrive while a sync is in
 * flight go out together in the next one, and each promise settles when the sync that covers its line has ended.
 */
function appendLog(path: string): (id: string, payload: string) => Promise<void> {
  const size = 16 * 1024 * 1024;
  const fd = openSync(path, "w+", 0o600);
  const zeros = Buffer.alloc(1024 * 1024);
  for (let at = 0; at < size; at += zeros.length) writeAll(fd, zeros, at);
  fsyncSync(fd);
  let offset = 0;
  let lines: string[] = [];
  let waiting: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  let busy = false;
  const cycle = () => {
    if (busy || lines.length === 0) return;
    const bytes = Buffer.from(lines.join(""));
    const covered = waiting;
    lines = [];
    waiting = [];
    if (offset + bytes.length > size) offset = 0;
    try {
      writeAll(fd, bytes, offset);
    } catch (error) {
      for (const w of covered) w.reject(error);
      return;
    }
    offset += bytes.length;
    busy = true;
    fdatasync(fd, (error) => {
      busy = false;
      for (const w of covered) if (error) w.reject(error);
      else w.resolve();
      cycle();
    });
  };
  return (id, payload) => {
    lines.push(`${JSON.stringify({ id, kind: "wake", payload, at: Date.now() })}\n`);
    if (lines.length === 1) setImmediate(cycle);
    return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
  };
}

/** writeSync until every byte is written (a write may be short). */
function writeAll(fd: number, bytes: Buffer, position: number): void {
  for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done, position + done);
}

const [dir, publicJwk, hookToken, journal] = process.argv.slice(2);
if (journal !== "fsync" && journal !== "memory" && journal !== "floor") throw new TypeError("usage: hooks-baseline.ts <dir> <public JWK> <hook token> fsync|memory|floor");
await main(dir!, publicJwk!, hookToken!, journal);
