/** The Runs pages: recent runs (agent, kind, status, model, attempts, duration, peak RSS), filtered and paged; one run's detail. */
import type { RunRecord } from "../dispatch/run-log.ts";
import { CONSOLE_PATH, type Html, formatDuration, formatGb, formatTime, html, pill, query, relative } from "./console-format.ts";
import { panel } from "./console-layout.ts";

export const RUN_STATUSES = ["running", "ok", "error", "timeout", "memory_limit", "cancelled", "interrupted", "skipped", "replayed"] as const;
export const RUN_KINDS = ["agent", "heartbeat", "replay"] as const;
export const RUNS_PAGE_SIZE = 50;

export interface RunsModel {
  readonly status: string;
  readonly agentId: string;
  readonly kind: string;
  readonly page: number;
  readonly list: readonly RunRecord[];
  readonly more: boolean;
  readonly agentIds: readonly string[];
  readonly now: number;
}

/** When a run happened: its start, else its end, else when it was queued. */
const whenOf = (r: RunRecord) => r.startedAt ?? r.finishedAt ?? r.queuedAt;

export function runsTable(list: readonly RunRecord[], now: number): Html {
  return html`<table class="runs"><thead><tr>
  <th scope="col">Run</th><th scope="col">Agent</th><th scope="col">Kind</th><th scope="col">Status</th><th scope="col">Model</th>
  <th scope="col" class="num">Attempt</th><th scope="col" class="num">Duration</th><th scope="col" class="num">Peak RSS</th><th scope="col">When</th>
</tr></thead><tbody>
${list.map(
  (r) => html`<tr>
  <td class="mono id"><a href="${CONSOLE_PATH}/runs/view${query({ id: r.id })}">${r.id}</a></td>
  <td class="mono">${r.agentId}</td>
  <td>${r.kind}${r.trigger && r.kind === "heartbeat" ? html` <span class="muted">(${r.trigger})</span>` : ""}</td>
  <td>${pill(r.status)}</td>
  <td class="mono">${r.model ?? html`<span class="muted">—</span>`}</td>
  <td class="num">${r.attempt}</td>
  <td class="num">${formatDuration(r.durationMs)}</td>
  <td class="num">${r.memoryPeakGb !== undefined ? formatGb(r.memoryPeakGb) : html`<span class="muted">—</span>`}</td>
  <td>${relative(whenOf(r), now)}</td>
</tr>`,
)}
</tbody></table>`;
}

export function runsMain(m: RunsModel): Html {
  const option = (value: string, current: string, label = value) => html`<option value="${value}"${value === current ? html` selected` : ""}>${label}</option>`;
  const form = html`<form method="get" action="${CONSOLE_PATH}/runs" class="filter">
  <label for="f-status">Status</label>
  <select id="f-status" name="status">${option("", m.status, "any")}${RUN_STATUSES.map((s) => option(s, m.status))}</select>
  <label for="f-kind">Kind</label>
  <select id="f-kind" name="kind">${option("", m.kind, "any")}${RUN_KINDS.map((k) => option(k, m.kind))}</select>
  <label for="f-agent">Agent</label>
  <select id="f-agent" name="agent">${option("", m.agentId, "any")}${m.agentIds.map((a) => option(a, m.agentId))}</select>
  <button type="submit">Show</button>
</form>`;
  const base = { status: m.status, kind: m.kind, agent: m.agentId };
  const pager = html`<nav class="pager" aria-label="Pages">
  ${m.page > 1 ? html`<a href="${CONSOLE_PATH}/runs${query({ ...base, page: m.page - 1 === 1 ? undefined : m.page - 1 })}" rel="prev">← newer</a>` : html`<span class="muted">← newer</span>`}
  <span>page ${m.page}</span>
  ${m.more ? html`<a href="${CONSOLE_PATH}/runs${query({ ...base, page: m.page + 1 })}" rel="next">older →</a>` : html`<span class="muted">older →</span>`}
</nav>`;
  return html`<h1>Runs</h1>
${form}
${m.list.length === 0 ? html`<p class="empty">No runs match.</p>` : runsTable(m.list, m.now)}
${pager}`;
}

export function runMain(r: RunRecord, now: number): Html {
  const row = (label: string, value: Html | string | number | undefined) =>
    value === undefined || value === "" ? "" : html`<dt>${label}</dt><dd>${value}</dd>`;
  const deliveries = r.deliveryIds.map((id) => html`<a class="mono" href="${CONSOLE_PATH}/deliveries/view${query({ id })}">${id}</a>`);
  return html`<h1>Run <span class="mono small">${r.id}</span></h1>
${panel(
  "Run",
  html`<dl class="facts">
  ${row("Status", pill(r.status))}
  ${row("Agent", html`<span class="mono">${r.agentId}</span>`)}
  ${row("Kind", r.kind)}
  ${row("Trigger", r.trigger)}
  ${row("Session", html`<span class="mono">${r.sessionKey}</span>`)}
  ${row("Model", r.model)}
  ${row("Attempt", r.attempt)}
  ${row("Queued", r.queuedAt !== undefined ? html`${formatTime(r.queuedAt)} (${relative(r.queuedAt, now)})` : undefined)}
  ${row("Started", r.startedAt !== undefined ? formatTime(r.startedAt) : undefined)}
  ${row("Finished", r.finishedAt !== undefined ? formatTime(r.finishedAt) : undefined)}
  ${row("Duration", r.durationMs !== undefined ? formatDuration(r.durationMs) : undefined)}
  ${row("Memory estimate", r.memoryEstimateGb !== undefined ? formatGb(r.memoryEstimateGb) : undefined)}
  ${row("Memory limit", r.memoryLimitGb !== undefined ? formatGb(r.memoryLimitGb) : undefined)}
  ${row("Peak RSS", r.memoryPeakGb !== undefined ? formatGb(r.memoryPeakGb) : undefined)}
  ${row("Error", r.errorCode !== undefined ? html`<span class="mono">${r.errorCode}</span>${r.errorMessage ? html` — ${r.errorMessage}` : ""}` : undefined)}
  ${row("Given up", r.deadReason)}
  ${row("Skipped because", r.skipReason)}
  ${row("Acknowledgement", r.ack === undefined ? undefined : r.ack ? "HEARTBEAT_OK" : "no")}
  ${row("Reply", r.replyChars !== undefined ? `${r.replyChars} characters` : undefined)}
  ${row("Replayed by", r.replayedBy)}
  ${row("Deliveries", deliveries.length ? html`${deliveries}` : undefined)}
</dl>
${r.deliveryIds.length === 1 ? html`<p><a href="${CONSOLE_PATH}/deliveries/view${query({ id: r.deliveryIds[0], payload: 1 })}">Show the delivery's stored request</a> <span class="muted">(shown only on request)</span></p>` : ""}`,
)}`;
}
