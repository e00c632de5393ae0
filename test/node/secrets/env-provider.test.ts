/** The env provider: allowlist, missing and empty variables, and values read at each pass. */
import { describe, expect, it } from "vitest";
import { createEnvProvider } from "../../../node/secrets/env-provider.ts";

describe("env provider", () => {
  it("resolves present variables and names missing or empty ones in OpenClaw's words", async () => {
    const env: NodeJS.ProcessEnv = { A_KEY: "value-a", EMPTY: "" };
    const result = await createEnvProvider("default", {}, { env }).resolve(["A_KEY", "EMPTY", "NOPE"]);
    expect(result.values).toEqual(new Map([["A_KEY", "value-a"]]));
    expect(result.errors.get("EMPTY")?.message).toBe('Environment variable "EMPTY" is missing or empty.');
    expect(result.errors.get("NOPE")?.message).toBe('Environment variable "NOPE" is missing or empty.');
    expect(result.errors.get("NOPE")?.code).toBe("ERR_SECRET_ENV_MISSING");
  });

  it("refuses names outside the allowlist even when set", async () => {
    const env = { OPENAI_API_KEY: "sk-a", AWS_SECRET: "aws-b" };
    const result = await createEnvProvider("envmain", { allowlist: ["OPENAI_API_KEY"] }, { env }).resolve(["OPENAI_API_KEY", "AWS_SECRET"]);
    expect(result.values.get("OPENAI_API_KEY")).toBe("sk-a");
    expect(result.errors.get("AWS_SECRET")).toMatchObject({
      code: "ERR_SECRET_ENV_NOT_ALLOWED",
      message: 'Environment variable "AWS_SECRET" is not allowlisted in secrets.providers.envmain.allowlist.',
    });
    expect(result.errors.get("AWS_SECRET")?.message).not.toContain("aws-b");
  });

  it("reads the environment at each pass, so a reload sees changes", async () => {
    const env: NodeJS.ProcessEnv = { K: "one" };
    const provider = createEnvProvider("default", {}, { env });
    expect((await provider.resolve(["K"])).values.get("K")).toBe("one");
    env["K"] = "two";
    expect((await provider.resolve(["K"])).values.get("K")).toBe("two");
  });
});
