/** Config loading: JSON5, path resolution, messages that name the path or the line and column, unknown sections kept. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../../node/config/config-errors.ts";
import { createCachingConfigLoader, loadConfig, parseConfig, resolveConfigPath } from "../../../node/config/config-file.ts";

describe("resolveConfigPath", () => {
  it("prefers --config, then $CLAWGATE_CONFIG, then ~/.openclaw/openclaw.json", () => {
    expect(resolveConfigPath("/etc/a.json", { CLAWGATE_CONFIG: "/b.json" }, "/home/u")).toBe("/etc/a.json");
    expect(resolveConfigPath(undefined, { CLAWGATE_CONFIG: "~/c.json" }, "/home/u")).toBe("/home/u/c.json");
    expect(resolveConfigPath(undefined, {}, "/home/u")).toBe("/home/u/.openclaw/openclaw.json");
    expect(resolveConfigPath(undefined, { CLAWGATE_CONFIG: "" }, "/home/u")).toBe("/home/u/.openclaw/openclaw.json");
  });
});

describe("parseConfig", () => {
  it("reads JSON5 with comments and trailing commas, applies defaults, keeps unknown sections", () => {
    const loaded = parseConfig(
      `// openclaw.json
      {
        secrets: { providers: { filemain: { source: "file", path: "~/.openclaw/secrets.json", }, }, },
        channels: { whatsapp: { enabled: true } },
        ui: { theme: "dark" }, /* unknown to clawgate */
      }`,
      "/x/openclaw.json",
    );
    expect(loaded.config.secrets.providers["filemain"]).toMatchObject({ mode: "json", timeoutMs: 5000, maxBytes: 1048576 });
    expect(loaded.config.secrets.resolution).toEqual({ maxProviderConcurrency: 4, maxRefsPerProvider: 512, maxBatchBytes: 262144 });
    expect(loaded.raw["ui"]).toEqual({ theme: "dark" });
    expect(loaded.defaultEnvProvider).toBe("default");
  });

  it("reports a syntax error with line and column and without quoting the text", () => {
    const error = catchError(() => parseConfig('{\n  gateway: { token: "sk-secret" @ }\n}', "/x/openclaw.json"));
    expect(error.code).toBe("ERR_CONFIG_SYNTAX");
    expect(error.message).toBe("/x/openclaw.json: JSON5 syntax error at line 2, column 33: invalid character");
    expect(error.message).not.toContain("sk-secret");
  });

  it("names the path of a credential that is neither string nor SecretRef", () => {
    const error = catchError(() => parseConfig("{ models: { providers: { openai: { apiKey: 42 } } } }", "/x/c.json"));
    expect(error.code).toBe("ERR_CONFIG_INVALID");
    expect(error.message).toBe("/x/c.json: models.providers.openai.apiKey: expected SecretRef or string");
  });

  it("names the inner field of a malformed SecretRef", () => {
    const error = catchError(() =>
      parseConfig('{ hooks: { token: { source: "env", provider: "default", id: "lower" } } }', "/x/c.json"),
    );
    expect(error.message).toBe("/x/c.json: hooks.token.id: env ref id must match ^[A-Z][A-Z0-9_]{0,127}$");
  });

  it("lists several problems one per line", () => {
    const error = catchError(() =>
      parseConfig(
        '{ secrets: { providers: { Bad: { source: "env" }, f: { source: "file" } } }, gateway: { port: "x" } }',
        "/x/c.json",
      ),
    );
    expect(error.issues.map((i) => i.path).sort()).toEqual(["gateway.port", "secrets.providers.Bad", "secrets.providers.f.path"]);
    expect(error.message.split("\n")[0]).toBe("/x/c.json: 3 problems");
  });

  it("refuses a document that is not an object", () => {
    expect(catchError(() => parseConfig("[1]", "/x/c.json")).message).toBe("/x/c.json: config must be a JSON5 object");
  });
});

describe("loadConfig", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "clawgate-config-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("says when the file does not exist", async () => {
    const path = join(dir, "missing.json");
    await expect(loadConfig(path)).rejects.toMatchObject({ code: "ERR_CONFIG_NOT_FOUND", message: `${path}: config file not found` });
  });

  it("re-reads on every call but re-parses only changed text", async () => {
    const path = join(dir, "cached.json");
    await writeFile(path, "{ gateway: { port: 1 } }");
    const load = createCachingConfigLoader();
    const first = await load(path);
    expect(await load(path)).toBe(first);
    await writeFile(path, "{ gateway: { port: 2 } }");
    const second = await load(path);
    expect(second).not.toBe(first);
    expect(second.config.gateway?.port).toBe(2);
    await writeFile(path, "{ broken");
    await expect(load(path)).rejects.toMatchObject({ code: "ERR_CONFIG_SYNTAX" });
  });

  it("reads a real file with a BOM", async () => {
    const path = join(dir, "bom.json");
    await writeFile(path, "\uFEFF{ gateway: { port: 18789 } }");
    expect((await loadConfig(path)).config.gateway?.port).toBe(18789);
  });
});

function catchError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}
