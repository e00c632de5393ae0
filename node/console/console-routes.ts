/**
 * The operator console, served by the node agent under `/_clawgate/console` (docs/console.md): server-rendered pages
 * that work without JavaScript, a session cookie in exchange for the admin token, a CSRF token in every form, a
 * strict Content-Security-Policy (script and style only as files from this node), and no answer to another origin.
 */
import { readFileSync } from "node:fs";
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { type FailureWindow, createFailureWindow } from "../../shared/failure-window.ts";
import { cameThroughCloudflare } from "../intake/tunnel-guard.ts";
import type { ConsoleData } from "./console-data.ts";
import { CONSOLE_PATH, type Html, html, query } from "./console-format.ts";
import { type ConsolePage, layout, notice } from "./console-layout.ts";
import { COOKIE_PATH, type ConsoleSession, LOGIN_COOKIE, SESSION_COOKIE, type SessionStore, createSessionStore, newToken, sameToken } from "./console-session.ts";
import { DELIVERY_STATES, type DeliveryStateFilter, deliveriesMain, deliveryMain, replayConfirmMain } from "./deliveries-page.ts";
import { edgeMain, edgeOffMain, edgeReplayConfirmMain } from "./edge-page.ts";
import type { EdgeOperatorClient } from "./edge-operator-client.ts";
import { loginMain } from "./login-page.ts";
import { overviewMain } from "./overview-page.ts";
import { RUNS_PAGE_SIZE, RUN_KINDS, RUN_STATUSES, runMain, runsMain } from "./runs-page.ts";

export interface ConsoleLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface ConsoleRoutesOptions {
  readonly data: ConsoleData;
  /** Whether a presented token may log in (the per-start admin token or the gateway token; constant-time). */
  readonly acceptsToken: (presented: string) => boolean | Promise<boolean>;
  /** Present when `clawgate.edge.operatorUrl` and `operatorToken` are configured. */
  readonly edge?: EdgeOperatorClient | undefined;
  readonly logger: ConsoleLogger;
  readonly sessions?: SessionStore;
  /** Failed logins (all from this host): 20 in 60 s → 429. */
  readonly limiter?: FailureWindow;
  readonly now?: () => number;
}

/**
 * No inline script or style: script, style, images and fetches only from this node; no framing, no plugins, forms post
 * only here. Inline SVG is markup, not an image load, so the pictures need nothing more.
 */
export const CONSOLE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": CONSOLE_CSP,
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "cache-control": "no-store",
};

const ASSETS: Readonly<Record<string, { readonly file: string; readonly type: string }>> = {
  "console.css": { file: "assets/console.css", type: "text/css; charset=utf-8" },
  "console.js": { file: "assets/console.js", type: "text/javascript; charset=utf-8" },
};

const LOOPBACK_HOST = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\])(:\d{1,5})?$/i;
const SESSION_MAX_AGE_S = 12 * 3600;
const LOGIN_MAX_AGE_S = 3600;
const MAX_FILTER = 200;

type Env = { Variables: { session: ConsoleSession } };

export function createConsoleRoutes(options: ConsoleRoutesOptions): Hono<Env> {
  const { data, logger } = options;
  const sessions = options.sessions ?? createSessionStore();
  const limiter = options.limiter ?? createFailureWindow();
  const now = options.now ?? Date.now;
  // Read once at build time: the hot path only looks them up.
  const assets = new Map(Object.entries(ASSETS).map(([name, a]) => [name, { body: readFileSync(new URL(a.file, import.meta.url), "utf8"), type: a.type }]));
  const app = new Hono<Env>();

  app.use(async (c, next) => {
    // The daemon's browser boundary (node/server/browser-boundary.ts) has already refused a foreign Host, Origin or
    // Sec-Fetch-Site. The console is narrower still: this host only, so not under a tunnel's public name nor with the
    // headers Cloudflare adds to tunnelled traffic. Refused before anything else, counted by no limiter.
    if (!LOOPBACK_HOST.test(c.req.header("host") ?? "")) return refuse(c, 421, "the console answers only to this host's loopback names (Host)");
    if (cameThroughCloudflare((name) => c.req.header(name))) return refuse(c, 403, "the console is served to this host only, not through a tunnel");
    await next();
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) c.header(k, v);
  });
  app.use("*", async (c, next) => {
    if (c.req.method !== "POST") return next();
    return bodyLimit({ maxSize: 16 * 1024, onError: (cc) => refuse(cc, 413, "request body too large (16 KiB at most)") })(c, next);
  });

  app.get("/assets/:name", (c) => {
    const asset = assets.get(c.req.param("name"));
    if (!asset) return c.text("not found", 404);
    return c.body(asset.body, 200, { "content-type": asset.type });
  });

  // ── login / logout ──────────────────────────────────────────────────────────────────────────────

  app.get("/login", (c) => {
    if (sessions.get(getCookie(c, SESSION_COOKIE), now())) return c.redirect(CONSOLE_PATH, 303);
    return loginPage(c);
  });

  app.post("/login", async (c) => {
    const form = await c.req.parseBody();
    const expected = getCookie(c, LOGIN_COOKIE);
    if (!expected || !sameToken(field(form, "_csrf"), expected)) return loginPage(c, "The login form expired; please try again.", 403);
    const t = now();
    const wait = limiter.blockedFor("console", t);
    if (wait > 0) return loginPage(c, `Too many failed logins; try again in ${wait} s.`, 429, { "retry-after": String(wait) });
    const token = field(form, "token")?.trim() ?? "";
    if (token === "" || !(await options.acceptsToken(token))) {
      limiter.recordFailure("console", t);
      logger.warn({ event: "console.login_refused" }, "console login refused");
      return loginPage(c, "That token is not this node's admin token.", 401);
    }
    const { id } = sessions.create(t);
    deleteCookie(c, LOGIN_COOKIE, { path: COOKIE_PATH });
    setCookie(c, SESSION_COOKIE, id, { path: COOKIE_PATH, httpOnly: true, sameSite: "Strict", maxAge: SESSION_MAX_AGE_S });
    logger.info({ event: "console.login" }, "console login");
    return c.redirect(CONSOLE_PATH, 303);
  });

  app.post("/logout", async (c) => {
    const id = getCookie(c, SESSION_COOKIE);
    const session = sessions.get(id, now());
    const form = await c.req.parseBody();
    if (!session || !sameToken(field(form, "_csrf"), session.csrf)) return refuse(c, 403, "invalid or missing CSRF token");
    sessions.delete(id);
    deleteCookie(c, SESSION_COOKIE, { path: COOKIE_PATH });
    logger.info({ event: "console.logout" }, "console logout");
    return c.redirect(`${CONSOLE_PATH}/login`, 303);
  });

  // ── everything else needs a session ─────────────────────────────────────────────────────────────

  app.use("*", async (c, next) => {
    const session = sessions.get(getCookie(c, SESSION_COOKIE), now());
    if (!session) {
      if (c.req.header("x-clawgate-fragment")) return c.text("not logged in", 401);
      return c.redirect(`${CONSOLE_PATH}/login`, 303);
    }
    if (c.req.method === "POST") {
      const form = await c.req.parseBody();
      if (!sameToken(field(form, "_csrf"), session.csrf)) return refuse(c, 403, "invalid or missing CSRF token");
    }
    c.set("session", session);
    await next();
  });

  const render = (c: Context<Env>, title: string, page: ConsolePage | null, main: Html, live = true, status: 200 | 400 | 404 = 200) => {
    if (c.req.header("x-clawgate-fragment")) return c.html(main, status);
    const opts = { title, page, csrf: c.get("session").csrf, live, now: data.now(), edgeConfigured: options.edge !== undefined };
    return c.html(layout(opts, main), status);
  };
  const bad = (c: Context<Env>, page: ConsolePage | null, reason: string) => render(c, "Bad request", page, html`<h1>Bad request</h1>${notice(reason, "bad")}`, false, 400);

  app.get("/", (c) => render(c, "Overview", "overview", overviewMain(data.overview(), data.runsPerHour(24))));

  app.get("/deliveries", (c) => {
    const state = c.req.query("state") ?? "dead";
    if (!(DELIVERY_STATES as readonly string[]).includes(state)) return bad(c, "deliveries", `state must be one of ${DELIVERY_STATES.join(", ")}`);
    const filter = c.req.query("q") ?? "";
    if (filter.length > MAX_FILTER) return bad(c, "deliveries", `q must be at most ${MAX_FILTER} characters`);
    const { list, total } = data.deliveries(state as DeliveryStateFilter, filter, 200);
    const counts = data.counts();
    return render(c, "Deliveries", "deliveries", deliveriesMain({ state: state as DeliveryStateFilter, filter, list, total, counts, now: data.now() }));
  });

  app.get("/deliveries/view", (c) => {
    const id = c.req.query("id") ?? "";
    const d = id ? data.delivery(id) : undefined;
    if (!d) return render(c, "Not found", "deliveries", html`<h1>Delivery not found</h1>${notice(`No delivery with id "${id}" in the journal.`, "bad")}`, false, 404);
    const payload = c.req.query("payload") === "1" ? data.payload(id) : undefined;
    const flash = c.req.query("replayed") === "1" ? { text: "Replayed: the delivery runs again with a fresh set of attempts.", tone: "ok" as const } : undefined;
    return render(c, "Delivery", "deliveries", deliveryMain(d, data.now(), payload, flash), payload === undefined);
  });

  app.get("/deliveries/replay", (c) => {
    const id = c.req.query("id") ?? "";
    const d = id ? data.delivery(id) : undefined;
    if (!d) return render(c, "Not found", "deliveries", html`<h1>Delivery not found</h1>${notice(`No delivery with id "${id}" in the journal.`, "bad")}`, false, 404);
    if (d.state !== "dead") return bad(c, "deliveries", `delivery ${id} is ${d.state}, not dead: only dead deliveries can be replayed`);
    return render(c, "Replay", "deliveries", replayConfirmMain(d, c.get("session").csrf, data.now()), false);
  });

  app.post("/deliveries/replay", async (c) => {
    const id = field(await c.req.parseBody(), "id") ?? "";
    if (id === "") return bad(c, "deliveries", "id is required");
    const result = data.replay(id);
    if (!result.ok) {
      const main = deliveriesMain({ ...deliveriesModel("dead"), flash: { text: `Not replayed: ${result.message}.`, tone: "bad" } });
      return render(c, "Deliveries", "deliveries", main, false, result.code === "ERR_DELIVERY_NOT_FOUND" ? 404 : 400);
    }
    logger.info({ event: "console.replay", deliveryId: id }, "dead delivery replayed from the console");
    return c.redirect(`${CONSOLE_PATH}/deliveries/view${query({ id, replayed: 1 })}`, 303);
  });

  const deliveriesModel = (state: DeliveryStateFilter) => {
    const { list, total } = data.deliveries(state, "", 200);
    return { state, filter: "", list, total, counts: data.counts(), now: data.now() };
  };

  app.get("/runs", (c) => {
    const status = c.req.query("status") ?? "";
    const kind = c.req.query("kind") ?? "";
    const agentId = c.req.query("agent") ?? "";
    const pageText = c.req.query("page") ?? "1";
    if (status && !(RUN_STATUSES as readonly string[]).includes(status)) return bad(c, "runs", `status must be one of ${RUN_STATUSES.join(", ")}`);
    if (kind && !(RUN_KINDS as readonly string[]).includes(kind)) return bad(c, "runs", `kind must be one of ${RUN_KINDS.join(", ")}`);
    if (agentId.length > MAX_FILTER) return bad(c, "runs", `agent must be at most ${MAX_FILTER} characters`);
    const page = Number(pageText);
    if (!Number.isInteger(page) || page < 1 || page > 10_000) return bad(c, "runs", "page must be a whole number from 1 to 10000");
    const { list, more } = data.runs({ status: status || undefined, kind: kind || undefined, agentId: agentId || undefined }, (page - 1) * RUNS_PAGE_SIZE, RUNS_PAGE_SIZE);
    return render(c, "Runs", "runs", runsMain({ status, kind, agentId, page, list, more, agentIds: data.agentIds(), now: data.now() }));
  });

  app.get("/runs/view", (c) => {
    const id = c.req.query("id") ?? "";
    const run = id ? data.run(id) : undefined;
    if (!run) return render(c, "Not found", "runs", html`<h1>Run not found</h1>${notice(`No run with id "${id}" in the run log.`, "bad")}`, false, 404);
    return render(c, "Run", "runs", runMain(run, data.now()));
  });

  app.get("/edge", async (c) => {
    if (!options.edge) return render(c, "Edge", "edge", edgeOffMain(), false);
    const replayed = c.req.query("replayed");
    const flash = replayed ? { text: `Replayed at the edge: ${replayed} is back in the outbox.`, tone: "ok" as const } : undefined;
    return render(c, "Edge", "edge", edgeMain(options.edge.url, await options.edge.state(), data.now(), flash));
  });

  app.get("/edge/replay", (c) => {
    const id = c.req.query("id") ?? "";
    if (!options.edge) return render(c, "Edge", "edge", edgeOffMain(), false);
    if (id === "") return bad(c, "edge", "id is required");
    return render(c, "Replay", "edge", edgeReplayConfirmMain(id, c.get("session").csrf), false);
  });

  app.post("/edge/replay", async (c) => {
    if (!options.edge) return render(c, "Edge", "edge", edgeOffMain(), false);
    const id = field(await c.req.parseBody(), "id") ?? "";
    if (id === "") return bad(c, "edge", "id is required");
    const result = await options.edge.replay(id);
    if (!result.ok) return render(c, "Edge", "edge", edgeMain(options.edge.url, await options.edge.state(), data.now(), { text: `Not replayed: ${result.error}`, tone: "bad" }), false);
    logger.info({ event: "console.edge_replay", deliveryId: id }, "edge dead letter replayed from the console");
    return c.redirect(`${CONSOLE_PATH}/edge${query({ replayed: id })}`, 303);
  });

  app.get("/*", (c, next) => (c.req.path === `${CONSOLE_PATH}/` ? c.redirect(CONSOLE_PATH, 303) : next()));
  app.all("*", (c) => render(c, "Not found", null, html`<h1>Not found</h1><p><a href="${CONSOLE_PATH}">Back to the overview</a></p>`, false, 404));

  function loginPage(c: Context, error?: string, status: 200 | 401 | 403 | 429 = 200, headers: Record<string, string> = {}) {
    const loginCsrf = newToken();
    setCookie(c, LOGIN_COOKIE, loginCsrf, { path: COOKIE_PATH, httpOnly: true, sameSite: "Strict", maxAge: LOGIN_MAX_AGE_S });
    for (const [k, v] of Object.entries(headers)) c.header(k, v);
    return c.html(layout({ title: "Log in", page: null, now: now() }, loginMain(loginCsrf, error)), status);
  }

  return app;
}

function field(form: Record<string, unknown>, name: string): string | undefined {
  const value = form[name];
  return typeof value === "string" ? value : undefined;
}

/** A refusal: one line naming the rule, as plain text (no page, nothing to render for a caller that should not be here). */
function refuse(c: Context, status: 403 | 413 | 421, reason: string) {
  return c.text(reason, status, SECURITY_HEADERS);
}
