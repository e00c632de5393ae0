/**
 * Outbox-per-node benchmark, in workerd (the real edge Worker under Miniflare, its outbox Durable Objects on
 * SQLite): 20 nodes on loopback, one of them down with 1,000 queued wakes (queued through the Worker, first retry
 * spent) while the other 19 take traffic. The healthy nodes' forward latency is compared with an identical edge
 * (a second workerd) that holds no backlog, in alternating windows; once the down node is back, its 1,000 must drain within 30 s, each
 * delivered exactly once. Locally every Durable Object shares workerd's one thread with the Worker, so a backlog
 * being retried competes for the same CPU here, which it does not on Cloudflare.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair } from "jose";
import { ENVELOPE_HEADER } from "../shared/envelope.ts";
import { startEdge } from "../test/e2e/support/edge-miniflare.ts";
import type { BenchFigure, BenchOptions } from "./bench-types.ts";

interface Size {
  readonly nodes: number;
  /** Wakes queued for the down node. */
  readonly backlog: number;
  /** Wakes sent to the healthy nodes per latency run. */
  readonly requests: number;
  readonly concurrency: number;
  /** Alternating windows: the edge holding the backlog, then an identical edge without it (or the other way round). */
  readonly rounds: number;
}
const FULL: Size = { nodes: 20, backlog: 1_000, requests: Number(process.env["BENCH_OUTBOX_REQUESTS"] ?? 400), concurrency: 8, rounds: 4 };
const SMOKE: Size = { nodes: 4, backlog: 60, requests: 60, concurrency: 4, rounds: 2 };
const DRAIN_TARGET_S = 30;
const LATENCY_TARGET = 1.1;
const TOKEN = "cg_bench-outbox-token-0123456789";
const OPERATOR = "bench-operator-token-0123456789";

/** A loopback node: answers every wake 200 and counts the delivery ids (the envelope's `did`, else `jti`) it got. */
interface BenchNode {
  readonly id: string;
  port: number;
  server: Server;
  readonly received: Map<string, number>;
}

function didOf(envelope: string | undefined): string {
  const payload = JSON.parse(Buffer.from((envelope ?? "..").split(".")[1] ?? "", "base64url").toString("utf8") || "{}") as { did?: string; jti?: string };
  return payload.did ?? payload.jti ?? "?";
}

function listen(node: BenchNode, port = 0): Promise<void> {
  node.server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const id = didOf(req.headers[ENVELOPE_HEADER] as string | undefined);
      node.received.set(id, (node.received.get(id) ?? 0) + 1);
      res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true,"mode":"now"}');
    });
  });
  return new Promise((resolve, reject) => {
    node.server.once("error", reject);
    node.server.listen(port, "127.0.0.1", () => {
      node.port = (node.server.address() as AddressInfo).port;
      resolve();
    });
  });
}

const stop = (node: BenchNode) =>
  new Promise<void>((resolve) => {
    node.server.close(() => resolve());
    node.server.closeAllConnections();
  });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

export default async function outboxBench({ smoke }: BenchOptions): Promise<BenchFigure[]> {
  const size = smoke ? SMOKE : FULL;
  const nodes: BenchNode[] = [];
  for (let i = 0; i < size.nodes; i++) {
    const node: BenchNode = { id: `node-${i}`, port: 0, server: undefined as unknown as Server, received: new Map() };
    await listen(node);
    nodes.push(node);
  }
  const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const sha = Buffer.from(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(TOKEN))).toString("hex");
  const config = {
    nodes: nodes.map((n, i) => ({ id: n.id, origin: `http://127.0.0.1:${n.port}`, agents: [`a${i}`], ...(i === 0 ? { primary: true } : {}) })),
    routes: { wake: { auth: [{ type: "bearer", tokens: [{ name: "bench", sha256: sha }] }] } },
    forward: { timeoutMs: 5_000 },
    // A short schedule, so the down node's backlog keeps retrying (and failing) while the others take traffic.
    ...(process.env["BENCH_OUTBOX_SHORT"] ? { outbox: { retryScheduleSeconds: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 600] } } : {}),
  };
  const bindings = {
    CLAWGATE_EDGE_CONFIG: JSON.stringify(config),
    CLAWGATE_EDGE_SIGNING_KEY: JSON.stringify({ ...(await exportJWK(privateKey)), alg: "EdDSA", kid: "edge-bench" }),
    CLAWGATE_OPERATOR_TOKEN_SHA256: Buffer.from(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(OPERATOR))).toString("hex"),
  };
  // Two identical edges (two workerd processes) in front of the same nodes: `edge` gets the backlog, `control`
  // never does; their healthy-traffic windows alternate, so both meet the machine in the same state.
  const edge = await startEdge(bindings, { onLog: () => {} });
  const control = await startEdge(bindings, { onLog: () => {} });
  const wakeVia = (target: typeof edge) => (nodeId: string, key: string) =>
    target.fetch(`/hooks/wake?node=${nodeId}`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", "idempotency-key": key },
      body: JSON.stringify({ text: "bench", mode: "now" }),
    });
  const wake = wakeVia(edge);
  let serial = 0;
  /** `requests` wakes round-robin over the healthy nodes (1…n-1), `concurrency` at a time; each one's latency, ms. */
  const healthyRun = async (label: string, send = wake): Promise<number[]> => {
    const latencies: number[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: size.concurrency }, async () => {
        while (next < size.requests) {
          const i = next++;
          const node = nodes[1 + (i % (size.nodes - 1))]!;
          const t0 = performance.now();
          const res = await send(node.id, `${label}-${serial++}`);
          latencies.push(performance.now() - t0);
          if (res.status !== 200) throw new Error(`healthy node ${node.id} answered ${res.status} through the edge: ${await res.text()}`);
          await res.arrayBuffer();
        }
      }),
    );
    return latencies;
  };
  try {
    // Warm both Workers, their config and every node's outbox object.
    await healthyRun("warm");
    await healthyRun("warm-control", wakeVia(control));

    // Node 0 goes down; its backlog is queued through the Worker (202 queued), as callers would see it.
    const down = nodes[0]!;
    const port = down.port;
    await stop(down);
    const backlogIds: string[] = [];
    for (let i = 0; i < size.backlog; i += size.concurrency) {
      await Promise.all(
        Array.from({ length: Math.min(size.concurrency, size.backlog - i) }, async (_, k) => {
          const key = `backlog-${i + k}`;
          const res = await wake(down.id, key);
          if (res.status !== 202) throw new Error(`queuing for the down node answered ${res.status}: ${await res.text()}`);
          backlogIds.push((await res.json() as { deliveryId: string }).deliveryId);
        }),
      );
    }
    // Steady state of a down node: its backlog queued and its first retry spent (the next is minutes away on the
    // default schedule); polled through the operator API, as an operator would see it.
    const retried = async () => {
      const res = await edge.fetch("/_clawgate/outbox?limit=1000", { headers: { authorization: `Bearer ${OPERATOR}` } });
      const body = (await res.json()) as { pending: { attempts: number }[] };
      return body.pending.length === size.backlog && body.pending.every((d) => d.attempts >= 2);
    };
    const waitUntil = performance.now() + 60_000;
    while (!(await retried())) {
      if (performance.now() > waitUntil) throw new Error("the down node's backlog was not retried within 60 s");
      await new Promise((r) => setTimeout(r, 200));
    }
    const during: number[] = [];
    const quiet: number[] = [];
    for (let round = 0; round < size.rounds; round++) {
      const [first, second] = round % 2 === 0 ? ["backlog", "control"] : ["control", "backlog"];
      for (const which of [first, second]) {
        if (which === "backlog") during.push(...(await healthyRun(`during-${round}`)));
        else quiet.push(...(await healthyRun(`control-${round}`, wakeVia(control))));
      }
    }

    // Node 0 is back: the first call that reaches it tells its outbox, which drains what waits.
    await listen(down, port);
    const drainStart = performance.now();
    const first = await wake(down.id, "recovery-probe");
    if (first.status !== 200) throw new Error(`the recovered node answered ${first.status}`);
    const drained = () => backlogIds.filter((id) => down.received.has(id)).length;
    const deadline = drainStart + DRAIN_TARGET_S * 2 * 1000;
    while (drained() < backlogIds.length && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const drainS = (performance.now() - drainStart) / 1000;
    // Anything sent twice would have arrived by now (attempts in flight finish within the forward timeout).
    const duplicates = backlogIds.filter((id) => (down.received.get(id) ?? 0) > 1).length;
    const missing = backlogIds.length - drained();
    const healthyReceivedBacklog = nodes.slice(1).some((n) => backlogIds.some((id) => n.received.has(id)));

    const ratio = median(during) / median(quiet);
    const fmt = (xs: number[]) => `p50 ${median(xs).toFixed(2)} ms, p99 ${pct(xs, 0.99).toFixed(2)} ms`;
    return [
      {
        figure: `healthy nodes' forward latency, 1 of ${size.nodes} nodes down with ${size.backlog} queued`,
        kind: "performance",
        value: ratio,
        unit: "×",
        target: `≤ ${LATENCY_TARGET}×`,
        baseline: "same load, identical edge without backlog, interleaved",
        pass: ratio <= LATENCY_TARGET,
        detail:
          `workerd via Miniflare; ${size.rounds} alternating rounds of ${size.requests} wakes per edge over ${size.nodes - 1} healthy nodes, ${size.concurrency} at a time; median latency ratio; ` +
          `with the backlog ${fmt(during)}; identical edge without ${fmt(quiet)}`,
      },
      {
        figure: `recovered node drains its ${size.backlog} queued wakes`,
        kind: "performance",
        value: drainS,
        unit: "s",
        target: `≤ ${DRAIN_TARGET_S} s`,
        baseline: "absolute",
        pass: drainS <= DRAIN_TARGET_S && missing === 0,
        detail: `${backlogIds.length - missing} of ${backlogIds.length} delivered after the node came back (${(backlogIds.length / drainS).toFixed(0)}/s)`,
      },
      {
        figure: "backlog delivered exactly once, to its own node only",
        kind: "correctness",
        value: duplicates + missing,
        unit: "faults",
        target: "= 0",
        baseline: "absolute",
        pass: duplicates === 0 && missing === 0 && !healthyReceivedBacklog,
        detail: `${duplicates} delivered twice, ${missing} not delivered, ${healthyReceivedBacklog ? "some" : "none"} at another node`,
      },
    ];
  } finally {
    await edge.dispose();
    await control.dispose();
    for (const node of nodes) if (node.server.listening) await stop(node);
  }
}
