/** Plan schema and the apply engine on real files: validation before any write, scrubs, idempotence. */
import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { formatPath } from "../../../node/config/credential-paths.ts";
import {
  type SecretsPlan,
  SecretsPlanError,
  applyPlan,
  parseDottedPath,
  parsePlan,
} from "../../../node/secrets/secrets-plan.ts";
import { ENV_VALUES, PLAINTEXT, type SecretsFixture, leakedValues, makeSecretsFixture, snapshotDir } from "../../helpers/secrets-fixtures.ts";

let fx: SecretsFixture;
let storePath: string;
beforeEach(async () => {
  fx = await makeSecretsFixture();
  storePath = join(fx.dir, "store.json");
  await writeFile(storePath, JSON.stringify({ openai: "sk-from-store", gw: "gw-from-store" }), { mode: 0o600 });
  await chmod(storePath, 0o600);
});
afterEach(async () => {
  await fx.cleanup();
});

function plan(overrides: Partial<SecretsPlan> = {}): SecretsPlan {
  return {
    version: 1,
    protocolVersion: 1,
    generatedAt: "2026-03-01T10:00:00.000Z",
    generatedBy: "manual",
    providerUpserts: { store: { source: "file", path: storePath, mode: "json" } },
    targets: [
      {
        type: "models.providers.apiKey",
        path: "models.providers.openai.apiKey",
        providerId: "openai",
        ref: { source: "file", provider: "store", id: "/openai" },
      },
      { type: "gateway.auth.token", path: "gateway.auth.token", ref: { source: "file", provider: "store", id: "/gw" } },
    ],
    ...overrides,
  };
}

const apply = (p: SecretsPlan, extra: { dryRun?: boolean; allowExec?: boolean } = {}) =>
  applyPlan(p, { configPath: fx.configPath, env: { ...ENV_VALUES }, ...extra });

async function refused(p: SecretsPlan, extra: { dryRun?: boolean; allowExec?: boolean } = {}): Promise<SecretsPlanError> {
  const before = await snapshotDir(fx.dir);
  const error = await apply(p, extra).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(SecretsPlanError);
  expect(await snapshotDir(fx.dir)).toEqual(before);
  return error as SecretsPlanError;
}

describe("plan schema", () => {
  it("names the field of every schema problem and never quotes the text", () => {
    const text = JSON.stringify({ ...plan(), targets: [{ ...plan().targets[0], ref: { source: "vault", provider: "store", id: "/x" } }] });
    const error = (() => {
      try {
        parsePlan(text, "plan.json");
      } catch (e) {
        return e as SecretsPlanError;
      }
    })()!;
    expect(error.code).toBe("ERR_SECRETS_PLAN_INVALID");
    expect(error.issues.map((i) => i.path)).toEqual(["targets.0.ref.source"]);
    expect(() => parsePlan("{ nope", "plan.json")).toThrow("plan.json is not valid JSON");
    expect(() => parsePlan(JSON.stringify({ ...plan(), extra: 1 }), "p")).toThrow(/Unrecognized key/);
    expect(() => parsePlan(JSON.stringify({ ...plan(), protocolVersion: 2 }), "p")).toThrow(/protocolVersion/);
    expect(() => parsePlan(JSON.stringify({ ...plan(), providerUpserts: { x: { source: "file" } } }), "p")).toThrow(
      /providerUpserts\.x\.path/,
    );
  });

  it("dotted paths round-trip with formatPath, bracket-quoted keys included", () => {
    for (const segments of [["models", "providers", "openai", "apiKey"], ["models", "providers", "a.b", "headers", "x-api-key"], ["agents", "list", "0", "runtime", "token"]]) {
      expect(parseDottedPath(formatPath(segments))).toEqual(segments);
    }
    for (const bad of ["", "a..b", "a.", ".a", 'a["x"', "a b"]) expect(() => parseDottedPath(bad)).toThrow(TypeError);
  });
});

describe("applyPlan", () => {
  it("scrubs OpenClaw's per-agent legacy auth.json (<stateDir>/agents/<id>/agent/auth.json) as well as the one beside the config", async () => {
    const agentAuth = join(fx.dir, "agents", "ops", "agent", "auth.json");
    await mkdir(dirname(agentAuth), { recursive: true });
    await writeFile(agentAuth, JSON.stringify({ openai: { type: "api_key", key: PLAINTEXT.openai }, google: { type: "oauth", access: "a" } }));
    const result = await apply(plan());
    expect(result.changes.filter((c) => c.action === "scrub-legacy-auth").map((c) => `${c.file.slice(fx.dir.length + 1)} ${c.path}`)).toEqual([
      "auth.json openai",
      "agents/ops/agent/auth.json openai",
    ]);
    expect(JSON.parse(await readFile(agentAuth, "utf8"))).toEqual({ google: { type: "oauth", access: "a" } });
  });

  it("puts refs in place, adds the provider, scrubs .env and auth.json, keeps every other section, mode 0600", async () => {
    const result = await apply(plan());
    expect(result.changes.map((c) => `${c.action} ${c.file.slice(fx.dir.length + 1)} ${c.path}`)).toEqual([
      "upsert-provider openclaw.json secrets.providers.store",
      "set-ref openclaw.json models.providers.openai.apiKey",
      "set-ref openclaw.json gateway.auth.token",
      "scrub-env .env OPENCLAW_GATEWAY_TOKEN",
      "scrub-legacy-auth auth.json openai",
    ]);
    expect(result.warnings).toEqual([expect.stringContaining("comments and JSON5 formatting")]);
    const config = JSON.parse(await readFile(fx.configPath, "utf8")) as Record<string, any>;
    expect(config["models"].providers.openai).toEqual({
      baseUrl: "https://api.openai.com/v1",
      apiKey: { source: "file", provider: "store", id: "/openai" },
    });
    expect(config["gateway"]).toEqual({ port: 18789, auth: { mode: "token", token: { source: "file", provider: "store", id: "/gw" } } });
    expect(config["customSection"]).toEqual({ keep: [1, 2, 3], nested: { flag: true } });
    expect(config["agents"]).toEqual({ defaults: { workspace: "~/work", heartbeat: { every: "30m" } } });
    expect(config["secrets"].providers.store).toEqual({ source: "file", path: storePath, mode: "json" });
    expect((await stat(fx.configPath)).mode & 0o777).toBe(0o600);
    const dotenv = await readFile(fx.dotenvPath, "utf8");
    expect(dotenv).toBe(`# provider keys for the gateway\nMISTRAL_API_KEY=${PLAINTEXT.mistral}\nLOG_LEVEL=debug\n\n`);
    expect(JSON.parse(await readFile(fx.authPath, "utf8"))).toEqual({ groq: { type: "api_key", key: PLAINTEXT.groq } });
    expect(leakedValues(JSON.stringify(result))).toEqual([]);

    // Idempotent: the second run changes nothing and touches no file.
    const before = await snapshotDir(fx.dir);
    const again = await apply(plan());
    expect(again.changes).toEqual([]);
    expect(again.warnings).toEqual([]);
    expect(await snapshotDir(fx.dir)).toEqual(before);
  });

  it("a dry run validates and preflights but writes nothing", async () => {
    const before = await snapshotDir(fx.dir);
    const result = await apply(plan(), { dryRun: true });
    expect(result.dryRun).toBe(true);
    expect(result.changes).toHaveLength(5);
    expect(await snapshotDir(fx.dir)).toEqual(before);
  });

  it("the scrub options turn each scrub off", async () => {
    const result = await apply(plan({ options: { scrubEnv: false, scrubLegacyAuthJson: false } }));
    expect(result.changes.map((c) => c.action)).toEqual(["upsert-provider", "set-ref", "set-ref"]);
    expect(await readFile(fx.dotenvPath, "utf8")).toContain("OPENCLAW_GATEWAY_TOKEN");
  });

  it("keeps a .env variable that an env ref reads", async () => {
    const result = await apply(
      plan({
        providerUpserts: {},
        targets: [{ type: "gateway.auth.token", path: "gateway.auth.token", ref: { source: "env", provider: "default", id: "OPENCLAW_GATEWAY_TOKEN" } }],
      }),
    ).catch((e: unknown) => e);
    // The preflight reads the injected environment, which does not have the variable.
    expect((result as SecretsPlanError).code).toBe("ERR_SECRETS_PLAN_PREFLIGHT");
    const ok = await applyPlan(
      plan({
        providerUpserts: {},
        targets: [{ type: "gateway.auth.token", path: "gateway.auth.token", ref: { source: "env", provider: "default", id: "OPENCLAW_GATEWAY_TOKEN" } }],
      }),
      { configPath: fx.configPath, env: { OPENCLAW_GATEWAY_TOKEN: "x" } },
    );
    expect(ok.changes.map((c) => c.action)).toEqual(["set-ref"]);
    expect(await readFile(fx.dotenvPath, "utf8")).toContain("OPENCLAW_GATEWAY_TOKEN");
  });

  it("refuses, with nothing written, each invalid target and names the field", async () => {
    const target = plan().targets[0]!;
    const cases: [SecretsPlan, string, RegExp][] = [
      [plan({ targets: [{ ...target, type: "gateway.auth.token" }] }), "targets.0.type", /is a "models.providers.apiKey" credential path/],
      [plan({ targets: [{ ...target, pathSegments: ["models", "providers", "groq", "apiKey"] }] }), "targets.0.pathSegments", /does not match/],
      [plan({ targets: [{ ...target, providerId: "groq" }] }), "targets.0.providerId", /does not match/],
      [plan({ targets: [target, target] }), "targets.1.path", /targeted twice/],
      [plan({ targets: [{ ...target, path: 'models.providers["constructor"].apiKey' }] }), "targets.0.path", /"constructor" is not allowed/],
      [plan({ providerUpserts: {} }), "targets.0.ref.provider", /neither configured nor in providerUpserts/],
      [
        plan({ providerUpserts: { store: { source: "env" } } }),
        "targets.0.ref.source",
        /has source "env" but the ref requests "file"/,
      ],
      [plan({ targets: [{ ...target, ref: { ...target.ref, id: "/missing" } }] }), "targets.0.ref", /./],
      [
        plan({ targets: [{ ...target, path: "models.providers.openai.baseUrl.apiKey" }] }),
        "targets.0.path",
        /is not a credential path/,
      ],
      [plan({ providerDeletes: ["store"] }), "providerDeletes.0", /also in providerUpserts/],
      [plan({ providerUpserts: JSON.parse('{"constructor":{"source":"env"}}') as SecretsPlan["providerUpserts"], targets: [] }), "providerUpserts.constructor", /not allowed/],
    ];
    for (const [bad, field, message] of cases) {
      const error = await refused(bad);
      expect(error.issues.map((i) => i.path), field).toContain(field);
      expect(error.issues.find((i) => i.path === field)!.message).toMatch(message);
    }
  });

  it("refuses to delete a provider that a ref still uses", async () => {
    await apply(plan());
    const error = await refused(plan({ providerUpserts: {}, targets: [], providerDeletes: ["store"] }));
    expect(error.issues[0]).toEqual({ path: "providerDeletes.0", message: 'provider "store" is still referenced by models.providers.openai.apiKey' });
  });

  it("refuses a target whose path runs through a non-object", async () => {
    await writeFile(fx.configPath, JSON.stringify({ models: { providers: { openai: "not-an-object" } } }));
    const error = await refused(plan({ targets: [plan().targets[0]!] }));
    expect(error.issues).toEqual([{ path: "targets.0.path", message: "models.providers.openai is not an object" }]);
  });
});
