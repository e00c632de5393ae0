/** RFC 6901 pointers: escapes, arrays, own properties only, and round-trips for arbitrary segments. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatPointer, getAtPointer, parsePointer, setAtPointer } from "../../../node/secrets/json-pointer.ts";

describe("parsePointer / formatPointer", () => {
  it("decodes ~1 before ~0 (RFC 6901 §4)", () => {
    expect(parsePointer("/a~1b/c~0d/~01")).toEqual(["a/b", "c~d", "~1"]);
    expect(formatPointer(["a/b", "c~d", "~1"])).toBe("/a~1b/c~0d/~01");
    expect(parsePointer("")).toEqual([]);
    expect(parsePointer("/")).toEqual([""]);
  });

  it("refuses relative pointers and bad escapes", () => {
    expect(() => parsePointer("a/b")).toThrow('must start with "/"');
    expect(() => parsePointer("/a~2")).toThrow("invalid ~ escape");
    expect(() => parsePointer("/a~")).toThrow("invalid ~ escape");
  });

  it("round-trips any segments", () => {
    fc.assert(fc.property(fc.array(fc.string()), (segments) => {
        expect(parsePointer(formatPointer(segments))).toEqual(segments);
      }));
  });
});

describe("getAtPointer", () => {
  const doc = { providers: { openai: { apiKey: "k" } }, list: ["a", "b"], "a/b": { "c~d": "x" } };

  it("walks objects, arrays and escaped keys", () => {
    expect(getAtPointer(doc, "/providers/openai/apiKey")).toEqual({ found: true, value: "k" });
    expect(getAtPointer(doc, "/list/1")).toEqual({ found: true, value: "b" });
    expect(getAtPointer(doc, "/a~1b/c~0d")).toEqual({ found: true, value: "x" });
  });

  it("does not find out-of-range, leading-zero, '-' or inherited members", () => {
    for (const p of ["/list/2", "/list/01", "/list/-", "/providers/missing", "/__proto__", "/constructor", "/providers/toString"]) {
      expect(getAtPointer(doc, p)).toEqual({ found: false });
    }
  });
});

describe("setAtPointer", () => {
  it("creates intermediate objects and keeps siblings", () => {
    const doc: Record<string, unknown> = { keep: 1, a: { other: 2 } };
    setAtPointer(doc, ["a", "b", "c"], "v");
    expect(doc).toEqual({ keep: 1, a: { other: 2, b: { c: "v" } } });
  });

  it("refuses prototype-polluting segments", () => {
    for (const bad of ["__proto__", "prototype", "constructor"]) {
      expect(() => setAtPointer({}, ["a", bad, "x"], "v")).toThrow(`segment "${bad}" is not allowed`);
    }
    expect(({} as Record<string, unknown>)["x"]).toBeUndefined();
  });

  it("set then get finds the value for any path", () => {
    const segment = fc.string({ minLength: 1 }).filter((s) => !["__proto__", "prototype", "constructor"].includes(s));
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 5 }), fc.string(), (segments, value) => {
        const doc: Record<string, unknown> = {};
        setAtPointer(doc, segments, value);
        expect(getAtPointer(doc, formatPointer(segments))).toEqual({ found: true, value });
      }),
    );
  });
});
