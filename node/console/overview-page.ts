/** The Overview page: is the node alive and ready (and why not), secrets, heartbeats, the memory budget, queue and dead deliveries. */
import { AGENT_MODEL_FIX } from "../config/agent-model-rule.ts";
import { memoryBar, runsPerHourChart } from "./console-charts.ts";
import type { Overview, RunsPerHour } from "./console-data.ts";
import { CONSOLE_PATH, HOST_MEMORY_NOT_READ, type Html, formatGb, formatSpan, formatTime, html, pill, relative } from "./console-format.ts";
import { panel } from "./console-layout.ts";

export function overviewMain(o: Overview, hours: RunsPerHour): Html {
  const now = o.generatedAt;
  const overdue = o.heartbeats.filter((h) => h.overdue).length;
  const cannotRun = o.heartbeats.filter((h) => h.problem).length;
  const summary = html`<div class="cards">
  <div class="card"><h2>Liveness</h2><p class="big">${pill("alive", "ok")}</p><p class="muted">pid ${o.live.pid} · up ${formatSpan(now - o.live.startedAt)}</p></div>
  <div class="card"><h2>Readiness</h2><p class="big">${o.ready.ok ? pill("ready", "ok") : pill("not ready", "bad")}</p>
    ${o.ready.ok ? html`<p class="muted">all checks pass</p>` : html`<ul class="reasons">${o.ready.problems.map((p) => html`<li>${p}</li>`)}</ul>`}</div>
  <div class="card"><h2>Secrets</h2><p class="big">${pill(o.secrets.health, o.secrets.health === "healthy" ? "ok" : "bad")}</p><p class="muted">snapshot v${o.secrets.version ?? "—"} · ${o.secrets.refCount} ref${o.secrets.refCount === 1 ? "" : "s"}${o.secrets.warnings ? ` · ${o.secrets.warnings} warning${o.secrets.warnings === 1 ? "" : "s"}` : ""}</p></div>
  <div class="card"><h2>Queue</h2><p class="big figure">${o.queue.queued}</p><p class="muted">queued · ${o.queue.running} running${o.queue.blocked ? ` · waiting on ${o.queue.blocked}` : ""}</p></div>
  <div class="card"><h2>Dead deliveries</h2><p class="big figure"><a href="${CONSOLE_PATH}/deliveries?state=dead">${o.deliveries.dead}</a></p><p class="muted">${o.deliveries.pending} pending · ${o.deliveries.done} done</p></div>
  <div class="card"><h2>Heartbeats</h2><p class="big">${o.heartbeats.length === 0 ? pill("none", "neutral") : cannotRun > 0 ? pill(`${cannotRun} cannot run`, "bad") : overdue > 0 ? pill(`${overdue} overdue`, "bad") : pill("on time", "ok")}</p><p class="muted">${o.heartbeats.length} agent${o.heartbeats.length === 1 ? "" : "s"}</p></div>
</div>`;

  const secrets = panel(
    "Secrets",
    html`<dl class="facts">
  <dt>State</dt><dd>${pill(o.secrets.health, o.secrets.health === "healthy" ? "ok" : "bad")}</dd>
  <dt>Snapshot</dt><dd>version ${o.secrets.version ?? "—"}, activated ${relative(o.secrets.activatedAt, now)}</dd>
  <dt>Refs resolved</dt><dd>${o.secrets.refCount}</dd>
  <dt>Warnings</dt><dd>${o.secrets.warnings}</dd>
</dl>
<h3>Last transitions</h3>
${
  o.secrets.transitions.length === 0
    ? html`<p class="muted">No DEGRADED or RECOVERED transition since this node started.</p>`
    : html`<table><thead><tr><th scope="col">Event</th><th scope="col">When</th><th scope="col">Failed refs</th></tr></thead><tbody>
${o.secrets.transitions.map(
  (t) =>
    html`<tr><td>${pill(t.type, t.type === "DEGRADED" ? "bad" : "ok")}</td><td>${relative(t.at, now)}</td><td class="mono">${t.failures.map((f) => `${f.refKey || "(config)"} ${f.code}`).join(", ") || "—"}</td></tr>`,
)}
</tbody></table>`
}`,
  );

  const heartbeats = panel(
    "Heartbeats",
    o.heartbeats.length === 0
      ? html`<p class="muted">No agents configured: this node only journals deliveries.</p>`
      : html`<table><thead><tr><th scope="col">Agent</th><th scope="col">Every</th><th scope="col">Last</th><th scope="col">Next due</th><th scope="col">State</th></tr></thead><tbody>
${o.heartbeats.map(
  (h) =>
    h.problem
      ? html`<tr><td class="mono">${h.agentId}</td><td colspan="3">${h.problem}. Fix: ${AGENT_MODEL_FIX}</td><td>${pill("cannot run", "bad")}</td></tr>`
      : html`<tr><td class="mono">${h.agentId}</td><td>${h.everyMs > 0 ? formatSpan(h.everyMs) : "off"}</td><td>${h.last ? html`${relative(h.last.at, now)} ${pill(h.last.status)}` : html`<span class="muted">never</span>`}</td><td>${h.nextAt === null ? html`<span class="muted">periodic heartbeats off</span>` : relative(h.nextAt, now)}</td><td>${h.everyMs === 0 ? pill("off", "neutral") : h.overdue ? pill("overdue", "bad") : pill("on time", "ok")}</td></tr>`,
)}
</tbody></table>`,
  );

  const memory = panel(
    "Memory budget",
    o.memory
      ? html`${memoryBar(o.memory)}
<p class="muted">${formatGb(o.memory.reservedGb)} reserved of ${formatGb(o.memory.budgetGb)} · ${o.memory.availableGb === null || o.memory.totalGb === null ? HOST_MEMORY_NOT_READ : `host ${formatGb(o.memory.availableGb)} available of ${formatGb(o.memory.totalGb)}`}</p>
${
  o.memory.models.length === 0
    ? ""
    : html`<table><caption class="visually-hidden">What one run of each model reserves</caption><thead><tr><th scope="col">Model</th><th scope="col" class="num">Per run</th><th scope="col">Estimate</th><th scope="col" class="num">Limit</th><th scope="col" class="num">Kills</th></tr></thead><tbody>
${o.memory.models.map((m) => html`<tr><td class="mono">${m.model}</td><td class="num">${formatGb(m.estimateGb)}</td><td>${m.learned ? `learned (${m.samples} run${m.samples === 1 ? "" : "s"})` : "configured"}</td><td class="num">${m.hardLimitGb === null ? "—" : formatGb(m.hardLimitGb)}</td><td class="num">${m.limitKills}</td></tr>`)}
</tbody></table>`
}`
      : html`<p class="muted">No dispatcher on this node.</p>`,
  );

  const runs = panel("Runs per hour", runsPerHourChart(hours), html`<a href="${CONSOLE_PATH}/runs">all runs →</a>`);

  return html`<h1>Overview <span class="muted small">as of ${formatTime(now)}</span></h1>
${summary}
<div class="grid-2">${memory}${secrets}</div>
${heartbeats}
${runs}`;
}
