/**
 * `npm run bench -- hooks --vs-openclaw`: the same hook-token wake load (same body, same connections) against the
 * real OpenClaw gateway, started the way the compatibility suite starts it (test/compat/support/gateways.ts) from
 * its cached install, in rounds interleaved with the daemon, reported as ratios; when the install is absent, one
 * row that says how to get it.
 */
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { type Gateway, removeDir, startOpenClaw, writeSharedConfig } from "../test/compat/support/gateways.ts";
import { OPENCLAW_VERSION, openClawEntry } from "../test/compat/support/openclaw-install.ts";
import type { BenchFigure } from "./bench-types.ts";

interface LoadResult {
  readonly rate: number;
  readonly latency: { readonly p50: number; readonly p99: number };
}

export interface OpenclawComparisonOptions {
  readonly agentUrl: string;
  readonly hookToken: string;
  readonly amount: number;
  readonly warmup: number;
  readonly rounds: number;
  readonly connections: number;
  /** One window of `amount` hook-token wakes at `connections` against `url`; throws on any non-2xx answer. */
  readonly load: (url: string, amount: number) => Promise<LoadResult>;
}

/** Where test/compat/install-openclaw.sh caches the gateway (the same rule as the installer). */
export const OPENCLAW_DIR =
  process.env["CLAWGATE_OPENCLAW_DIR"] ?? join(process.env["XDG_CACHE_HOME"] ?? join(homedir(), ".cache"), "clawgate", `openclaw-${OPENCLAW_VERSION}`);

const BASELINE = `OpenClaw ${OPENCLAW_VERSION} gateway, wakes in memory, same load`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function openclawComparison(options: OpenclawComparisonOptions): Promise<BenchFigure[]> {
  if (!existsSync(openClawEntry(OPENCLAW_DIR))) {
    return [
      {
        figure: "vs OpenClaw gateway (optional): skipped",
        kind: "performance",
        value: 0,
        unit: "",
        target: "optional, not run",
        baseline: BASELINE,
        pass: true,
        detail: `skipped: no OpenClaw install at ${OPENCLAW_DIR}; get it with \`bash test/compat/install-openclaw.sh\` (or \`npm run compat\`, which installs it on first use), or set CLAWGATE_OPENCLAW_DIR to an install of openclaw@${OPENCLAW_VERSION}`,
      },
    ];
  }
  // Its own config: a local gateway with hooks on and the daemon's hook token; no update check, no channels.
  const { dir, configPath } = await writeSharedConfig({
    gateway: { mode: "local", bind: "loopback", auth: { mode: "token", token: "gateway-token-bench-0123456789abcdef0123" } },
    update: { checkOnStart: false },
    hooks: { enabled: true, token: options.hookToken },
  });
  let gateway: Gateway | undefined;
  try {
    gateway = await startOpenClaw(OPENCLAW_DIR, dir, configPath);
    const urls = { clawgate: options.agentUrl, openclaw: gateway.url };
    await options.load(urls.openclaw, options.warmup);
    const windows: Record<keyof typeof urls, LoadResult[]> = { clawgate: [], openclaw: [] };
    for (let round = 0; round < options.rounds; round++) {
      // Alternate which goes first, so neither always meets the machine in the same state.
      const order = round % 2 === 0 ? (["clawgate", "openclaw"] as const) : (["openclaw", "clawgate"] as const);
      for (const name of order) windows[name].push(await options.load(urls[name], options.amount));
    }
    const cell = (name: keyof typeof urls) => ({
      rate: median(windows[name].map((w) => w.rate)),
      p50: median(windows[name].map((w) => w.latency.p50)),
      p99: median(windows[name].map((w) => w.latency.p99)),
    });
    const ours = cell("clawgate");
    const theirs = cell("openclaw");
    const detail =
      `median of ${options.rounds} interleaved rounds of ${options.amount} hook-token wakes at ${options.connections} connections: ` +
      `clawgate ${ours.rate.toFixed(0)} durable wakes/s (p50 ${ours.p50.toFixed(1)}, p99 ${ours.p99.toFixed(1)} ms), ` +
      `OpenClaw ${theirs.rate.toFixed(0)} wakes/s in memory (p50 ${theirs.p50.toFixed(1)}, p99 ${theirs.p99.toFixed(1)} ms)`;
    return [
      {
        figure: `vs OpenClaw: /hooks/wake wakes/s, hook token, ${options.connections} connections`,
        kind: "performance",
        value: ours.rate / theirs.rate,
        unit: "×",
        target: "≥ 1×",
        baseline: BASELINE,
        pass: ours.rate >= theirs.rate,
        detail,
      },
      {
        figure: `vs OpenClaw: /hooks/wake p99 latency, hook token, ${options.connections} connections`,
        kind: "performance",
        value: ours.p99 / theirs.p99,
        unit: "×",
        target: "≤ 1×",
        baseline: BASELINE,
        pass: ours.p99 <= theirs.p99,
        detail,
      },
    ];
  } finally {
    await gateway?.stop();
    await removeDir(dir);
  }
}
