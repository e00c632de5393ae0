/** The agent's compile cache is used only in a private directory; opt-out and an operator's own choice win. */
import { chmod, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { enablePrivateCompileCache } from "../../../node/cli/compile-cache.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "clawgate-cc-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

it("refuses a cache directory others can write to (a planted cache entry would be injected code)", async () => {
  await mkdir(join(dir, "clawgate", "compile-cache"), { recursive: true });
  await chmod(join(dir, "clawgate"), 0o777);
  expect(enablePrivateCompileCache({ XDG_CACHE_HOME: dir })).toBeUndefined();
  await chmod(join(dir, "clawgate"), 0o700);
  await chmod(join(dir, "clawgate", "compile-cache"), 0o775);
  expect(enablePrivateCompileCache({ XDG_CACHE_HOME: dir })).toBeUndefined();
});

it("stays off with CLAWGATE_COMPILE_CACHE=0 or when NODE_COMPILE_CACHE already chose a directory", () => {
  expect(enablePrivateCompileCache({ XDG_CACHE_HOME: dir, CLAWGATE_COMPILE_CACHE: "0" })).toBeUndefined();
  expect(enablePrivateCompileCache({ XDG_CACHE_HOME: dir, NODE_COMPILE_CACHE: join(dir, "mine") })).toBeUndefined();
});
