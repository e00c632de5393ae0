/**
 * The Node releases clawgate runs on: the intake journal uses `node:sqlite`, which needs no flag from Node
 * 22.13.0 and 23.4.0 on (package.json `engines` says the same). Older releases get one line instead of a
 * stack trace from the first import.
 */

/** `engines.node` in package.json. */
export const SUPPORTED_NODE = ">=22.13 <23 || >=23.4";

/** Why this Node version cannot run clawgate, or undefined when it can. */
export function unsupportedNode(version: string): string | undefined {
  const [major = 0, minor = 0] = version.replace(/^v/, "").split(".").map(Number);
  const ok = major > 23 || (major === 23 && minor >= 4) || (major === 22 && minor >= 13);
  return ok ? undefined : `clawgate needs Node 22.13 or newer (23.4+ on the 23 line) for node:sqlite; this is Node ${version.replace(/^v?/, "v")}`;
}
