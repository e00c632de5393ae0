/** The Deliveries pages: pending and dead (and done) deliveries with reason, attempts and age; one delivery's runs; replay with a confirmation. */
import type { RunRecord } from "../dispatch/run-log.ts";
import type { DeliveryView } from "./console-data.ts";
import { CONSOLE_PATH, type Html, html, pill, query, relative } from "./console-format.ts";
import { notice, panel } from "./console-layout.ts";
import { runsTable } from "./runs-page.ts";

export const DELIVERY_STATES = ["pending", "dead", "done"] as const;
export type DeliveryStateFilter = (typeof DELIVERY_STATES)[number];

export interface DeliveriesModel {
  readonly state: DeliveryStateFilter;
  readonly filter: string;
  readonly list: readonly DeliveryView[];
  readonly total: number;
  readonly counts: Readonly<Record<DeliveryStateFilter, number>>;
  readonly now: number;
  readonly flash?: { readonly text: string; readonly tone: "ok" | "bad" } | undefined;
}

export function deliveriesMain(m: DeliveriesModel): Html {
  const tabs = html`<ul class="tabs" aria-label="Delivery state">${DELIVERY_STATES.map(
    (s) => html`<li><a href="${CONSOLE_PATH}/deliveries${query({ state: s, q: m.filter })}"${s === m.state ? html` aria-current="page"` : ""}>${s} <span class="count">${m.counts[s]}</span></a></li>`,
  )}</ul>`;
  const form = html`<form method="get" action="${CONSOLE_PATH}/deliveries" class="filter" role="search">
  <input type="hidden" name="state" value="${m.state}">
  <label for="q">Filter by id or kind</label>
  <input id="q" name="q" type="search" value="${m.filter}" placeholder="e.g. agent, github:">
  <button type="submit">Filter</button>${m.filter ? html` <a href="${CONSOLE_PATH}/deliveries${query({ state: m.state })}">clear</a>` : ""}
</form>`;
  const rows = m.list.map(
    (d) => html`<tr>
  <td class="mono id"><a href="${CONSOLE_PATH}/deliveries/view${query({ id: d.deliveryId })}">${d.deliveryId}</a></td>
  <td>${d.kind}</td>
  <td>${pill(d.state)}</td>
  <td class="num">${d.attempts}</td>
  <td>${relative(d.receivedAt, m.now)}</td>
  <td class="reason">${d.reason ?? html`<span class="muted">—</span>`}</td>
  <td>${d.state === "dead" ? html`<a class="button" href="${CONSOLE_PATH}/deliveries/replay${query({ id: d.deliveryId })}">Replay…</a>` : ""}</td>
</tr>`,
  );
  const table =
    m.list.length === 0
      ? html`<p class="empty">No ${m.state} deliveries${m.filter ? html` match “${m.filter}”` : ""}.</p>`
      : html`<table><caption class="visually-hidden">${m.state} deliveries</caption><thead><tr><th scope="col">Delivery</th><th scope="col">Kind</th><th scope="col">State</th><th scope="col">Attempts</th><th scope="col">Age</th><th scope="col">Reason</th><th scope="col"><span class="visually-hidden">Action</span></th></tr></thead><tbody>${rows}</tbody></table>
<p class="muted">Showing ${m.list.length} of ${m.total} ${m.state}.</p>`;
  return html`<h1>Deliveries</h1>
${m.flash ? notice(m.flash.text, m.flash.tone) : ""}
${tabs}
${form}
${table}`;
}

export function deliveryMain(d: DeliveryView & { readonly runs: readonly RunRecord[] }, now: number, payload: string | undefined, flash?: { text: string; tone: "ok" | "bad" }): Html {
  const payloadBlock =
    payload === undefined
      ? html`<p><a href="${CONSOLE_PATH}/deliveries/view${query({ id: d.deliveryId, payload: 1 })}">Show the stored request</a> <span class="muted">(the caller's payload; shown only on request)</span></p>`
      : html`<h3>Stored request</h3><pre class="payload">${prettyJson(payload)}</pre><p><a href="${CONSOLE_PATH}/deliveries/view${query({ id: d.deliveryId })}">Hide the request</a></p>`;
  return html`<h1>Delivery <span class="mono small">${d.deliveryId}</span></h1>
${flash ? notice(flash.text, flash.tone) : ""}
${panel(
  "Delivery",
  html`<dl class="facts">
  <dt>State</dt><dd>${pill(d.state)}</dd>
  <dt>Kind</dt><dd>${d.kind}</dd>
  <dt>Received</dt><dd>${relative(d.receivedAt, now)}</dd>
  <dt>Attempts</dt><dd>${d.attempts}</dd>
  <dt>Reason</dt><dd>${d.reason ?? "—"}</dd>
</dl>
${d.state === "dead" ? html`<p><a class="button" href="${CONSOLE_PATH}/deliveries/replay${query({ id: d.deliveryId })}">Replay…</a></p>` : ""}
${payloadBlock}`,
)}
${panel("Runs", d.runs.length === 0 ? html`<p class="empty">No runs yet.</p>` : runsTable([...d.runs].reverse(), now))}`;
}

export function replayConfirmMain(d: DeliveryView, csrf: string, now: number): Html {
  return html`<h1>Replay a dead delivery?</h1>
${panel(
  "Confirm replay",
  html`<dl class="facts">
  <dt>Delivery</dt><dd class="mono">${d.deliveryId}</dd>
  <dt>Kind</dt><dd>${d.kind}</dd>
  <dt>Received</dt><dd>${relative(d.receivedAt, now)}</dd>
  <dt>Attempts used</dt><dd>${d.attempts}</dd>
  <dt>Why it died</dt><dd>${d.reason ?? "—"}</dd>
</dl>
<p>It runs again with a fresh set of attempts; its failed runs stay in the run log.</p>
<form method="post" action="${CONSOLE_PATH}/deliveries/replay" class="actions">
  <input type="hidden" name="_csrf" value="${csrf}">
  <input type="hidden" name="id" value="${d.deliveryId}">
  <button type="submit" class="primary">Replay this delivery</button>
  <a href="${CONSOLE_PATH}/deliveries${query({ state: "dead" })}">Cancel</a>
</form>`,
)}`;
}

/** The stored request, indented when it is JSON (it always is; the journal keeps validated requests). */
function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
