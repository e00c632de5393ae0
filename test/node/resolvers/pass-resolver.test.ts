/**
 * `clawgate resolver pass` against real `pass` and `gnupg`: a throwaway key without passphrase, a real
 * store, and the whole chain — exec provider → resolver script → clawgate resolver pass → pass → gpg.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { chmod, mkdir, mkdtemp, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createExecProvider } from "../../../node/secrets/exec-provider.ts";
import { ExecProviderSchema } from "../../../node/config/provider-config.ts";
import { CLI_BIN } from "../../helpers/node-process.ts";

const available = ["pass", "gpg", "gpgconf"].every((bin) => spawnSync("which", [bin]).status === 0);
if (!available) console.warn("skipping the pass resolver tests: pass and gnupg are not installed (.ci/run installs them)");

let dir: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  if (!available) return;
  dir = await realpath(await mkdtemp(join(tmpdir(), "clawgate-pass-")));
  const gnupg = join(dir, "gnupg");
  await mkdir(gnupg, { mode: 0o700 });
  env = { PATH: process.env["PATH"], HOME: dir, GNUPGHOME: gnupg, PASSWORD_STORE_DIR: join(dir, "store") };
  execFileSync("gpg", ["--batch", "--passphrase", "", "--quick-gen-key", "clawgate test <test@example.invalid>", "default", "default", "never"], {
    env,
    stdio: "ignore",
  });
  execFileSync("pass", ["init", "test@example.invalid"], { env, stdio: "ignore" });
  for (const [name, value] of [
    ["providers/openai", "sk-pass-openai-1\nuser: bot"],
    ["slack/bot", "xoxb-pass-2"],
  ] as const) {
    execFileSync("pass", ["insert", "--multiline", name], { env, input: `${value}\n`, stdio: ["pipe", "ignore", "ignore"] });
  }
}, 60_000);

afterAll(async () => {
  if (!available) return;
  spawnSync("gpgconf", ["--kill", "gpg-agent"], { env });
  await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!available)("pass resolver", () => {
  it("resolves a batch in one exec invocation, first line only, with a per-id error for a missing entry", async () => {
    const bin = join(dir, "bin");
    await mkdir(bin, { mode: 0o700 });
    const command = join(bin, "clawgate-pass");
    // What an operator installs: a 0700 wrapper that runs `clawgate resolver pass` with an absolute Node.
    await writeFile(command, `#!/bin/sh\nexec "${process.execPath}" "${CLI_BIN}" resolver pass\n`);
    await chmod(command, 0o700);
    const config = ExecProviderSchema.parse({
      source: "exec",
      command,
      passEnv: ["PATH", "HOME", "GNUPGHOME", "PASSWORD_STORE_DIR"],
      timeoutMs: 20_000,
      noOutputTimeoutMs: 20_000,
    });
    let spawns = 0;
    const provider = createExecProvider("passstore", config, { maxRefsPerProvider: 512, maxBatchBytes: 262_144 }, {
      env,
      spawn: ((...args: Parameters<typeof spawn>) => {
        spawns++;
        return spawn(...args);
      }) as typeof spawn,
    });
    const result = await provider.resolve(["providers/openai", "slack/bot", "missing/entry"]);
    expect(spawns).toBe(1);
    expect(result.values.get("providers/openai")).toBe("sk-pass-openai-1");
    expect(result.values.get("slack/bot")).toBe("xoxb-pass-2");
    expect(result.errors.get("missing/entry")?.message).toBe('exec provider "passstore": id "missing/entry": not found');
    for (const error of result.errors.values()) expect(error.message).not.toContain("sk-pass");
  });
});
