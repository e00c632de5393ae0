/** How the edge Worker is bundled for workerd, as wrangler does it: the package build, the tests and the benches share it. */
import type { BuildOptions } from "esbuild";

export const WORKER_BUNDLE_OPTIONS = {
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: "es2024",
  conditions: ["workerd", "worker", "browser"],
  mainFields: ["module", "main"],
  external: ["cloudflare:*", "node:*"],
} as const satisfies BuildOptions;
