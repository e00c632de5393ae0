/** `clawgate tunnel print`, `clawgate edge keys` and `clawgate edge token` through the real CLI: parsed YAML, a key pair that signs and verifies envelopes, hashed tokens. */
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JWK } from "jose";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { createEnvelopeSigner, createEnvelopeVerifier, createMemoryReplayCache } from "../../../shared/envelope.ts";
import { runCli } from "../../helpers/run-cli.ts";

let dir: string;
let configPath: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "clawgate-deploy-"));
  configPath = join(dir, "openclaw.json");
  await writeFile(configPath, JSON.stringify({ hooks: { path: "/in.hooks" }, clawgate: { node: { host: "127.0.0.1", port: 18800 } } }));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("clawgate tunnel print", () => {
  it("routes only the hooks path to 127.0.0.1:<port>, Access under the rule, the 404 catch-all last", async () => {
    const run = await runCli([
      "tunnel", "print", "--config", configPath, "--hostname", "node.example.com", "--tunnel", "6ff42ae2-765d-4adf-8112-31c55c1551ef",
      "--credentials-file", "/home/clawgate/.cloudflared/t.json", "--access-team", "acme", "--access-aud", "aud1", "aud2",
    ]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const config = parseYaml(run.stdout) as { tunnel: string; "credentials-file": string; ingress: Record<string, unknown>[] };
    expect(config.tunnel).toBe("6ff42ae2-765d-4adf-8112-31c55c1551ef");
    expect(config["credentials-file"]).toBe("/home/clawgate/.cloudflared/t.json");
    expect(config.ingress).toEqual([
      {
        hostname: "node.example.com",
        path: "^(/in\\.hooks/.*|/healthz|/readyz)$",
        service: "http://127.0.0.1:18800",
        originRequest: { httpHostHeader: "127.0.0.1:18800", access: { required: true, teamName: "acme", audTag: ["aud1", "aud2"] } },
      },
      { service: "http_status:404" },
    ]);
    expect(run.stdout).not.toContain("localhost");
    // The path rule really lets the hooks through and keeps the admin API out.
    const path = new RegExp(config.ingress[0]!["path"] as string);
    expect(["/in.hooks/wake", "/in.hooks/agent", "/healthz"].every((p) => path.test(p))).toBe(true);
    expect(["/_clawgate/admin/secrets/reload", "/metrics", "/inXhooks/wake", "/"].some((p) => path.test(p))).toBe(false);
  });

  it("passes every path with --all-paths, defaults to port 18789 without a config, and refuses half an Access block", async () => {
    const all = await runCli(["tunnel", "print", "--config", join(dir, "none.json"), "--hostname", "n.example.org", "--all-paths", "--no-access"]);
    expect(all.code).toBe(0);
    const config = parseYaml(all.stdout) as { ingress: Record<string, unknown>[] };
    expect(config.ingress[0]).toEqual({ hostname: "n.example.org", service: "http://127.0.0.1:18789", originRequest: { httpHostHeader: "127.0.0.1:18789" } });
    expect(config.ingress.at(-1)).toEqual({ service: "http_status:404" });

    const half = await runCli(["tunnel", "print", "--config", configPath, "--hostname", "n.example.org", "--access-team", "acme"]);
    expect(half.code).toBe(1);
    expect(half.stderr).toBe("clawgate: --access-team and --access-aud go together (Access needs the team and the application's AUD tag)\n");
    const host = await runCli(["tunnel", "print", "--config", configPath, "--hostname", "not a host", "--no-access"]);
    expect(host.code).toBe(1);
    expect(host.stderr).toBe("clawgate: hostname is not a DNS name: not a host\n");
  });
});

describe("clawgate edge keys", () => {
  it.each(["EdDSA", "ES256"] as const)("writes a %s private JWK 0600 whose pair signs and verifies an envelope (shared/envelope.ts)", async (alg) => {
    const keyFile = join(dir, "edge-key.json");
    const run = await runCli(["edge", "keys", "--alg", alg, "--kid", `edge-${alg}`, "--private-out", keyFile, "--json"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const printed = JSON.parse(run.stdout) as { kid: string; alg: string; publicJwk: JWK; privateKeyFile: string; privateJwk?: JWK };
    expect(printed).toMatchObject({ kid: `edge-${alg}`, alg, privateKeyFile: keyFile });
    expect(printed.privateJwk).toBeUndefined();
    expect(printed.publicJwk).not.toHaveProperty("d");
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    const privateJwk = JSON.parse(await readFile(keyFile, "utf8")) as JWK;
    expect(privateJwk).toMatchObject({ kid: `edge-${alg}`, alg });
    expect(run.stdout).not.toContain(privateJwk.d);

    const signer = await createEnvelopeSigner({ privateJwk, nodeId: "node-1" });
    const verifier = await createEnvelopeVerifier({ publicJwks: [printed.publicJwk], nodeId: "node-1", replayCache: createMemoryReplayCache(), now: Date.now });
    const request = { method: "POST", path: "/hooks/wake", body: '{"text":"hi"}' };
    const token = await signer.sign({ ...request, principal: "token:ci" });
    await expect(verifier.verify(token, request)).resolves.toMatchObject({ sub: "token:ci", aud: "node-1" });
  });

  it("--print-private puts only the private JWK on stdout (for wrangler secret put) and the public one on stderr", async () => {
    const run = await runCli(["edge", "keys", "--print-private"]);
    expect(run.code).toBe(0);
    const privateJwk = JSON.parse(run.stdout) as JWK;
    expect(privateJwk).toMatchObject({ alg: "EdDSA", kty: "OKP", crv: "Ed25519" });
    expect(privateJwk.kid).toMatch(/^edge-\d{4}-\d{2}-\d{2}-[0-9a-f]{6}$/);
    expect(typeof privateJwk.d).toBe("string");
    const publicJwk = JSON.parse(run.stderr.split("\n")[1]!) as JWK;
    expect(publicJwk).toEqual({ kty: "OKP", crv: "Ed25519", x: privateJwk.x, kid: privateJwk.kid, alg: "EdDSA", use: "sig" });
  });

  it("refuses to run without a place for the private key, to overwrite a key file, and an unknown alg", async () => {
    const nowhere = await runCli(["edge", "keys"]);
    expect(nowhere.code).toBe(1);
    expect(nowhere.stderr).toBe("clawgate: say where the private key goes: --private-out FILE (a new 0600 file) or --print-private (stdout)\n");
    const keyFile = join(dir, "existing.json");
    await writeFile(keyFile, "old key\n");
    const overwrite = await runCli(["edge", "keys", "--private-out", keyFile]);
    expect(overwrite.code).toBe(1);
    expect(overwrite.stderr).toBe(`clawgate: --private-out ${keyFile} already exists; refusing to overwrite it\n`);
    expect(await readFile(keyFile, "utf8")).toBe("old key\n");
    const alg = await runCli(["edge", "keys", "--alg", "HS256", "--print-private"]);
    expect(alg.code).toBe(1);
    expect(alg.stderr).toContain("option '--alg <alg>' argument 'HS256' is invalid. Allowed choices are EdDSA, ES256.");
    expect(nowhere.stdout + overwrite.stdout + alg.stdout).toBe("");
  });
});

describe("clawgate edge token", () => {
  it("prints a cg_ token of 32 random bytes and the {name, sha256} entry that hashes it", async () => {
    const run = await runCli(["edge", "token", "ci", "--json"]);
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout) as { name: string; sha256: string; token: string };
    expect(out.token).toMatch(/^cg_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(out.token.slice(3), "base64url")).toHaveLength(32);
    expect(out).toEqual({ name: "ci", sha256: createHash("sha256").update(out.token).digest("hex"), token: out.token });
    const again = JSON.parse((await runCli(["edge", "token", "ci", "--json"])).stdout) as { token: string };
    expect(again.token).not.toBe(out.token);
  });

  it("--out writes the token 0600 and keeps it off stdout; a bad name is refused", async () => {
    const file = join(dir, "ci.token");
    const run = await runCli(["edge", "token", "github-hooks", "--out", file]);
    expect(run.code).toBe(0);
    const token = (await readFile(file, "utf8")).trim();
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(run.stdout).not.toContain(token);
    expect(run.stdout).toContain(JSON.stringify({ name: "github-hooks", sha256: createHash("sha256").update(token).digest("hex") }));
    const bad = await runCli(["edge", "token", "no spaces"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe("clawgate: token name must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit\n");
  });
});
