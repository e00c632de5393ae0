/** `clawgate intake list | replay`: the operator's view of the node's intake journal and its dead-letter replay (docs/cli.md). */
import { type Command, Option } from "commander";
import { ADMIN_PREFIX } from "../../shared/constants.ts";
import { type DaemonFlags, adminRequest, daemonOptions, findDaemon } from "./daemon-client.ts";
import { CliError } from "./cli-error.ts";
import type { CliIo } from "./cli-io.ts";

interface ListOptions extends DaemonFlags {
  state: "pending" | "dead" | "done";
  limit: string;
  json?: boolean;
}

interface ReplayOptions extends DaemonFlags {
  json?: boolean;
}

/** What the CLI shows of a journaled delivery: never its payload (the caller's message) or its stored answer. */
interface ListedDelivery {
  readonly deliveryId: string;
  readonly kind: string;
  readonly receivedAt: number;
  readonly deadReason?: string;
}

export function registerIntakeCommands(program: Command, io: CliIo, fetchImpl: typeof fetch = fetch): void {
  const intake = program.command("intake").description("the daemon's intake journal: list deliveries, replay dead ones");

  daemonOptions(intake.command("list").description("list pending (default, oldest first), dead or done deliveries (newest first)"))
    .addOption(new Option("--state <state>", "which deliveries").choices(["pending", "dead", "done"]).default("pending"))
    .option("--limit <n>", "at most this many (1-1000)", "100")
    .option("--json", "print the list as JSON")
    .action(async (opts: ListOptions, command: Command) => {
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new CliError(`--limit must be an integer from 1 to 1000 (got "${opts.limit}")`);
      const target = await findDaemon(opts, command);
      const { status, body } = await adminRequest(target, "GET", `/intake?state=${opts.state}&limit=${limit}`, { fetchImpl });
      const raw = body[opts.state];
      if (status !== 200 || body["ok"] !== true || !Array.isArray(raw)) {
        throw new CliError(`listing ${opts.state} deliveries failed (HTTP ${status})${typeof body["error"] === "string" ? `: ${body["error"]}` : ""}`);
      }
      const deliveries: ListedDelivery[] = (raw as ListedDelivery[]).map((d) => ({
        deliveryId: d.deliveryId,
        kind: d.kind,
        receivedAt: d.receivedAt,
        ...(typeof d.deadReason === "string" ? { deadReason: d.deadReason } : {}),
      }));
      const counts = (body["counts"] ?? {}) as Record<string, number>;
      if (opts.json) {
        io.stdout(`${JSON.stringify({ ok: true, state: opts.state, counts, deliveries })}\n`);
        return;
      }
      const tally = `pending ${counts["pending"] ?? 0}, done ${counts["done"] ?? 0}, dead ${counts["dead"] ?? 0}`;
      if (deliveries.length === 0) {
        io.stdout(`no ${opts.state} deliveries (${tally})\n`);
        return;
      }
      const lines = deliveries.map((d) =>
        [d.deliveryId, d.kind, new Date(d.receivedAt).toISOString(), ...(d.deadReason ? [d.deadReason] : [])].join("  "),
      );
      io.stdout(`${deliveries.length} ${opts.state} deliver${deliveries.length === 1 ? "y" : "ies"} (${tally}):\n${lines.join("\n")}\n`);
      if (opts.state === "dead") io.stdout("replay one with: clawgate intake replay <deliveryId>\n");
    });

  daemonOptions(intake.command("replay").description("run a dead delivery again with a fresh set of attempts (its failed runs stay in the run log)"))
    .argument("<deliveryId>", "the dead delivery's id (from clawgate intake list --state dead)")
    .option("--json", "print the daemon's answer as JSON")
    .action(async (deliveryId: string, opts: ReplayOptions, command: Command) => {
      if (deliveryId === "") throw new CliError("deliveryId must not be empty");
      const target = await findDaemon(opts, command);
      // Percent-encoded: an edge-scoped id holds a "/" (<principal>/<key>).
      const { status, body } = await adminRequest(target, "POST", `/intake/${encodeURIComponent(deliveryId)}/replay`, { fetchImpl });
      // The daemon's own texts: a plain 404 "not found" is a daemon without the replay route (older version).
      if (status === 404 && body["error"] === "delivery not found") throw new CliError(`delivery not found: ${deliveryId}`);
      if (status === 409) throw new CliError(`delivery is not dead: ${deliveryId} (only dead deliveries can be replayed)`);
      if (status !== 200 || body["ok"] !== true) {
        throw new CliError(`replay failed (HTTP ${status})${typeof body["error"] === "string" ? `: ${body["error"]}` : ""}`);
      }
      io.stdout(
        opts.json
          ? `${JSON.stringify({ ok: true, deliveryId })}\n`
          : `replayed ${deliveryId}: it runs again with a fresh set of attempts (follow it with: clawgate intake list, or GET ${ADMIN_PREFIX}/runs)\n`,
      );
    });
}
