/**
 * Writes a node agent's `openclaw.json` beside a 0600 `secrets.json` that its file provider `f` reads — tokens
 * held the way an operator holds them, never in the config itself.
 */
import { chmod, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** A SecretRef to `key` in the secrets file `writeNodeConfig` writes. */
export const fileRef = (key: string) => ({ source: "file", provider: "f", id: `/${key}` }) as const;

/** Writes `<dir>/secrets.json` (0600) and `<dir>/openclaw.json` (`config` plus the provider); returns the config path. */
export async function writeNodeConfig(dir: string, secrets: Record<string, string>, config: Record<string, unknown>): Promise<string> {
  const secretsPath = join(dir, "secrets.json");
  await writeFile(secretsPath, JSON.stringify(secrets), { mode: 0o600 });
  await chmod(secretsPath, 0o600); // the mode above is masked by umask; the provider refuses anything looser
  const configPath = join(dir, "openclaw.json");
  await writeFile(configPath, JSON.stringify({ secrets: { providers: { f: { source: "file", path: secretsPath } } }, ...config }));
  return configPath;
}
