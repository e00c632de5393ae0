/** `clawgate status`: the console's overview in the terminal (for an SSH session); exit 1 when the daemon is not ready. */
import type { Command } from "commander";
import { AGENT_MODEL_FIX } from "../config/agent-model-rule.ts";
import type { Overview } from "../console/console-data.ts";
import { HOST_MEMORY_NOT_READ, formatGb, formatSpan } from "../console/console-format.ts";
import { CliError } from "./cli-error.ts";
import type { CliIo } from "./cli-io.ts";
import { type DaemonFlags, adminRequest, daemonOptions, findDaemon } from "./daemon-client.ts";

interface StatusOptions extends DaemonFlags {
  json?: boolean;
}

export function registerStatusCommand(program: Command, io: CliIo, fetchImpl: typeof fetch = fetch): void {
  daemonOptions(program.command("status").description("the daemon at a glance: ready or not (and why), secrets, heartbeats, memory, queue, dead deliveries"))
    .option("--json", "print the overview as JSON")
    .action(async (opts: StatusOptions, command: Command) => {
      const target = await findDaemon(opts, command);
      const { status, body } = await adminRequest(target, "GET", "/overview", { fetchImpl, timeoutMs: 10_000 });
      if (status === 404) throw new CliError(`the daemon at ${target.url} has no overview (HTTP 404); it predates clawgate status — restart it on this version`);
      if (status !== 200 || body["ok"] !== true || typeof body["ready"] !== "object") throw new CliError(`unexpected overview from ${target.url} (HTTP ${status})`);
      const overview = body as unknown as Overview;
      io.stdout(opts.json ? `${JSON.stringify(overview)}\n` : renderStatus(overview, target.url));
      if (!overview.ready.ok) process.exitCode = 1;
    });
}

/** The overview as aligned lines; the first says ready or not, so `clawgate status | head -1` is enough in a script. */
export function renderStatus(o: Overview, url: string): string {
  const now = o.generatedAt;
  const ago = (at: number | null | undefined) => (at === null || at === undefined ? "never" : at <= now ? `${formatSpan(now - at)} ago` : `in ${formatSpan(at - now)}`);
  const lines: [string, string][] = [];
  lines.push(["ready", o.ready.ok ? "yes" : `NO: ${o.ready.problems.join("; ")}`]);
  lines.push(["daemon", `${url} · pid ${o.live.pid} · up ${formatSpan(now - o.live.startedAt)}`]);
  const last = (type: string) => o.secrets.transitions.find((t) => t.type === type);
  const degraded = last("DEGRADED");
  const recovered = last("RECOVERED");
  lines.push([
    "secrets",
    `${o.secrets.health} · snapshot v${o.secrets.version ?? "—"} · ${o.secrets.refCount} ref${o.secrets.refCount === 1 ? "" : "s"}` +
      (o.secrets.warnings ? ` · ${o.secrets.warnings} warning${o.secrets.warnings === 1 ? "" : "s"}` : "") +
      (degraded ? ` · last DEGRADED ${ago(degraded.at)}${degraded.failures.length ? ` (${degraded.failures.map((f) => `${f.refKey || "config"} ${f.code}`).join(", ")})` : ""}` : "") +
      (recovered ? ` · last RECOVERED ${ago(recovered.at)}` : ""),
  ]);
  if (o.heartbeats.length === 0) lines.push(["heartbeats", "no agents configured"]);
  for (const [i, h] of o.heartbeats.entries()) {
    const text = h.problem
      ? `${h.agentId}: CANNOT RUN: ${h.problem} · fix: ${AGENT_MODEL_FIX}`
      : h.everyMs === 0
        ? `${h.agentId}: periodic heartbeats off${h.last ? ` · last ${ago(h.last.at)} (${h.last.status})` : ""}`
        : `${h.agentId}: every ${formatSpan(h.everyMs)} · last ${h.last ? `${ago(h.last.at)} (${h.last.status})` : "never"} · next ${ago(h.nextAt)}${h.overdue ? " · OVERDUE" : ""}`;
    lines.push([i === 0 ? "heartbeats" : "", text]);
  }
  if (o.memory) {
    const m = o.memory;
    const byModel = m.byModel.map((x) => `${x.model} ${formatGb(x.gb)}`).join(", ");
    lines.push(["memory", `${bar(m.reservedGb, m.budgetGb)} ${formatGb(m.reservedGb)} of ${formatGb(m.budgetGb)} reserved${byModel ? ` (${byModel})` : ""} · ${m.availableGb === null || m.totalGb === null ? HOST_MEMORY_NOT_READ : `host ${formatGb(m.availableGb)} available of ${formatGb(m.totalGb)}`}`]);
  }
  lines.push(["queue", `${o.queue.queued} queued (${o.queue.queuedHigh} high priority) · ${o.queue.running} running${o.queue.blocked ? ` · waiting on ${o.queue.blocked}` : ""}`]);
  lines.push(["deliveries", `${o.deliveries.pending} pending · ${o.deliveries.dead} dead · ${o.deliveries.done} done${o.deliveries.dead > 0 ? " (list: clawgate intake list --state dead)" : ""}`]);
  const runs = Object.entries(o.runs).filter(([, n]) => n > 0);
  lines.push(["runs", runs.length ? runs.map(([s, n]) => `${n} ${s}`).join(" · ") : "none yet"]);
  const width = Math.max(...lines.map(([k]) => k.length));
  return `${lines.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n")}\n`;
}

/** `[######------]`: plain ASCII, so it survives any terminal and `| less`. */
function bar(used: number, total: number, width = 20): string {
  const filled = total > 0 ? Math.min(width, Math.round((used / total) * width)) : 0;
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}]`;
}
