/**
 * The console's two pictures as inline SVG (no script, no style attribute, so the strict CSP holds): the memory
 * budget as one bar of current reservations by model plus free, and runs per hour with their durations. Each has
 * a text alternative (`role="img"` + label) and the numbers beside it.
 */
import type { MemoryView, RunsPerHour } from "./console-data.ts";
import { type Html, formatDuration, formatGb, html } from "./console-format.ts";

/** Colors picked for contrast against white and against each other (colorblind-safe order). */
const PALETTE = ["#2563eb", "#d97706", "#7c3aed", "#0d9488", "#db2777", "#65a30d", "#0891b2", "#9333ea"];

export function memoryBar(memory: MemoryView): Html {
  const width = 600;
  const height = 28;
  const budget = Math.max(memory.budgetGb, 0.000_001);
  const scale = (gb: number) => (Math.max(0, gb) / budget) * width;
  let x = 0;
  const segments: Html[] = [];
  const legend: Html[] = [];
  memory.byModel.forEach((m, i) => {
    const color = PALETTE[i % PALETTE.length]!;
    const w = Math.min(scale(m.gb), width - x);
    segments.push(html`<rect x="${x.toFixed(1)}" y="0" width="${w.toFixed(1)}" height="${height}" fill="${color}"><title>${m.model}: ${formatGb(m.gb)} (${m.runs} run${m.runs === 1 ? "" : "s"})</title></rect>`);
    legend.push(html`<li><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" rx="2" fill="${color}"/></svg> <span class="mono">${m.model}</span> ${formatGb(m.gb)} · ${m.runs} run${m.runs === 1 ? "" : "s"}</li>`);
    x += w;
  });
  const listed = memory.byModel.reduce((s, m) => s + m.gb, 0);
  const other = memory.reservedGb - listed;
  if (other > 0.05) {
    const w = Math.min(scale(other), width - x);
    segments.push(html`<rect x="${x.toFixed(1)}" y="0" width="${w.toFixed(1)}" height="${height}" fill="#64748b"><title>other reservations: ${formatGb(other)}</title></rect>`);
    legend.push(html`<li><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" rx="2" fill="#64748b"/></svg> other ${formatGb(other)}</li>`);
    x += w;
  }
  const free = Math.max(0, memory.budgetGb - memory.reservedGb);
  legend.push(html`<li><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" rx="2" fill="#e2e8f0" stroke="#94a3b8"/></svg> free ${formatGb(free)}</li>`);
  const label = `Memory budget ${formatGb(memory.budgetGb)}: ${memory.byModel.map((m) => `${m.model} ${formatGb(m.gb)}`).join(", ") || "nothing reserved"}; ${formatGb(free)} free`;
  return html`<figure class="chart">
  <svg class="bar" viewBox="0 0 ${width} ${height}" preserveAspectRatio="none" role="img" aria-label="${label}">
    <rect x="0" y="0" width="${width}" height="${height}" rx="4" fill="#e2e8f0"/>
    ${segments}
    <rect x="0" y="0" width="${width}" height="${height}" rx="4" fill="none" stroke="#94a3b8"/>
  </svg>
  <figcaption><ul class="legend">${legend}</ul></figcaption>
</figure>`;
}

/** Runs per hour (stacked ok / failed bars) over median and longest duration per hour (dots and whiskers). */
export function runsPerHourChart(data: RunsPerHour): Html {
  const hours = data.hours;
  const width = 1040;
  const left = 44;
  const right = 8;
  const countTop = 24;
  const countHeight = 96;
  const durTop = countTop + countHeight + 28;
  const durHeight = 64;
  const height = durTop + durHeight + 22;
  const slot = (width - left - right) / Math.max(hours.length, 1);
  const maxCount = Math.max(1, ...hours.map((h) => h.ok + h.failed));
  const countStep = niceStep(maxCount);
  const countMax = Math.ceil(maxCount / countStep) * countStep;
  const maxDur = Math.max(1, ...hours.map((h) => h.maxMs ?? 0));
  const yCount = (n: number) => countTop + countHeight - (n / countMax) * countHeight;
  // Durations on a log scale: a 2 s run and a 10 min run both stay readable.
  const logMax = Math.log10(Math.max(maxDur, 10));
  const logMin = Math.min(1, logMax - 1);
  const yDur = (ms: number) => durTop + durHeight - ((Math.log10(Math.max(ms, 10 ** logMin)) - logMin) / (logMax - logMin)) * durHeight;

  const bars: Html[] = [];
  const dots: Html[] = [];
  const ticks: Html[] = [];
  hours.forEach((h, i) => {
    const x = left + i * slot + slot * 0.15;
    const w = slot * 0.7;
    const hour = new Date(h.start).toISOString().slice(11, 13);
    const tip = `${hour}:00 UTC: ${h.ok} ok, ${h.failed} failed${h.p50Ms !== null ? `, median ${formatDuration(h.p50Ms)}, longest ${formatDuration(h.maxMs ?? undefined)}` : ""}`;
    if (h.ok > 0) bars.push(html`<rect x="${x.toFixed(1)}" y="${yCount(h.ok).toFixed(1)}" width="${w.toFixed(1)}" height="${(countTop + countHeight - yCount(h.ok)).toFixed(1)}" fill="#2563eb"><title>${tip}</title></rect>`);
    if (h.failed > 0) bars.push(html`<rect x="${x.toFixed(1)}" y="${yCount(h.ok + h.failed).toFixed(1)}" width="${w.toFixed(1)}" height="${(yCount(h.ok) - yCount(h.ok + h.failed)).toFixed(1)}" fill="#dc2626"><title>${tip}</title></rect>`);
    if (h.p50Ms !== null && h.maxMs !== null) {
      const cx = x + w / 2;
      dots.push(html`<line x1="${cx.toFixed(1)}" x2="${cx.toFixed(1)}" y1="${yDur(h.p50Ms).toFixed(1)}" y2="${yDur(h.maxMs).toFixed(1)}" stroke="#94a3b8" stroke-width="2"/><circle cx="${cx.toFixed(1)}" cy="${yDur(h.p50Ms).toFixed(1)}" r="3.5" fill="#0f172a"><title>${tip}</title></circle>`);
    }
    if (i % 3 === 0 || i === hours.length - 1) ticks.push(html`<text x="${(x + w / 2).toFixed(1)}" y="${height - 6}" text-anchor="middle">${hour}</text>`);
  });
  const gridCounts = [0, countMax / 2, countMax].map(
    (n) => html`<line x1="${left}" x2="${width - right}" y1="${yCount(n).toFixed(1)}" y2="${yCount(n).toFixed(1)}" class="grid"/><text x="${left - 6}" y="${(yCount(n) + 4).toFixed(1)}" text-anchor="end">${Number.isInteger(n) ? n : n.toFixed(1)}</text>`,
  );
  const durMarks = [10 ** logMin, Math.sqrt(10 ** logMin * maxDur), maxDur].map(
    (ms) => html`<line x1="${left}" x2="${width - right}" y1="${yDur(ms).toFixed(1)}" y2="${yDur(ms).toFixed(1)}" class="grid"/><text x="${left - 6}" y="${(yDur(ms) + 4).toFixed(1)}" text-anchor="end">${shortDuration(ms)}</text>`,
  );
  const total = hours.reduce((s, h) => s + h.ok + h.failed, 0);
  const failed = hours.reduce((s, h) => s + h.failed, 0);
  const label = `Runs per hour over the last ${hours.length} hours: ${total} finished, ${failed} failed; dots show each hour's median duration, whiskers the longest run.`;
  return html`<figure class="chart">
  <svg class="hours" viewBox="0 0 ${width} ${height}" role="img" aria-label="${label}">
    <text x="${left}" y="${countTop - 12}" class="axis-title">runs finished</text>
    ${gridCounts}${bars}
    <text x="${left}" y="${durTop - 10}" class="axis-title">duration (median ● longest ┃, log scale)</text>
    ${durMarks}${dots}${ticks}
  </svg>
  <figcaption class="legend-line"><span class="swatch swatch-ok" aria-hidden="true"></span> ok <span class="swatch swatch-bad" aria-hidden="true"></span> failed · hours in UTC · ${total} runs, ${failed} failed</figcaption>
</figure>`;
}

function niceStep(max: number): number {
  const raw = max / 4;
  const pow = 10 ** Math.floor(Math.log10(Math.max(raw, 1)));
  for (const m of [1, 2, 5, 10]) if (raw <= m * pow) return m * pow;
  return 10 * pow;
}

function shortDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)}s`;
  return `${Math.round(ms / 60_000)}m`;
}
