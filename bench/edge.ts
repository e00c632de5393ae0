/**
 * Edge benchmark (docs/benchmarks.md): CPU per request of each caller-auth method and of envelope signing, run
 * in-process in Node many times (the Worker's modules imported, nothing bundled), in µs/request against the
 * Free plan's 10 ms CPU limit (target ≤ 1 ms each), with a bare SHA-256 of the same body measured in the same
 * run as the ratio baseline; and the Worker bundle (`wrangler deploy --dry-run`) gzip size ≤ 100 KiB beside a
 * bare Hono Worker bundled in the same run.
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";
import { WORKER_BUNDLE_OPTIONS } from "../scripts/worker-bundle-options.ts";
import { type JWK, SignJWT, exportJWK, generateKeyPair } from "jose";
import type { AuthMethod } from "../edge/auth/auth-config.ts";
import { type AuthRequest, type CallerAuth, compileCallerAuth } from "../edge/auth/caller-auth.ts";
import { createMemoryJwksStore } from "../edge/auth/jwks-cache.ts";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createEnvelopeSigner } from "../shared/envelope.ts";
import { timeOrderedId } from "../shared/time-ordered-id.ts";
import { Miniflare, convertV4MiniflareOptions } from "miniflare";
import { bundleEdge } from "../test/e2e/support/edge-miniflare.ts";
import type { BenchFigure, BenchOptions } from "./bench-types.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

interface Size {
  /** Calls per case before timing; the first also checks the case answers as expected. */
  readonly warmup: number;
  readonly iterations: number;
  readonly rounds: number;
  /** Sequential calls per workerd measurement (its process CPU is read in 10 ms ticks). */
  readonly workerdCalls: number;
}
const FULL: Size = { warmup: 50, iterations: Number(process.env["BENCH_EDGE_ITERATIONS"] ?? 400), rounds: Number(process.env["BENCH_EDGE_ROUNDS"] ?? 7), workerdCalls: 1_000 };
/** Every case still runs (and is checked) and the real wrangler bundle is still measured. */
const SMOKE: Size = { warmup: 5, iterations: 40, rounds: 2, workerdCalls: 100 };
const TARGET_US = 1_000;
const FREE_CPU_LIMIT_US = 10_000;
const BUNDLE_TARGET_KIB = 100;

const enc = new TextEncoder();
const hex = (bytes: ArrayBuffer) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
const b64 = (bytes: ArrayBuffer) => Buffer.from(bytes).toString("base64");
const sha256Hex = async (text: string) => hex(await crypto.subtle.digest("SHA-256", enc.encode(text)));
const hmac = async (key: Uint8Array<ArrayBuffer>, content: string) =>
  crypto.subtle.sign("HMAC", await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]), enc.encode(content));

/** A typical webhook body (~1 KiB JSON). */
const BODY = JSON.stringify({ message: "x".repeat(900), sessionKey: "hook:bench", agentId: "main", deliver: false });
const BODY_BYTES = enc.encode(BODY);

/** The slice of the edge Worker the handler figure calls. */
interface EdgeWorker {
  fetch(request: Request, env: object, ctx: object): Promise<Response>;
}

interface Case {
  readonly name: string;
  /** One request's work; must resolve ok (checked once before timing). */
  readonly run: () => Promise<unknown>;
}

function request(headers: Record<string, string>, clientIp = "203.0.113.10"): AuthRequest {
  return { method: "POST", url: new URL("https://edge.example.com/hooks/agent"), headers: new Headers(headers), rawBody: BODY_BYTES, clientIp };
}

async function authCase(name: string, methods: AuthMethod[], env: Record<string, unknown>, req: AuthRequest, extra: { fetch?: typeof fetch } = {}): Promise<Case> {
  const nowS = Math.floor(Date.now() / 1000);
  const auth: CallerAuth = await compileCallerAuth(methods, {
    env,
    now: () => nowS * 1000,
    jwksStore: createMemoryJwksStore(),
    // Counting failures is I/O (the AUTH_STATE Durable Object) in production, not this isolate's CPU.
    failureLimiter: { blockedFor: () => 0, recordFailure: async () => 0 },
    ...extra,
  });
  const expectOk = name.startsWith("refused") ? false : true;
  return {
    name,
    async run() {
      const result = await auth.authenticate(req);
      if (result.ok !== expectOk) throw new Error(`bench case ${name}: unexpected ${JSON.stringify(result)}`);
      return result;
    },
  };
}

async function buildCases(): Promise<{ cases: Case[]; token: string; tokens: unknown[] }> {
  const nowS = Math.floor(Date.now() / 1000);
  const cases: Case[] = [];
  // Baseline: what any handler that looks at the body pays at least.
  cases.push({ name: "baseline: SHA-256 of the 1 KiB body", run: () => crypto.subtle.digest("SHA-256", BODY_BYTES) });

  // Bearer: 20 named tokens configured, the caller's is the last.
  const token = `cg_${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url")}`;
  const tokens = await Promise.all(Array.from({ length: 19 }, async (_, i) => ({ name: `t${i}`, sha256: await sha256Hex(`other-${i}`) })));
  tokens.push({ name: "ci", sha256: await sha256Hex(token) });
  cases.push(await authCase("bearer (20 tokens)", [{ type: "bearer", tokens }], {}, request({ authorization: `Bearer ${token}` })));
  cases.push(await authCase("refused bearer (wrong token)", [{ type: "bearer", tokens }], {}, request({ authorization: `Bearer cg_${"A".repeat(43)}` })));

  // JWT HS256 with a shared secret.
  const hsSecret = "bench-hs256-shared-secret-0123456789abcdef";
  const hsToken = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setIssuer("ci").setAudience("edge").setSubject("bench").setIssuedAt(nowS).setExpirationTime(nowS + 600).sign(enc.encode(hsSecret));
  cases.push(await authCase("jwt HS256", [{ type: "jwt", secretBinding: "JWT_SECRET", issuer: "ci", audience: "edge", algorithms: ["HS256"] }], { JWT_SECRET: hsSecret }, request({ authorization: `Bearer ${hsToken}` })));

  // JWT over a remote key set (fetched once through an in-process fetch, then cached).
  const jwks: JWK[] = [];
  const signers: Record<string, Awaited<ReturnType<typeof generateKeyPair>>["privateKey"]> = {};
  for (const alg of ["RS256", "ES256", "EdDSA"] as const) {
    const pair = await generateKeyPair(alg, { extractable: true });
    jwks.push({ ...(await exportJWK(pair.publicKey)), kid: alg, alg, use: "sig" });
    signers[alg] = pair.privateKey;
  }
  const fetchJwks = (async () => Response.json({ keys: jwks })) as unknown as typeof fetch;
  const jwksMethod: AuthMethod = { type: "jwt", jwksUrl: "https://idp.example.com/jwks", issuer: "https://idp.example.com/", audience: "edge", algorithms: ["RS256", "ES256", "EdDSA"] };
  for (const alg of ["RS256", "ES256", "EdDSA"] as const) {
    const t = await new SignJWT({}).setProtectedHeader({ alg, kid: alg }).setIssuer("https://idp.example.com/").setAudience("edge").setSubject("bench").setExpirationTime(nowS + 600).sign(signers[alg]!);
    cases.push(await authCase(`jwt JWKS ${alg}`, [jwksMethod], {}, request({ authorization: `Bearer ${t}` }), { fetch: fetchJwks }));
  }
  // Cloudflare Access (RS256, team certs).
  const accessToken = await new SignJWT({ email: "ops@example.com", type: "app" }).setProtectedHeader({ alg: "RS256", kid: "RS256" }).setIssuer("https://acme.cloudflareaccess.com").setAudience("aud-tag").setSubject("u").setExpirationTime(nowS + 600).sign(signers["RS256"]!);
  cases.push(await authCase("access (RS256)", [{ type: "access", team: "acme", audience: "aud-tag" }], {}, request({ "cf-access-jwt-assertion": accessToken }), { fetch: fetchJwks }));

  // HMAC schemes over the same body.
  const whKey = crypto.getRandomValues(new Uint8Array(24));
  const whSecret = `whsec_${Buffer.from(whKey).toString("base64")}`;
  const id = "msg_bench";
  const whSig = b64(await hmac(whKey, `${id}.${nowS}.${BODY}`));
  cases.push(await authCase("hmac standard webhooks", [{ type: "hmac", scheme: "standard", name: "svix", secretBinding: "WH" }], { WH: whSecret }, request({ "webhook-id": id, "webhook-timestamp": String(nowS), "webhook-signature": `v1,${whSig}` })));
  const ghSecret = "github-webhook-secret";
  cases.push(await authCase("hmac github", [{ type: "hmac", scheme: "github", name: "gh", secretBinding: "GH" }], { GH: ghSecret }, request({ "x-hub-signature-256": `sha256=${hex(await hmac(enc.encode(ghSecret), BODY))}` })));
  const stSecret = "whsec_stripe_bench";
  cases.push(await authCase("hmac stripe", [{ type: "hmac", scheme: "stripe", name: "st", secretBinding: "ST" }], { ST: stSecret }, request({ "stripe-signature": `t=${nowS},v1=${hex(await hmac(enc.encode(stSecret), `${nowS}.${BODY}`))}` })));
  const slSecret = "slack-signing-secret";
  cases.push(await authCase("hmac slack", [{ type: "hmac", scheme: "slack", name: "sl", secretBinding: "SL" }], { SL: slSecret }, request({ "x-slack-signature": `v0=${hex(await hmac(enc.encode(slSecret), `v0:${nowS}:${BODY}`))}`, "x-slack-request-timestamp": String(nowS) })));

  // IP allowlist: 100 CIDRs, the client matches the last.
  const cidrs = Array.from({ length: 99 }, (_, i) => `10.${i}.0.0/16`);
  cidrs.push("203.0.113.0/24");
  cases.push(await authCase("ip allowlist (100 CIDRs)", [{ type: "ip", cidrs }], {}, request({})));

  // Envelope signing (EdDSA, the edge's default key type) for the forward.
  const edge = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const signer = await createEnvelopeSigner({ privateJwk: { ...(await exportJWK(edge.privateKey)), alg: "EdDSA", kid: "edge-1" }, nodeId: "node-1" });
  cases.push({ name: "envelope signing (EdDSA)", run: () => signer.sign({ method: "POST", path: "/hooks/agent", body: BODY, principal: "token:ci" }) });

  // The whole Worker handler: POST /hooks/wake with a bearer token → config (cached) → auth → payload →
  // signed forward to a node stub answering 200 in-process (no network, no outbox).
  // Imported by a computed specifier: the edge entry's types (Env, SqlStorage…) exist only in the Worker
  // tsconfig, and this file is checked with the Node one.
  const edgeApp = new URL("../edge/edge-app.ts", import.meta.url).href;
  const { createEdgeWorker } = (await import(edgeApp)) as { createEdgeWorker: (deps: object) => EdgeWorker };
  const worker = createEdgeWorker({
    fetch: (async () => Response.json({ ok: true })) as unknown as typeof fetch,
    now: () => Date.now(),
    newDeliveryId: () => timeOrderedId(Date.now(), () => crypto.randomUUID()),
    logEvent: () => {},
    log: () => {},
  });
  const workerEnv = {
    CLAWGATE_EDGE_CONFIG: JSON.stringify({
      nodes: [{ id: "node-1", origin: "https://node-1.example.com", agents: ["main"], primary: true }],
      routes: { wake: { auth: [{ type: "bearer", tokens }] } },
    }),
    CLAWGATE_EDGE_SIGNING_KEY: JSON.stringify({ ...(await exportJWK(edge.privateKey)), alg: "EdDSA", kid: "edge-1" }),
  };
  const ctx = { waitUntil() {}, passThroughOnException() {}, props: {} };
  const wakeBody = JSON.stringify({ text: "x".repeat(900), mode: "now" });
  cases.push({
    name: "whole handler: POST /hooks/wake (bearer, signed forward)",
    async run() {
      const res = await worker.fetch(
        new Request("https://edge.example.com/hooks/wake", {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "cf-connecting-ip": "203.0.113.10" },
          body: wakeBody,
        }),
        workerEnv,
        ctx,
      );
      if (res.status !== 200) throw new Error(`bench handler: HTTP ${res.status} ${await res.text()}`);
      return res.arrayBuffer();
    },
  });
  return { cases, token, tokens };
}

/** CPU µs per call (user + system of the whole process, so WebCrypto's worker threads count too). */
async function cpuPerCall(c: Case, n: number): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) await c.run();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function bundleFigures(): Promise<BenchFigure[]> {
  const out = await mkdtemp(join(tmpdir(), "clawgate-bench-edge-"));
  try {
    const res = spawnSync("npx", ["wrangler", "deploy", "--dry-run", "--outdir", out], {
      cwd: ROOT,
      encoding: "utf8",
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", DO_NOT_TRACK: "1", CI: "1" },
      timeout: 120_000,
    });
    if (res.status !== 0) {
      return [{ figure: "bundle gzip (wrangler --dry-run)", kind: "correctness", value: 0, unit: "KiB", target: `≤ ${BUNDLE_TARGET_KIB} KiB`, baseline: "-", pass: false, detail: `wrangler failed: ${(res.stderr || res.stdout).trim().split("\n").slice(-3).join(" | ")}` }];
    }
    let raw = 0;
    let gz = 0;
    for (const file of await readdir(out)) {
      if (!/\.(m?js|wasm)$/.test(file)) continue;
      const bytes = await readFile(join(out, file));
      raw += bytes.length;
      gz += gzipSync(bytes).length;
    }
    // Baseline: a bare Hono Worker bundled the way wrangler does (esbuild, ESM, not minified), same run.
    const bare = await esbuild.build({
      stdin: { contents: 'import { Hono } from "hono"; const app = new Hono(); app.get("/", (c) => c.text("ok")); export default app;', resolveDir: ROOT, loader: "ts" },
      ...WORKER_BUNDLE_OPTIONS,
      write: false,
    });
    const bareGz = gzipSync(bare.outputFiles[0]!.contents).length;
    const kib = gz / 1024;
    const wranglerLine = /Total Upload: .*$/m.exec(res.stdout)?.[0] ?? "";
    return [
      {
        figure: "bundle gzip (wrangler --dry-run)",
        // A deterministic size, the same at any bench size: the smoke checks it.
        kind: "correctness",
        value: kib,
        unit: "KiB",
        target: `≤ ${BUNDLE_TARGET_KIB} KiB`,
        baseline: `bare Hono ${(bareGz / 1024).toFixed(1)} KiB (${(gz / bareGz).toFixed(1)}×)`,
        pass: kib <= BUNDLE_TARGET_KIB,
        detail: `raw ${(raw / 1024).toFixed(1)} KiB, gzip ${kib.toFixed(1)} KiB (node zlib default level); wrangler: ${wranglerLine}; measured ${new Date().toISOString()} on the tree as checked out`,
      },
    ];
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

/** utime + stime of a process, in µs (Linux /proc; clock ticks are 10 ms). */
async function processCpuUs(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, "utf8")).replace(/^.*\) /, "").split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** The workerd process Miniflare started for this bench (a child of this process). */
async function workerdPid(): Promise<number | undefined> {
  const children = (await readFile(`/proc/${process.pid}/task/${process.pid}/children`, "utf8").catch(() => "")).trim().split(/\s+/).filter(Boolean);
  for (const child of children) {
    if ((await readFile(`/proc/${child}/cmdline`, "utf8").catch(() => "")).includes("workerd")) return Number(child);
  }
  return undefined;
}

/**
 * The whole `POST /hooks/wake` handler in workerd: the real Worker (bundled as for wrangler) under Miniflare,
 * forwarding to a loopback node that answers 200, beside a bare Worker in the same workerd process that only
 * relays the same body to the same node. workerd's process CPU per request, interleaved rounds; the difference is
 * the handler's own work (config, auth, validation, delivery id, envelope, answer), the bare relay is what any
 * Worker pays here for the inbound request and the subrequest.
 */
async function workerdHandlerFigure(size: Size, token: string, tokens: unknown[]): Promise<BenchFigure> {
  const node = createServer((req, res) => {
    req.resume();
    req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true,"mode":"now"}'));
  });
  await new Promise<void>((resolve) => node.listen(0, "127.0.0.1", () => resolve()));
  const origin = `http://127.0.0.1:${(node.address() as AddressInfo).port}`;
  const edgeKey = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const bare = `export default { async fetch(request) {
    const r = await fetch("${origin}/hooks/wake", { method: "POST", body: await request.arrayBuffer(), headers: { "content-type": "application/json" } });
    return new Response(await r.text(), { status: r.status, headers: { "content-type": "application/json" } });
  } };`;
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      workers: [
        {
          name: "edge",
          modules: [{ type: "ESModule", path: "index.js", contents: await bundleEdge() }],
          compatibilityDate: "2026-10-01",
          compatibilityFlags: ["nodejs_compat"],
          bindings: {
            CLAWGATE_EDGE_CONFIG: JSON.stringify({ nodes: [{ id: "node-1", origin, agents: ["main"], primary: true }], routes: { wake: { auth: [{ type: "bearer", tokens }] } } }),
            CLAWGATE_EDGE_SIGNING_KEY: JSON.stringify({ ...(await exportJWK(edgeKey.privateKey)), alg: "EdDSA", kid: "edge-1" }),
          },
          durableObjects: { OUTBOX: { className: "EdgeOutbox", useSQLite: true }, AUTH_STATE: { className: "CallerAuthState", useSQLite: true } },
        },
        { name: "bare", modules: [{ type: "ESModule", path: "bare.js", contents: bare }], compatibilityDate: "2026-10-01" },
      ],
      handleStructuredLogs: () => {},
    } as unknown as Parameters<typeof convertV4MiniflareOptions>[0]),
  );
  try {
    await mf.ready;
    const pid = await workerdPid();
    if (pid === undefined) throw new Error("no workerd child process found");
    const bareWorker = await mf.getWorker("bare");
    const wakeBody = JSON.stringify({ text: "x".repeat(900), mode: "now" });
    const init = { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "cf-connecting-ip": "203.0.113.10" }, body: wakeBody };
    const wake = async () => {
      const res = await mf.dispatchFetch("https://edge.example.com/hooks/wake", init);
      if (res.status !== 200) throw new Error(`workerd handler: HTTP ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
    };
    const relay = async () => {
      const res = await bareWorker.fetch("https://bare.example.com/", init);
      if (res.status !== 200) throw new Error(`workerd bare relay: HTTP ${res.status}`);
      await res.arrayBuffer();
    };
    const perCall = async (call: () => Promise<void>) => {
      const before = await processCpuUs(pid);
      for (let i = 0; i < size.workerdCalls; i++) await call();
      return ((await processCpuUs(pid)) - before) / size.workerdCalls;
    };
    for (let i = 0; i < size.warmup * 4; i++) {
      await wake();
      await relay();
    }
    const wakes: number[] = [];
    const relays: number[] = [];
    for (let r = 0; r < size.rounds; r++) {
      wakes.push(await perCall(wake));
      relays.push(await perCall(relay));
    }
    const handler = median(wakes.map((w, i) => w - relays[i]!));
    return {
      figure: "workerd CPU/request: whole handler POST /hooks/wake (bearer, signed forward)",
      kind: "performance",
      value: handler,
      unit: "µs",
      target: "≤ 300 µs",
      baseline: `bare relay Worker, same workerd ${median(relays).toFixed(0)} µs (subtracted)`,
      pass: handler <= 300,
      detail:
        `workerd process CPU (user+system, 10 ms ticks) over ${size.workerdCalls} sequential calls per window, median of ${size.rounds} interleaved rounds of (wake − relay): ` +
        `wake ${median(wakes).toFixed(0)} µs, bare relay ${median(relays).toFixed(0)} µs per request (${wakes.map((w, i) => (w - relays[i]!).toFixed(0)).join(", ")} µs)`,
    };
  } finally {
    await mf.dispose();
    await new Promise((r) => node.close(r));
  }
}

export default async function edgeBench({ smoke }: BenchOptions): Promise<BenchFigure[]> {
  const { warmup, iterations, rounds } = smoke ? SMOKE : FULL;
  const { cases, token, tokens } = await buildCases();
  // Warm-up: JIT, key imports, the one JWKS fetch, and a correctness check of every case.
  for (const c of cases) for (let i = 0; i < warmup; i++) await c.run();
  const samples = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  // Interleaved rounds: background load on a shared machine hits every case alike.
  for (let r = 0; r < rounds; r++) for (const c of cases) samples.get(c.name)!.push(await cpuPerCall(c, iterations));
  const base = median(samples.get(cases[0]!.name)!);
  const figures: BenchFigure[] = [];
  for (const c of cases.slice(1)) {
    const us = median(samples.get(c.name)!);
    figures.push({
      figure: `CPU/request: ${c.name}`,
      kind: "performance",
      value: us,
      unit: "µs",
      target: `≤ ${TARGET_US} µs (${((TARGET_US / FREE_CPU_LIMIT_US) * 100).toFixed(0)}% of Free 10 ms)`,
      baseline: `sha256(1 KiB) ${base.toFixed(1)} µs → ${(us / base).toFixed(1)}×`,
      pass: us <= TARGET_US,
    });
  }
  const detail = `median of ${rounds} interleaved rounds × ${iterations} calls, process CPU (user+system) per call, Node ${process.version}`;
  figures[0] = { ...figures[0]!, detail };
  figures.push(await workerdHandlerFigure(smoke ? SMOKE : FULL, token, tokens));
  figures.push(...(await bundleFigures()));
  return figures;
}
