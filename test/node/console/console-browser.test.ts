/**
 * The operator console in a real headless Chromium (Debian's package through playwright-core) against a real node
 * agent on a loopback port with real runs (a loopback model server), and the real edge Worker in workerd for the
 * Edge page: log in, every page shows live data, a dead delivery replayed from the page runs, a page on another
 * origin can neither read nor post, axe-core finds no serious or critical violation, log out. With
 * CLAWGATE_CONSOLE_SCREENSHOTS=<dir> it also writes the screenshots docs/console.md shows.
 */
import { generateKeyPairSync, createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { type IncomingMessage, type Server, type ServerResponse, createServer, request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import { type Browser, type BrowserContext, type Page, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_PREFIX, CONSOLE_PREFIX } from "../../../shared/constants.ts";
import { type EdgeInstance, startEdge } from "../../e2e/support/edge-miniflare.ts";
import { type ModelGate, type ModelServer, startModelServer } from "../../helpers/model-server.ts";
import { fileRef, writeNodeConfig } from "../../helpers/node-config.ts";
import { type NodeProcess, pollUntil, startNodeProcess } from "../../helpers/node-process.ts";

const CHROMIUM = "/usr/bin/chromium";
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM) console.log(`console browser tests skipped: ${CHROMIUM} is not installed (apt-get install chromium)`);
const SCREENSHOTS = process.env["CLAWGATE_CONSOLE_SCREENSHOTS"];

const HOOK_TOKEN = `hook-${randomBytes(18).toString("base64url")}`;
const OPERATOR_TOKEN = `operator-${randomBytes(18).toString("base64url")}`;
const CALLER_TOKEN = `caller-${randomBytes(18).toString("base64url")}`;
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

let dir: string;
let model: ModelServer;
let node: NodeProcess;
let adminToken: string;
let edge: EdgeInstance;
/** The edge's "home" node: a loopback server that refuses (400) until the test lets it accept. */
let home: Server;
let homeAccepts = false;
const homeReceived: string[] = [];
/** A page on another origin, for the cross-origin checks. */
let attacker: Server;
let attackerPort: number;
let browser: Browser;
let context: BrowserContext;
let page: Page;
/** Model requests whose message holds "[fail]" answer 500 while this is true. */
let failing = true;
let hold: ModelGate | undefined;

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as { port: number }).port;
}

const hook = (payload: object) =>
  fetch(`${node.url}/hooks/agent`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${HOOK_TOKEN}` }, body: JSON.stringify(payload) });

async function admin(path: string): Promise<any> {
  return (await fetch(`${node.url}${ADMIN_PREFIX}${path}`, { headers: { authorization: `Bearer ${adminToken}` } })).json();
}

const edgeWake = (nodeId: string, key: string) =>
  edge.fetch(`/hooks/wake?node=${nodeId}`, {
    method: "POST",
    headers: { authorization: `Bearer ${CALLER_TOKEN}`, "content-type": "application/json", "idempotency-key": key },
    body: JSON.stringify({ text: `edge wake ${key}` }),
  });

async function shot(name: string): Promise<void> {
  if (!SCREENSHOTS) return;
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

async function axeViolations(): Promise<string[]> {
  // Evaluated through the DevTools protocol, which the page's CSP does not govern (the console itself runs no inline code).
  await page.evaluate(await readFile(AXE, "utf8"));
  const result = await page.evaluate(async () => (globalThis as any).axe.run((globalThis as any).document, { resultTypes: ["violations"] }));
  return (result.violations as { id: string; impact: string; nodes: { target: string[] }[] }[])
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.impact} ${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

describe.skipIf(!HAVE_CHROMIUM)("operator console in Chromium", () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "clawgate-console-"));
    model = await startModelServer({
      latencyMs: 30,
      faultFor: (req) => (failing && JSON.stringify(req.body ?? "").includes("[fail]") ? { status: 500, body: '{"error":"model crashed"}' } : undefined),
    });

    home = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = "";
      req.setEncoding("utf8").on("data", (d: string) => (body += d));
      req.on("end", () => {
        homeReceived.push(body);
        res.writeHead(homeAccepts ? 200 : 400, { "content-type": "application/json" });
        res.end(homeAccepts ? '{"ok":true}' : '{"ok":false,"error":"refused by the test"}');
      });
    });
    const homePort = await listen(home);
    // A port where nothing listens: the "spare" node's deliveries wait in the outbox.
    const closed = createServer();
    const sparePort = await listen(closed);
    await new Promise((r) => closed.close(r));

    const { privateKey } = generateKeyPairSync("ed25519");
    edge = await startEdge({
      CLAWGATE_EDGE_CONFIG: JSON.stringify({
        nodes: [
          { id: "home", origin: `http://127.0.0.1:${homePort}`, primary: true },
          { id: "spare", origin: `http://127.0.0.1:${sparePort}` },
        ],
        routes: { wake: { auth: [{ type: "bearer", tokens: [{ name: "console", sha256: sha256(CALLER_TOKEN) }] }] } },
        forward: { timeoutMs: 2_000 },
        outbox: { retryScheduleSeconds: [3600] },
        cron: { jobs: [{ id: "morning-brief", schedule: "*/30 * * * *", action: { kind: "wake", text: "Morning brief" }, deadMan: { periodSeconds: 3600, graceSeconds: 600 } }] },
      }),
      CLAWGATE_EDGE_SIGNING_KEY: JSON.stringify({ ...privateKey.export({ format: "jwk" }), kid: "console", alg: "EdDSA" }),
      CLAWGATE_OPERATOR_TOKEN_SHA256: sha256(OPERATOR_TOKEN),
      CLAWGATE_ALERT_WEBHOOK_URL: `http://127.0.0.1:${homePort}/alert`,
    });
    const edgeUrl = new URL(String(await edge.mf.ready)).origin;

    const configPath = await writeNodeConfig(dir, { hooks: HOOK_TOKEN, operator: OPERATOR_TOKEN }, {
      hooks: { enabled: true, token: fileRef("hooks"), allowRequestSessionKey: true },
      models: { providers: { local: { baseUrl: `${model.url}/v1` } } },
      agents: {
        defaults: {
          model: "local/llama3.1:8b",
          heartbeat: { every: "30m" },
          models: { "local/llama3.1:8b": { memoryGb: 2 }, "local/qwen2.5-coder:7b": { memoryGb: 3 } },
          runtime: { type: "openai", maxAttempts: 1 },
        },
        list: [{ id: "main", default: true }, { id: "coder", model: "local/qwen2.5-coder:7b", heartbeat: { every: "0m" } }],
      },
      clawgate: {
        stateDir: join(dir, "state"),
        dispatch: { memoryBudgetGb: 8, headroomGb: 0, retryDelaySeconds: 0.05 },
        edge: { operatorUrl: edgeUrl, operatorToken: fileRef("operator") },
      },
    });
    node = await startNodeProcess(["--config", configPath, "--port", "0"], { env: { CLAWGATE_ALLOW_ROOT: "1" } });
    adminToken = (await readFile(join(dir, "state", "admin.token"), "utf8")).trim();

    // Real runs: three that succeed, one that fails every attempt and ends dead.
    for (const [i, agentId] of ["main", "coder", "main"].entries()) expect((await hook({ message: `summarize report ${i}`, agentId })).status).toBe(202);
    expect((await hook({ message: "[fail] nightly digest", agentId: "main", sessionKey: "hook:digest" })).status).toBe(202);
    await pollUntil(async () => ((await admin("/intake?state=dead")).dead?.length === 1 ? true : undefined), 15_000, "the failing delivery to die");
    await pollUntil(async () => ((await admin("/runs?status=ok&kind=agent")).runs?.length >= 3 ? true : undefined), 15_000, "three ok runs");

    // The edge: a call the home node refuses (a dead letter), one waiting for the spare node, one cron tick.
    expect((await edgeWake("home", "refused-1")).status).toBe(400);
    expect((await edgeWake("spare", "waiting-1")).status).toBe(202);
    await edge.tick("*/30 * * * *", Date.now() - 60_000);

    attacker = createServer((req, res) => {
      const target = new URL(req.url ?? "/", "http://x").searchParams.get("target") ?? "";
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(`<!doctype html><title>elsewhere</title><body><p id="read">pending</p>
<form id="f" method="post" action="${target}/deliveries/replay"><input name="id" value="x"><input name="_csrf" value="guess"></form>
<script>
fetch(${JSON.stringify(`${node.url}${CONSOLE_PREFIX}`)}, { credentials: "include" })
  .then((r) => r.text()).then((t) => { document.getElementById("read").textContent = "read " + t.length; })
  .catch((e) => { document.getElementById("read").textContent = "blocked"; });
</script></body>`);
    });
    attackerPort = await listen(attacker);

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 860 }, deviceScaleFactor: 1 });
    page = await context.newPage();
  }, 90_000);

  afterAll(async () => {
    hold?.release();
    await browser?.close();
    await node?.stop("SIGKILL");
    await edge?.dispose();
    await model?.close();
    await new Promise((r) => home?.close(r));
    await new Promise((r) => attacker?.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it("logs in with the admin token and keeps only an HttpOnly, SameSite=Strict session cookie scoped to /_clawgate", async () => {
    await page.goto(`${node.url}${CONSOLE_PREFIX}`);
    expect(new URL(page.url()).pathname).toBe(`${CONSOLE_PREFIX}/login`);
    await shot("login");
    await page.fill("#token", "not-the-token");
    await page.click("button[type=submit]");
    await expect.poll(() => page.textContent(".notice")).toContain("That token is not this node's admin token.");
    await page.fill("#token", adminToken);
    await page.click("button[type=submit]");
    await page.waitForURL(`${node.url}${CONSOLE_PREFIX}`);
    const cookies = await context.cookies(`${node.url}${CONSOLE_PREFIX}`);
    const session = cookies.find((c) => c.name === "clawgate_session")!;
    expect(session).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/_clawgate" });
    expect(session.value).not.toContain(adminToken);
    expect(cookies.map((c) => c.value).join(" ")).not.toContain(adminToken);
    // The answers carry the strict policy: no inline script or style anywhere.
    const res = await page.request.get(`${node.url}${CONSOLE_PREFIX}`);
    expect(res.headers()["content-security-policy"]).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    expect(await page.locator("script:not([src]), style, [style]").count()).toBe(0);
  });

  it("Overview shows readiness, secrets, heartbeats, the memory bar by model and queue depth, and updates itself", async () => {
    // Two runs held at the model: their reservations show in the memory bar by model.
    hold = model.hold((req) => JSON.stringify(req.body ?? "").includes("[hold]"));
    expect((await hook({ message: "[hold] long analysis", agentId: "main" })).status).toBe(202);
    expect((await hook({ message: "[hold] refactor module", agentId: "coder" })).status).toBe(202);
    await pollUntil(() => (hold!.held() === 2 ? true : undefined), 10_000, "two held runs");
    await page.goto(`${node.url}${CONSOLE_PREFIX}`);
    const main = page.locator("main");
    await expect.poll(() => main.textContent()).toContain("ready");
    const text = (await main.textContent())!;
    expect(text).toContain("healthy");
    expect(text).toContain("snapshot v1");
    expect(text).toMatch(/Dead deliveries\s*1/);
    expect(text).toContain("2 running");
    const bar = page.locator("svg.bar");
    expect(await bar.getAttribute("aria-label")).toBe("Memory budget 8.0 GiB: local/qwen2.5-coder:7b 3.0 GiB, local/llama3.1:8b 2.0 GiB; 3.0 GiB free");
    expect(await page.locator("svg.bar rect[fill='#2563eb']").count()).toBe(1);
    const models = (await page.locator("section[aria-labelledby=p-memory-budget] tbody tr").allInnerTexts()).map((r) => r.replace(/\s+/g, " ").trim());
    expect(models).toEqual(expect.arrayContaining([expect.stringMatching(/^local\/llama3\.1:8b 2\.0 GiB (configured|learned \(\d+ runs?\)) /), expect.stringMatching(/^local\/qwen2\.5-coder:7b 3\.0 GiB /)]));
    const heartbeatRows = page.locator("#p-heartbeats ~ * tr, section[aria-labelledby=p-heartbeats] tbody tr");
    expect(await heartbeatRows.count()).toBe(2);
    expect(await page.locator("section[aria-labelledby=p-heartbeats] tbody").textContent()).toMatch(/main.*30m.*on time/s);
    expect(await page.locator("svg.hours").getAttribute("aria-label")).toMatch(/Runs per hour over the last 24 hours: \d+ finished, [1-9]\d* failed/);
    await shot("overview");

    // Live: the held runs finish and the page, not reloaded, shows them done.
    const before = (await page.locator(".card:has(h2:text('Dead deliveries')) .muted").textContent())!;
    hold.release();
    await expect.poll(() => page.locator(".card:has(h2:text('Dead deliveries')) .muted").textContent(), { timeout: 15_000 }).not.toBe(before);
    await expect.poll(() => page.locator(".card:has(h2:text('Queue')) .muted").textContent(), { timeout: 15_000 }).toContain("0 running");
    expect(await page.locator("#live-status").textContent()).toMatch(/^Live · updated \d\d:\d\d:\d\d UTC$/);
  }, 60_000);

  it("Deliveries lists the dead one with reason, attempts and age, filters, and replays it from the page: it runs", async () => {
    await page.goto(`${node.url}${CONSOLE_PREFIX}/deliveries?state=dead`);
    const row = page.locator("main tbody tr");
    expect(await row.count()).toBe(1);
    const cells = await row.locator("td").allTextContents();
    expect(cells[1]).toBe("agent");
    expect(cells[2]).toBe("dead");
    expect(cells[3]).toBe("3");
    expect(cells[4]).toMatch(/ago$/);
    expect(cells[5]).toBe("failed 3 times (last: ERR_RUNTIME_HTTP)");
    await shot("deliveries");
    await page.fill("#q", "no-such-delivery");
    await page.click("form.filter button");
    await expect.poll(() => page.textContent("main .empty")).toBe("No dead deliveries match “no-such-delivery”.");
    await page.goto(`${node.url}${CONSOLE_PREFIX}/deliveries?state=dead`);

    failing = false;
    await page.click("text=Replay…");
    expect(await page.textContent("h1")).toBe("Replay a dead delivery?");
    await shot("replay-confirm");
    await page.click("button.primary");
    await expect.poll(() => page.textContent(".notice")).toBe("Replayed: the delivery runs again with a fresh set of attempts.");
    // The delivery's page refreshes itself until the replayed run is done.
    await expect.poll(() => page.locator("main dl.facts dd").first().textContent(), { timeout: 15_000 }).toBe("done");
    const statuses = await page.locator("main table.runs tbody tr td:nth-child(4)").allTextContents();
    expect(statuses).toEqual(["ok", "replayed", "error", "error", "error"]);
    expect((await admin("/intake?state=dead")).dead).toEqual([]);
  }, 40_000);

  it("Runs pages through recent runs and shows one run's detail; the payload only on request", async () => {
    await page.goto(`${node.url}${CONSOLE_PREFIX}/runs`);
    const header = await page.locator("main thead th").allTextContents();
    expect(header).toEqual(["Run", "Agent", "Kind", "Status", "Model", "Attempt", "Duration", "Peak RSS", "When"]);
    const rows = page.locator("main table.runs tbody tr");
    expect(await rows.count()).toBeGreaterThanOrEqual(8);
    expect(await page.locator("main").textContent()).toContain("local/qwen2.5-coder:7b");
    await shot("runs");
    await page.selectOption("#f-status", "error");
    await page.click("form.filter button");
    const errorStatuses = await page.locator("main table.runs tbody tr td:nth-child(4)").allTextContents();
    expect(errorStatuses).toEqual(["error", "error", "error"]);
    await page.click("main table.runs tbody tr:first-child td:first-child a");
    expect(await page.textContent("h1")).toMatch(/^Run /);
    const html = await page.content();
    expect(html).not.toContain("nightly digest");
    await shot("run-detail");
    await page.click("text=Show the delivery's stored request");
    await expect.poll(() => page.textContent("pre.payload")).toContain("[fail] nightly digest");
    await shot("delivery");
  });

  it("Edge shows the outbox per node, dead letters and cron history, fetched by the node, and replays a dead letter", async () => {
    await page.goto(`${node.url}${CONSOLE_PREFIX}/edge`);
    const main = page.locator("main");
    const nodes = await page.locator("section[aria-labelledby=p-outbox-per-node] tbody tr").allInnerTexts();
    expect(nodes.map((r) => r.replace(/\s+/g, " ").trim())).toEqual([expect.stringMatching(/^home 0 2 —$/), expect.stringMatching(/^spare 1 0 in 59m( \d+s)?$/)]);
    expect(await main.textContent()).toContain("morning-brief");
    expect(await main.textContent()).toContain("watching");
    // The browser never sees the edge's token: not in the page, not in a cookie.
    expect(await page.content()).not.toContain(OPERATOR_TOKEN);
    await shot("edge");

    homeAccepts = true;
    const received = homeReceived.length;
    await page.locator("section[aria-labelledby=p-dead-letters] tr:has-text('refused-1') a:text('Replay…')").click();
    await page.click("button.primary");
    await expect.poll(() => page.textContent(".notice")).toBe("Replayed at the edge: token:console/refused-1 is back in the outbox.");
    await pollUntil(() => (homeReceived.length > received ? true : undefined), 10_000, "the replayed letter at the home node");
    await expect.poll(async () => (await page.locator("section[aria-labelledby=p-dead-letters]").textContent())!.includes("refused-1"), { timeout: 10_000 }).toBe(false);
  }, 30_000);

  it("a page on another origin can neither read the console nor post to it", async () => {
    const other = await context.newPage();
    for (const origin of [`http://localhost:${attackerPort}`, `http://127.0.0.1:${attackerPort}`]) {
      await other.goto(`${origin}/?target=${encodeURIComponent(`${node.url}${CONSOLE_PREFIX}`)}`);
      await expect.poll(() => other.textContent("#read")).toBe("blocked");
      await Promise.all([other.waitForNavigation(), other.evaluate(() => (globalThis as any).document.getElementById("f").submit())]);
      // The daemon's browser boundary (node/server/browser-boundary.ts) refuses it before the console sees it.
      expect(JSON.parse((await other.textContent("body")) ?? "")).toEqual({ ok: false, error: "cross-origin request refused: Origin is not this node" });
    }
    await other.close();
    // A rebinding name for this host is refused whatever it carries.
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${node.url}${CONSOLE_PREFIX}/login`, { headers: { host: `evil.example:${new URL(node.url).port}` } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject).end();
    });
    expect(status).toBe(421);
    // The session still works: nothing the other origin did logged it out.
    await page.goto(`${node.url}${CONSOLE_PREFIX}`);
    expect(new URL(page.url()).pathname).toBe(CONSOLE_PREFIX);
  });

  it("axe-core finds no serious or critical violation on any page", async () => {
    const runId = (await admin("/runs?limit=1")).runs[0].id as string;
    for (const path of ["", "/deliveries?state=done", "/runs", `/runs/view?id=${encodeURIComponent(runId)}`, "/edge"]) {
      await page.goto(`${node.url}${CONSOLE_PREFIX}${path}`);
      expect({ path, violations: await axeViolations() }).toEqual({ path, violations: [] });
    }
  }, 30_000);

  it("logs out: the session ends and its cookie no longer opens a page", async () => {
    await page.goto(`${node.url}${CONSOLE_PREFIX}`);
    const old = (await context.cookies(`${node.url}${CONSOLE_PREFIX}`)).find((c) => c.name === "clawgate_session")!.value;
    await page.click("text=Log out");
    await page.waitForURL(`${node.url}${CONSOLE_PREFIX}/login`);
    expect((await context.cookies(`${node.url}${CONSOLE_PREFIX}`)).find((c) => c.name === "clawgate_session")).toBeUndefined();
    expect(await axeViolations()).toEqual([]);
    const res = await fetch(`${node.url}${CONSOLE_PREFIX}`, { headers: { cookie: `clawgate_session=${old}` }, redirect: "manual" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`${CONSOLE_PREFIX}/login`);
  });
});
