/**
 * `clawgate dispatch models [--json] [--reset <model>]`: each model's memory estimate (configured and learned, GiB),
 * hard limit, limit kills and last peaks, from the running node daemon; `--reset` forgets one model's learning there
 * (the daemon holds it and rewrites `<stateDir>/model-memory.json`, so it needs the daemon running). docs/dispatch.md.
 */
import type { Command } from "commander";
import type { ModelMemoryReport } from "../dispatch/model-memory.ts";
import { type DaemonFlags, adminRequest, daemonOptions, findDaemon } from "./daemon-client.ts";
import { CliError } from "./cli-error.ts";
import type { CliIo } from "./cli-io.ts";

interface ModelsOptions extends DaemonFlags {
  json?: boolean;
  reset?: string;
}

const gib = (v: number | null) => (v === null ? "none" : v.toFixed(2));

/** The table `clawgate dispatch models` prints (GiB); a peak of a killed run ends in "!". */
export function formatModels(budgetGb: number, models: readonly ModelMemoryReport[]): string {
  const rows = models.map((m) => [
    m.model,
    `${gib(m.baseGb)} ${m.baseSource}`,
    m.learnedGb === null ? "-" : `${gib(m.learnedGb)} (${m.samples} run${m.samples === 1 ? "" : "s"})`,
    gib(m.estimateGb),
    gib(m.hardLimitGb),
    String(m.limitKills),
    m.lastPeaks.length === 0 ? "-" : m.lastPeaks.map((p) => `${p.peakGb.toFixed(2)}${p.outcome === "memory_limit" ? "!" : p.outcome === "failed" ? "?" : ""}`).join(" "),
  ]);
  const head = ["model", "configured", "learned", "reserves", "hard limit", "limit kills", "last peaks"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  const out = [`memory budget ${gib(budgetGb)} GiB; every figure in GiB (! = a peak of a run killed at its hard limit, ? = of a failed run)`, line(head), ...rows.map(line)];
  for (const m of models) {
    if (m.estimateGb > budgetGb) out.push(`${m.model}: reserves ${gib(m.estimateGb)} GiB, above the budget: its runs are given up (ERR_OVER_BUDGET)${m.learnedGb !== null ? `; reset its learning with: clawgate dispatch models --reset ${m.model}` : ""}`);
  }
  return `${out.join("\n")}\n`;
}

export function registerDispatchCommands(program: Command, io: CliIo, fetchImpl: typeof fetch = fetch): void {
  const dispatch = program.command("dispatch").description("the node daemon's dispatch: model memory estimates");

  daemonOptions(dispatch.command("models").description("list each model's memory estimate, hard limit and last peaks (GiB); --reset forgets one model's learning"))
    .option("--reset <model>", "forget what was learned about this model (its estimate goes back to the configured or derived one)")
    .option("--json", "print the answer as JSON")
    .action(async (opts: ModelsOptions, command: Command) => {
      if (opts.reset !== undefined && opts.reset.trim() === "") throw new CliError("--reset needs a model id (e.g. ollama/llama3.1:8b)");
      const target = await findDaemon(opts, command);
      if (opts.reset !== undefined) {
        const { status, body } = await adminRequest(target, "POST", `/models/${encodeURIComponent(opts.reset)}/reset`, { fetchImpl });
        if (status === 404 && body["ok"] === false) throw new CliError(`nothing learned about model "${opts.reset}" (list them with: clawgate dispatch models)`);
        if (status !== 200 || body["ok"] !== true) throw new CliError(`resetting model "${opts.reset}" failed (HTTP ${status})${typeof body["error"] === "string" ? `: ${body["error"]}` : ""}`);
        const after = body["estimate"] as ModelMemoryReport | null;
        io.stdout(
          opts.json
            ? `${JSON.stringify({ ok: true, model: opts.reset, estimate: after })}\n`
            : `reset "${opts.reset}": its learning is forgotten${after ? `; runs now reserve ${gib(after.estimateGb)} GiB (${after.baseSource})` : ""}\n`,
        );
        return;
      }
      const { status, body } = await adminRequest(target, "GET", "/models", { fetchImpl });
      if (status !== 200 || body["ok"] !== true || !Array.isArray(body["models"]) || typeof body["budgetGb"] !== "number") {
        throw new CliError(`listing models failed (HTTP ${status})${typeof body["error"] === "string" ? `: ${body["error"]}` : ""}`);
      }
      const models = body["models"] as ModelMemoryReport[];
      io.stdout(opts.json ? `${JSON.stringify({ ok: true, budgetGb: body["budgetGb"], models })}\n` : formatModels(body["budgetGb"], models));
    });
}
