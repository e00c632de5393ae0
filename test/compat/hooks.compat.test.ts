/**
 * Hooks differential: the same requests to the real OpenClaw 2026.2.26 gateway and to clawgate's node agent on the
 * same openclaw.json. Every row must get the identical status, content type, body, Allow and Retry-After, except the
 * documented deliberate differences, where clawgate's answer must be the documented one and OpenClaw's must differ.
 */
import { isDeepStrictEqual } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { documentedDifferences } from "./differences.ts";
import { CONFIG_A, CONFIG_B, CONFIG_C, type Row, rowsA, rowsB, rowsC, throttleRows } from "./hooks-matrix.ts";
import { type Gateway, removeDir, startClawgate, startOpenClaw, writeSharedConfig } from "./support/gateways.ts";
import { type Observed, compared, normalize, observe } from "./support/observe.ts";
import { ensureOpenClaw } from "./support/openclaw-install.ts";

interface Outcome {
  readonly row: Row;
  readonly openclaw: Observed;
  readonly clawgate: Observed;
  readonly verdict: "identical" | "documented" | "pending" | "UNEXPECTED";
  readonly why?: string;
}

const outcomes: Outcome[] = [];
let root = "";

beforeAll(() => {
  root = ensureOpenClaw();
}, 15 * 60_000);

/** Partial match: every key clawgate's documented answer names must be equal. */
function matchesDocumented(ours: Observed, expected: Readonly<Record<string, unknown>>): boolean {
  const view = compared(ours) as Record<string, unknown>;
  return Object.entries(expected).every(([k, v]) => isDeepStrictEqual(view[k], v));
}

async function runRows(rows: readonly Row[], openclaw: Gateway, clawgate: Gateway): Promise<void> {
  const seen = { openclaw: new Map<string, string>(), clawgate: new Map<string, string>() };
  for (const row of rows) {
    const a = normalize(await observe(openclaw.url, row), seen.openclaw, row.name);
    const b = normalize(await observe(clawgate.url, row), seen.clawgate, row.name);
    const same = isDeepStrictEqual(compared(a), compared(b));
    let verdict: Outcome["verdict"];
    let why: string | undefined;
    if (row.difference) {
      const documented = matchesDocumented(b, row.difference.ours) && !same;
      verdict = documented ? "documented" : row.pending ? "pending" : "UNEXPECTED";
      if (!documented) why = same ? `expected the documented difference "${row.difference.id}", got OpenClaw's answer` : `clawgate's answer is not the documented one for "${row.difference.id}"`;
    } else {
      verdict = same ? "identical" : row.pending ? "pending" : "UNEXPECTED";
      if (!same) why = "answers differ";
    }
    if (verdict === "pending" && row.pending) why = `${why}; pending: ${row.pending}`;
    outcomes.push({ row, openclaw: a, clawgate: b, verdict, ...(why ? { why } : {}) });
  }
}

async function withPair(config: Record<string, unknown>, run: (openclaw: Gateway, clawgate: Gateway) => Promise<void>): Promise<void> {
  const { dir, configPath } = await writeSharedConfig(config);
  const started: Gateway[] = [];
  try {
    const results = await Promise.allSettled([startOpenClaw(root, dir, configPath), startClawgate(dir, configPath)]);
    for (const r of results) if (r.status === "fulfilled") started.push(r.value);
    for (const r of results) if (r.status === "rejected") throw r.reason;
    await run(started[0]!, started[1]!);
  } finally {
    await Promise.all(started.map((g) => g.stop()));
    await removeDir(dir);
  }
}

describe("hooks: clawgate answers as OpenClaw 2026.2.26", () => {
  it("config A: fields, bodies, methods, paths, tokens, mappings, idempotency keys, the throttle", async () => {
    await withPair(CONFIG_A, async (openclaw, clawgate) => {
      await runRows(rowsA(), openclaw, clawgate);
      // Its own client address, so the lockout touches no other row.
      await runRows(throttleRows("127.0.0.2"), openclaw, clawgate);
    });
  }, 240_000);

  it("config B: another hooks.path, caller session keys off, a default session key, any agent", async () => {
    await withPair(CONFIG_B, (openclaw, clawgate) => runRows(rowsB(), openclaw, clawgate));
  }, 240_000);

  it("config C: caller session keys without a prefix list, allowedAgentIds []", async () => {
    await withPair(CONFIG_C, (openclaw, clawgate) => runRows(rowsC(), openclaw, clawgate));
  }, 240_000);

  afterAll(() => {
    const lines: string[] = [];
    for (const o of outcomes) {
      if (o.verdict === "identical") continue;
      lines.push(`${o.verdict.padEnd(10)} ${o.row.name}${o.why ? ` — ${o.why}` : ""}`);
      if (o.verdict !== "documented") {
        lines.push(`           openclaw: ${JSON.stringify(compared(o.openclaw))}`);
        lines.push(`           clawgate: ${JSON.stringify(compared(o.clawgate))}`);
      }
    }
    const count = (v: Outcome["verdict"]) => outcomes.filter((o) => o.verdict === v).length;
    lines.push(
      `hooks matrix: ${outcomes.length} rows, ${count("identical")} identical, ${count("documented")} documented differences, ` +
        `${count("pending")} pending, ${count("UNEXPECTED")} unexpected`,
    );
    console.log(lines.join("\n"));
  });
});

describe("hooks: the verdicts", () => {
  it("no unexpected difference", () => {
    const unexpected = outcomes.filter((o) => o.verdict === "UNEXPECTED").map((o) => `${o.row.name}: ${o.why}\n  openclaw: ${JSON.stringify(compared(o.openclaw))}\n  clawgate: ${JSON.stringify(compared(o.clawgate))}`);
    expect(outcomes.length).toBeGreaterThan(0);
    expect(unexpected).toEqual([]);
  });

  it("every difference the matrix expects is documented in docs/openclaw-compat.md", () => {
    const documented = new Set(documentedDifferences());
    const used = [...new Set(outcomes.flatMap((o) => (o.row.difference ? [o.row.difference.id] : [])))];
    expect(used.filter((id) => !documented.has(id))).toEqual([]);
  });

  it("every answer carries OpenClaw's security headers (nosniff, no-referrer)", () => {
    const answers = outcomes.flatMap((o) => (o.clawgate.kind === "answer" ? [{ name: o.row.name, a: o.clawgate, oc: o.openclaw }] : []));
    const missing = answers.filter(({ a }) => a.nosniff !== "nosniff" || a.referrerPolicy !== "no-referrer").map(({ name }) => name);
    const openclawMissing = outcomes.filter((o) => o.openclaw.kind === "answer" && (o.openclaw.nosniff !== "nosniff" || o.openclaw.referrerPolicy !== "no-referrer"));
    expect(openclawMissing.map((o) => o.row.name)).toEqual([]);
    expect(missing).toEqual([]);
  });
});
