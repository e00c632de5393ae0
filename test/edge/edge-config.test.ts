/** Fail closed: an invalid configuration answers every request with a generic 500, logs one line naming the field, and forwards nothing. */
import { beforeAll, describe, expect, it } from "vitest";
import { parseEdgeConfig } from "../../edge/edge-config.ts";
import { type EdgeKeys, edgeKeys, fakeNode } from "./support/fake-node.ts";
import { baseConfig, edgeEnv, post, testWorker } from "./support/edge-env.ts";

let keys: EdgeKeys;
beforeAll(async () => {
  keys = await edgeKeys();
});

const job = { id: "heartbeat", schedule: "*/30 * * * *", action: { kind: "wake", text: "beat" } };

describe("an invalid configuration", () => {
  const cases: [string, (c: Record<string, unknown>) => unknown, Record<string, string>, string][] = [
    ["not JSON", () => "{nodes:", {}, "CLAWGATE_EDGE_CONFIG: is not valid JSON"],
    ["an unknown key", (c) => ({ ...c, nodez: [] }), {}, "CLAWGATE_EDGE_CONFIG: unknown key(s) nodez"],
    ["plain http to a public host", (c) => ({ ...c, nodes: [{ id: "n", origin: "http://node.example.com" }] }), {}, "CLAWGATE_EDGE_CONFIG.nodes.0.origin: must be an https origin"],
    ["an origin with a path", (c) => ({ ...c, nodes: [{ id: "n", origin: "https://node.example.com/x" }] }), {}, "CLAWGATE_EDGE_CONFIG.nodes.0.origin: must be an https origin"],
    ["two primaries", (c) => ({ ...c, nodes: (c["nodes"] as object[]).map((n) => ({ ...n, primary: true })) }), {}, "CLAWGATE_EDGE_CONFIG.nodes: exactly one node must have primary: true"],
    ["a route to an unknown node", (c) => ({ ...c, routes: { ...(c["routes"] as object), gh: { auth: (c["routes"] as { wake: { auth: unknown } }).wake.auth, node: "node-9" } } }), {}, "CLAWGATE_EDGE_CONFIG.routes.gh.node: names no configured node"],
    ["a route without auth methods", (c) => ({ ...c, routes: { wake: { auth: [] } } }), {}, "CLAWGATE_EDGE_CONFIG.routes.wake.auth"],
    ["a bad body limit", (c) => ({ ...c, hooks: { maxBodyBytes: -1 } }), {}, "CLAWGATE_EDGE_CONFIG.hooks.maxBodyBytes"],
    ["prefixes without hook:", (c) => ({ ...c, hooks: { allowedSessionKeyPrefixes: ["ops:"] } }), {}, "must include 'hook:' when hooks.defaultSessionKey is unset"],
    ["a dead-man job without the alert secret", (c) => ({ ...c, cron: { jobs: [{ ...job, deadMan: { periodSeconds: 1800 } }] } }), {}, "CLAWGATE_ALERT_WEBHOOK_URL: secret is required when a cron job has deadMan"],
    ["a bad operator hash", (c) => c, { CLAWGATE_OPERATOR_TOKEN_SHA256: "not-hex" }, "CLAWGATE_OPERATOR_TOKEN_SHA256: must be 64 hex characters"],
    ["half of the CF Access pair", (c) => c, { CF_ACCESS_CLIENT_ID: "id.access" }, "CF_ACCESS_CLIENT_SECRET: set both CF Access secrets or neither"],
    ["a signing key without its private part", (c) => c, { CLAWGATE_EDGE_SIGNING_KEY: '{"kty":"OKP","crv":"Ed25519","x":"AA","kid":"k","alg":"EdDSA"}' }, "CLAWGATE_EDGE_SIGNING_KEY.d: missing"],
    ["a signing key with another alg", (c) => c, { CLAWGATE_EDGE_SIGNING_KEY: '{"kty":"oct","k":"AA","d":"x","kid":"k","alg":"HS256"}' }, "CLAWGATE_EDGE_SIGNING_KEY.alg: must be one of EdDSA, ES256"],
  ];
  for (const [name, mutate, secrets, logged] of cases) {
    it(`(${name}) answers 500 "edge misconfigured" everywhere, logs the field once, forwards nothing`, async () => {
      const node = await fakeNode(keys, { "https://node-1.test": "node-1" });
      const worker = testWorker(edgeEnv(mutate(await baseConfig()), keys, secrets), node.fetch);
      for (const [path, init] of [["/hooks/wake", post({ text: "t" })], ["/healthz", undefined], ["/_clawgate/outbox", undefined]] as const) {
        const res = await worker.request(path, init);
        expect(res.status).toBe(500);
        expect(await res.json()).toEqual({ ok: false, error: "edge misconfigured" });
      }
      expect(worker.logs).toHaveLength(1);
      expect(worker.logs[0]).toContain(logged);
      expect(node.attempts).toEqual([]);
    });
  }

  it("never puts a secret value in the log line", async () => {
    const secret = "super-secret-operator-value";
    const worker = testWorker(edgeEnv(await baseConfig(), keys, { CLAWGATE_OPERATOR_TOKEN_SHA256: secret }), fetch);
    await worker.request("/healthz");
    expect(worker.logs.join("\n")).not.toContain(secret);
  });
});

describe("a valid configuration", () => {
  it("answers /healthz and applies the documented defaults", async () => {
    const config = await baseConfig({ hooks: undefined, forward: undefined });
    const worker = testWorker(edgeEnv(config, keys), fetch);
    const res = await worker.request("/healthz");
    expect([res.status, await res.json()]).toEqual([200, { ok: true, nodes: 2 }]);
    const parsed = parseEdgeConfig({ CLAWGATE_EDGE_CONFIG: JSON.stringify(config), CLAWGATE_EDGE_SIGNING_KEY: JSON.stringify(keys.privateJwk) });
    expect(parsed.hooks.maxBodyBytes).toBe(262_144);
    expect(parsed.forwardTimeoutMs).toBe(10_000);
    expect(parsed.retryScheduleSeconds).toEqual([5, 300, 1800, 7200, 18000, 36000, 36000]);
    expect(parsed.cron.catchUp).toBe("coalesce");
    expect(parsed.primary.id).toBe("node-1");
    expect(parsed.nodes.get("node-1")!.hooksPath).toBe("/hooks");
  });

  it("sends the CF Access service-token headers when both secrets are set", async () => {
    const node = await fakeNode(keys, { "https://node-1.test": "node-1" });
    const worker = testWorker(edgeEnv(await baseConfig(), keys, { CF_ACCESS_CLIENT_ID: "abc.access", CF_ACCESS_CLIENT_SECRET: "s3cr3t" }), node.fetch);
    expect((await worker.request("/hooks/wake", post({ text: "t" }))).status).toBe(200);
    expect(node.received[0]!.headers.get("cf-access-client-id")).toBe("abc.access");
    expect(node.received[0]!.headers.get("cf-access-client-secret")).toBe("s3cr3t");
  });
});
