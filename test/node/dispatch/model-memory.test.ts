/** Model memory estimates: configured, derived (weights + KV × context + overhead), shipped table, hosted, learning and hard limits. */
import { describe, expect, it } from "vitest";
import { createModelMemory, deriveMemoryGb } from "../../../node/dispatch/model-memory.ts";

const GIB = 1024 ** 3;

describe("deriveMemoryGb", () => {
  it("adds weights (params × bits per weight), KV cache per 1k tokens × context and overhead", () => {
    const weights = (8e9 * 8.5) / 8 / GIB;
    expect(deriveMemoryGb({ params: 8, quant: "Q8_0", contextK: 4, kvGbPer1k: 0.125 })).toBeCloseTo(weights + 0.5 + 0.6 + 0.05 * weights, 9);
  });

  it("refuses an unknown quantization, naming it", () => {
    expect(() => deriveMemoryGb({ params: 8, quant: "Q9_X", contextK: 8 })).toThrow(/unknown quantization "Q9_X"/);
  });
});

describe("the shipped table", () => {
  const mm = createModelMemory();

  it("knows Llama 3 8B and 70B at Ollama's default Q4_K_M (70B above 40 GiB, as docs/dispatch.md says)", () => {
    const small = mm.estimate("ollama/llama3.1:8b");
    const big = mm.estimate("ollama/llama3.3:70b");
    expect(small.source).toBe("table");
    expect(small.memoryGb).toBeGreaterThan(5.5);
    expect(small.memoryGb).toBeLessThan(7.5);
    expect(big.memoryGb).toBeGreaterThan(40);
    expect(big.memoryGb).toBeLessThan(50);
  });

  it("reads the quantization from the id: Q8_0 and F16 cost more than Q4_K_M", () => {
    const q4 = mm.estimate("lmstudio/Meta-Llama-3.1-8B-Instruct-Q4_K_M").memoryGb;
    const q8 = mm.estimate("lmstudio/Meta-Llama-3.1-8B-Instruct-Q8_0").memoryGb;
    const f16 = mm.estimate("llamacpp/meta-llama-3.1-8b-instruct-f16.gguf").memoryGb;
    expect(q4).toBeLessThan(q8);
    expect(q8).toBeLessThan(f16);
    expect(f16).toBeGreaterThan(16);
    expect(mm.estimate("llamacpp/Meta-Llama-3.1-8B-Instruct-IQ4_XS").memoryGb).toBeLessThan(q4);
  });

  it("tells sizes apart: Qwen 2.5 7B < 14B < 32B < 72B, Mixtral 8x7B is not Mistral 7B, R1 distills use their base", () => {
    const q = ["7b", "14b", "32b", "72b"].map((s) => mm.estimate(`ollama/qwen2.5:${s}`).memoryGb);
    expect([...q].sort((a, b) => a - b)).toEqual(q);
    expect(mm.estimate("ollama/mixtral:8x7b").memoryGb).toBeGreaterThan(3 * mm.estimate("ollama/mistral:7b").memoryGb);
    expect(mm.estimate("ollama/deepseek-r1:70b").memoryGb).toBeCloseTo(mm.estimate("ollama/llama3.1:70b").memoryGb, 6);
    expect(mm.estimate("ollama/deepseek-r1:1.5b").memoryGb).toBeLessThan(3);
    expect(mm.estimate("ollama/gemma2:27b").memoryGb).toBeGreaterThan(mm.estimate("ollama/gemma2:9b").memoryGb);
    expect(mm.estimate("ollama/phi3:mini").source).toBe("table");
  });

  it("hosted providers need no local memory and have no local hard limit", () => {
    for (const id of ["openai/gpt-5.2-mini", "anthropic/claude-sonnet-4-5", "openrouter/meta-llama/llama-3.1-70b"]) {
      const e = mm.estimate(id);
      expect(e.memoryGb, id).toBe(0);
      expect(e.hardLimitGb, id).toBe(Infinity);
    }
  });

  it("derives an unknown local model from the size in its id, and falls back to unknownLocalGb", () => {
    expect(mm.estimate("ollama/yi:34b").source).toBe("derived");
    expect(mm.estimate("ollama/yi:34b").memoryGb).toBeGreaterThan(19);
    expect(mm.estimate("command/my-model", { local: true })).toMatchObject({ memoryGb: 8, source: "unknown" });
    expect(mm.estimate("command/my-model")).toMatchObject({ memoryGb: 0, source: "unknown" });
    // A local provider's model without a size (Ollama's default tag) is never taken for hosted.
    expect(mm.estimate("ollama/llama3.1")).toMatchObject({ memoryGb: 8, source: "unknown" });
    expect(mm.estimate("lmstudio/some-model").hardLimitGb).toBe(12);
  });
});

describe("configured models", () => {
  it("memoryGb wins and is the floor; params/quant/contextK derive; a larger context costs more", () => {
    const mm = createModelMemory({
      models: {
        "ollama/llama3.1:70b": { memoryGb: 48 },
        "ollama/custom": { params: 13, quant: "Q5_K_M", contextK: 4 },
        "ollama/custom-long": { params: 13, quant: "Q5_K_M", contextK: 32 },
        "ollama/llama3.1:8b": { contextK: 128 },
      },
    });
    expect(mm.estimate("ollama/llama3.1:70b")).toMatchObject({ memoryGb: 48, source: "config", floorGb: 48 });
    expect(mm.estimate("ollama/custom").source).toBe("derived");
    expect(mm.estimate("ollama/custom-long").memoryGb).toBeGreaterThan(mm.estimate("ollama/custom").memoryGb + 2);
    // 128k context of Llama 3 8B: 16 GiB of KV cache on top of the weights.
    expect(mm.estimate("ollama/llama3.1:8b").memoryGb).toBeGreaterThan(20);
  });

  it("refuses bad settings at build time, naming the model and field", () => {
    expect(() => createModelMemory({ models: { "ollama/x": { quant: "Q4_K_M" } } })).toThrow(/agents\.defaults\.models\["ollama\/x"\]\.params/);
    expect(() => createModelMemory({ models: { "ollama/x:7b": { quant: "Q11" } } })).toThrow(/\.quant "Q11" is unknown/);
    expect(() => createModelMemory({ models: { "ollama/x": { memoryGb: -1 } } })).toThrow(/\.memoryGb must be/);
    expect(() => createModelMemory({ limitFactor: 0.5 })).toThrow(/limitFactor/);
  });
});

describe("learning from measured peaks", () => {
  it("rises at once to a higher peak, sinks by a moving average, never below the configured floor", () => {
    const mm = createModelMemory({ models: { "ollama/m:13b": { memoryGb: 10 } }, learnAlpha: 0.5 });
    expect(mm.recordPeak("ollama/m:13b", 14)).toMatchObject({ memoryGb: 14, source: "learned", samples: 1 });
    expect(mm.recordPeak("ollama/m:13b", 12).memoryGb).toBeCloseTo(13, 9);
    for (let i = 0; i < 20; i++) mm.recordPeak("ollama/m:13b", 2);
    expect(mm.estimate("ollama/m:13b").memoryGb).toBe(10);
  });

  it("an unconfigured estimate may learn down to floorFraction of its first value", () => {
    const mm = createModelMemory({ floorFraction: 0.5 });
    const first = mm.estimate("ollama/llama3.1:8b").memoryGb;
    for (let i = 0; i < 30; i++) mm.recordPeak("ollama/llama3.1:8b", 0.1);
    expect(mm.estimate("ollama/llama3.1:8b").memoryGb).toBeCloseTo(first / 2, 6);
  });

  it("the hard limit comes from the configured or first estimate (× limitFactor, at least + slack), never from learning", () => {
    const mm = createModelMemory({ models: { "ollama/a:7b": { memoryGb: 10 }, "ollama/b:7b": { memoryGb: 2 }, "ollama/c:7b": { memoryGb: 10, memoryLimitGb: 11 } }, limitFactor: 1.5, minLimitSlackGb: 2 });
    expect(mm.estimate("ollama/a:7b").hardLimitGb).toBe(15);
    expect(mm.estimate("ollama/b:7b").hardLimitGb).toBe(4);
    expect(mm.estimate("ollama/c:7b").hardLimitGb).toBe(11);
    mm.recordPeak("ollama/a:7b", 12);
    expect(mm.estimate("ollama/a:7b")).toMatchObject({ memoryGb: 12, hardLimitGb: 15 });
  });

  it("a run killed at its hard limit teaches nothing: the estimate stays, the kill and its peak are remembered", () => {
    const mm = createModelMemory({ models: { "local/m": { memoryGb: 0.2, memoryLimitGb: 0.3 } } });
    expect(mm.recordPeak("local/m", 0.435, "memory_limit")).toMatchObject({ memoryGb: 0.2, hardLimitGb: 0.3, source: "config", samples: 0 });
    expect(mm.report("local/m")).toMatchObject({ learnedGb: null, estimateGb: 0.2, hardLimitGb: 0.3, limitKills: 1, lastPeaks: [{ peakGb: 0.435, outcome: "memory_limit" }] });
    // A failed run's peak (it did not finish) does not move the estimate either.
    expect(mm.recordPeak("local/m", 0.29, "failed").memoryGb).toBe(0.2);
  });

  it("the estimate never rises above the hard limit, also from an ok run or an older learned file", () => {
    const mm = createModelMemory({ models: { "local/m": { memoryGb: 0.2, memoryLimitGb: 0.3 } } });
    expect(mm.recordPeak("local/m", 5).memoryGb).toBe(0.3);
    const old = createModelMemory({ models: { "local/m": { memoryGb: 0.2, memoryLimitGb: 0.3 } }, learned: { "local/m": { memoryGb: 0.435, samples: 3 } } });
    expect(old.estimate("local/m")).toMatchObject({ memoryGb: 0.3, source: "learned" });
  });

  it("reset() forgets one model's learning; the others stay", () => {
    const mm = createModelMemory();
    mm.recordPeak("ollama/llama3.1:8b", 9);
    mm.recordPeak("ollama/qwen2.5:7b", 7, "memory_limit");
    const configured = mm.estimate("ollama/llama3.1:8b", { local: true });
    expect(configured.source).toBe("learned");
    expect(mm.reset("ollama/llama3.1:8b")).toBe(true);
    expect(mm.reset("ollama/llama3.1:8b")).toBe(false);
    expect(mm.estimate("ollama/llama3.1:8b", { local: true })).toMatchObject({ source: "table", samples: 0 });
    expect(mm.learnedModels()).toEqual(["ollama/qwen2.5:7b"]);
  });

  it("snapshot() round-trips learned values into a new instance", () => {
    const a = createModelMemory();
    a.recordPeak("ollama/llama3.1:8b", 9);
    const b = createModelMemory({ learned: a.snapshot() });
    expect(b.estimate("ollama/llama3.1:8b")).toMatchObject({ memoryGb: 9, samples: 1, source: "learned" });
  });

  it("refuses a non-finite peak", () => {
    expect(() => createModelMemory().recordPeak("ollama/x:7b", Number.NaN)).toThrow(/peakGb/);
  });
});
