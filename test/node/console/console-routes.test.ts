/**
 * The console's rules in-process (app.request over a real run log, journal, secrets reloader and scheduler, behind the
 * daemon's browser boundary): login and its limiter, the session cookie, CSRF on every form, Host/tunnel refusals, the CSP, bad input
 * as one-line 400s, secrets transitions, heartbeat lateness, payloads only on request, session expiry and logout.
 */
import { afterEach, describe, expect, it } from "vitest";
import { CONSOLE_CSP } from "../../../node/console/console-routes.ts";
import { createEdgeOperatorClient } from "../../../node/console/edge-operator-client.ts";
import { FETCH_SITE_TEXT, HOST_TEXT, ORIGIN_TEXT } from "../../../node/server/browser-boundary.ts";
import { ADMIN_TOKEN, type ConsoleFixture, FIXTURE_ORIGIN, FIXTURE_PUBLIC_NAME, createConsoleFixture } from "../../helpers/console-fixture.ts";

let fx: ConsoleFixture | undefined;
afterEach(() => {
  fx?.close();
  fx = undefined;
});

const form = (fields: Record<string, string>, headers: Record<string, string> = {}) => ({
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded", origin: FIXTURE_ORIGIN, ...headers },
  body: new URLSearchParams(fields).toString(),
});

describe("login and session", () => {
  it("sends a page without a session to the login form, and a live refresh gets 401", async () => {
    fx = await createConsoleFixture();
    const page = await fx.request("/runs");
    expect(page.status).toBe(303);
    expect(page.headers.get("location")).toBe("/_clawgate/console/login");
    const live = await fx.request("/runs", { headers: { "x-clawgate-fragment": "1" } });
    expect(live.status).toBe(401);
    expect(await live.text()).toBe("not logged in");
  });

  it("exchanges the admin token for an HttpOnly, SameSite=Strict session cookie on /_clawgate that does not hold the token", async () => {
    fx = await createConsoleFixture();
    const loginForm = await fx.request("/login");
    const loginCookie = loginForm.headers.getSetCookie()[0]!;
    expect(loginCookie).toMatch(/^clawgate_login=[\w-]{43}; Max-Age=3600; Path=\/_clawgate; HttpOnly; SameSite=Strict$/);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await loginForm.text())![1]!;
    const res = await fx.request("/login", { ...form({ _csrf: csrf, token: ADMIN_TOKEN }), cookie: loginCookie.split(";")[0]! });
    expect(res.status).toBe(303);
    const session = res.headers.getSetCookie().find((c) => c.startsWith("clawgate_session="))!;
    expect(session).toMatch(/^clawgate_session=[\w-]{43}; Max-Age=43200; Path=\/_clawgate; HttpOnly; SameSite=Strict$/);
    expect(session).not.toContain(ADMIN_TOKEN);
  });

  it("refuses a wrong token (401), a login without its form cookie (403), and 20 failures in a minute lock logins (429)", async () => {
    let t = Date.now();
    fx = await createConsoleFixture({ now: () => t });
    const loginForm = await fx.request("/login");
    const cookie = loginForm.headers.getSetCookie()[0]!.split(";")[0]!;
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await loginForm.text())![1]!;
    const noCookie = await fx.request("/login", form({ _csrf: csrf, token: ADMIN_TOKEN }));
    expect(noCookie.status).toBe(403);
    expect(await noCookie.text()).toContain("The login form expired; please try again.");
    for (let i = 0; i < 20; i++) {
      const wrong = await fx.request("/login", { ...form({ _csrf: csrf, token: `wrong-${i}` }), cookie });
      expect(wrong.status).toBe(401);
      expect(await wrong.text()).toContain("That token is not this node&#39;s admin token.");
    }
    const locked = await fx.request("/login", { ...form({ _csrf: csrf, token: ADMIN_TOKEN }), cookie });
    expect(locked.status).toBe(429);
    expect(locked.headers.get("retry-after")).toBe("60");
    expect(await locked.text()).toContain("Too many failed logins; try again in 60 s.");
    t += 61_000;
    expect((await fx.request("/login", { ...form({ _csrf: csrf, token: ADMIN_TOKEN }), cookie })).status).toBe(303);
  });

  it("ends a session after 2 h idle, and at logout (which needs the CSRF token)", async () => {
    let t = Date.now();
    fx = await createConsoleFixture({ now: () => t });
    const { cookie, csrf } = await fx.login();
    const noCsrf = await fx.request("/logout", { ...form({}), cookie });
    expect(noCsrf.status).toBe(403);
    expect(await noCsrf.text()).toBe("invalid or missing CSRF token");
    expect((await fx.request("/", { cookie })).status).toBe(200);
    const out = await fx.request("/logout", { ...form({ _csrf: csrf }), cookie });
    expect(out.status).toBe(303);
    expect(out.headers.getSetCookie()[0]).toMatch(/^clawgate_session=; Max-Age=0; Path=\/_clawgate/);
    expect((await fx.request("/", { cookie })).status).toBe(303);

    const again = await fx.login();
    t += 2 * 3_600_000 + 1;
    expect((await fx.request("/", { cookie: again.cookie })).status).toBe(303);
  });
});

describe("browser boundary", () => {
  it("answers this host only: a tunnel's public name (421) or tunnelled headers (403) are refused, each with the rule named", async () => {
    fx = await createConsoleFixture();
    const { cookie } = await fx.login();
    const cases: [Record<string, string>, number, string][] = [
      [{ host: FIXTURE_PUBLIC_NAME }, 421, "the console answers only to this host's loopback names (Host)"],
      [{ "cf-connecting-ip": "203.0.113.9" }, 403, "the console is served to this host only, not through a tunnel"],
    ];
    for (const [headers, status, text] of cases) {
      const res = await fx.request("/", { cookie, headers });
      expect({ headers, status: res.status, text: await res.text() }).toEqual({ headers, status, text });
    }
    // The daemon's boundary in front refuses a rebinding Host and cross-site fetches before the console sees them.
    const boundary: [Record<string, string>, number, string][] = [
      [{ host: "evil.example:18789" }, 421, HOST_TEXT],
      [{ "sec-fetch-site": "cross-site" }, 403, FETCH_SITE_TEXT],
      [{ "sec-fetch-site": "same-site" }, 403, FETCH_SITE_TEXT],
    ];
    for (const [headers, status, error] of boundary) {
      const res = await fx.request("/", { cookie, headers });
      expect({ headers, status: res.status, body: await res.json() }).toEqual({ headers, status, body: { ok: false, error } });
    }
    for (const host of ["localhost:18789", "[::1]:18789"]) expect((await fx.request("/", { cookie, headers: { host } })).status).toBe(200);
  });

  it("refuses a POST from another origin even with a valid session and CSRF token; the delivery stays dead", async () => {
    fx = await createConsoleFixture({ dead: 1 });
    const { cookie, csrf } = await fx.login();
    for (const origin of ["http://127.0.0.1:9999", "http://evil.example", "null"]) {
      const res = await fx.request("/deliveries/replay", { ...form({ _csrf: csrf, id: "dead-0" }, { origin }), cookie });
      expect(res.status).toBe(403);
      expect(await res.json()).toEqual({ ok: false, error: ORIGIN_TEXT });
    }
    expect(fx.replays).toEqual([]);
    // A form post under Referrer-Policy no-referrer carries `Origin: null`: accepted only when the browser says same-origin.
    const sameOrigin = await fx.request("/deliveries/replay", { ...form({ _csrf: csrf, id: "dead-0" }, { origin: "null", "sec-fetch-site": "same-origin" }), cookie });
    expect(sameOrigin.status).toBe(303);
    expect(fx.replays).toEqual(["dead-0"]);
  });

  it("needs the session's CSRF token on every form", async () => {
    fx = await createConsoleFixture({ dead: 1 });
    const { cookie } = await fx.login();
    const other = await fx.login();
    for (const fields of [{ id: "dead-0" }, { id: "dead-0", _csrf: "guess" }, { id: "dead-0", _csrf: other.csrf }] as Record<string, string>[]) {
      const res = await fx.request("/deliveries/replay", { ...form(fields), cookie });
      expect(res.status).toBe(403);
      expect(await res.text()).toBe("invalid or missing CSRF token");
    }
    expect(fx.replays).toEqual([]);
    expect(fx.journal.get("dead-0")?.state).toBe("dead");
  });

  it("answers every page with a strict CSP, no framing, no caching, and serves its script and style as files", async () => {
    fx = await createConsoleFixture({ runs: 20 });
    const { cookie } = await fx.login();
    for (const path of ["/", "/deliveries", "/runs", "/runs/view?id=run-3", "/edge", "/login"]) {
      const res = await fx.request(path, { cookie });
      expect(res.headers.get("content-security-policy")).toBe(CONSOLE_CSP);
      expect(res.headers.get("x-frame-options")).toBe("DENY");
      expect(res.headers.get("cache-control")).toBe("no-store");
      const page = await res.text();
      expect(page).not.toMatch(/<script(?![^>]*\ssrc=)|<style|\sstyle="/);
    }
    const slash = await fx.app.request(`${FIXTURE_ORIGIN}/_clawgate/console/`, { headers: { host: "127.0.0.1:18789", cookie } });
    expect(slash.headers.get("location")).toBe("/_clawgate/console");
    const js = await fx.request("/assets/console.js");
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(await js.text()).toContain("x-clawgate-fragment");
    expect((await fx.request("/assets/../console-routes.ts")).status).toBe(303);
  });
});

describe("pages", () => {
  it("answers bad filters with a 400 naming the field", async () => {
    fx = await createConsoleFixture();
    const { cookie } = await fx.login();
    const cases: [string, string][] = [
      ["/deliveries?state=lost", "state must be one of pending, dead, done"],
      ["/deliveries?q=" + "x".repeat(201), "q must be at most 200 characters"],
      ["/runs?status=great", "status must be one of running, ok, error, timeout, memory_limit, cancelled, interrupted, skipped, replayed"],
      ["/runs?kind=cron", "kind must be one of agent, heartbeat, replay"],
      ["/runs?page=0", "page must be a whole number from 1 to 10000"],
      ["/runs?page=1.5", "page must be a whole number from 1 to 10000"],
      ["/deliveries/replay?id=nope", "No delivery with id &quot;nope&quot; in the journal."],
    ];
    for (const [path, text] of cases) {
      const res = await fx.request(path, { cookie });
      expect({ path, status: res.status < 500 && res.status >= 400, text: (await res.text()).includes(text) }).toEqual({ path, status: true, text: true });
    }
  });

  it("shows DEGRADED and RECOVERED transitions with the failed ref's code, never a value", async () => {
    fx = await createConsoleFixture();
    const { cookie } = await fx.login();
    fx.breakSecrets(true);
    expect((await fx.secrets.reload()).ok).toBe(false);
    let page = await (await fx.request("/", { cookie })).text();
    expect(page).toContain("secrets degraded");
    expect(page).toMatch(/DEGRADED<\/span><\/td><td><time[^>]*>0s ago<\/time><\/td><td class="mono">\(config\) ERR_FIXTURE<\/td>/);
    fx.breakSecrets(false);
    expect((await fx.secrets.reload()).ok).toBe(true);
    page = await (await fx.request("/", { cookie })).text();
    expect(page.indexOf("RECOVERED")).toBeLessThan(page.indexOf("DEGRADED"));
    expect(page).toContain("version 2");
    expect(page).not.toContain("fixture-gateway-token");
  });

  it("marks a periodic heartbeat overdue once its period plus grace has passed without one", async () => {
    let t = Date.now();
    fx = await createConsoleFixture({ now: () => t });
    const { cookie } = await fx.login();
    const row = async () => /<tr><td class="mono">main<\/td>.*?<\/tr>/s.exec(await (await fx!.request("/", { cookie })).text())![0];
    expect(await row()).toContain("on time");
    t += 33 * 60_000 + 1_000; // 30 min period + the doctor's grace (10%, at least 2 min)
    expect(await row()).toContain("overdue");
    fx.runLog.write({ id: "hb-1", kind: "heartbeat", agentId: "main", sessionKey: "agent:main:main", status: "ok", deliveryIds: [], attempt: 1, finishedAt: t });
    expect(await row()).toContain("on time");
  });

  it("pages the run log (50 a page, newest first) and filters it", async () => {
    fx = await createConsoleFixture({ runs: 120 });
    const { cookie } = await fx.login();
    const ids = (page: string) => [...page.matchAll(/runs\/view\?id=(run-\d+)/g)].map((m) => m[1]);
    const first = await (await fx.request("/runs", { cookie })).text();
    expect(ids(first)).toHaveLength(50);
    expect(ids(first)[0]).toBe("run-119");
    const third = await (await fx.request("/runs?page=3", { cookie })).text();
    expect(ids(third)).toEqual(Array.from({ length: 20 }, (_, i) => `run-${19 - i}`));
    expect(third).toContain('<span class="muted">older →</span>');
    const errors = await (await fx.request("/runs?status=error&agent=main", { cookie })).text();
    expect(ids(errors).length).toBeGreaterThan(0);
    expect(fx.runLog.list({ status: "error", agentId: "main", limit: 1000 }).map((r) => r.id).slice(0, 50)).toEqual(ids(errors));
  });

  it("shows a delivery's stored request only when asked", async () => {
    fx = await createConsoleFixture({ dead: 1 });
    const { cookie } = await fx.login();
    const plain = await (await fx.request("/deliveries/view?id=dead-0", { cookie })).text();
    expect(plain).not.toContain("payload of dead-0");
    expect(plain).toContain("Show the stored request");
    const shown = await (await fx.request("/deliveries/view?id=dead-0&payload=1", { cookie })).text();
    expect(shown).toContain("&quot;message&quot;: &quot;payload of dead-0&quot;");
  });

  it("Edge: explains how to configure it when off, and names the edge's refusal without showing the token", async () => {
    fx = await createConsoleFixture();
    const { cookie } = await fx.login();
    expect(await (await fx.request("/edge", { cookie })).text()).toContain("This node does not know its edge's operator API.");
    fx.close();
    const sent: string[] = [];
    const edge = createEdgeOperatorClient({
      url: "https://edge.example.workers.dev",
      token: () => "edge-operator-token-value",
      fetch: async (_input, init) => {
        sent.push(new Headers(init?.headers).get("authorization") ?? "");
        return new Response('{"ok":false,"error":"unauthorized"}', { status: 401 });
      },
    });
    fx = await createConsoleFixture({ routes: { edge } });
    const session = await fx.login();
    const page = await (await fx.request("/edge", { cookie: session.cookie })).text();
    expect(page).toContain("the edge at https://edge.example.workers.dev refused the operator token (401)");
    expect(page).not.toContain("edge-operator-token-value");
    expect(sent).toEqual(["Bearer edge-operator-token-value", "Bearer edge-operator-token-value", "Bearer edge-operator-token-value"]);
  });
});
