/** `agents` (§6–§7 with clawgate's memory fields) and `clawgate.dispatch` through the real config parser: good shapes load, bad ones name the field. */
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../../node/config/config-errors.ts";
import { parseConfig } from "../../../node/config/config-file.ts";

const parse = (text: string) => parseConfig(text, "/x/openclaw.json");
function issues(text: string): string[] {
  try {
    parse(text);
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map((i) => `${i.path}: ${i.message}`);
    throw e;
  }
  throw new Error("expected the config to be refused");
}

describe("agents", () => {
  it("loads the reference §7 shape with clawgate's memory fields and a dispatch section", () => {
    const { config } = parse(`{
      agents: {
        defaults: {
          model: { primary: "ollama/llama3.1:8b", fallbacks: ["openai/gpt-5.2-mini"] },
          models: {
            "ollama/llama3.1:8b": { alias: "local", contextK: 16 },
            "ollama/llama3.3:70b": { memoryGb: 46, memoryLimitGb: 52 },
            "ollama/custom": { params: 13, quant: "Q5_K_M" },
            "openai/gpt-5.2-mini": { alias: "mini" },
          },
          thinkingDefault: "low", timeoutSeconds: 600, maxConcurrent: 4,
          heartbeat: { every: "30m", activeHours: { start: "09:00", end: "22:00", timezone: "Europe/Berlin" }, maxEventDelay: "30m" },
        },
        list: [
          { id: "main", default: true, model: "ollama/llama3.3:70b", thinkingDefault: "high", maxConcurrent: 1, runtime: { type: "openai", baseUrl: "http://127.0.0.1:11434/v1" } },
          { id: "ops", heartbeat: { every: "0m" } },
        ],
      },
      clawgate: { dispatch: { memoryBudgetGb: 28, exclusiveAboveGb: 24, headroomGb: 2, maxQueue: 50, maxThinking: "medium" } },
    }`);
    expect(config.agents?.list?.[0]).toMatchObject({ id: "main", runtime: { type: "openai", baseUrl: "http://127.0.0.1:11434/v1" } });
    expect(config.agents?.defaults?.models?.["ollama/llama3.3:70b"]).toMatchObject({ memoryGb: 46 });
    expect(config.clawgate?.dispatch).toMatchObject({ memoryBudgetGb: 28, maxThinking: "medium" });
  });

  it("names the field of each bad value", () => {
    expect(
      issues(`{ agents: { defaults: { thinkingDefault: "max", timeoutSeconds: 0, heartbeat: { every: "soon", activeHours: { start: "9am", end: "24:30" } }, models: { "ollama/x": { memoryGb: -1 } } } } }`),
    ).toEqual([
      'agents.defaults.thinkingDefault: Invalid option: expected one of "off"|"minimal"|"low"|"medium"|"high"|"xhigh"|"adaptive"',
      "agents.defaults.timeoutSeconds: Too small: expected number to be >0",
      'agents.defaults.heartbeat.every: must be a duration such as "30m", "1h" or "0m"',
      'agents.defaults.heartbeat.activeHours.start: must be "HH:MM"',
      'agents.defaults.heartbeat.activeHours.end: must be "HH:MM"',
      "agents.defaults.models.ollama/x.memoryGb: Too small: expected number to be >=0",
    ]);
  });

  it("refuses duplicate ids, two defaults, and models outside the catalog (the catalog is the allowlist)", () => {
    expect(
      issues(`{ agents: {
        defaults: { models: { "openai/gpt-5.2-mini": {} }, model: { primary: "openai/gpt-5.2-mini", fallbacks: ["openai/gpt-9"] } },
        list: [ { id: "a", default: true }, { id: "a", default: true, model: "ollama/llama3.1:8b", heartbeat: { model: "ollama/x" } } ],
      } }`),
    ).toEqual([
      'agents.list.1.id: duplicate agent id "a"',
      "agents.list.1.default: only one agent may be the default",
      'agents.defaults.model.fallbacks.0: model "openai/gpt-9" is not in agents.defaults.models',
      'agents.list.1.model: model "ollama/llama3.1:8b" is not in agents.defaults.models',
      'agents.list.1.heartbeat.model: model "ollama/x" is not in agents.defaults.models',
    ]);
  });

  it("refuses a runtime without a type and an agent id with a path separator", () => {
    expect(issues(`{ agents: { list: [ { id: "../x", runtime: { command: "x" } } ] } }`)).toEqual([
      "agents.list.0.id: must be letters, digits, - or _",
      "agents.list.0.runtime.type: Invalid input: expected string, received undefined",
    ]);
  });
});

describe("clawgate.dispatch", () => {
  it("names the field of each bad value", () => {
    expect(issues(`{ clawgate: { dispatch: { memoryBudgetGb: 0, maxQueue: 1.5, maxThinking: "ultra" } } }`)).toEqual([
      "clawgate.dispatch.memoryBudgetGb: Too small: expected number to be >0",
      "clawgate.dispatch.maxQueue: Invalid input: expected int, received number",
      'clawgate.dispatch.maxThinking: Invalid option: expected one of "off"|"minimal"|"low"|"medium"|"high"|"xhigh"|"adaptive"',
    ]);
  });

  it("retryDelaySeconds: a positive number of seconds (fractions allowed), at most an hour", () => {
    expect(parse(`{ clawgate: { dispatch: { retryDelaySeconds: 0.5 } } }`).config.clawgate?.dispatch?.retryDelaySeconds).toBe(0.5);
    expect(issues(`{ clawgate: { dispatch: { retryDelaySeconds: 0 } } }`)).toEqual(["clawgate.dispatch.retryDelaySeconds: Too small: expected number to be >0"]);
    expect(issues(`{ clawgate: { dispatch: { retryDelaySeconds: 7200 } } }`)).toEqual(["clawgate.dispatch.retryDelaySeconds: Too big: expected number to be <=3600"]);
    expect(issues(`{ clawgate: { dispatch: { retryDelaySeconds: "5s" } } }`)).toEqual(["clawgate.dispatch.retryDelaySeconds: Invalid input: expected number, received string"]);
  });

  it("refuses exclusiveAboveGb at or above the budget (only a run strictly above it is exclusive)", () => {
    const text = "clawgate.dispatch.exclusiveAboveGb: must be below memoryBudgetGb (only a run strictly above it is exclusive, and no run exceeds the budget)";
    expect(issues(`{ clawgate: { dispatch: { memoryBudgetGb: 20, exclusiveAboveGb: 30 } } }`)).toEqual([text]);
    expect(issues(`{ clawgate: { dispatch: { memoryBudgetGb: 20, exclusiveAboveGb: 20 } } }`)).toEqual([text]);
    expect(parse(`{ clawgate: { dispatch: { memoryBudgetGb: 20, exclusiveAboveGb: 19.5 } } }`).config.clawgate?.dispatch?.exclusiveAboveGb).toBe(19.5);
  });
});
