/** An OutboxCore over a real Durable Object's SQLite storage, with the clock, alarm, node and alert target injected. */
import { env, runInDurableObject } from "cloudflare:test";
import { createEnvelopeSigner } from "../../../shared/envelope.ts";
import { createAlertSender, type AlertKind } from "../../../edge/deadman-alert.ts";
import type { CronJob, EdgeConfig, EdgeNode } from "../../../edge/edge-config.ts";
import { SVIX_RETRY_SCHEDULE_SECONDS } from "../../../edge/edge-defaults.ts";
import type { EdgeOutbox } from "../../../edge/outbox-object.ts";
import { createNodeForwarder, type NodeForwarder } from "../../../edge/node-forwarder.ts";
import { OutboxCore } from "../../../edge/outbox-core.ts";
import { type EdgeKeys, type FakeNode, edgeKeys, fakeNode } from "./fake-node.ts";

export const NODE: EdgeNode = { id: "node-1", origin: "https://node-1.test", hooksPath: "/hooks", agents: ["main"], primary: true };

export function testConfig(keys: EdgeKeys, overrides: Partial<EdgeConfig> & { jobs?: CronJob[]; catchUp?: "coalesce" | "skip" } = {}): EdgeConfig {
  const { jobs, catchUp, ...rest } = overrides;
  return {
    nodes: new Map([[NODE.id, NODE]]),
    primary: NODE,
    routes: new Map(),
    hooks: { maxBodyBytes: 262_144, allowedAgentIds: undefined, allowRequestSessionKey: false, allowedSessionKeyPrefixes: undefined },
    forwardTimeoutMs: 1_000,
    retryScheduleSeconds: SVIX_RETRY_SCHEDULE_SECONDS,
    keepDeliveredMs: 86_400_000,
    cron: { jobs: jobs ?? [], catchUp: catchUp ?? "coalesce", historySize: 5 },
    ntfyTopic: undefined,
    signingJwk: keys.privateJwk,
    operatorTokenSha256: undefined,
    alertWebhookUrl: "https://alerts.test/hook",
    accessHeaders: {},
    ...rest,
  };
}

export interface OutboxHarness {
  readonly node: FakeNode;
  readonly alerts: { kind: AlertKind; body: unknown }[];
  /** The alarm the core asked for last (epoch ms). */
  readonly alarm: { at: number | undefined };
  readonly clock: { now: number };
  /** Runs `fn` inside the Durable Object, with a core built over its storage. */
  run<R>(fn: (core: OutboxCore) => Promise<R> | R): Promise<R>;
  /** Advances the clock to the armed alarm and runs it, `times` times. */
  fireAlarm(times?: number): Promise<void>;
}

let counter = 0;

export async function outboxHarness(options: { jobs?: CronJob[]; catchUp?: "coalesce" | "skip"; alertDown?: () => boolean; nodeId?: string } = {}): Promise<OutboxHarness> {
  const keys = await edgeKeys();
  const clock = { now: Date.parse("2026-11-24T08:00:00Z") };
  const node = await fakeNode(keys, { [NODE.origin]: NODE.id }, () => clock.now);
  const config = testConfig(keys, { ...(options.jobs ? { jobs: options.jobs } : {}), ...(options.catchUp ? { catchUp: options.catchUp } : {}) });
  const alerts: { kind: AlertKind; body: unknown }[] = [];
  const alarm: { at: number | undefined } = { at: undefined };
  const signer = await createEnvelopeSigner({ privateJwk: keys.privateJwk, nodeId: NODE.id, now: () => clock.now });
  const forwarder: NodeForwarder = createNodeForwarder({ signer, timeoutMs: 200, accessHeaders: {}, fetch: node.fetch });
  const sendAlert = createAlertSender({
    url: config.alertWebhookUrl!,
    fetch: async (_input, init) => {
      if (options.alertDown?.()) throw new TypeError("fetch failed");
      const body = JSON.parse(String(init?.body)) as { text: string };
      alerts.push({ kind: body.text.includes("recovered") ? "recovery" : body.text.includes("gave up") ? "dead-letter" : "alert", body });
      return new Response("ok");
    },
  });
  // A Durable Object of its own per harness: storage is real SQLite, isolated from other tests.
  const stub = env.OUTBOX.get(env.OUTBOX.idFromName(`outbox-test-${++counter}-${crypto.randomUUID()}`));
  const run = <R>(fn: (core: OutboxCore) => Promise<R> | R) =>
    runInDurableObject<EdgeOutbox, R>(stub, async (_instance, state) =>
      fn(new OutboxCore({ sql: state.storage.sql, config, forwarder, nodeId: options.nodeId, setAlarm: (at) => void (alarm.at = at), sendAlert, now: () => clock.now, log: () => {} })),
    );
  return {
    node,
    alerts,
    alarm,
    clock,
    run,
    async fireAlarm(times = 1) {
      for (let i = 0; i < times; i++) {
        if (alarm.at === undefined) throw new Error("no alarm armed");
        clock.now = Math.max(clock.now, alarm.at);
        alarm.at = undefined;
        await run((core) => core.alarm());
      }
    },
  };
}
