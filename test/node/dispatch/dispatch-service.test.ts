/** Dispatch assembled from config: settings refusals name the field, and learned model peaks survive a restart. */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, expect, it } from "vitest";
import { Registry } from "prom-client";
import { ConfigSchema } from "../../../node/config/config-schema.ts";
import { MODEL_MEMORY_FILE, createDispatchService } from "../../../node/dispatch/dispatch-service.ts";
import { openIntakeJournal } from "../../../node/intake/intake-journal.ts";
import type { SecretsReloader } from "../../../node/secrets/secrets-reloader.ts";
import { pollUntil } from "../../helpers/node-process.ts";
import { realIo } from "../../helpers/daemon-io.ts";

const FAKE = fileURLToPath(new URL("../../fixtures/runtimes/fake-agent.mjs", import.meta.url));
const silent = { info() {}, warn() {}, error() {} };
const secrets = { snapshot: () => ({ get: () => undefined }), onEvent: () => () => {} } as unknown as SecretsReloader;
const probe = async () => ({ availableGb: 16, totalGb: 16 });
let dir: string | undefined;
afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

const config = (over: object = {}) =>
  ConfigSchema.parse({
    agents: {
      defaults: {
        model: "local/echo",
        heartbeat: { every: "0m" },
        models: { "local/echo": { memoryGb: 0.001 } },
        runtime: { type: "command", command: process.execPath, args: [FAKE, "hold"], sampleIntervalMs: 10 },
      },
    },
    ...over,
  });

it("learned peaks are saved (0600) and used after a restart", async () => {
  dir = mkdtempSync(join(tmpdir(), "clawgate-dsvc-"));
  const journal = openIntakeJournal(dir);
  const first = await createDispatchService({ io: realIo, config: config(), stateDir: dir, journal, secrets, logger: silent, memoryProbe: probe });
  first.dispatcher.start();
  const d = journal.accept({ deliveryId: "d1", kind: "agent", payload: JSON.stringify({ message: "hi", sessionKey: "hook:x" }), response: "{}", receivedAt: Date.now() });
  first.dispatcher.onAccepted(d.delivery);
  await pollUntil(() => journal.get("d1")?.state === "done", 5_000, "the run");
  const peak = first.runLog.forDelivery("d1")[0]!.memoryPeakGb!;
  expect(peak).toBeGreaterThan(0.0625); // the agent holds 64 MiB for 300 ms, sampled every 10 ms
  await pollUntil(() => { try { return statSync(join(dir!, MODEL_MEMORY_FILE)); } catch { return undefined; } }, 5_000, "the learned file");
  expect(statSync(join(dir, MODEL_MEMORY_FILE)).mode & 0o777).toBe(0o600);
  await first.dispatcher.close(100);

  const second = await createDispatchService({ io: realIo, config: config(), stateDir: dir, journal, secrets, logger: silent, memoryProbe: probe });
  const d2 = journal.accept({ deliveryId: "d2", kind: "agent", payload: JSON.stringify({ message: "again", sessionKey: "hook:x" }), response: "{}", receivedAt: Date.now() });
  second.dispatcher.start();
  await pollUntil(() => journal.get(d2.delivery.deliveryId)?.state === "done", 5_000, "the second run");
  expect(second.runLog.forDelivery("d2")[0]!.memoryEstimateGb).toBeGreaterThan(0.001);
  await second.dispatcher.close(100);
  journal.close();
});

it("refuses a budget larger than the host, naming the field", async () => {
  dir = mkdtempSync(join(tmpdir(), "clawgate-dsvc-"));
  const journal = openIntakeJournal(dir);
  await expect(
    createDispatchService({ io: realIo, config: config({ clawgate: { dispatch: { memoryBudgetGb: 64 } } }), stateDir: dir, journal, secrets, logger: silent, memoryProbe: probe }),
  ).rejects.toThrow(/^clawgate\.dispatch\.memoryBudgetGb: 64 GiB exceeds this host's 16\.0 GiB/);
  journal.close();
});

it("registers the scheduler's gauges beside its own: host memory, blocked reason, queued, runs_total (one registry, no name twice)", async () => {
  dir = mkdtempSync(join(tmpdir(), "clawgate-dsvc-"));
  const journal = openIntakeJournal(dir);
  const service = await createDispatchService({ io: realIo, config: config(), stateDir: dir, journal, secrets, logger: silent, memoryProbe: probe });
  const registry = new Registry();
  service.registerMetrics(registry);
  service.dispatcher.start();
  const d = journal.accept({ deliveryId: "m1", kind: "agent", payload: JSON.stringify({ message: "hi", sessionKey: "hook:m" }), response: "{}", receivedAt: Date.now() });
  service.dispatcher.onAccepted(d.delivery);
  await pollUntil(() => journal.get("m1")?.state === "done", 5_000, "the run");
  const text = await registry.metrics();
  // The reading the run was admitted on, and the scheduler's counters (docs/dispatch.md "Memory-aware scheduling": Observability).
  expect(text).toMatch(/^clawgate_dispatch_host_available_gb 16$/m);
  expect(text).toMatch(/^clawgate_dispatch_queued 0$/m);
  expect(text).toMatch(/^clawgate_dispatch_runs_total\{status="ok"\} 1$/m);
  expect(text).toMatch(/^# TYPE clawgate_dispatch_blocked gauge$/m);
  expect(text).toMatch(/^clawgate_dispatch_budget_gb 12$/m);
  expect(text).toMatch(/^clawgate_runs\{status="ok"\} 1$/m);
  await service.dispatcher.close(100);
  journal.close();
});
