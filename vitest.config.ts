/** Test projects: `node` runs in Node 24 against real processes and files; `edge` runs inside real workerd. */
import { generateKeyPairSync } from "node:crypto";
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// A throwaway envelope signing key per run, so the edge's required secret exists in workerd without committing one.
const edgeTestSigningKey = JSON.stringify({ ...generateKeyPairSync("ed25519").privateKey.export({ format: "jwk" }), kid: "edge-test", alg: "EdDSA" });

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "node",
          include: ["test/node/**/*.test.ts", "test/shared/**/*.test.ts", "test/e2e/**/*.test.ts"],
          environment: "node",
          testTimeout: 20_000,
          hookTimeout: 30_000,
        },
      },
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: { bindings: { CLAWGATE_EDGE_SIGNING_KEY: edgeTestSigningKey } },
          }),
        ],
        test: {
          name: "edge",
          include: ["test/edge/**/*.test.ts"],
        },
      },
    ],
  },
});
