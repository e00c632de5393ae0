/** Agents and their runtimes compiled from config: defaults, fallbacks, heartbeat merge, and refusals naming the path. */
import { describe, expect, it } from "vitest";
import { AgentsSchema } from "../../../node/config/agents-schema.ts";
import { compileAgentTable } from "../../../node/dispatch/agent-table.ts";
import { realIo } from "../../helpers/daemon-io.ts";

const compile = (agents: unknown, providers: Record<string, { baseUrl?: string }> = { ollama: { baseUrl: "http://127.0.0.1:11434/v1" } }) =>
  compileAgentTable({ io: realIo, agents: AgentsSchema.parse(agents), providers, secret: () => undefined });

describe("agent table", () => {
  it("one implicit agent 'main' from defaults, openai runtime by default, OpenClaw's defaults", () => {
    const t = compile({ defaults: { model: "ollama/llama3.1:8b" } });
    expect(t.defaultAgentId).toBe("main");
    const main = t.get("main")!;
    expect(main).toMatchObject({ model: "ollama/llama3.1:8b", timeoutSeconds: 600, heartbeat: { everyMs: 1_800_000, maxEventDelayMs: 1_800_000, ackMaxChars: 300 } });
    expect(main.runtime).toMatchObject({ type: "openai", local: true });
  });

  it("per-agent settings, fallbacks, the default flag, and heartbeat fields merged over defaults", () => {
    const t = compile({
      defaults: { model: "ollama/llama3.1:8b", heartbeat: { every: "1h", prompt: "check" } },
      list: [
        { id: "ops", model: { primary: "ollama/qwen2.5:32b", fallbacks: ["ollama/llama3.1:8b"] }, heartbeat: { every: "0m" } },
        { id: "main", default: true, runtime: { type: "command", command: "/usr/bin/true" } },
      ],
    });
    expect(t.defaultAgentId).toBe("main");
    expect(t.get("ops")).toMatchObject({ models: ["ollama/qwen2.5:32b", "ollama/llama3.1:8b"], heartbeat: { everyMs: 0, prompt: "check" } });
    expect(t.get("main")!.runtime!.type).toBe("command");
  });

  it("refuses runtime mistakes naming the config path", () => {
    expect(() => compile({ list: [{ id: "a", runtime: { type: "command", command: "relative" } }] })).toThrow("agents.list.0.runtime.command: must be an absolute path");
    expect(() => compile({ list: [{ id: "a", runtime: { type: "openai", baseUrl: "http://x", typo: 1 } }] })).toThrow(/^agents\.list\.0\.runtime: .*typo/);
    expect(() => compile({ list: [{ id: "a", runtime: { type: "ssh" } }] })).toThrow(/^agents\.list\.0\.runtime\.type: /);
    expect(() => compile({ defaults: { model: "vllm/x" } }, {})).toThrow('models.providers.vllm.baseUrl: required by agent "main" (runtime openai)');
    expect(() => compile({ defaults: { model: "ollama/x", heartbeat: { activeHours: { start: "09:00", end: "17:00", timezone: "Mars/Olympus" } } } })).toThrow(
      /agents\.defaults\.heartbeat\.activeHours\.timezone: unknown timezone "Mars\/Olympus"/,
    );
    expect(() => compile({ defaults: { runtime: { type: "openclaw", url: "http://127.0.0.1:1", token: "x" } } })).toThrow(/^agents\.defaults\.runtime: credentials belong in agents\.list/);
  });
});
