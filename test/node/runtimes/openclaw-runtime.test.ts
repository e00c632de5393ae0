/** The openclaw runtime against a real loopback server speaking OpenClaw's /hooks/agent. */
import { afterAll, beforeAll, expect, it } from "vitest";
import { createOpenClawRuntime } from "../../../node/runtimes/openclaw-runtime.ts";
import type { RuntimeRequest } from "../../../node/runtimes/runtime-types.ts";
import { type ModelServer, startModelServer } from "../../helpers/model-server.ts";

let server: ModelServer;
beforeAll(async () => {
  server = await startModelServer();
});
afterAll(() => server.close());

const request: RuntimeRequest = {
  runId: "run-1",
  agentId: "main",
  sessionKey: "agent:main:hook:abc",
  model: "openai/gpt-5.2-mini",
  history: [],
  message: "summarize the incident",
  name: "PagerDuty",
  thinking: "low",
  timeoutSeconds: 120,
  signal: new AbortController().signal,
};

it("forwards the run to the gateway's /hooks/agent with its hook token and OpenClaw's body", async () => {
  const rt = createOpenClawRuntime({ url: server.url, token: () => "gateway-hook-token" });
  expect(rt.local).toBe(false);
  const out = await rt.run(request);
  expect(out.reply).toMatch(/^accepted by OpenClaw gateway \(runId oc-\d+\)$/);
  const [req] = server.requests.filter((r) => r.path === "/hooks/agent");
  expect(req!.headers["authorization"]).toBe("Bearer gateway-hook-token");
  expect(req!.body).toEqual({
    message: "summarize the incident",
    name: "PagerDuty",
    agentId: "main",
    sessionKey: "hook:abc",
    model: "openai/gpt-5.2-mini",
    thinking: "low",
    timeoutSeconds: 120,
    idempotencyKey: "run-1",
  });
});

it("a refused token is ERR_RUNTIME_AUTH; a missing one never calls the gateway", async () => {
  server.queueFaults({ status: 401 });
  const rt = createOpenClawRuntime({ url: server.url, token: () => "wrong" });
  await expect(rt.run(request)).rejects.toMatchObject({ code: "ERR_RUNTIME_AUTH", message: "OpenClaw gateway answered HTTP 401" });
  const before = server.requests.length;
  await expect(createOpenClawRuntime({ url: server.url, token: () => undefined }).run(request)).rejects.toMatchObject({ code: "ERR_RUNTIME_AUTH" });
  expect(server.requests.length).toBe(before);
});

it("validates options naming the option (OpenClaw's hooks.path rule)", () => {
  expect(() => createOpenClawRuntime({ url: "nope", token: () => "t" })).toThrow(/url must be/);
  expect(() => createOpenClawRuntime({ url: server.url, hooksPath: "/", token: () => "t" })).toThrow(/hooksPath .* may not be '\/'/);
});
