/** SecretRef and SecretInput rules of docs/openclaw-compat.md §1: shapes, regexes, shorthands and the ref key. */
import { describe, expect, it } from "vitest";
import {
  SecretInputSchema,
  SecretRefSchema,
  classifyCredential,
  isExecId,
  parseEnvShorthand,
  refKey,
} from "../../../node/config/secret-ref.ts";

describe("SecretRefSchema", () => {
  it("accepts exactly source, provider, id", () => {
    expect(SecretRefSchema.safeParse({ source: "env", provider: "default", id: "OPENAI_API_KEY" }).success).toBe(true);
    expect(SecretRefSchema.safeParse({ source: "env", provider: "default", id: "X", extra: 1 }).success).toBe(false);
    expect(SecretRefSchema.safeParse({ source: "env", provider: "default" }).success).toBe(false);
    expect(SecretRefSchema.safeParse({ source: "vault", provider: "default", id: "X" }).success).toBe(false);
  });

  it.each([
    ["a", true],
    ["filemain", true],
    ["a-b_c9", true],
    ["A", false],
    ["9a", false],
    ["-a", false],
    ["a".repeat(64), true],
    ["a".repeat(65), false],
  ])("provider alias %s valid=%s", (provider, ok) => {
    expect(SecretRefSchema.safeParse({ source: "env", provider, id: "X" }).success).toBe(ok);
  });

  it.each([
    ["env", "OPENAI_API_KEY", true],
    ["env", "openai", false],
    ["env", "1ABC", false],
    ["env", `A${"B".repeat(127)}`, true],
    ["env", `A${"B".repeat(128)}`, false],
    ["file", "/providers/openai/apiKey", true],
    ["file", "/a~0b/c~1d", true],
    ["file", "/a~2", false],
    ["file", "providers/openai", false],
    ["file", "value", true],
    ["exec", "providers/openai/apiKey", true],
    ["exec", "slack:bot.token-1", true],
    ["exec", "a/../b", false],
    ["exec", "./a", false],
    ["exec", "/abs", false],
    ["exec", "a b", false],
    ["exec", `a${"b".repeat(255)}`, true],
    ["exec", `a${"b".repeat(256)}`, false],
  ] as const)("%s id %s valid=%s", (source, id, ok) => {
    expect(SecretRefSchema.safeParse({ source, provider: "p", id }).success).toBe(ok);
  });

  it("refuses . and .. exec segments anywhere", () => {
    expect(isExecId("a/./b")).toBe(false);
    expect(isExecId("a/..")).toBe(false);
    expect(isExecId("a/..b")).toBe(true);
  });
});

describe("SecretInput", () => {
  it("says what it expected for other types", () => {
    const result = SecretInputSchema.safeParse(42);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toBe("expected SecretRef or string");
  });
});

describe("env shorthands", () => {
  it("reads ${VAR} and $VAR on the default env provider", () => {
    expect(parseEnvShorthand("${OPENAI_API_KEY}", "default")).toEqual({ source: "env", provider: "default", id: "OPENAI_API_KEY" });
    expect(parseEnvShorthand("$OPENAI_API_KEY", "envmain")).toEqual({ source: "env", provider: "envmain", id: "OPENAI_API_KEY" });
  });

  it("treats anything else as plaintext", () => {
    for (const s of ["sk-live-1", "${lower}", "$", "${A", "x${A}", "$A B"]) expect(parseEnvShorthand(s, "default")).toBeUndefined();
  });

  it("classifies credential values", () => {
    expect(classifyCredential("${A}", "default")).toMatchObject({ kind: "ref", shorthand: true });
    expect(classifyCredential({ source: "file", provider: "f", id: "/a" }, "default")).toMatchObject({ kind: "ref", shorthand: false });
    expect(classifyCredential("sk-1", "default")).toEqual({ kind: "plaintext", value: "sk-1" });
    expect(classifyCredential("", "default")).toEqual({ kind: "empty" });
    expect(classifyCredential(undefined, "default")).toEqual({ kind: "empty" });
  });
});

it("keys a ref as source:provider:id", () => {
  expect(refKey({ source: "exec", provider: "vault", id: "a/b" })).toBe("exec:vault:a/b");
});
