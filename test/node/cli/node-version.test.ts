/** The Node floor: node:sqlite without a flag (22.13+, 23.4+), stated once for package.json and the CLI's check. */
import { readFile } from "node:fs/promises";
import { expect, it } from "vitest";
import { SUPPORTED_NODE, unsupportedNode } from "../../../node/cli/node-version.ts";

it("accepts 22.13+, 23.4+ and 24+, refuses the releases where node:sqlite still needs a flag, with one line", () => {
  for (const ok of ["22.13.0", "22.21.1", "23.4.0", "24.0.0", "v25.1.0"]) expect(unsupportedNode(ok), ok).toBeUndefined();
  for (const old of ["20.20.2", "22.12.0", "22.5.1", "23.3.0"]) expect(unsupportedNode(old), old).toMatch(/^clawgate needs Node 22\.13 or newer/);
  expect(unsupportedNode("22.12.0")).toBe("clawgate needs Node 22.13 or newer (23.4+ on the 23 line) for node:sqlite; this is Node v22.12.0");
});

it("package.json engines says the same", async () => {
  const manifest = JSON.parse(await readFile(new URL("../../../package.json", import.meta.url), "utf8")) as { engines: { node: string } };
  expect(manifest.engines.node).toBe(SUPPORTED_NODE);
});
