/** `clawgate secrets audit | configure | apply` through the real CLI on real files: exit codes, JSON shapes, no value ever printed. */
import { readFile, readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { type CliRun, runCli } from "../../helpers/run-cli.ts";
import { KEY, type PtyStep, hasScript, runCliInPty } from "../../helpers/secrets-pty.ts";
import { ALL_SECRET_VALUES, type SecretsFixture, leakedValues, makeSecretsFixture, snapshotDir } from "../../helpers/secrets-fixtures.ts";

let fx: SecretsFixture;
/** Every output of every command in this file; checked for leaked values at the end. */
const outputs: string[] = [];

beforeEach(async () => {
  fx = await makeSecretsFixture();
});
afterEach(async () => {
  await fx.cleanup();
});
afterAll(() => {
  expect(outputs.length).toBeGreaterThan(10);
  expect(leakedValues(outputs.join("\n"), ALL_SECRET_VALUES)).toEqual([]);
});

async function cli(args: string[], env: NodeJS.ProcessEnv = fx.env): Promise<CliRun> {
  const run = await runCli(["secrets", ...args, "--config", fx.configPath], { env, cwd: fx.dir });
  outputs.push(run.stdout, run.stderr);
  return run;
}

interface Report {
  status: string;
  summary: Record<string, number>;
  findings: { code: string; severity: string; file: string; jsonPath: string; message: string; provider?: string }[];
}

describe("secrets audit", () => {
  it("prints a table and exits 0; --check exits 1; --json prints only the report", async () => {
    const [human, check, json] = await Promise.all([cli(["audit"]), cli(["audit", "--check"]), cli(["audit", "--json"])]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^SEVERITY\s+CODE\s+WHERE\s+MESSAGE\n/);
    expect(human.stdout).toMatch(/^error\s+PLAINTEXT_FOUND\s+openclaw\.json:gateway\.auth\.token\s+/m);
    expect(human.stdout).toMatch(/^warn\s+LEGACY_RESIDUE\s+auth\.json:groq\s+/m);
    expect(human.stdout).toContain("status: findings — 6 plaintext, 0 unresolved, 0 shadowed, 2 legacy residue");

    expect(check.code).toBe(1);
    expect(check.stderr).toBe("clawgate: 8 finding(s)\n");

    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as Report & Record<string, unknown>;
    expect(Object.keys(report)).toEqual(["version", "status", "resolution", "filesScanned", "summary", "findings"]);
    // The report's content is the audit unit test's business; here: the CLI prints the report alone.
    expect(report.status).toBe("findings");
    for (const f of report.findings) {
      expect(Object.keys(f).every((k) => ["code", "severity", "file", "jsonPath", "message", "provider"].includes(k))).toBe(true);
    }
  });

  it("exits 2 on an unresolved ref whatever the flags, shows shadowing, and --severity-min filters", async () => {
    const { DISCORD_TOKEN: _, ...withoutDiscord } = fx.env;
    const [unresolved, shadowed, errorsOnly] = await Promise.all([
      cli(["audit", "--json"], withoutDiscord),
      cli(["audit", "--json", "--severity-min", "warn"], { ...fx.env, OPENCLAW_HOOKS_TOKEN: "shadow-value" }),
      cli(["audit", "--json", "--check", "--severity-min", "error"]),
    ]);
    expect(unresolved.code).toBe(2);
    expect(unresolved.stderr).toBe("clawgate: 1 ref(s) cannot be resolved\n");
    const u = JSON.parse(unresolved.stdout) as Report;
    expect(u.status).toBe("unresolved");
    // The finding's content is the audit unit test's business; here: which ref the CLI run reports.
    expect(u.findings.filter((f) => f.code === "REF_UNRESOLVED").map((f) => f.jsonPath)).toEqual(["channels.discord.token"]);

    const s = JSON.parse(shadowed.stdout) as Report;
    expect(s.findings.filter((f) => f.code === "REF_SHADOWED").map((f) => f.jsonPath)).toEqual(["hooks.token"]);
    expect(shadowed.stdout).not.toContain("shadow-value");

    expect(errorsOnly.code).toBe(1);
    const e = JSON.parse(errorsOnly.stdout) as Report;
    expect(e.findings.map((f) => `${f.severity} ${f.jsonPath}`)).toEqual(["error gateway.auth.token", "error $env.OPENCLAW_GATEWAY_TOKEN"]);
  });
});

describe("secrets configure + apply", () => {
  it("--provider filemain --plan-out --apply --yes migrates everything; audit is clean; re-applying changes nothing", async () => {
    const planPath = join(fx.dir, "plan.json");
    const configure = await cli(["configure", "--provider", "filemain", "--plan-out", planPath, "--apply", "--yes"]);
    expect(configure.stderr).toBe(`warning: comments and JSON5 formatting in ${fx.configPath} are not preserved: it is rewritten as plain JSON\n`);
    expect(configure.code).toBe(0);
    expect(configure.stdout).toContain(`stored 6 value(s) in ${join(fx.dir, "secrets.json")}`);
    expect(configure.stdout).toContain("applied 11 change(s)");

    const secretsPath = join(fx.dir, "secrets.json");
    expect((await stat(secretsPath)).mode & 0o777).toBe(0o600);
    expect((await stat(fx.configPath)).mode & 0o777).toBe(0o600);
    expect((await stat(planPath)).mode & 0o777).toBe(0o600);
    const config = JSON.parse(await readFile(fx.configPath, "utf8")) as Record<string, any>;
    expect(config["customSection"]).toEqual({ keep: [1, 2, 3], nested: { flag: true } });
    expect(config["agents"]).toEqual({ defaults: { workspace: "~/work", heartbeat: { every: "30m" } } });
    expect(config["gateway"].port).toBe(18789);
    expect(config["models"].providers.anthropic.headers["anthropic-version"]).toBe("2023-06-01");
    expect(config["hooks"].token).toBe("${HOOKS_SECRET}");
    expect(config["secrets"].providers.filemain).toEqual({ source: "file", path: secretsPath, mode: "json" });
    expect(config["models"].providers.groq.apiKey).toEqual({ source: "file", provider: "filemain", id: "/models/providers/groq/apiKey" });
    for (const file of [fx.configPath, fx.dotenvPath, fx.authPath, planPath]) {
      expect(leakedValues(await readFile(file, "utf8")), file).toEqual([]);
    }
    expect(await readFile(fx.dotenvPath, "utf8")).toBe("# provider keys for the gateway\nLOG_LEVEL=debug\n\n");
    expect(JSON.parse(await readFile(fx.authPath, "utf8"))).toEqual({});
    expect((await readdir(fx.dir)).sort()).toEqual([".env", "auth.json", "openclaw.json", "plan.json", "secrets.json"]);

    const audit = await cli(["audit", "--check"]);
    expect(audit.stdout).toContain("status: clean");
    expect(audit.code).toBe(0);

    const before = await snapshotDir(fx.dir);
    const [again, againJson] = [await cli(["apply", "--from", planPath]), await cli(["apply", "--from", planPath, "--json"])];
    expect(again.code).toBe(0);
    expect(again.stdout).toBe("no changes: the plan is already applied\n");
    expect(JSON.parse(againJson.stdout)).toEqual({ ok: true, dryRun: false, changes: [], warnings: [] });
    expect(await snapshotDir(fx.dir)).toEqual(before);
  });

  it("without --plan-out or --apply only previews; --apply without --yes asks for it; neither writes", async () => {
    const before = await snapshotDir(fx.dir);
    const [preview, noYes] = await Promise.all([
      cli(["configure", "--provider", "filemain"]),
      cli(["configure", "--provider", "filemain", "--apply"]),
    ]);
    expect(preview.code).toBe(0);
    expect(preview.stdout).toContain('new provider "filemain"');
    expect(preview.stdout).toContain("models.providers.openai.apiKey → file:filemain:/models/providers/openai/apiKey");
    expect(noYes.code).toBe(1);
    expect(noYes.stderr).toBe("clawgate: --apply needs --yes when stdin is not a terminal (nothing written)\n");
    expect(await snapshotDir(fx.dir)).toEqual(before);
  });

  it("apply refuses a __proto__ path, a non-credential path and an exec ref without --allow-exec, writing nothing; --dry-run writes nothing", async () => {
    const ref = { source: "env", provider: "default", id: "HOOKS_SECRET" };
    const plans = {
      proto: { targets: [{ type: "models.providers.apiKey", path: "models.providers.__proto__.apiKey", ref }] },
      port: { targets: [{ type: "gateway.auth.token", path: "gateway.port", ref }] },
      exec: {
        targets: [
          { type: "models.providers.apiKey", path: "models.providers.openai.apiKey", ref: { source: "exec", provider: "vault", id: "openai/key" } },
        ],
      },
      ok: { targets: [{ type: "gateway.auth.token", path: "gateway.auth.token", ref }] },
    };
    for (const [name, body] of Object.entries(plans)) {
      await writeFile(
        join(fx.dir, `${name}.plan.json`),
        JSON.stringify({ version: 1, protocolVersion: 1, generatedAt: new Date().toISOString(), generatedBy: "manual", ...body }),
      );
    }
    const before = await snapshotDir(fx.dir);
    const [proto, port, exec, dry] = await Promise.all(
      ["proto", "port", "exec"].map((n) => cli(["apply", "--from", join(fx.dir, `${n}.plan.json`)])).concat(
        cli(["apply", "--from", join(fx.dir, "ok.plan.json"), "--dry-run"]),
      ),
    );
    expect([proto!.code, port!.code, exec!.code]).toEqual([1, 1, 1]);
    expect(proto!.stderr).toBe('clawgate: plan refused, nothing written: targets.0.path: segment "__proto__" is not allowed\n');
    expect(port!.stderr).toBe("clawgate: plan refused, nothing written: targets.0.path: gateway.port is not a credential path\n");
    expect(exec!.stderr).toBe("clawgate: plan refused, nothing written: targets.0.ref.source: exec refs are refused without --allow-exec\n");
    expect(dry!.code).toBe(0);
    expect(dry!.stdout).toMatch(/^would change:\n {2}set-ref\s+openclaw\.json\s+gateway\.auth\.token\n.*dry run: 2 change\(s\) would be made; nothing written\n$/s);
    expect(await snapshotDir(fx.dir)).toEqual(before);
  });

  it("secrets --help lists the four subcommands", async () => {
    const help = await runCli(["secrets", "--help"], { env: fx.env });
    expect(help.code).toBe(0);
    for (const sub of ["audit", "configure", "apply", "reload"]) expect(help.stdout).toMatch(new RegExp(`^\\s+${sub}\\b`, "m"));
  });

  if (!hasScript()) console.warn("skipping the pseudo-terminal configure test: util-linux `script` is not installed");
  it.skipIf(!hasScript())("interactive configure in a real terminal: pick a new file provider, accept every suggestion, apply", async () => {
    const perCredential: PtyStep[] = [];
    for (let i = 0; i < 6; i++) perCredential.push({ waitFor: /Move \S+ \(plaintext in/, keys: KEY.enter }, { waitFor: /Ref id for/, keys: KEY.enter });
    const run = await runCliInPty(["secrets", "configure", "--config", fx.configPath], {
      env: fx.env,
      steps: [
        // Options: default (built-in env), add a file provider, ...
        { waitFor: /Which secret provider should hold these credentials\?/, keys: KEY.down + KEY.enter },
        { waitFor: /Provider alias/, keys: KEY.enter },
        { waitFor: /Secrets file/, keys: KEY.enter },
        ...perCredential,
        { waitFor: /store 6 value\(s\) in .* and apply this plan now\?/, keys: KEY.enter },
      ],
    });
    outputs.push(run.output);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain("applied 11 change(s)");
    const config = JSON.parse(await readFile(fx.configPath, "utf8")) as Record<string, any>;
    expect(config["gateway"].auth.token).toEqual({ source: "file", provider: "filemain", id: "/gateway/auth/token" });
    expect((await stat(join(fx.dir, "secrets.json"))).mode & 0o777).toBe(0o600);
    expect(leakedValues(await readFile(fx.configPath, "utf8"))).toEqual([]);
  });
});
