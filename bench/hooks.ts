/**
 * Hook intake benchmark (docs/benchmarks.md): `POST /hooks/wake` with an edge envelope — verification, validation and
 * a durable journal commit — through the real node agent on loopback under autocannon, against a bare
 * `node:http` server doing the same verification (shared/envelope.ts), the same validation and the same
 * durable insert (node:sqlite, WAL, synchronous=FULL), in interleaved rounds of one run. Also the agent's
 * idle RSS with 100 secrets and its start-to-listening time, each beside a bare node process.
 *
 * Run as `node bench/hooks.ts --baseline-server <dir>` it is that bare server (a child, like the agent).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";
import { exportJWK, generateKeyPair } from "jose";
import { ENVELOPE_HEADER, type EnvelopeSigner, createEnvelopeSigner, createEnvelopeVerifier, createMemoryReplayCache } from "../shared/envelope.ts";
import { parseWakePayload } from "../shared/hook-payloads.ts";
import type { BenchFigure, BenchOptions } from "./bench-types.ts";

const SELF = fileURLToPath(import.meta.url);
const CLI_BIN = fileURLToPath(new URL("../node/cli/bin.ts", import.meta.url));
const CONNECTIONS = 8;
const SECRETS = 100;

interface Size {
  /** Interleaved load rounds (agent, baseline). */
  readonly rounds: number;
  /** Requests per side per round: each needs its own pre-signed envelope (fresh jti). */
  readonly amount: number;
  /** Warm-up requests per side before the rounds. */
  readonly warmup: number;
  /** Agent starts measured (median). */
  readonly startSamples: number;
  /** Idle time after listening before RSS is read, for the start's garbage to settle. */
  readonly settleMs: number;
}
const FULL: Size = { rounds: Number(process.env["BENCH_ROUNDS"] ?? 6), amount: Number(process.env["BENCH_HOOK_REQUESTS"] ?? 3_000), warmup: 500, startSamples: 5, settleMs: 1_000 };
/** One start, one short round: the agent still serves real envelopes into its durable journal, every path runs. */
const SMOKE: Size = { rounds: 1, amount: 300, warmup: 100, startSamples: 1, settleMs: 300 };
const NODE_ID = "node-bench";
const BODY = JSON.stringify({ text: "bench wake", mode: "now" });
const WAKE_ANSWER = JSON.stringify({ ok: true, mode: "now" });

// ---------------------------------------------------------------------------------------------------
// The baseline: node:http + the same verifier, validation and durable insert, nothing else.

async function baselineServer(dir: string, publicJwk: string): Promise<void> {
  const verifier = await createEnvelopeVerifier({ publicJwks: [JSON.parse(publicJwk)], nodeId: NODE_ID, replayCache: createMemoryReplayCache() });
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
  const insert = db.prepare(
    `INSERT INTO deliveries (delivery_id, kind, payload, response, received_at, state)
     VALUES (?, ?, ?, ?, ?, 'pending') ON CONFLICT (delivery_id) DO NOTHING`,
  );
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        const body = new Uint8Array(Buffer.concat(chunks));
        try {
          const claims = await verifier.verify(String(req.headers[ENVELOPE_HEADER]), { method: req.method!, path: req.url!, body });
          const wake = parseWakePayload(JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body)));
          if (!wake.ok) throw new Error(wake.error);
          insert.run(claims.did ?? claims.jti, "wake", JSON.stringify(wake.value), WAKE_ANSWER, Date.now());
          res.writeHead(200, { "content-type": "application/json" }).end(WAKE_ANSWER);
        } catch {
          res.writeHead(401, { "content-type": "application/json" }).end('{"ok":false,"error":"unauthorized"}');
        }
      })();
    });
  });
  server.listen(0, "127.0.0.1", () => {
    const address = server.address() as { port: number };
    console.log(`baseline listening on http://127.0.0.1:${address.port}`);
  });
  process.once("SIGTERM", () => server.close(() => db.close()));
}

// ---------------------------------------------------------------------------------------------------
// The run.

interface Autocannon {
  (options: Record<string, unknown>): Promise<AutocannonResult>;
}
interface AutocannonResult {
  "2xx": number;
  non2xx: number;
  errors: number;
  latency: { p50: number; p99: number };
}
// autocannon ships no types; this is the slice of its API the bench uses.
const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;

interface Fixture {
  dir: string;
  configPath: string;
  publicJwk: string;
  signer: EnvelopeSigner;
}

async function makeFixture(): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), "clawgate-bench-hooks-"));
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const signer = await createEnvelopeSigner({ privateJwk: { ...(await exportJWK(privateKey)), alg: "EdDSA", kid: "edge-1" }, nodeId: NODE_ID, lifetimeSeconds: 60 });
  const publicJwk = JSON.stringify({ ...(await exportJWK(publicKey)), alg: "EdDSA", kid: "edge-1" });
  // 100 secrets, as operators hold them: model API keys in a 0600 file, plus the hook token.
  const secrets: Record<string, string> = { hooks: "hook-token-bench-0123456789abcdef" };
  const models: Record<string, { apiKey: unknown }> = {};
  for (let i = 0; i < SECRETS - 1; i++) {
    secrets[`k${i}`] = `secret-value-${i}`;
    models[`p${i}`] = { apiKey: { source: "file", provider: "f", id: `/k${i}` } };
  }
  const secretsPath = join(dir, "secrets.json");
  await writeFile(secretsPath, JSON.stringify(secrets));
  await chmod(secretsPath, 0o600);
  const configPath = join(dir, "openclaw.json");
  await writeFile(
    configPath,
    JSON.stringify({
      secrets: { providers: { f: { source: "file", path: secretsPath } } },
      models: { providers: models },
      hooks: { enabled: true, token: { source: "file", provider: "f", id: "/hooks" } },
      clawgate: { node: { id: NODE_ID }, edge: { publicKeys: [JSON.parse(publicJwk)] } },
    }),
  );
  return { dir, configPath, publicJwk, signer };
}

interface Started {
  child: ChildProcess;
  url: string;
  /** Spawn to the listening line, ms. */
  startMs: number;
}

function startChild(args: string[], pattern: RegExp): Promise<Started> {
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { env: { ...process.env, CLAWGATE_ALLOW_ROOT: "1" }, stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    const onData = (d: string) => {
      out += d;
      const m = pattern.exec(out);
      if (m) {
        const startMs = performance.now() - t0;
        child.stdout!.off("data", onData);
        // Keep draining: the agent writes an audit line per request.
        child.stdout!.resume();
        resolve({ child, url: m[0], startMs });
      }
    };
    child.stdout!.setEncoding("utf8").on("data", onData);
    child.once("exit", (code) => reject(new Error(`child exited ${code} before listening: ${out.slice(0, 500)}`)));
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

function rssKb(pid: number): Promise<number> {
  return rssSplit(pid).then((r) => r.total);
}

interface Rss {
  total: number;
  anon: number;
  file: number;
}

/** VmRSS and its anonymous / file-backed parts, in KiB (Linux /proc). */
async function rssSplit(pid: number): Promise<Rss> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return { total: kb("VmRSS"), anon: kb("RssAnon"), file: kb("RssFile") };
}

const mb = (kb: number) => (kb / 1024).toFixed(1);

async function signPool(signer: EnvelopeSigner, n: number): Promise<string[]> {
  const pool: string[] = [];
  for (let i = 0; i < n; i++) pool.push(await signer.sign({ method: "POST", path: "/hooks/wake", body: BODY, principal: "cron:bench" }));
  return pool;
}

interface Window {
  /** 2xx answers per second, from the first request to the last answer. */
  rate: number;
  latency: { p50: number; p99: number };
  /** Server CPU (user + system) per answered request, µs. */
  cpuUs: number;
}

/** utime + stime of a process, in µs (Linux /proc; clock ticks are 10 ms). */
async function cpuUs(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, "utf8")).replace(/^.*\) /, "").split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** One measured window: `pool.length - CONNECTIONS` requests, each with an envelope never used before. */
async function load(url: string, pool: string[], pid?: number): Promise<Window> {
  const cpuBefore = pid ? await cpuUs(pid) : 0;
  let next = 0;
  // Timed here: autocannon stamps `finish` on its 1 s sampling tick, too coarse for a 2-3 s window.
  let last = 0;
  const started = performance.now();
  const result = await autocannon({
    url: `${url}/hooks/wake`,
    connections: CONNECTIONS,
    amount: pool.length - CONNECTIONS,
    requests: [
      {
        method: "POST",
        path: "/hooks/wake",
        body: BODY,
        // Called for every request: hands out the next pre-signed envelope (signing stays outside the timing).
        setupRequest: (req: { headers?: Record<string, string> }) => ({
          ...req,
          headers: { ...req.headers, "content-type": "application/json", [ENVELOPE_HEADER]: pool[next++] },
        }),
        onResponse: () => {
          last = performance.now();
        },
      },
    ],
  });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${result.non2xx} non-2xx answers and ${result.errors} errors under load`);
  const cpu = pid ? (await cpuUs(pid)) - cpuBefore : 0;
  return { rate: result["2xx"] / ((last - started) / 1000), latency: result.latency, cpuUs: cpu / result["2xx"] };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function bareNode(settleMs: number): Promise<{ startMs: number; rss: Rss }> {
  const started = await startChild(["-e", "console.log('bare listening on http://x'); setInterval(() => {}, 1000)"], /bare listening on http:\/\/x/);
  await new Promise((r) => setTimeout(r, settleMs));
  const rss = await rssSplit(started.child.pid!);
  await stopChild(started.child);
  return { startMs: started.startMs, rss };
}

export default async function hooksBench({ smoke }: BenchOptions): Promise<BenchFigure[]> {
  const { rounds, amount, warmup, startSamples, settleMs } = smoke ? SMOKE : FULL;
  const fx = await makeFixture();
  const children: ChildProcess[] = [];
  try {
    const bare = await bareNode(settleMs);
    const startAgent = () =>
      startChild([CLI_BIN, "node", "start", "--config", fx.configPath, "--port", "0", "--state-dir", join(fx.dir, "state")], /http:\/\/127\.0\.0\.1:\d+/);
    // Start and idle figures: the median of several starts (the first also warms Node's compile cache).
    const starts: number[] = [];
    const rsses: Rss[] = [];
    let agent!: Started;
    for (let i = 0; i < startSamples; i++) {
      agent = await startAgent();
      children.push(agent.child);
      // Idle: listening, secrets resolved, nothing served yet; a second (full size) for the start's garbage to settle.
      await new Promise((r) => setTimeout(r, settleMs));
      starts.push(agent.startMs);
      rsses.push(await rssSplit(agent.child.pid!));
      if (i < startSamples - 1) await stopChild(agent.child);
    }
    const startMs = median(starts);
    const rss = [...rsses].sort((a, b) => a.total - b.total)[Math.floor(rsses.length / 2)]!;
    const agentRss = rss.total;
    const baseDir = join(fx.dir, "baseline");
    await mkdir(baseDir, { mode: 0o700 });
    const base = await startChild([SELF, "--baseline-server", baseDir, fx.publicJwk], /http:\/\/127\.0\.0\.1:\d+/);
    children.push(base.child);

    // Warm both (JIT, SQLite page cache), then interleave: agent, baseline, agent, baseline, …
    for (const url of [agent.url, base.url]) await load(url, await signPool(fx.signer, warmup + CONNECTIONS));
    const ours: Window[] = [];
    const raw: Window[] = [];
    for (let round = 0; round < rounds; round++) {
      const pool = await signPool(fx.signer, amount + CONNECTIONS);
      // The same envelopes on both sides: each server has its own replay cache and journal.
      const [first, second] = round % 2 === 0 ? [agent, base] : [base, agent];
      const a = await load(first.url, pool, first.child.pid);
      const b = await load(second.url, pool, second.child.pid);
      (first === agent ? ours : raw).push(a);
      (first === agent ? raw : ours).push(b);
    }
    const ourRate = median(ours.map((w) => w.rate));
    const rawRate = median(raw.map((w) => w.rate));
    const ratio = ourRate / rawRate;
    const p = (rs: Window[], k: "p50" | "p99") => median(rs.map((r) => r.latency[k])).toFixed(2);
    const journaled = await countJournal(join(fx.dir, "state", "intake.sqlite"));
    // Every wake answered 200 must be in the durable journal, or the throughput above was bought by losing some.
    if (journaled !== warmup + rounds * amount) throw new Error(`${journaled} deliveries journaled for ${warmup + rounds * amount} wakes answered 200`);
    const spawnHostRss = await helperRss(agent.child.pid!);
    const program = await runningProgram(agent.child.pid!);
    return [
      {
        figure: "/hooks/wake throughput (envelope + validation + durable journal)",
        kind: "performance",
        value: ratio,
        unit: "×",
        target: "≥ 0.7×",
        baseline: "bare node:http, same verify + insert",
        pass: ratio >= 0.7,
        detail:
          `${ourRate.toFixed(0)} vs ${rawRate.toFixed(0)} req/s (median of ${rounds} interleaved rounds of ${amount}, ${CONNECTIONS} connections); ` +
          `latency p50 ${p(ours, "p50")} ms vs ${p(raw, "p50")} ms, p99 ${p(ours, "p99")} ms vs ${p(raw, "p99")} ms; ` +
          `server CPU per request ${median(ours.map((w) => w.cpuUs)).toFixed(0)} µs vs ${median(raw.map((w) => w.cpuUs)).toFixed(0)} µs; ` +
          `${journaled} deliveries journaled by the agent`,
      },
      {
        figure: `idle RSS after start, ${SECRETS} secrets`,
        kind: "performance",
        value: agentRss / 1024,
        unit: "MB",
        target: "≤ 80 MB",
        baseline: "absolute",
        pass: agentRss / 1024 <= 80,
        detail:
          `median of ${startSamples} starts of ${program}: ${mb(rss.anon)} MB anonymous + ${mb(rss.file)} MB file-backed (mostly the node binary's pages); ` +
          `bare node process: ${mb(bare.rss.total)} MB (${mb(bare.rss.anon)} + ${mb(bare.rss.file)}); the agent's spawn-host helper (own process): ${spawnHostRss}`,
      },
      {
        figure: "start to listening",
        kind: "performance",
        value: startMs,
        unit: "ms",
        target: "≤ 500 ms",
        baseline: "absolute",
        pass: startMs <= 500,
        detail: `spawn to the listening line, median of ${startSamples} (${starts.map((t) => t.toFixed(0)).join(", ")} ms); a bare node process takes ${bare.startMs.toFixed(0)} ms to its first line`,
      },
    ];
  } finally {
    for (const child of children) await stopChild(child);
    await rm(fx.dir, { recursive: true, force: true });
  }
}

async function countJournal(path: string): Promise<number> {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return (db.prepare("SELECT COUNT(*) AS n FROM deliveries").get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** What the agent process runs after `clawgate node start` (node/cli/daemon-launch.ts): the bundle, or the sources. */
async function runningProgram(pid: number): Promise<string> {
  const args = (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0");
  return args.some((a) => /\/clawgate-daemon\/[0-9a-f]{16}\/daemon-[0-9a-f]{16}\.mjs$/.test(a)) ? "the daemon bundle" : "the daemon from sources";
}

/** RSS of the agent's child processes (the spawn host), for the record. */
async function helperRss(pid: number): Promise<string> {
  const children = (await readFile(`/proc/${pid}/task/${pid}/children`, "utf8").catch(() => "")).trim().split(/\s+/).filter(Boolean);
  const sizes = await Promise.all(children.map((c) => rssKb(Number(c)).catch(() => NaN)));
  return sizes.length === 0 ? "none" : sizes.map((kb) => `${(kb / 1024).toFixed(1)} MB`).join(", ");
}

if (process.argv[2] === "--baseline-server") await baselineServer(process.argv[3]!, process.argv[4]!);
