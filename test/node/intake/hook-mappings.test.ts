/** hooks.mappings compiled at start: matching by path and source, template rendering, and what refuses a start. */
import { describe, expect, it } from "vitest";
import { ConfigSchema } from "../../../node/config/config-schema.ts";
import { type HookMappingConfig, type MappingRequest, compileHookMappings } from "../../../node/intake/hook-mappings.ts";
import { compileHooksPolicy } from "../../../node/intake/hooks-policy.ts";

const NOW = Date.UTC(2026, 10, 24, 9, 30);
const request = (payload: Record<string, unknown>, extra: Partial<MappingRequest> = {}): MappingRequest => ({
  route: "github",
  payload,
  header: (name) => ({ "x-github-event": "push", authorization: "Bearer secret-token" })[name],
  query: new URLSearchParams("repo=clawgate&n=3"),
  nowMs: NOW,
  ...extra,
});
const compile = (...mappings: HookMappingConfig[]) => compileHookMappings(mappings);

describe("matching", () => {
  it("takes the first mapping whose path and payload.source match, in config order", () => {
    const mappings = compile(
      { id: "gh-ci", match: { path: "/github/", source: "ci" }, action: "wake", textTemplate: "ci" },
      { id: "gh", match: { path: "github" }, action: "wake", textTemplate: "any" },
      { id: "catch-all", action: "wake", textTemplate: "x" },
    );
    expect(mappings.find("github", { source: "ci" })?.id).toBe("gh-ci");
    expect(mappings.find("github", { source: "other" })?.id).toBe("gh");
    expect(mappings.find("github", {})?.id).toBe("gh");
    expect(mappings.find("stripe", {})?.id).toBe("catch-all");
    expect(compile({ match: { path: "a" } }).find("b", {})).toBeUndefined();
  });

  it("does not take an inherited source for a match", () => {
    const mappings = compile({ id: "m", match: { source: "[object Object]" }, action: "wake", textTemplate: "x" });
    expect(mappings.find("x", JSON.parse('{"__proto__":{"source":"[object Object]"}}') as Record<string, unknown>)).toBeUndefined();
  });

  it("names unnamed mappings mapping-<n>", () => {
    expect(compile({ action: "wake" }).find("x", {})?.id).toBe("mapping-1");
  });
});

describe("templates", () => {
  it("render payload, header, query, now and path values, with a.b[0].c paths", () => {
    const [m] = [compile({
      id: "gh",
      action: "wake",
      textTemplate: "{{ payload.repo.name }} {{commits[1].id}} {{headers.X-GitHub-Event}} {{query.repo}} {{now}} {{path}} {{payload.repo}} {{payload.n}} {{payload.ok}} {{payload.missing}}!",
    }).find("github", {})!];
    const payload = { repo: { name: "clawgate" }, commits: [{ id: "a1" }, { id: "b2" }], n: 7, ok: false };
    expect(m!.render(request(payload))).toEqual({
      ok: true,
      mapping: "gh",
      kind: "wake",
      body: { text: `clawgate b2 push clawgate ${new Date(NOW).toISOString()} github {"name":"clawgate"} 7 false !`, mode: "now" },
    });
  });

  it("never read inherited or prototype properties, whatever the payload holds", () => {
    const m = compile({ id: "m", action: "wake", textTemplate: "[{{payload.toString}}][{{payload.a.length}}][{{payload.list[5]}}][{{payload.s[0]}}]" }).find("x", {})!;
    const payload = JSON.parse('{"a":"abc","list":[1],"s":"str","__proto__":{"toString":"polluted"}}') as Record<string, unknown>;
    expect(m.render(request(payload))).toMatchObject({ ok: true, body: { text: "[][][][]" } });
  });

  it("build an agent run: static fields, rendered optional fields, and OpenClaw's text when the message is empty", () => {
    const m = compile({
      id: "gmail",
      match: { path: "gmail" },
      action: "agent",
      name: "Gmail",
      agentId: "hooks",
      wakeMode: "next-heartbeat",
      sessionKey: "hook:gmail:{{messages[0].id}}",
      messageTemplate: "New email from {{messages[0].from}}",
      deliver: false,
      channel: "last",
      model: "{{payload.model}}",
      timeoutSeconds: 60,
    }).find("gmail", {})!;
    expect(m.render(request({ messages: [{ id: "m1", from: "ana@example.com" }] }))).toEqual({
      ok: true,
      mapping: "gmail",
      kind: "agent",
      sessionKeySource: "mapping-templated",
      body: {
        message: "New email from ana@example.com",
        name: "Gmail",
        agentId: "hooks",
        wakeMode: "next-heartbeat",
        sessionKey: "hook:gmail:m1",
        deliver: false,
        channel: "last",
        timeoutSeconds: 60,
      },
    });
    const bare = compile({ messageTemplate: " {{payload.body}} " }).find("x", {})!;
    expect(bare.render(request({}))).toEqual({ ok: false, error: "hook mapping requires message" });
    const wake = compile({ action: "wake", textTemplate: "{{payload.nothing}}" }).find("x", {})!;
    expect(wake.render(request({}))).toEqual({ ok: false, error: "hook mapping requires text" });
  });

  it("mark a literal session key as the operator's (static)", () => {
    const m = compile({ sessionKey: "hook:ci", messageTemplate: "m" }).find("x", {})!;
    expect(m.render(request({}))).toMatchObject({ ok: true, sessionKeySource: "mapping-static", body: { sessionKey: "hook:ci" } });
  });
});

describe("refused at start, naming the field", () => {
  it.each([
    [{ transform: { module: "gmail.ts" } }, "hooks.mappings[0].transform: code transforms are not supported (executing config-named modules is out of scope for a hardened intake); use messageTemplate/textTemplate"],
    [{ messageTemplate: "{{payload.__proto__.x}}" }, 'hooks.mappings[0].messageTemplate: path segment "__proto__" is not allowed'],
    [{ messageTemplate: "{{a.constructor}}" }, 'hooks.mappings[0].messageTemplate: path segment "constructor" is not allowed'],
    [{ sessionKey: "hook:{{payload.prototype}}" }, 'hooks.mappings[0].sessionKey: path segment "prototype" is not allowed'],
    [{ messageTemplate: "{{headers.authorization}}" }, 'hooks.mappings[0].messageTemplate: header "authorization" carries a credential and may not be templated'],
    [{ messageTemplate: "{{headers.X-OpenClaw-Token}}" }, 'hooks.mappings[0].messageTemplate: header "x-openclaw-token" carries a credential and may not be templated'],
    [{ messageTemplate: "{{payload.a..b}}" }, 'hooks.mappings[0].messageTemplate: "a..b" is not a template path like a.b[0].c'],
    [{ messageTemplate: "{{ }}" }, 'hooks.mappings[0].messageTemplate: "" is not a template path like a.b[0].c'],
    [{ match: { path: "/wake" } }, 'hooks.mappings[0].match.path: "wake" is a built-in route, so this mapping would never run'],
  ] as [HookMappingConfig, string][])("%j", (mapping, message) => {
    expect(() => compile(mapping)).toThrow(message);
  });

  it("a duplicate id", () => {
    expect(() => compile({ id: "a" }, { id: "a" })).toThrow('hooks.mappings[1].id: "a" is used by another mapping');
  });

  it("through the hooks policy, only while hooks are enabled", () => {
    const hooks = { mappings: [{ transform: { module: "x.ts" } }] };
    expect(() => compileHooksPolicy(ConfigSchema.parse({ hooks: { ...hooks, enabled: true } }), { hookToken: "t" })).toThrow("code transforms are not supported");
    expect(compileHooksPolicy(ConfigSchema.parse({ hooks }), {}).mappings.size).toBe(0);
  });
});
