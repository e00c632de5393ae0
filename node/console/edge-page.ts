/** The Edge page: the edge outbox per node, pending and dead letters, each cron job's history and dead-man state, replay of a dead letter. */
import { CONSOLE_PATH, type Html, html, pill, query, relative } from "./console-format.ts";
import { notice, panel } from "./console-layout.ts";
import type { EdgeCronJob, EdgeDelivery, EdgeResult, EdgeState } from "./edge-operator-client.ts";

const ms = (iso: string | null | undefined) => (iso ? Date.parse(iso) : null);

export function edgeOffMain(): Html {
  return html`<h1>Edge</h1>
${panel(
  "Not configured",
  html`<p>This node does not know its edge's operator API. To see the edge's outbox and cron jobs here, set both in the node's config:</p>
<pre class="payload">"clawgate": {
  "edge": {
    "operatorUrl": "https://clawgate-edge.example.workers.dev",
    "operatorToken": { "source": "file", "provider": "default", "id": "/edge/operatorToken" }
  }
}</pre>
<p class="muted">The token is a SecretRef: the node resolves it and calls the edge itself, so the browser never holds it.</p>`,
)}`;
}

export function edgeMain(url: string, result: EdgeResult<EdgeState>, now: number, flash?: { text: string; tone: "ok" | "bad" }): Html {
  if (!result.ok) {
    return html`<h1>Edge <span class="muted small">${url}</span></h1>
${flash ? notice(flash.text, flash.tone) : ""}
${panel("Edge unavailable", html`<p class="notice notice-bad">${result.error}</p><p class="muted">The node's own pages still work; this one retries on every refresh.</p>`)}`;
  }
  const s = result.value;
  const nodes = panel(
    "Outbox per node",
    s.nodes.length === 0
      ? html`<p class="empty">No node has anything in the outbox.</p>`
      : html`<table><thead><tr><th scope="col">Node</th><th scope="col" class="num">Pending</th><th scope="col" class="num">Dead</th><th scope="col">Next attempt</th></tr></thead><tbody>
${s.nodes.map((n) => html`<tr><td class="mono">${n.nodeId}</td><td class="num">${n.pending}</td><td class="num">${n.dead > 0 ? pill(String(n.dead), "bad") : "0"}</td><td>${relative(ms(n.nextAttemptAt), now)}</td></tr>`)}
</tbody></table>
<p class="muted">Totals: ${Object.entries(s.counts).map(([k, v]) => `${v} ${k}`).join(" · ")}</p>`,
  );
  const letters = (title: string, list: readonly EdgeDelivery[], dead: boolean) =>
    panel(
      title,
      list.length === 0
        ? html`<p class="empty">None.</p>`
        : html`<table><thead><tr><th scope="col">Delivery</th><th scope="col">Node</th><th scope="col">Path</th><th scope="col" class="num">Attempts</th><th scope="col">${dead ? "Updated" : "Next attempt"}</th><th scope="col">Last error</th>${dead ? html`<th scope="col"><span class="visually-hidden">Action</span></th>` : ""}</tr></thead><tbody>
${list.map(
  (d) => html`<tr><td class="mono id">${d.deliveryId}</td><td class="mono">${d.nodeId}</td><td class="mono">${d.path}</td><td class="num">${d.attempts}</td><td>${relative(ms(dead ? d.updatedAt : d.nextAttemptAt), now)}</td><td class="reason">${d.lastStatus !== null ? `HTTP ${d.lastStatus} ` : ""}${d.lastError ?? ""}${d.status === "rejected" ? html` ${pill("rejected")}` : ""}</td>${dead ? html`<td><a class="button" href="${CONSOLE_PATH}/edge/replay${query({ id: d.deliveryId })}">Replay…</a></td>` : ""}</tr>`,
)}
</tbody></table>`,
    );
  return html`<h1>Edge <span class="muted small">${url}</span></h1>
${flash ? notice(flash.text, flash.tone) : ""}
${nodes}
${letters("Pending in the outbox", s.pending, false)}
${letters("Dead letters", s.dead, true)}
${panel("Cron jobs", s.jobs.length === 0 ? html`<p class="empty">No cron jobs configured at the edge.</p>` : html`${s.jobs.map((j) => cronJob(j, now))}`, s.catchUp ? html`<span class="muted">catch-up: ${s.catchUp}</span>` : "")}`;
}

function cronJob(job: EdgeCronJob, now: number): Html {
  const dm = job.deadMan;
  const deadMan = !dm
    ? html`<span class="muted">no dead-man's switch</span>`
    : dm.incidentSince
      ? html`${pill("incident", "bad")} since ${relative(ms(dm.incidentSince), now)}${dm.alertSentAt ? html`, alert sent ${relative(ms(dm.alertSentAt), now)}` : html`, alert not sent yet`}`
      : html`${pill("watching", "ok")} last success ${relative(ms(dm.lastSuccessAt), now)} · alerts after ${Math.round((dm.periodSeconds + dm.graceSeconds) / 60)} min of silence`;
  return html`<article class="job">
  <h3><span class="mono">${job.id}</span> <span class="muted small">${job.schedule} · ${job.action} → ${job.nodeId}</span></h3>
  <p>${deadMan}</p>
  ${
    job.runs.length === 0
      ? html`<p class="empty">No ticks recorded yet.</p>`
      : html`<table><thead><tr><th scope="col">Tick</th><th scope="col">Outcome</th><th scope="col">Detail</th></tr></thead><tbody>
${job.runs.slice(0, 10).map((r) => html`<tr><td>${relative(ms(r.scheduledTime), now)}</td><td>${pill(r.outcome, r.outcome === "delivered" ? "ok" : r.outcome === "dead" || r.outcome === "rejected" || r.outcome === "missed" ? "bad" : "neutral")}</td><td class="reason">${r.detail ?? ""}</td></tr>`)}
</tbody></table>`
  }
</article>`;
}

export function edgeReplayConfirmMain(deliveryId: string, csrf: string): Html {
  return html`<h1>Replay an edge dead letter?</h1>
${panel(
  "Confirm replay",
  html`<p>The edge puts <span class="mono">${deliveryId}</span> back into its outbox with a fresh retry schedule.</p>
<form method="post" action="${CONSOLE_PATH}/edge/replay" class="actions">
  <input type="hidden" name="_csrf" value="${csrf}">
  <input type="hidden" name="id" value="${deliveryId}">
  <button type="submit" class="primary">Replay at the edge</button>
  <a href="${CONSOLE_PATH}/edge">Cancel</a>
</form>`,
)}`;
}
