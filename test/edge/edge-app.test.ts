/** The Worker's scheduled handler in workerd: a time that names no instant is logged and skipped, never thrown. */
import { createScheduledController, env } from "cloudflare:test";
import { expect, it } from "vitest";
import { createEdgeWorker } from "../../edge/edge-app.ts";
import { productionEdgeIo } from "../../edge/edge-io.ts";

it("skips a tick whose scheduledTime is NaN or past Date's range with one cron.invalid_time event", async () => {
  const events: Record<string, unknown>[] = [];
  const worker = createEdgeWorker({ ...productionEdgeIo(), logEvent: (event) => events.push(event), log: () => {} });
  for (const scheduledTime of [Number.NaN, 8.64e15 + 1, Number.POSITIVE_INFINITY]) {
    await worker.scheduled(createScheduledController({ cron: "*/30 * * * *", scheduledTime }), env);
  }
  expect(events).toEqual([
    { event: "cron.invalid_time", cron: "*/30 * * * *", scheduledTime: "NaN" },
    { event: "cron.invalid_time", cron: "*/30 * * * *", scheduledTime: "8640000000000001" },
    { event: "cron.invalid_time", cron: "*/30 * * * *", scheduledTime: "Infinity" },
  ]);
});
