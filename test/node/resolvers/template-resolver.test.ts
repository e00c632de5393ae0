/** Template resolvers: shell-like quoting without a shell, {id} confined to one argument, per-id errors. */
import { describe, expect, it } from "vitest";
import { runResolver } from "../../../node/resolvers/resolver-protocol.ts";
import { splitTemplate, templateResolver } from "../../../node/resolvers/template-resolver.ts";

describe("splitTemplate", () => {
  it.each([
    ["op read op://Private/{id}", ["op", "read", "op://Private/{id}"]],
    ["vault kv get -field=password secret/{id}", ["vault", "kv", "get", "-field=password", "secret/{id}"]],
    [`sops -d --extract '["{id}"]' /etc/s.yaml`, ["sops", "-d", "--extract", '["{id}"]', "/etc/s.yaml"]],
    [`a "b c" d\\ e '' {id}`, ["a", "b c", "d e", "", "{id}"]],
    [`x "q\\"uote" {id}`, ["x", 'q"uote', "{id}"]],
  ])("%s", (template, argv) => {
    expect(splitTemplate(template)).toEqual(argv);
  });

  it.each([
    ["", "--cmd is empty"],
    ["op read", "--cmd must contain {id}"],
    ["op 'read {id}", "--cmd has an unterminated ' quote"],
    ["op {id}\\", "--cmd ends with a lone backslash"],
  ])("refuses %j", (template, message) => {
    expect(() => splitTemplate(template)).toThrow(message);
  });
});

async function resolveVia(resolver: ReturnType<typeof templateResolver>, ids: string[]) {
  let out = "";
  const code = await runResolver(resolver, {
    stdin: [Buffer.from(JSON.stringify({ protocolVersion: 1, provider: "t", ids }))],
    stdout: (t) => (out += t),
    stderr: () => {},
  });
  return { code, response: JSON.parse(out) as { values: Record<string, string>; errors: Record<string, { message: string }> } };
}

describe("templateResolver", () => {
  it("runs one real process per id; an id with spaces or shell syntax stays one argument", async () => {
    const { code, response } = await resolveVia(templateResolver("/bin/echo secret-for:{id}"), ["a", "b c", "$(id);x"]);
    expect(code).toBe(0);
    expect(response.values).toEqual({ a: "secret-for:a", "b c": "secret-for:b c", "$(id);x": "secret-for:$(id);x" });
  });

  it("reports a failing command per id without output", async () => {
    const { response } = await resolveVia(templateResolver("/bin/sh -c 'test {id} = ok && echo fine || exit 4'"), ["ok", "bad"]);
    expect(response.values).toEqual({ ok: "fine" });
    expect(response.errors).toEqual({ bad: { message: "/bin/sh exited with code 4" } });
  });

  it("says when the command does not exist", async () => {
    const { response } = await resolveVia(templateResolver("/nonexistent/tool {id}"), ["a"]);
    expect(response.errors["a"]?.message).toBe("/nonexistent/tool could not be started (is it installed and on PATH?)");
  });
});

describe("runResolver", () => {
  it("exits 2 with a one-line reason on a malformed request", async () => {
    let err = "";
    const code = await runResolver(async () => ({ value: "x" }), { stdin: [Buffer.from("{nope")], stdout: () => {}, stderr: (t) => (err += t) });
    expect(code).toBe(2);
    expect(err.trim().split("\n")).toHaveLength(1);
  });
});
