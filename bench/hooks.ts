/**
 * Hook intake benchmark: `POST /hooks/wake` through the real node agent on loopback under autocannon — edge
 * envelope or hook token, validation, and a durable group-committed journal row before every 200 — at 8, 32 and
 * 128 connections, against three bare `node:http` servers doing the same verification and validation
 * (bench/hooks-baseline.ts): (a) one insert + fsync per request, (b) no journal at all (the ceiling; what an
 * in-memory gateway does), (c) the durability floor (an append + fdatasync per group of wakes, nothing else). Interleaved rounds, each round rotating which server goes first. Also the idle RSS of
 * the whole process tree the agent starts (median of 5 starts) and its start-to-listening time, each beside a
 * bare node process. `--vs-openclaw` adds the same load against the real OpenClaw gateway when installed.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";
import { exportJWK, generateKeyPair } from "jose";
import { ENVELOPE_HEADER, type EnvelopeSigner, createEnvelopeSigner } from "../shared/envelope.ts";
import type { BenchFigure, BenchOptions } from "./bench-types.ts";
import { openclawComparison } from "./hooks-openclaw.ts";

const BASELINE = fileURLToPath(new URL("./hooks-baseline.ts", import.meta.url));
const CLI_BIN = fileURLToPath(new URL("../node/cli/bin.ts", import.meta.url));
const CONNECTIONS = [8, 32, 128] as const;
/** The connection count the targets are judged at. */
const JUDGED = 32;
const SECRETS = 100;
const HOOK_TOKEN = "hook-token-bench-0123456789abcdef";

interface Size {
  /** Interleaved load rounds (every server, path and connection count once per round). */
  readonly rounds: number;
  /** Requests per window: each envelope window needs its own pre-signed envelopes (fresh jti). */
  readonly amount: number;
  /** Warm-up requests per server and path before the rounds. */
  readonly warmup: number;
  /** Agent starts measured (median). */
  readonly startSamples: number;
  /** Idle time after listening before RSS is read, for the start's garbage to settle. */
  readonly settleMs: number;
}
const FULL: Size = { rounds: Number(process.env["BENCH_ROUNDS"] ?? 3), amount: Number(process.env["BENCH_HOOK_REQUESTS"] ?? 3_000), warmup: 1_000, startSamples: 5, settleMs: 1_000 };
/** One start, one short round: the agent still serves real envelopes into its durable journal, every path runs. */
const SMOKE: Size = { rounds: 1, amount: 300, warmup: 150, startSamples: 1, settleMs: 300 };
const NODE_ID = "node-bench";
const BODY = JSON.stringify({ text: "bench wake", mode: "now" });

interface Autocannon {
  (options: Record<string, unknown>): Promise<AutocannonResult> & {
    on(event: "response", listener: (client: unknown, status: number, bytes: number, ms: number) => void): void;
  };
}
interface AutocannonResult {
  "2xx": number;
  non2xx: number;
  errors: number;
  timeouts: number;
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
  const secrets: Record<string, string> = { hooks: HOOK_TOKEN };
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
    child.once("error", reject);
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
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
  answered: number;
}

/** utime + stime of a process, in µs (Linux /proc; clock ticks are 10 ms). */
async function cpuUs(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, "utf8")).replace(/^.*\) /, "").split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

type Path = "envelope" | "token";

/**
 * One measured window of `amount` wakes at `connections`: the envelope path hands out a pre-signed envelope
 * never used before per request (signing stays outside the timing); the token path sends the hook token.
 */
async function load(url: string, connections: number, amount: number, pool: string[] | undefined, pid?: number): Promise<Window> {
  const cpuBefore = pid ? await cpuUs(pid) : 0;
  let next = 0;
  // Timed here: autocannon stamps `finish` on its 1 s sampling tick, too coarse for a 1-3 s window.
  let last = 0;
  const started = performance.now();
  const instance = autocannon({
    url: `${url}/hooks/wake`,
    connections,
    amount,
    requests: [
      {
        method: "POST",
        path: "/hooks/wake",
        body: BODY,
        ...(pool
          ? { setupRequest: (req: { headers?: Record<string, string> }) => ({ ...req, headers: { ...req.headers, "content-type": "application/json", [ENVELOPE_HEADER]: pool[next++] } }) }
          : { headers: { "content-type": "application/json", authorization: `Bearer ${HOOK_TOKEN}` } }),
        onResponse: () => {
          last = performance.now();
        },
      },
    ],
  });
  // Each answer's latency as autocannon measures it (hrtime, fractional ms); its own percentiles are whole
  // milliseconds, which at a 3 ms p99 would move the p99 ratio by a third per millisecond.
  const latencies: number[] = [];
  instance.on("response", (_client, status, _bytes, ms) => {
    if (status >= 200 && status < 300) latencies.push(ms);
  });
  const result = await instance;
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${result.non2xx} non-2xx answers and ${result.errors} errors (${result.timeouts} timeouts) under load (${connections} connections, ${url})`);
  const cpu = pid ? (await cpuUs(pid)) - cpuBefore : 0;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return { rate: result["2xx"] / ((last - started) / 1000), latency: { p50: at(0.5), p99: at(0.99) }, cpuUs: cpu / result["2xx"], answered: result["2xx"] };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function bareNode(settleMs: number): Promise<{ startMs: number; rss: Rss }> {
  const started = await startChild(["-e", "console.log('bare listening on http://x'); setInterval(() => {}, 1000)"], /bare listening on http:\/\/x/);
  await new Promise((r) => setTimeout(r, settleMs));
  const rss = await rssSplit(started.child.pid!);
  await stopChild(started.child);
  return { startMs: started.startMs, rss };
}

/** Every process in the tree under `pid` (itself first), from /proc's children lists. */
async function processTree(pid: number): Promise<number[]> {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    const p = out[i]!;
    const children = (await readFile(`/proc/${p}/task/${p}/children`, "utf8").catch(() => "")).trim().split(/\s+/).filter(Boolean);
    out.push(...children.map(Number));
  }
  return out;
}

/** The tree's RSS, as `ps` or Activity Monitor add it up (shared pages count in every process). */
async function treeRss(pid: number): Promise<{ total: number; agent: Rss; processes: number }> {
  const pids = await processTree(pid);
  // A zombie (e.g. the bundler's helper, exited before the first start's exec and never reaped) has no VmRSS: it holds no memory.
  const rsses = await Promise.all(pids.map((p) => rssSplit(p).catch(() => undefined)));
  const live = rsses.filter((r): r is Rss => r !== undefined && Number.isFinite(r.total));
  return { total: live.reduce((sum, r) => sum + r.total, 0), agent: live[0]!, processes: live.length };
}

type Server = "agent" | "fsync" | "memory" | "floor";
const SERVERS: readonly Server[] = ["agent", "fsync", "memory", "floor"];
type Cell = `${Path}/${number}/${Server}`;

/** Metric value from the agent's Prometheus text. */
async function metric(url: string, token: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
  return Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? NaN);
}

export default async function hooksBench(options: BenchOptions): Promise<BenchFigure[]> {
  const { smoke } = options;
  const { rounds, amount, warmup, startSamples, settleMs } = smoke ? SMOKE : FULL;
  const fx = await makeFixture();
  const children: ChildProcess[] = [];
  try {
    const bare = await bareNode(settleMs);
    const stateDir = join(fx.dir, "state");
    const startAgent = () => startChild([CLI_BIN, "node", "start", "--config", fx.configPath, "--port", "0", "--state-dir", stateDir], /http:\/\/127\.0\.0\.1:\d+/);
    // Start and idle figures: the median of several starts (the first also warms Node's compile cache).
    const starts: number[] = [];
    const trees: Awaited<ReturnType<typeof treeRss>>[] = [];
    let agent!: Started;
    for (let i = 0; i < startSamples; i++) {
      agent = await startAgent();
      children.push(agent.child);
      // Idle: listening, secrets resolved, nothing served yet; a second (full size) for the start's garbage to settle.
      await new Promise((r) => setTimeout(r, settleMs));
      starts.push(agent.startMs);
      trees.push(await treeRss(agent.child.pid!));
      if (i < startSamples - 1) await stopChild(agent.child);
    }
    const startMs = median(starts);
    const tree = [...trees].sort((a, b) => a.total - b.total)[Math.floor(trees.length / 2)]!;
    const program = await runningProgram(agent.child.pid!);
    const adminToken = (await readFile(join(stateDir, "admin.token"), "utf8")).trim();

    const urls: Record<Server, Started> = { agent, fsync: agent, memory: agent, floor: agent };
    for (const journal of ["fsync", "memory", "floor"] as const) {
      const dir = join(fx.dir, journal);
      await mkdir(dir, { mode: 0o700 });
      urls[journal] = await startChild([BASELINE, dir, fx.publicJwk, HOOK_TOKEN, journal], /http:\/\/127\.0\.0\.1:\d+/);
      children.push(urls[journal].child);
    }
    let agentAnswered = 0;
    const run = async (server: Server, path: Path, connections: number, n: number, pool?: string[]) => {
      const w = await load(urls[server].url, connections, n, path === "envelope" ? pool : undefined, urls[server].child.pid);
      if (server === "agent") agentAnswered += w.answered;
      return w;
    };
    // Warm every server on both paths (JIT, SQLite page cache), then the interleaved rounds.
    for (const server of SERVERS) {
      await run(server, "envelope", 8, warmup, await signPool(fx.signer, warmup));
      await run(server, "token", 8, warmup);
    }
    const windows = new Map<Cell, Window[]>();
    const commitsBefore = await metric(agent.url, adminToken, "clawgate_intake_commits");
    const answeredBefore = agentAnswered;
    for (let round = 0; round < rounds; round++) {
      // Each round rotates which server goes first, so no server always meets the machine in the same state.
      const order = SERVERS.map((_, i) => SERVERS[(i + round) % SERVERS.length]!);
      for (const path of ["envelope", "token"] as const) {
        for (const connections of CONNECTIONS) {
          // The same envelopes on every server: each has its own replay cache and journal.
          const pool = path === "envelope" ? await signPool(fx.signer, amount) : undefined;
          for (const server of order) {
            const cell: Cell = `${path}/${connections}/${server}`;
            windows.set(cell, [...(windows.get(cell) ?? []), await run(server, path, connections, amount, pool)]);
          }
        }
      }
    }
    const commits = (await metric(agent.url, adminToken, "clawgate_intake_commits")) - commitsBefore;
    const measuredWakes = agentAnswered - answeredBefore;
    const cell = (path: Path, connections: number, server: Server) => {
      const ws = windows.get(`${path}/${connections}/${server}`)!;
      return { rate: median(ws.map((w) => w.rate)), p50: median(ws.map((w) => w.latency.p50)), p99: median(ws.map((w) => w.latency.p99)), cpuUs: median(ws.map((w) => w.cpuUs)) };
    };
    const journaled = await countJournal(join(stateDir, "intake.sqlite"));

    const figures: BenchFigure[] = [];
    for (const path of ["envelope", "token"] as const) {
      const label = path === "envelope" ? "edge envelope" : "hook token";
      const table = CONNECTIONS.map((c) => {
        const [o, a, b, f] = SERVERS.map((s) => cell(path, c, s));
        return (
          `${c} conn: agent ${o!.rate.toFixed(0)} wakes/s p50 ${o!.p50.toFixed(1)} p99 ${o!.p99.toFixed(1)} ms ${o!.cpuUs.toFixed(0)} µs CPU; ` +
          `(a) fsync each ${a!.rate.toFixed(0)}/s p99 ${a!.p99.toFixed(1)} ms; (b) no journal ${b!.rate.toFixed(0)}/s p99 ${b!.p99.toFixed(1)} ms ${b!.cpuUs.toFixed(0)} µs CPU; ` +
          `(c) floor ${f!.rate.toFixed(0)}/s p99 ${f!.p99.toFixed(1)} ms ${f!.cpuUs.toFixed(0)} µs CPU; ` +
          `agent/(a) ${(o!.rate / a!.rate).toFixed(2)}×, agent/(b) ${(o!.rate / b!.rate).toFixed(2)}×, agent/(c) ${(o!.rate / f!.rate).toFixed(2)}×, (c)/(b) ${(f!.rate / b!.rate).toFixed(2)}×`
        );
      });
      const o = cell(path, JUDGED, "agent");
      const b = cell(path, JUDGED, "memory");
      const floor = cell(path, JUDGED, "floor");
      const rateRatio = o.rate / b.rate;
      const p99Ratio = o.p99 / b.p99;
      figures.push(
        {
          figure: `/hooks/wake durable wakes/s, ${label}, ${JUDGED} connections`,
          kind: "performance",
          value: rateRatio,
          unit: "×",
          target: "≥ 0.8×",
          baseline: "(b) bare node:http, same verify, no journal",
          pass: rateRatio >= 0.8,
          detail:
            `median of ${rounds} interleaved rounds of ${amount} wakes per window; at ${JUDGED} connections (c), the least a durable server adds to (b), ` +
            `reaches ${(floor.rate / b.rate).toFixed(2)}× (b) and the agent ${(o.rate / floor.rate).toFixed(2)}× (c); ${table.join(" | ")}`,
        },
        {
          figure: `/hooks/wake p99 latency, ${label}, ${JUDGED} connections`,
          kind: "performance",
          value: p99Ratio,
          unit: "×",
          target: "≤ 1.5×",
          baseline: "(b) bare node:http, same verify, no journal",
          pass: p99Ratio <= 1.5,
          detail: `${o.p99.toFixed(1)} ms vs ${b.p99.toFixed(1)} ms (p50 ${o.p50.toFixed(1)} vs ${b.p50.toFixed(1)} ms); (a) one fsync per request: p99 ${cell(path, JUDGED, "fsync").p99.toFixed(1)} ms; (c) the durability floor: p99 ${floor.p99.toFixed(1)} ms`,
        },
      );
    }
    figures.push(
      {
        figure: "every acknowledged wake journaled (group commit)",
        kind: "correctness",
        value: journaled,
        unit: "rows",
        target: `= ${agentAnswered} wakes answered 200`,
        baseline: "absolute",
        pass: journaled === agentAnswered,
        detail:
          `${journaled} rows in the agent's journal for ${agentAnswered} wakes answered 200; ${commits} commits for the ${measuredWakes} measured wakes ` +
          `(${(measuredWakes / commits).toFixed(1)} wakes per fsync on average over all connection counts)`,
      },
      {
        figure: `idle RSS of the whole process tree, ${SECRETS} secrets`,
        kind: "performance",
        value: tree.total / 1024,
        unit: "MB",
        target: "≤ 80 MB",
        baseline: "absolute",
        pass: tree.total / 1024 <= 80,
        detail:
          `median of ${startSamples} starts (${trees.map((t) => mb(t.total)).join(", ")} MB); ${tree.processes} process(es): ${program} ${mb(tree.agent.total)} MB ` +
          `(${mb(tree.agent.anon)} MB anonymous + ${mb(tree.agent.file)} MB file-backed, mostly the node binary's pages); the spawn host starts at the first reload; ` +
          `bare node process: ${mb(bare.rss.total)} MB (${mb(bare.rss.anon)} + ${mb(bare.rss.file)})`,
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
    );
    if (options.vsOpenclaw) figures.push(...(await openclawComparison({ agentUrl: agent.url, hookToken: HOOK_TOKEN, amount, warmup, rounds, connections: JUDGED, load: (url, n) => load(url, JUDGED, n, undefined) })));
    return figures;
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

