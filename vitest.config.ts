/** Test projects: `node` runs in Node 24 against real processes and files; `edge` runs inside real workerd. */
import { generateKeyPairSync } from "node:crypto";
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// A throwaway envelope signing key per run, so the edge's required secret exists in workerd without committing one.
const edgeTestSigningKey = JSON.stringify({ ...generateKeyPairSync("ed25519").privateKey.export({ format: "jwk" }), kid: "edge-test", alg: "EdDSA" });
// workerd cannot read the host's process.env: a fuzz campaign's seed and run count (fuzz-campaign.ts) travel as
// bindings, only when set, so CI's edge fuzz keeps its fixed defaults (test/edge/support/fuzz-settings.ts).
const edgeFuzzBindings: Record<string, string> = {};
for (const name of ["CLAWGATE_FUZZ_SEED", "CLAWGATE_FUZZ_RUNS"]) if (process.env[name]) edgeFuzzBindings[name] = process.env[name];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "node",
          include: ["test/node/**/*.test.ts", "test/shared/**/*.test.ts", "test/e2e/**/*.test.ts", "test/bench/**/*.test.ts", "test/architecture/**/*.test.ts"],
          environment: "node",
          testTimeout: 20_000,
          hookTimeout: 30_000,
        },
      },
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: { bindings: { CLAWGATE_EDGE_SIGNING_KEY: edgeTestSigningKey, ...edgeFuzzBindings } },
          }),
        ],
        test: {
          name: "edge",
          include: ["test/edge/**/*.test.ts"],
          // The first request of a file starts its isolate; on a loaded 2-core machine that alone passed 5 s.
          testTimeout: 20_000,
        },
      },
    ],
  },
});
