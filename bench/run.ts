/** `npm run bench [-- [--smoke] name ...]`: runs the benchmarks, prints one table, exits non-zero when a target is missed. */
import { parseArgs } from "node:util";
import { renderReport, runBenches } from "./bench-runner.ts";
import type { Bench } from "./bench-types.ts";

const BENCHES: Record<string, () => Promise<{ default: Bench }>> = {
  secrets: () => import("./secrets.ts"),
  hooks: () => import("./hooks.ts"),
  dispatch: () => import("./dispatch.ts"),
  runs: () => import("./runs.ts"),
  edge: () => import("./edge.ts"),
  outbox: () => import("./outbox.ts"),
  console: () => import("./console.ts"),
};
const FLAGS = ["--smoke", "--vs-openclaw", "--help"];
const USAGE = `usage: npm run bench -- [--smoke] [--vs-openclaw] [${Object.keys(BENCHES).join("|")} ...]`;

// Lenient parse plus our own check of each token: node's strict mode would suggest quoting the flag as a
// positional, which here would be read as a bench name.
const { tokens } = parseArgs({ args: process.argv.slice(2), strict: false, allowPositionals: true, tokens: true });
const requested: string[] = [];
let smoke = false;
let vsOpenclaw = false;
for (const token of tokens) {
  if (token.kind === "positional") requested.push(token.value);
  else if (token.kind === "option-terminator") continue;
  else if (!FLAGS.includes(token.rawName)) usageError(`unknown option ${token.rawName} (known: ${FLAGS.join(", ")})`);
  else if (token.value !== undefined) usageError(`option ${token.rawName} takes no value, got ${JSON.stringify(token.value)}`);
  else if (token.rawName === "--help") {
    console.log(USAGE);
    process.exit(0);
  } else if (token.rawName === "--vs-openclaw") vsOpenclaw = true;
  else smoke = true;
}
const unknown = requested.filter((n) => !(n in BENCHES));
if (unknown.length > 0) usageError(`unknown benchmark: ${unknown.join(", ")} (known: ${Object.keys(BENCHES).join(", ")})`);

const selected = requested.length > 0 ? requested : Object.keys(BENCHES);
const rows = await runBenches(
  selected.map((name) => [name, async () => (await BENCHES[name]!()).default] as const),
  { smoke, vsOpenclaw, progress: (line) => console.error(line) },
);

const report = renderReport(rows, { smoke });
for (const line of report.lines) console.log(line);
process.exitCode = report.failed === 0 ? 0 : 1;

function usageError(reason: string): never {
  console.error(`bench: ${reason}`);
  process.exit(2);
}
