/** The page shell every console page shares: head (CSS and JS as files, no inline code), header with navigation and logout, main. */
import { CONSOLE_PATH, type Html, formatTime, html } from "./console-format.ts";

export type ConsolePage = "overview" | "deliveries" | "runs" | "edge";

export interface LayoutOptions {
  readonly title: string;
  readonly page: ConsolePage | null;
  /** The session's CSRF token, for the logout form; absent on the login page. */
  readonly csrf?: string;
  /** The page refreshes its main part every few seconds when JavaScript runs. */
  readonly live?: boolean;
  readonly now: number;
  /** Whether the Edge page is configured (its tab is shown either way, marked when off). */
  readonly edgeConfigured?: boolean;
}

const NAV: readonly { readonly page: ConsolePage; readonly label: string; readonly href: string }[] = [
  { page: "overview", label: "Overview", href: CONSOLE_PATH },
  { page: "deliveries", label: "Deliveries", href: `${CONSOLE_PATH}/deliveries` },
  { page: "runs", label: "Runs", href: `${CONSOLE_PATH}/runs` },
  { page: "edge", label: "Edge", href: `${CONSOLE_PATH}/edge` },
];

export function layout(options: LayoutOptions, main: Html): Html {
  const nav = options.csrf
    ? html`<nav aria-label="Console">
        <ul>
          ${NAV.map(
            (n) =>
              html`<li><a href="${n.href}"${n.page === options.page ? html` aria-current="page"` : ""}>${n.label}${n.page === "edge" && options.edgeConfigured === false ? html` <span class="muted">(off)</span>` : ""}</a></li>`,
          )}
        </ul>
      </nav>
      <div class="session">
        <span id="live-status" class="muted" aria-live="off">${options.live ? html`as of ${formatTime(options.now)}` : ""}</span>
        <form method="post" action="${CONSOLE_PATH}/logout">
          <input type="hidden" name="_csrf" value="${options.csrf}">
          <button type="submit" class="link-button">Log out</button>
        </form>
      </div>`
    : "";
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${options.title} · clawgate console</title>
<link rel="stylesheet" href="${CONSOLE_PATH}/assets/console.css">
<script src="${CONSOLE_PATH}/assets/console.js" defer></script>
</head>
<body>
<header class="top">
  <a class="brand" href="${CONSOLE_PATH}">clawgate <span>console</span></a>
  ${nav}
</header>
<main id="main"${options.live ? html` data-live="5000"` : ""}>
${main}
</main>
</body>
</html>`;
}

/** A titled panel. */
export function panel(title: string, body: Html, extra: Html | string = ""): Html {
  return html`<section class="panel" aria-labelledby="${idOf(title)}">
  <div class="panel-head"><h2 id="${idOf(title)}">${title}</h2>${extra}</div>
  ${body}
</section>`;
}

const idOf = (title: string) => `p-${title.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;

/** A notice line at the top of a page (after an action). */
export function notice(text: string, tone: "ok" | "bad"): Html {
  return html`<p class="notice notice-${tone}" role="status">${text}</p>`;
}
