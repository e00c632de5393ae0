/** `.env` parsing (dotenv syntax) and scrubbing that keeps every other byte of the file. */
import { describe, expect, it } from "vitest";
import { dotenvValues, parseDotenv, scrubDotenv } from "../../../node/secrets/dotenv-file.ts";

describe("parseDotenv", () => {
  it("reads bare, quoted, exported and commented assignments", () => {
    const text = [
      "# a comment",
      "",
      "PLAIN=abc",
      "SPACED = padded value  ",
      "export EXPORTED=yes",
      "INLINE=value # trailing comment",
      "HASH=a#b",
      'DOUBLE="two words # not a comment"',
      "SINGLE='lit\\n eral'",
      'ESCAPED="line1\\nline2"',
      "EMPTY=",
      "not an assignment",
    ].join("\n");
    const values = dotenvValues(parseDotenv(text));
    expect(Object.fromEntries(values)).toEqual({
      PLAIN: "abc",
      SPACED: "padded value",
      EXPORTED: "yes",
      INLINE: "value",
      HASH: "a#b",
      DOUBLE: "two words # not a comment",
      SINGLE: "lit\\n eral",
      ESCAPED: "line1\nline2",
      EMPTY: "",
    });
  });

  it("handles CRLF line endings and a BOM", () => {
    const doc = parseDotenv("\uFEFFA=1\r\nB=\"x y\"\r\n");
    expect(Object.fromEntries(dotenvValues(doc))).toEqual({ A: "1", B: "x y" });
  });

  it("reads a quoted value that spans lines", () => {
    const doc = parseDotenv('KEY="-----BEGIN\nmiddle\nEND-----"\nNEXT=1\n');
    expect(doc.entries.map((e) => [e.key, e.value, e.startLine, e.endLine])).toEqual([
      ["KEY", "-----BEGIN\nmiddle\nEND-----", 0, 2],
      ["NEXT", "1", 3, 3],
    ]);
  });

  it("a later assignment wins", () => {
    expect(dotenvValues(parseDotenv("A=1\nA=2\n")).get("A")).toBe("2");
  });
});

describe("scrubDotenv", () => {
  it("removes only the named assignments and keeps comments, blanks and order", () => {
    const text = "# keys\nOPENAI_API_KEY=sk-1\n\nexport KEEP=1 # note\nOPENAI_API_KEY=sk-2\nOTHER='x'\n";
    const result = scrubDotenv(text, new Set(["OPENAI_API_KEY"]));
    expect(result.text).toBe("# keys\n\nexport KEEP=1 # note\nOTHER='x'\n");
    expect(result.removed).toEqual(["OPENAI_API_KEY"]);
  });

  it("keeps CRLF endings and removes every line of a multi-line value", () => {
    const text = 'A=1\r\nPEM="line1\r\nline2"\r\nB=2\r\n';
    expect(scrubDotenv(text, new Set(["PEM"])).text).toBe("A=1\r\nB=2\r\n");
  });

  it("returns the text unchanged (same string) when nothing matches", () => {
    const text = "A=1\nB=2";
    const result = scrubDotenv(text, new Set(["C"]));
    expect(result.text).toBe(text);
    expect(result.removed).toEqual([]);
  });

  it("removes a last line without a trailing newline and keeps a BOM", () => {
    expect(scrubDotenv("\uFEFFA=1\nSECRET_TOKEN=x", new Set(["SECRET_TOKEN"])).text).toBe("\uFEFFA=1\n");
  });
});
