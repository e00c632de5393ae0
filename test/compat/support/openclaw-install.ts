/** Finds (installing on first use) the real `openclaw@2026.2.26` the differential suite compares against. */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const OPENCLAW_VERSION = "2026.2.26";
const INSTALLER = fileURLToPath(new URL("../install-openclaw.sh", import.meta.url));

/**
 * The install folder (idempotent: a finished install is reused, a half one redone). Runs npm on this Node (the
 * project's Node 24 first on PATH). Throws with the installer's last lines when the install fails.
 */
export function ensureOpenClaw(): string {
  const started = Date.now();
  const result = spawnSync("bash", [INSTALLER], {
    encoding: "utf8",
    env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env["PATH"] ?? ""}` },
    timeout: 15 * 60_000,
  });
  const root = result.stdout.trim().split("\n").pop() ?? "";
  if (result.status !== 0 || !existsSync(openClawEntry(root))) {
    const tail = `${result.stderr ?? ""}${result.error ? String(result.error) : ""}`.trim().split("\n").slice(-8).join("\n");
    throw new Error(`could not install openclaw@${OPENCLAW_VERSION} (exit ${result.status}):\n${tail}`);
  }
  const seconds = (Date.now() - started) / 1000;
  if (seconds > 5) console.log(`[compat] openclaw@${OPENCLAW_VERSION} installed in ${seconds.toFixed(0)} s (${root})`);
  return root;
}

/** The gateway's CLI entry inside an install folder. */
export const openClawEntry = (root: string) => join(root, "node_modules", "openclaw", "openclaw.mjs");
