/** The operator API in workerd: its own credential, outbox status, dead letters and replay, cron status. */
import { beforeAll, describe, expect, it } from "vitest";
import { type EdgeKeys, edgeKeys, fakeNode } from "./support/fake-node.ts";
import { OPERATOR_TOKEN, baseConfig, edgeEnv, post, sha256Hex, testWorker } from "./support/edge-env.ts";

let keys: EdgeKeys;
beforeAll(async () => {
  keys = await edgeKeys();
});

async function setup(secrets?: Record<string, string>) {
  const node = await fakeNode(keys, { "https://node-1.test": "node-1" });
  const worker = testWorker(edgeEnv(await baseConfig(), keys, secrets ?? { CLAWGATE_OPERATOR_TOKEN_SHA256: await sha256Hex(OPERATOR_TOKEN) }), node.fetch);
  const op = (path: string, init: RequestInit = {}) =>
    worker.request(`/_clawgate${path}`, { ...init, headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, ...(init.headers as Record<string, string>) } });
  return { node, worker, op };
}

describe("operator API", () => {
  it("refuses a missing or wrong token, a caller token, and everything when no hash is configured", async () => {
    const { worker } = await setup();
    for (const authorization of [undefined, "Bearer wrong", `Bearer ${OPERATOR_TOKEN}x`]) {
      const res = await worker.request("/_clawgate/outbox", authorization ? { headers: { authorization } } : {});
      expect([res.status, await res.json()]).toEqual([401, { ok: false, error: "unauthorized" }]);
    }
    const off = await setup({});
    expect((await off.op("/outbox")).status).toBe(401);
  });

  it("lists queued deliveries and dead letters, and replays a rejected one", async () => {
    const { node, worker, op } = await setup();
    node.mode = "down";
    await worker.request("/hooks/wake", post({ text: "t" }, { "idempotency-key": "op-queued" }));
    node.mode = "reject";
    await worker.request("/hooks/wake", post({ text: "t" }, { "idempotency-key": "op-rejected" }));

    const outbox = (await (await op("/outbox")).json()) as { counts: Record<string, number>; pending: { deliveryId: string }[] };
    expect(outbox.counts).toMatchObject({ pending: 1, rejected: 1 });
    expect(outbox.pending.map((d) => d.deliveryId)).toEqual(["token:ci/op-queued"]);
    const retry = await op("/outbox/retry", { method: "POST" });
    expect([retry.status, await retry.json()]).toEqual([202, { ok: true, pulledForward: 1 }]);
    const dead = (await (await op("/dead-letters")).json()) as { deadLetters: { deliveryId: string; status: string }[] };
    expect(dead.deadLetters.map((d) => [d.deliveryId, d.status])).toEqual([["token:ci/op-rejected", "rejected"]]);
    // Metadata only: no body in any listing.
    expect(JSON.stringify(outbox) + JSON.stringify(dead)).not.toContain('"text"');

    const replay = await op("/dead-letters/replay", { method: "POST", body: JSON.stringify({ deliveryId: "token:ci/op-rejected" }) });
    expect([replay.status, await replay.json()]).toEqual([202, { ok: true, deliveryId: "token:ci/op-rejected", replayed: true }]);
    expect(((await (await op("/outbox")).json()) as { counts: Record<string, number> }).counts).toMatchObject({ pending: 2, rejected: 0 });

    const missing = await op("/dead-letters/replay", { method: "POST", body: JSON.stringify({ deliveryId: "token:ci/op-rejected" }) });
    expect([missing.status, await missing.json()]).toEqual([404, { ok: false, error: "no dead letter with that deliveryId" }]);
    const bad = await op("/dead-letters/replay", { method: "POST", body: "{" });
    expect([bad.status, await bad.json()]).toEqual([400, { ok: false, error: "invalid JSON" }]);
    const noId = await op("/dead-letters/replay", { method: "POST", body: "{}" });
    expect([noId.status, await noId.json()]).toEqual([400, { ok: false, error: "deliveryId required" }]);
  });

  it("shows each cron job with its runs", async () => {
    const { op } = await setup();
    const res = await op("/cron");
    expect(res.status).toBe(200);
    // The outbox object runs with wrangler.toml's example config: one heartbeat job, no runs yet in this file.
    expect(await res.json()).toMatchObject({ ok: true, jobs: [{ id: "heartbeat", schedule: "*/30 * * * *", action: "wake", runs: [] }] });
  });

  it("answers 429 with Retry-After after 20 failed logins from one client; the operator token and other clients still get in", async () => {
    const { worker } = await setup();
    const statuses: number[] = [];
    for (let i = 0; i < 21; i++) {
      statuses.push((await worker.request("/_clawgate/outbox", { headers: { authorization: "Bearer guess", "cf-connecting-ip": "198.51.100.4" } })).status);
    }
    expect(statuses.slice(0, 19).every((s) => s === 401)).toBe(true);
    const blocked = await worker.request("/_clawgate/outbox", { headers: { authorization: "Bearer guess", "cf-connecting-ip": "198.51.100.4" } });
    expect([blocked.status, await blocked.json()]).toEqual([429, { ok: false, error: "too many failed attempts" }]);
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
    const operator = await worker.request("/_clawgate/outbox", { headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, "cf-connecting-ip": "198.51.100.4" } });
    expect(operator.status).toBe(200);
    const other = await worker.request("/_clawgate/outbox", { headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, "cf-connecting-ip": "198.51.100.5" } });
    expect(other.status).toBe(200);
  });

  it("takes a fractional or out-of-range ?limit= as a whole number from 1 to 1000, never a 5xx", async () => {
    const { op } = await setup();
    for (const path of ["/outbox?limit=1.5", "/dead-letters?limit=2.5", "/outbox?limit=1e9", "/dead-letters?limit=-3", "/outbox?limit=Infinity"]) {
      const res = await op(path);
      expect([path, res.status]).toEqual([path, 200]);
    }
  });

  it("answers 404 for an unknown operator path", async () => {
    const { op } = await setup();
    expect((await op("/nope")).status).toBe(404);
  });
});
