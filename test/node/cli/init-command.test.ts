/**
 * `clawgate init`, `clawgate edge deploy --dry-run` and `clawgate edge secret put` as real processes on real files:
 * bad input writes nothing, an existing config is migrated with a backup, files init did not write are kept,
 * and the signing key reaches wrangler's stdin and then leaves the disk.
 */
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { runCli } from "../../helpers/run-cli.ts";
import { KEY, hasScript, runCliInPty } from "../../helpers/secrets-pty.ts";

let home: string;
let env: NodeJS.ProcessEnv;
const cli = (args: string[]) => runCli(args, { env, cwd: home, timeoutMs: 30_000 });

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), "clawgate-init-"));
  env = { ...process.env, HOME: home, CLAWGATE_CONFIG: "" };
  delete env["CLAWGATE_WRANGLER"];
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

it("refuses an invalid config with one line naming the file and line, and writes nothing", async () => {
  const config = join(home, "openclaw.json");
  await writeFile(config, '{\n  "gateway": { bind: @ }\n}\n', { mode: 0o600 });
  const result = await cli(["init", "--yes", "--config", config]);
  expect(result.code).toBe(1);
  expect(result.stderr).toBe(`clawgate: ${config}: JSON5 syntax error at line 2, column 22: invalid character\n`);
  expect(await readdir(home)).toEqual(["openclaw.json"]);
  expect(await readFile(config, "utf8")).toBe('{\n  "gateway": { bind: @ }\n}\n');

  // A field that fails validation: the file and the field, on one line.
  await writeFile(config, JSON.stringify({ hooks: { path: "no-slash" }, gateway: { port: -1 } }), { mode: 0o600 });
  const invalid = await cli(["init", "--yes", "--config", config]);
  expect(invalid.code).toBe(1);
  expect(invalid.stderr).toMatch(new RegExp(`^clawgate: ${config}: [a-z.]+: .+ \\(and 1 more: clawgate doctor lists them\\)\n$`));

  // A bad answer is refused before the audit, the migration or any other write.
  await writeFile(config, JSON.stringify({ hooks: { enabled: true, token: "plaintext-hook-token-0123456789abcdef" } }), { mode: 0o600 });
  const badHost = await cli(["init", "--yes", "--config", config, "--hostname", "not a host"]);
  expect(badHost.code).toBe(1);
  expect(badHost.stderr).toBe('clawgate: --hostname must be a DNS name such as clawgate.example.com, got "not a host"\n');
  expect(await readdir(home)).toEqual(["openclaw.json"]);
});

it("migrates a plaintext hook token into the 0600 store with a backup, binds loopback, and keeps an edge file it did not write", async () => {
  const config = join(home, "openclaw.json");
  const token = "plaintext-hook-token-0123456789abcdef";
  await writeFile(config, JSON.stringify({ gateway: { bind: "lan" }, hooks: { enabled: true, token } }), { mode: 0o600 });
  const edgeDir = join(home, "edge");
  await mkdir(edgeDir);
  await writeFile(join(edgeDir, "wrangler.jsonc"), "// mine\n{}\n");
  const result = await cli(["init", "--yes", "--config", config, "--edge-dir", edgeDir, "--hostname", "node.example.com"]);
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  expect(result.stdout).not.toContain(token);
  const written = JSON.parse(await readFile(config, "utf8")) as { gateway: { bind: string }; hooks: { token: unknown } };
  expect(written.gateway.bind).toBe("loopback");
  expect(written.hooks.token).toMatchObject({ source: "file", provider: "clawgate" });
  const backups = (await readdir(home)).filter((f) => f.startsWith("openclaw.json.bak-"));
  expect(backups).toHaveLength(1);
  expect((await stat(join(home, backups[0]!))).mode & 0o777).toBe(0o600);
  expect((await stat(join(home, "secrets.json"))).mode & 0o777).toBe(0o600);
  expect(await readFile(join(home, "secrets.json"), "utf8")).toContain(token);
  expect(result.stdout).toContain(`gateway.bind: "lan" → "loopback"`);
  expect(result.stdout).toContain(`kept (not written by clawgate init):\n  ${join(edgeDir, "wrangler.jsonc")}\n`);
  expect(await readFile(join(edgeDir, "wrangler.jsonc"), "utf8")).toBe("// mine\n{}\n");
});

it("with --yes on a new config, the first next step gives agent \"main\" a model; a config with one goes straight to the tunnel", async () => {
  const config = join(home, ".openclaw/openclaw.json");
  const first = await cli(["init", "--yes"]);
  expect(first.code).toBe(0);
  const steps = first.stdout.slice(first.stdout.indexOf("Next steps:")).split("\n");
  expect(steps.slice(1, 3)).toEqual([
    '  1. Model: agent "main" has no model or runtime, so every wake is given up (ERR_NO_MODEL):',
    `     in ${config}, set agents.defaults.model (e.g. "ollama/llama3.1:8b" with models.providers.ollama), or agents.list[].model with agents.list[].runtime (openai, command or openclaw): docs/dispatch.md#runtimes-agentsdefaultsruntime-or-agentslistruntime`,
  ]);
  expect(steps[3]).toMatch(/^  2\. Tunnel: /);
  const raw = JSON.parse(await readFile(config, "utf8"));
  raw.agents.defaults.model = "ollama/llama3.1:8b";
  await writeFile(config, JSON.stringify(raw), { mode: 0o600 });
  const again = await cli(["init", "--yes"]);
  expect(again.code).toBe(0);
  expect(again.stdout).not.toContain("Model:");
  expect(again.stdout).toMatch(/^Next steps:\n  1\. Tunnel: /m);
});

it("edge deploy --dry-run names the file and the cron job whose schedule has no Cron Trigger", async () => {
  expect((await cli(["init", "--yes"])).code).toBe(0);
  const file = join(home, ".clawgate/edge/wrangler.jsonc");
  await writeFile(file, (await readFile(file, "utf8")).replace('"*/30 * * * *"\n    ]', '"0 * * * *"\n    ]'));
  const result = await cli(["edge", "deploy", "--dry-run", "--wrangler", "/nonexistent/wrangler"]);
  expect(result.code).toBe(1);
  expect(result.stderr).toBe(`clawgate: ${file}: triggers.crons: cron job "heartbeat-30m" runs on "*/30 * * * *", which is not a Cron Trigger\n`);
});

it("edge secret put sends the signing key on wrangler's stdin and deletes the file; a failed put keeps it", async () => {
  expect((await cli(["init", "--yes"])).code).toBe(0);
  const keyFile = join(home, ".clawgate/edge/signing-key.jwk");
  const key = (await readFile(keyFile, "utf8")).trim();
  // A stand-in for wrangler that speaks its command line: records argv and stdin, exits with $FAKE_EXIT.
  const fake = join(home, "fake-wrangler");
  await writeFile(fake, `#!/bin/sh\nprintf '%s\\n' "$*" > "${home}/wrangler-args"\ncat > "${home}/wrangler-stdin"\nexit \${FAKE_EXIT:-0}\n`);
  await chmod(fake, 0o755);

  env = { ...env, FAKE_EXIT: "1" };
  const failed = await cli(["edge", "secret", "put", "--wrangler", fake]);
  expect(failed.code).toBe(1);
  expect(failed.stderr).toBe(`clawgate: wrangler secret put failed (exit 1); ${keyFile} is kept\n`);
  expect(await readFile(keyFile, "utf8")).toContain(key);

  env = { ...env, FAKE_EXIT: "0" };
  const put = await cli(["edge", "secret", "put", "--wrangler", fake]);
  expect(put.stderr).toBe("");
  expect(put.code).toBe(0);
  expect(await readFile(join(home, "wrangler-args"), "utf8")).toBe(`secret put CLAWGATE_EDGE_SIGNING_KEY --config ${join(home, ".clawgate/edge/wrangler.jsonc")}\n`);
  expect(await readFile(join(home, "wrangler-stdin"), "utf8")).toBe(key);
  await expect(stat(keyFile)).rejects.toThrow();
  expect(put.stdout).toContain(`deleted ${keyFile}`);
});

it("in a terminal it asks: the hostname, and before replacing a file it did not write (keeping a .bak copy)", async () => {
  const { Command } = await import("commander");
  const { registerInitCommand } = await import("../../../node/cli/init-command.ts");
  const edgeDir = join(home, "edge");
  await mkdir(edgeDir);
  await writeFile(join(edgeDir, "wrangler.jsonc"), "// mine\n{}\n");
  const asked: string[] = [];
  let out = "";
  const program = new Command("clawgate").exitOverride();
  registerInitCommand(program, { stdout: (t) => (out += t), stderr: (t) => (out += t) }, {
    env: { HOME: home },
    isInteractive: () => true,
    prompts: {
      text: async (message, initial) => (asked.push(`${message} [${initial}]`), "node.example.org"),
      confirm: async (message) => (asked.push(message), true),
    },
  });
  await program.parseAsync(["init", "--config", join(home, "openclaw.json"), "--edge-dir", edgeDir], { from: "user" });
  expect(asked).toEqual([
    expect.stringMatching(/^public hostname of the tunnel to this host \[node-[0-9a-f]{6}\.invalid\]$/),
    `${join(edgeDir, "wrangler.jsonc")} was not written by clawgate init; replace it (a .bak copy is kept)?`,
  ]);
  expect(await readFile(join(edgeDir, "wrangler.jsonc.bak"), "utf8")).toBe("// mine\n{}\n");
  expect(await readFile(join(edgeDir, "wrangler.jsonc"), "utf8")).toContain('\\"origin\\":\\"https://node.example.org\\"');
  expect(out).toContain(`updated ${join(edgeDir, "wrangler.jsonc")}`);
});

it("without a terminal and without --yes it stops before doing anything", async () => {
  const result = await cli(["init"]);
  expect(result.code).toBe(1);
  expect(result.stderr).toBe("clawgate: stdin is not a terminal: pass --yes (and flags for the answers) to run init non-interactively\n");
  expect(await readdir(home)).toEqual([]);
});

if (!hasScript()) console.warn("skipping the pseudo-terminal init test: util-linux `script` is not installed");
it.skipIf(!hasScript())("in a real terminal (@clack/prompts): migrate, name the tunnel host, confirm the config changes", async () => {
  const config = join(home, "openclaw.json");
  const token = "plaintext-hook-token-0123456789abcdef";
  await writeFile(config, JSON.stringify({ hooks: { enabled: true, token } }), { mode: 0o600 });
  const { code, output } = await runCliInPty(["init", "--config", config], {
    env: { HOME: home, PATH: process.env["PATH"] ?? "" },
    steps: [
      { waitFor: /move them into a 0600 file store \(provider "clawgate"\)\?/, keys: KEY.enter },
      { waitFor: /public hostname of the tunnel to this host/, keys: `node.example.net${KEY.enter}` },
      { waitFor: /update .*openclaw\.json \(a 0600 backup is kept\)\?/, keys: KEY.enter },
    ],
    timeoutMs: 30_000,
  });
  expect(code, output).toBe(0);
  expect(output).not.toContain(token);
  expect((JSON.parse(await readFile(config, "utf8")) as { hooks: { token: unknown } }).hooks.token).toMatchObject({ source: "file", provider: "clawgate" });
  expect(await readFile(join(home, ".clawgate/edge/wrangler.jsonc"), "utf8")).toContain('\\"origin\\":\\"https://node.example.net\\"');
  expect(output).toContain(`wrote ${join(home, ".clawgate/edge/wrangler.jsonc")}`);
});
