/** The openai runtime against a real OpenAI-compatible server on loopback: body shape, key, reasoning, retries, abort. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { RunAbortedError } from "../../../node/dispatch/scheduler.ts";
import { REASONING_EFFORT, createOpenAiRuntime, parseRetryAfter } from "../../../node/runtimes/openai-runtime.ts";
import type { RuntimeRequest } from "../../../node/runtimes/runtime-types.ts";
import { type ModelServer, startModelServer } from "../../helpers/model-server.ts";
import { realIo } from "../../helpers/daemon-io.ts";

let server: ModelServer;
beforeAll(async () => {
  server = await startModelServer();
});
afterAll(() => server.close());
beforeEach(() => {
  server.requests.length = 0;
  server.setLatency(0);
});

const request = (over: Partial<RuntimeRequest> = {}): RuntimeRequest => ({
  runId: "r1",
  agentId: "main",
  sessionKey: "agent:main:hook:1",
  model: "ollama/llama3.1:8b",
  history: [],
  message: "hello",
  signal: new AbortController().signal,
  ...over,
});

describe("openai runtime", () => {
  it("posts history + message to /v1/chat/completions with the key and returns the reply", async () => {
    const rt = createOpenAiRuntime({ io: realIo, baseUrl: `${server.url}/v1`, apiKey: () => "sk-test-key", headers: () => ({ "x-extra": "1" }) });
    expect(rt.local).toBe(true); // loopback server = memory on this host
    const out = await rt.run(request({ history: [{ role: "user", content: "earlier" }, { role: "assistant", content: "ok" }] }));
    expect(out.reply).toBe("echo: hello");
    const [req] = server.chatRequests();
    expect(req!.headers["authorization"]).toBe("Bearer sk-test-key");
    expect(req!.headers["x-extra"]).toBe("1");
    expect(req!.body.model).toBe("llama3.1:8b");
    expect(req!.body.messages).toEqual([
      { role: "user", content: "earlier" },
      { role: "assistant", content: "ok" },
      { role: "user", content: "hello" },
    ]);
    expect(req!.body.reasoning_effort).toBeUndefined();
  });

  it("maps thinking to reasoning_effort only for reasoning models; adaptive leaves it to the server", async () => {
    const rt = createOpenAiRuntime({ io: realIo, baseUrl: `${server.url}/v1`, apiKey: () => undefined, reasoning: (m) => m.endsWith("gpt-5.2-mini") });
    await rt.run(request({ model: "openai/gpt-5.2-mini", thinking: "off" }));
    await rt.run(request({ model: "openai/gpt-5.2-mini", thinking: "xhigh" }));
    await rt.run(request({ model: "openai/gpt-5.2-mini", thinking: "adaptive" }));
    await rt.run(request({ model: "ollama/llama3.1:8b", thinking: "high" }));
    const efforts = server.chatRequests().map((r) => r.body.reasoning_effort);
    expect(efforts).toEqual(["none", "xhigh", undefined, undefined]);
    expect(server.chatRequests()[0]!.headers["authorization"]).toBeUndefined();
    expect(REASONING_EFFORT.medium).toBe("medium");
  });

  it("retries 429 honoring Retry-After and 5xx, within maxAttempts", async () => {
    const rt = createOpenAiRuntime({ io: realIo, baseUrl: `${server.url}/v1`, apiKey: () => "k", retryBaseMs: 1, random: () => 0 });
    server.queueFaults({ status: 429, retryAfter: "0" }, { status: 503 });
    const out = await rt.run(request());
    expect(out.reply).toBe("echo: hello");
    expect(out.attempts).toBe(3);
    expect(server.chatRequests()).toHaveLength(3);
  });

  it("gives up after maxAttempts with a stable code and no response body in the message", async () => {
    const rt = createOpenAiRuntime({ io: realIo, baseUrl: `${server.url}/v1`, apiKey: () => "k", retryBaseMs: 1, maxAttempts: 2 });
    server.queueFaults({ status: 500, body: "internal sk-leak" }, { status: 500, body: "internal sk-leak" });
    const error = await rt.run(request()).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "ERR_RUNTIME_HTTP", message: "model server answered HTTP 500" });
    expect(server.chatRequests()).toHaveLength(2);
  });

  it("does not wait out a Retry-After longer than maxRetryDelayMs", async () => {
    const rt = createOpenAiRuntime({ io: realIo, baseUrl: `${server.url}/v1`, apiKey: () => "k", maxRetryDelayMs: 1000 });
    server.queueFaults({ status: 429, retryAfter: "120" });
    const error = await rt.run(request()).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "ERR_RUNTIME_RATE_LIMITED", retryAfterMs: 120_000 });
    expect((error as Error).message).toContain("Retry-After 120 s exceeds maxRetryDelayMs");
    expect(server.chatRequests()).toHaveLength(1);
  });

  it("hands the server's Retry-After of the last attempt to the dispatcher (retryAfterMs); none without the header", async () => {
    const rt = createOpenAiRuntime({ io: realIo, baseUrl: `${server.url}/v1`, apiKey: () => "k", maxAttempts: 1 });
    server.queueFaults({ status: 503, retryAfter: "7" }, { status: 500 });
    expect(await rt.run(request()).catch((e: unknown) => e)).toMatchObject({ code: "ERR_RUNTIME_HTTP", retryAfterMs: 7_000 });
    const plain = await rt.run(request()).catch((e: unknown) => e);
    expect(plain).toMatchObject({ code: "ERR_RUNTIME_HTTP" });
    expect((plain as { retryAfterMs?: number }).retryAfterMs).toBeUndefined();
  });

  it("does not retry 401 (a wrong key stays wrong)", async () => {
    const rt = createOpenAiRuntime({ io: realIo, baseUrl: `${server.url}/v1`, apiKey: () => "wrong" });
    server.queueFaults({ status: 401 });
    await expect(rt.run(request())).rejects.toMatchObject({ code: "ERR_RUNTIME_AUTH" });
    expect(server.chatRequests()).toHaveLength(1);
  });

  it("stops at once when the run's signal aborts (timeout), with the signal's reason", async () => {
    server.setLatency(5_000);
    const rt = createOpenAiRuntime({ io: realIo, baseUrl: `${server.url}/v1`, apiKey: () => "k" });
    const controller = new AbortController();
    const running = rt.run(request({ signal: controller.signal }));
    const reason = new RunAbortedError("ERR_RUN_TIMEOUT", "timed out");
    setTimeout(() => controller.abort(reason), 50);
    const started = Date.now();
    await expect(running).rejects.toBe(reason);
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it("retries a connection reset by the server", async () => {
    const rt = createOpenAiRuntime({ io: realIo, baseUrl: `${server.url}/v1`, apiKey: () => "k", retryBaseMs: 1 });
    server.queueFaults({ status: 0 });
    const out = await rt.run(request());
    expect(out).toMatchObject({ reply: "echo: hello", attempts: 2 });
  });

  it("counts an unreachable server as retryable and reports the connection error code", async () => {
    const rt = createOpenAiRuntime({ io: realIo, baseUrl: "http://127.0.0.1:1/v1", apiKey: () => "k", retryBaseMs: 1, maxAttempts: 2 });
    await expect(rt.run(request())).rejects.toMatchObject({ code: "ERR_RUNTIME_UNREACHABLE" });
  });

  it("validates options naming the option", () => {
    expect(() => createOpenAiRuntime({ io: realIo, baseUrl: "not a url", apiKey: () => "k" })).toThrow(/baseUrl/);
    expect(() => createOpenAiRuntime({ io: realIo, baseUrl: "http://127.0.0.1:1/v1", apiKey: () => "k", maxAttempts: 0 })).toThrow(/maxAttempts/);
  });

  it("parses Retry-After as seconds or an HTTP date", () => {
    expect(parseRetryAfter("3", 0)).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(parseRetryAfter("soon", 0)).toBeUndefined();
  });
});
