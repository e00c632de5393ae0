/** `clawgate tunnel print` through the real CLI: no config without Cloudflare Access unless --no-access, which warns. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { runCli } from "../../helpers/run-cli.ts";

let dir: string;
let configPath: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "clawgate-tunnel-"));
  configPath = join(dir, "openclaw.json");
  await writeFile(configPath, JSON.stringify({ clawgate: { node: { port: 18800 } } }));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

it("refuses to print without --access-team/--access-aud (exit 1, one line naming the flags), prints nothing", async () => {
  const run = await runCli(["tunnel", "print", "--config", configPath, "--hostname", "node.example.com"]);
  expect(run.code).toBe(1);
  expect(run.stdout).toBe("");
  expect(run.stderr).toBe(
    "clawgate: tunnel print needs --access-team and --access-aud (Cloudflare Access in front of the node), or --no-access to print a config without it\n",
  );
});

it("--no-access prints the config and warns on stderr; --no-access with Access flags is a contradiction", async () => {
  const run = await runCli(["tunnel", "print", "--config", configPath, "--hostname", "node.example.com", "--no-access"]);
  expect(run.code).toBe(0);
  expect(run.stderr).toBe(
    "clawgate: warning: --no-access: anyone who finds the tunnel hostname reaches the node's hooks path; only the node's own checks stand in the way\n",
  );
  const config = parseYaml(run.stdout) as { ingress: Record<string, unknown>[] };
  // cloudflared presents the loopback name the node's browser boundary accepts, and checks no Access JWT.
  expect(config.ingress[0]).toMatchObject({ hostname: "node.example.com", service: "http://127.0.0.1:18800", originRequest: { httpHostHeader: "127.0.0.1:18800" } });
  expect(config.ingress[0]!["originRequest"]).not.toHaveProperty("access");
  const both = await runCli(["tunnel", "print", "--config", configPath, "--hostname", "n.example.com", "--no-access", "--access-team", "acme", "--access-aud", "a1"]);
  expect(both.code).toBe(1);
  expect(both.stderr).toBe("clawgate: --no-access contradicts --access-team/--access-aud: pass one or the other\n");
});
