/**
 * `npm run load` (docs/proof.md): autocannon drives `POST /hooks/wake` and some `/hooks/agent` through the real edge
 * Worker (workerd via Miniflare) into a real node agent process with the demo command-runtime agent, for
 * CLAWGATE_LOAD_SECONDS (default 60), all on loopback; prints requests, errors, non-2xx, latency percentiles,
 * throughput and the node's journal counts, and exits non-zero on any error or non-2xx answer.
 */
import { createHash, generateKeyPairSync } from "node:crypto";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ADMIN_PREFIX } from "../shared/constants.ts";
import { type EdgeInstance, startEdge } from "../test/e2e/support/edge-miniflare.ts";
import { type NodeProcess, pollUntil, startNodeProcess } from "../test/helpers/node-process.ts";

const SECONDS = positiveInt("CLAWGATE_LOAD_SECONDS", 60);
const CONNECTIONS = positiveInt("CLAWGATE_LOAD_CONNECTIONS", 10);
/** One `/hooks/agent` per this many requests: each agent call is a demo-agent process, wakes coalesce into heartbeats. */
const AGENT_EVERY = positiveInt("CLAWGATE_LOAD_AGENT_EVERY", 50);
/** After the load, how long the node may take to finish its backlog before the counts are printed anyway. */
const DRAIN_MS = 30_000;
const DEMO_AGENT = fileURLToPath(new URL("../node/dev/demo-agent.ts", import.meta.url));
const CALLER_TOKEN = "cg_load-caller-token-0123456789abcdef";
const HOOK_TOKEN = "hook-token-load-0123456789abcdef";

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`${name}: must be a positive integer, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return value;
}

interface Histogram {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  average: number;
}
interface AutocannonResult {
  requests: Histogram & { total: number; sent: number };
  latency: Histogram;
  throughput: Histogram;
  errors: number;
  timeouts: number;
  non2xx: number;
  "2xx": number;
  statusCodeStats: Record<string, { count: number }>;
  duration: number;
}
// autocannon ships no types; this is the slice of its API the script uses.
const autocannon = createRequire(import.meta.url)("autocannon") as (options: Record<string, unknown>) => Promise<AutocannonResult>;

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

const dir = await mkdtemp(join(tmpdir(), "clawgate-load-"));
let node: NodeProcess | undefined;
let edge: EdgeInstance | undefined;
let failed = true;
/** The Worker logs one `hook.forwarded` line per request: counted, not printed; anything else is printed. */
let forwardedLines = 0;
const edgeLog = (message: string) => {
  if (message.includes('"event":"hook.forwarded"')) forwardedLines++;
  else console.error(`edge: ${message.trimEnd()}`);
};
try {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const kid = "edge-load";
  const secrets = join(dir, "secrets.json");
  await writeFile(secrets, JSON.stringify({ hooks: HOOK_TOKEN }));
  await chmod(secrets, 0o600);
  await writeFile(
    join(dir, "openclaw.json"),
    JSON.stringify({
      secrets: { providers: { f: { source: "file", path: secrets } } },
      hooks: { enabled: true, token: { source: "file", provider: "f", id: "/hooks" }, defaultSessionKey: "hook:load", allowedAgentIds: ["main"] },
      agents: {
        defaults: { model: "demo/echo", models: { "demo/echo": { memoryGb: 0 } }, heartbeat: { every: "0m" }, timeoutSeconds: 30 },
        list: [{ id: "main", default: true, runtime: { type: "command", command: process.execPath, args: [DEMO_AGENT], local: false } }],
      },
      clawgate: { node: { id: "node-load" }, edge: { publicKeys: [{ ...publicKey.export({ format: "jwk" }), kid, alg: "EdDSA" }] } },
    }),
  );
  node = await startNodeProcess(["--config", join(dir, "openclaw.json"), "--port", "0", "--state-dir", join(dir, "state")], {
    env: { CLAWGATE_ALLOW_ROOT: "1" },
  });
  const auth = [{ type: "bearer", tokens: [{ name: "load", sha256: sha256(CALLER_TOKEN) }] }];
  edge = await startEdge({
    CLAWGATE_EDGE_CONFIG: JSON.stringify({
      nodes: [{ id: "node-load", origin: node.url, agents: ["main"], primary: true }],
      routes: { wake: { auth }, agent: { auth } },
      hooks: { allowedAgentIds: ["main"] },
    }),
    CLAWGATE_EDGE_SIGNING_KEY: JSON.stringify({ ...privateKey.export({ format: "jwk" }), kid, alg: "EdDSA" }),
  }, { onLog: (message) => edgeLog(message) });
  const edgeUrl = (await edge.mf.ready).toString().replace(/\/$/, "");

  const headers = { authorization: `Bearer ${CALLER_TOKEN}`, "content-type": "application/json" };
  const wake = { method: "POST", path: "/hooks/wake", headers, body: JSON.stringify({ text: "load test wake", mode: "now" }) };
  const agent = { method: "POST", path: "/hooks/agent", headers, body: JSON.stringify({ message: "load test agent call", agentId: "main" }) };
  // autocannon cycles each connection through this list: AGENT_EVERY - 1 wakes, then one agent call.
  const requests = [...Array.from({ length: AGENT_EVERY - 1 }, () => wake), agent];

  console.error(`load: ${SECONDS} s, ${CONNECTIONS} connections, 1 in ${AGENT_EVERY} an agent call, edge ${edgeUrl} → node ${node.url}`);
  const result = await autocannon({ url: edgeUrl, connections: CONNECTIONS, duration: SECONDS, requests, timeout: 10 });

  const codes = Object.entries(result.statusCodeStats)
    .map(([code, { count }]) => `${code}×${count}`)
    .join(", ");
  console.log(`requests      ${result.requests.total} (${result["2xx"]} 2xx; status codes: ${codes || "none"})`);
  console.log(`errors        ${result.errors} (timeouts ${result.timeouts})`);
  console.log(`non-2xx       ${result.non2xx}`);
  console.log(`latency (ms)  p50 ${result.latency.p50}  p90 ${result.latency.p90}  p99 ${result.latency.p99}  max ${result.latency.max}`);
  console.log(`throughput    ${result.requests.average.toFixed(1)} req/s, ${(result.throughput.average / 1024).toFixed(1)} KiB/s over ${result.duration.toFixed(1)} s`);

  const adminToken = (await readFile(join(dir, "state", "admin.token"), "utf8")).trim();
  const journal = async () => {
    const res = await fetch(`${node!.url}${ADMIN_PREFIX}/intake?limit=1`, { headers: { authorization: `Bearer ${adminToken}` } });
    return ((await res.json()) as { counts: Record<string, number> }).counts;
  };
  console.log(`edge log      ${forwardedLines} hook.forwarded lines`);
  console.log(`journal       right after the load: ${JSON.stringify(await journal())}`);
  const drained = await pollUntil(async () => ((await journal())["pending"] === 0 ? true : undefined), DRAIN_MS, "the backlog").catch(() => false);
  console.log(`journal       ${drained ? "drained" : `still pending after ${DRAIN_MS / 1000} s`}: ${JSON.stringify(await journal())}`);

  failed = result.errors > 0 || result.non2xx > 0 || result.requests.total === 0;
  console.log(failed ? "FAIL: errors or non-2xx answers under load" : "ok: no errors, every answer 2xx");
} catch (error) {
  console.error(`load: ${error instanceof Error ? error.message : String(error)}`);
} finally {
  await edge?.dispose();
  if (node) {
    const stopped = node.stop("SIGTERM");
    const timer = setTimeout(() => node!.child.kill("SIGKILL"), 10_000);
    await stopped;
    clearTimeout(timer);
  }
  await rm(dir, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
