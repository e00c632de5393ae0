/**
 * The console's HTML building blocks: Hono's `html` tagged template (every interpolated value escaped, nested
 * templates kept as is) typed as synchronous, and the formatters every page shares (times, ages, sizes, status pills).
 */
import { html as honoHtml, raw } from "hono/html";
import { CONSOLE_PREFIX } from "../../shared/constants.ts";
import type { HtmlEscapedString } from "hono/utils/html";

export type Html = HtmlEscapedString;

/**
 * Hono's `html`, synchronous: pages interpolate only strings, numbers and other templates (never a Promise), so the
 * result is always a ready string. Rendered with the tagged template rather than JSX syntax because Node strips
 * types but does not transform JSX: every way this code runs (node, vitest, the esbuild bundle, tsc) reads it as is.
 */
export const html = honoHtml as (strings: TemplateStringsArray, ...values: unknown[]) => Html;
export { raw };

/** The console's mount point on the node. */
export const CONSOLE_PATH = CONSOLE_PREFIX;

/** `2026-12-03 14:02:11 UTC`: operators compare these with log lines, which are UTC. */
export function formatTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  return `${new Date(ms).toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/** A span as the largest two units: `45s`, `3m 12s`, `2h 5m`, `3d 4h`. */
export function formatSpan(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const two = (big: number, bigUnit: string, small: number, smallUnit: string) => (small === 0 ? `${big}${bigUnit}` : `${big}${bigUnit} ${small}${smallUnit}`);
  const m = Math.floor(s / 60);
  if (m < 60) return two(m, "m", s % 60, "s");
  const h = Math.floor(m / 60);
  if (h < 24) return two(h, "h", m % 60, "m");
  return two(Math.floor(h / 24), "d", h % 24, "h");
}

/** `3m 12s ago` / `in 4m 0s`, with the exact time as a tooltip. */
export function relative(at: number | null | undefined, now: number): Html {
  if (at === null || at === undefined || !Number.isFinite(at)) return html`<span class="muted">—</span>`;
  const text = at <= now ? `${formatSpan(now - at)} ago` : `in ${formatSpan(at - now)}`;
  return html`<time datetime="${new Date(at).toISOString()}" title="${formatTime(at)}">${text}</time>`;
}

export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return formatSpan(ms);
}

/** What the overview and `clawgate status` say where the host's memory has no reading (no /proc/meminfo, no local run yet). */
export const HOST_MEMORY_NOT_READ = "host memory not read yet (read when a local model run is queued)";

export function formatGb(gb: number | null | undefined): string {
  if (gb === null || gb === undefined || !Number.isFinite(gb)) return "—";
  return `${gb >= 10 ? gb.toFixed(0) : gb.toFixed(1)} GiB`;
}

export type Tone = "ok" | "warn" | "bad" | "neutral";

const RUN_TONES: Readonly<Record<string, Tone>> = {
  ok: "ok",
  running: "neutral",
  skipped: "neutral",
  replayed: "neutral",
  cancelled: "warn",
  interrupted: "warn",
  error: "bad",
  timeout: "bad",
  memory_limit: "bad",
  pending: "neutral",
  done: "ok",
  dead: "bad",
  delivered: "ok",
  rejected: "bad",
};

/** A status word in a pill: the word carries the meaning, the color only repeats it. */
export function pill(text: string, tone: Tone = RUN_TONES[text] ?? "neutral"): Html {
  return html`<span class="pill pill-${tone}">${text}</span>`;
}

/** A query string from the defined values (`?a=1&b=x`), or "" when there are none. */
export function query(params: Readonly<Record<string, string | number | undefined>>): string {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") search.set(k, String(v));
  const text = search.toString();
  return text ? `?${text}` : "";
}
