/** `npm run compat`: the differential suite against the real OpenClaw gateway (installed on first use, outside node_modules). */
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    name: "compat",
    root: new URL("../..", import.meta.url).pathname,
    include: ["test/compat/**/*.compat.test.ts"],
    environment: "node",
    // One file at a time: each starts real gateways, and the machine is small.
    fileParallelism: false,
    testTimeout: 240_000,
    hookTimeout: 15 * 60_000,
  },
});
