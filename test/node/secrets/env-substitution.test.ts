/** OpenClaw's `${VAR}` substitution as `secrets audit` loads a config: values, escapes, missing variables, own keys only. */
import { expect, it } from "vitest";
import { MissingEnvVarError, substituteEnvVars } from "../../../node/secrets/env-substitution.ts";

const env = { A_KEY: "sk-a", EMPTY: "" };

it("substitutes ${NAME} in every string, keeps $${NAME} literal and leaves other dollars alone", () => {
  expect(substituteEnvVars({ a: "${A_KEY}", b: ["x-${A_KEY}-y", 5, true, null], c: { d: "$${A_KEY}", e: "$A_KEY ${lower} $ {A_KEY} ${A_KEY" } }, env)).toEqual({
    a: "sk-a",
    b: ["x-sk-a-y", 5, true, null],
    c: { d: "${A_KEY}", e: "$A_KEY ${lower} $ {A_KEY} ${A_KEY" },
  });
});

it("an unset or empty variable is an error naming the variable and the config path, never a value", () => {
  for (const [name, config] of [["MISSING", { models: { providers: { openai: { apiKey: "${MISSING}" } } } }], ["EMPTY", { list: ["ok", "${EMPTY}"] }]] as const) {
    let error: unknown;
    try {
      substituteEnvVars(config, env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MissingEnvVarError);
    expect((error as MissingEnvVarError).code).toBe("ERR_CONFIG_ENV_VAR_MISSING");
    expect((error as Error).message).toBe(
      name === "MISSING" ? 'Missing env var "MISSING" referenced at config path: models.providers.openai.apiKey' : 'Missing env var "EMPTY" referenced at config path: list[1]',
    );
  }
});

it("a __proto__ key stays an own property of the copy and never becomes its prototype", () => {
  const input = JSON.parse('{"__proto__": {"polluted": "${A_KEY}"}}') as Record<string, unknown>;
  const out = substituteEnvVars(input, env) as Record<string, unknown>;
  expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
  expect(Object.getOwnPropertyDescriptor(out, "__proto__")?.value).toEqual({ polluted: "sk-a" });
  expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
});
