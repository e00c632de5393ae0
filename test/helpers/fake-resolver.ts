/** Installs the test resolver (fixtures/resolvers/fake-resolver.mjs) as a real executable, the way an operator installs one. */
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const FAKE = fileURLToPath(new URL("../fixtures/resolvers/fake-resolver.mjs", import.meta.url));

/** Writes `<dir>/bin/resolver`, a sh wrapper that runs the fixture with Node 24; returns its path. */
export async function installFakeResolver(dir: string, mode = 0o755): Promise<string> {
  await mkdir(join(dir, "bin"), { recursive: true, mode });
  const command = join(dir, "bin", "resolver");
  await writeFile(command, `#!/bin/sh\nexec "${process.execPath}" "${FAKE}" "$@"\n`);
  await chmod(command, mode);
  return command;
}
