/** The file provider against real files with real permissions: modes, symlinks, pointers, limits, one read per pass. */
import { execFileSync } from "node:child_process";
import { chmod, chown, mkdir, mkdtemp, open, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFileProvider } from "../../../node/secrets/file-provider.ts";
import { FileProviderSchema } from "../../../node/config/provider-config.ts";

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn("skipping the foreign-owner test: only root can give a file to another user");
let dir: string;
let n = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "clawgate-file-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function secretFile(content: string, mode = 0o600): Promise<string> {
  const path = join(dir, `s${n++}.json`);
  await writeFile(path, content);
  await chmod(path, mode);
  return path;
}

const provider = (path: string, extra: Record<string, unknown> = {}, options = {}) =>
  createFileProvider("filemain", FileProviderSchema.parse({ source: "file", path, ...extra }), options);

describe("json mode", () => {
  it("resolves pointers, escapes and array indices from one file, stripping a BOM", async () => {
    const path = await secretFile(`\uFEFF${JSON.stringify({ providers: { openai: { apiKey: "sk-1" } }, "a/b": { "c~d": "x" }, list: ["l0"] })}`);
    const result = await provider(path).resolve(["/providers/openai/apiKey", "/a~1b/c~0d", "/list/0"]);
    expect(Object.fromEntries(result.values)).toEqual({ "/providers/openai/apiKey": "sk-1", "/a~1b/c~0d": "x", "/list/0": "l0" });
    expect(result.errors.size).toBe(0);
  });

  it("names a missing pointer and a non-string value without showing the value", async () => {
    const path = await secretFile(JSON.stringify({ n: 12345678, obj: { deep: "hidden-value" } }));
    const result = await provider(path).resolve(["/missing", "/n", "/obj"]);
    expect(result.errors.get("/missing")?.message).toBe(`JSON pointer "/missing" not found in ${path}`);
    expect(result.errors.get("/n")?.message).toBe(`JSON pointer "/n" in ${path} is not a non-empty string`);
    expect(result.errors.get("/obj")?.message).not.toContain("hidden-value");
  });

  it("refuses invalid JSON and non-objects without quoting the content", async () => {
    const bad = await secretFile('{"k": "sk-leaky-secret" oops}');
    const result = await provider(bad).resolve(["/k"]);
    expect(result.errors.get("/k")?.message).toBe(`secrets.providers.filemain.path is not valid JSON: ${bad}`);
    const arr = await secretFile('["sk-leaky-secret"]');
    expect((await provider(arr).resolve(["/0"])).errors.get("/0")?.message).toBe(
      `secrets.providers.filemain.path is not a JSON object: ${arr}`,
    );
  });

  it("reads the file once per pass, whatever the number of ids", async () => {
    const doc = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, `v${i}`]));
    const path = await secretFile(JSON.stringify(doc));
    let opens = 0;
    const p = provider(path, {}, { open: (p: string) => (opens++, open(p, "r")) });
    const result = await p.resolve(Object.keys(doc).map((k) => `/${k}`));
    expect(result.values.size).toBe(50);
    expect(opens).toBe(1);
  });

  it("sees a rewritten file on the next pass", async () => {
    const path = await secretFile(JSON.stringify({ k: "old" }));
    const p = provider(path);
    expect((await p.resolve(["/k"])).values.get("/k")).toBe("old");
    await writeFile(path, JSON.stringify({ k: "new" }));
    expect((await p.resolve(["/k"])).values.get("/k")).toBe("new");
  });
});

describe("singleValue mode", () => {
  it.each([
    ["tok\n", "tok"],
    ["tok\r\n", "tok"],
    ["tok", "tok"],
    ["tok\n\n", "tok\n"],
  ])("%j resolves to %j", async (content, expected) => {
    const path = await secretFile(content);
    expect((await provider(path, { mode: "singleValue" }).resolve(["value"])).values.get("value")).toBe(expected);
  });

  it('only answers the id "value"', async () => {
    const path = await secretFile("tok\n");
    expect((await provider(path, { mode: "singleValue" }).resolve(["/x"])).errors.get("/x")?.message).toBe(
      'singleValue file provider only supports id "value"',
    );
  });
});

describe("path and permission checks", () => {
  it.each([0o640, 0o604, 0o620, 0o602, 0o660])("refuses mode %o with the reference text", async (mode) => {
    const path = await secretFile(JSON.stringify({ k: "v" }), mode);
    const error = (await provider(path).resolve(["/k"])).errors.get("/k");
    expect(error?.message).toBe(`secrets.providers.filemain.path permissions are too open: ${path}`);
    expect(error?.code).toBe("ERR_SECRET_FILE_PERMS");
  });

  it("accepts 0600 and 0400", async () => {
    for (const mode of [0o600, 0o400]) {
      const path = await secretFile(JSON.stringify({ k: "v" }), mode);
      expect((await provider(path).resolve(["/k"])).values.get("/k")).toBe("v");
    }
  });

  it("refuses a symlink, a directory, a FIFO, a relative and a missing path", async () => {
    const target = await secretFile(JSON.stringify({ k: "v" }));
    const link = join(dir, "link.json");
    await symlink(target, link);
    const sub = join(dir, "adir");
    await mkdir(sub, { mode: 0o700 });
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", ["-m", "600", fifo]);
    const msg = async (p: string) => (await provider(p).resolve(["/k"])).errors.get("/k")?.message;
    expect(await msg(link)).toBe(`secrets.providers.filemain.path is a symlink: ${link}`);
    expect(await msg(sub)).toBe(`secrets.providers.filemain.path is a directory, not a regular file: ${sub}`);
    expect(await msg(fifo)).toBe(`secrets.providers.filemain.path is not a regular file: ${fifo}`);
    expect(await msg("secrets.json")).toBe("secrets.providers.filemain.path must be an absolute path: secrets.json");
    expect(await msg(join(dir, "nope.json"))).toBe(`secrets.providers.filemain.path does not exist: ${join(dir, "nope.json")}`);
  });

  it("expands ~ against the home folder", async () => {
    const path = await secretFile(JSON.stringify({ k: "home-v" }));
    const p = provider(`~/${path.slice(dir.length + 1)}`, {}, { home: dir });
    expect((await p.resolve(["/k"])).values.get("/k")).toBe("home-v");
  });

  it.skipIf(!isRoot)("refuses a file owned by another user", async () => {
    const path = await secretFile(JSON.stringify({ k: "v" }));
    await chown(path, 12345, 12345);
    expect((await provider(path).resolve(["/k"])).errors.get("/k")?.message).toBe(
      `secrets.providers.filemain.path is not owned by the current user: ${path}`,
    );
  });
});

describe("limits", () => {
  it("refuses a file over maxBytes after reading at most maxBytes + 1", async () => {
    const path = await secretFile(JSON.stringify({ k: "x".repeat(10_000) }));
    let bytesRead = 0;
    const countingOpen = async (p: string) => {
      const fh = await open(p, "r");
      const read = fh.read.bind(fh) as (...args: unknown[]) => Promise<{ bytesRead: number }>;
      (fh as unknown as { read: unknown }).read = async (...args: unknown[]) => {
        const r = await read(...args);
        bytesRead += r.bytesRead;
        return r;
      };
      return fh;
    };
    const error = (await provider(path, { maxBytes: 100 }, { open: countingOpen }).resolve(["/k"])).errors.get("/k");
    expect(error?.message).toBe(`secrets.providers.filemain.path exceeds maxBytes (100): ${path}`);
    expect(bytesRead).toBeLessThanOrEqual(101);
  });

  it("gives up after timeoutMs on a read that never finishes", async () => {
    const path = await secretFile(JSON.stringify({ k: "v" }));
    const never = () => new Promise<never>(() => {});
    const error = (await provider(path, { timeoutMs: 50 }, { open: never }).resolve(["/k"])).errors.get("/k");
    expect(error).toMatchObject({ code: "ERR_SECRET_FILE_TIMEOUT", message: `secrets.providers.filemain.path read timed out after 50 ms: ${path}` });
  });
});

it("never puts a secret value in an error message", async () => {
  const secret = fc.string({ minLength: 8, maxLength: 40 }).filter((s) => /^[A-Za-z0-9_-]+$/.test(s));
  await fc.assert(
    fc.asyncProperty(secret, fc.constantFrom("badjson", "perms", "pointer", "nonstring", "toolarge"), async (value, failure) => {
      const content =
        failure === "badjson" ? `{"k": "${value}" ,,}` : failure === "nonstring" ? JSON.stringify({ k: { v: value } }) : JSON.stringify({ k: value });
      const path = await secretFile(content, failure === "perms" ? 0o644 : 0o600);
      const id = failure === "pointer" ? "/missing" : "/k";
      const result = await provider(path, failure === "toolarge" ? { maxBytes: 4 } : {}).resolve([id]);
      const error = result.errors.get(id);
      expect(error).toBeDefined();
      expect(error!.message).not.toContain(value);
    }),
    { numRuns: 40 },
  );
});
