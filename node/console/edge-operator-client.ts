/**
 * The node's client of the edge's operator API (docs/edge.md): outbox, dead letters, cron history with the dead-man
 * state, and dead-letter replay. The node holds the operator token (a SecretRef in its config, read from the current
 * secrets snapshot per call, so a reload rotates it) and the browser never sees it. Answers are checked with zod
 * here, at the boundary; failures become one-line reasons that never carry the token.
 */
import { z } from "zod";
import type { DaemonIo } from "../io/daemon-io.ts";

const DeliveryInfoSchema = z.looseObject({
  deliveryId: z.string(),
  nodeId: z.string(),
  path: z.string(),
  principal: z.string(),
  jobId: z.string().nullable(),
  status: z.string(),
  attempts: z.number(),
  createdAt: z.string(),
  updatedAt: z.string(),
  nextAttemptAt: z.string().nullable(),
  lastError: z.string().nullable(),
  lastStatus: z.number().nullable(),
});

const OutboxSchema = z.looseObject({
  ok: z.literal(true),
  counts: z.record(z.string(), z.number()),
  pending: z.array(DeliveryInfoSchema),
});
const DeadLettersSchema = z.looseObject({ ok: z.literal(true), deadLetters: z.array(DeliveryInfoSchema) });
const CronSchema = z.looseObject({
  ok: z.literal(true),
  catchUp: z.string().optional(),
  jobs: z.array(
    z.looseObject({
      id: z.string(),
      schedule: z.string(),
      action: z.string(),
      nodeId: z.string(),
      runs: z.array(z.looseObject({ scheduledTime: z.string(), deliveryId: z.string(), outcome: z.string(), detail: z.string().nullable(), recordedAt: z.string() })),
      deadMan: z
        .looseObject({
          periodSeconds: z.number(),
          graceSeconds: z.number(),
          lastSuccessAt: z.string().nullable(),
          watchingSince: z.string(),
          incidentSince: z.string().nullable(),
          alertSentAt: z.string().nullable(),
        })
        .nullable(),
    }),
  ),
});

export type EdgeDelivery = z.infer<typeof DeliveryInfoSchema>;
export type EdgeCronJob = z.infer<typeof CronSchema>["jobs"][number];

export interface EdgeNodeOutbox {
  readonly nodeId: string;
  readonly pending: number;
  readonly dead: number;
  /** The soonest next attempt among its pending deliveries (ISO), or null. */
  readonly nextAttemptAt: string | null;
}

export interface EdgeState {
  readonly counts: Readonly<Record<string, number>>;
  readonly nodes: readonly EdgeNodeOutbox[];
  readonly pending: readonly EdgeDelivery[];
  readonly dead: readonly EdgeDelivery[];
  readonly catchUp: string | null;
  readonly jobs: readonly EdgeCronJob[];
  readonly fetchedAt: number;
}

export type EdgeResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

export interface EdgeOperatorClient {
  /** The operator URL (shown on the page; it holds no credential). */
  readonly url: string;
  state(): Promise<EdgeResult<EdgeState>>;
  replay(deliveryId: string): Promise<EdgeResult<{ readonly deliveryId: string }>>;
}

export interface EdgeOperatorClientOptions {
  /** The edge Worker's base URL (`clawgate.edge.operatorUrl`); the API lives under `/_clawgate/`. */
  readonly url: string;
  /** The operator token from the current secrets snapshot, or undefined when it does not resolve. */
  readonly token: () => string | undefined;
  readonly timeoutMs?: number;
  /** Outbound fetch to the edge, and the clock of the answer cache. */
  readonly io: Pick<DaemonIo, "fetch" | "now">;
  /** How long one answer serves every page that asks (default 2 s). */
  readonly reuseMs?: number;
}

const OPERATOR_PREFIX = "/_clawgate";

export function createEdgeOperatorClient(options: EdgeOperatorClientOptions): EdgeOperatorClient {
  const base = new URL(options.url);
  if (base.protocol !== "https:" && base.protocol !== "http:") throw new TypeError("url must be http(s)");
  const { fetch: doFetch, now } = options.io;
  const timeoutMs = options.timeoutMs ?? 5_000;
  const shown = base.origin;

  async function call<T>(method: "GET" | "POST", path: string, schema: z.ZodType<T>, body?: unknown): Promise<EdgeResult<T>> {
    const token = options.token();
    if (!token) return { ok: false, error: "clawgate.edge.operatorToken does not resolve to a value in the current secrets snapshot" };
    let response: Response;
    try {
      response = await doFetch(new URL(`${base.pathname.replace(/\/$/, "")}${OPERATOR_PREFIX}${path}`, base), {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        redirect: "error",
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      const timedOut = (error as { name?: string }).name === "TimeoutError";
      return { ok: false, error: timedOut ? `the edge at ${shown} did not answer within ${timeoutMs / 1000} s` : `the edge at ${shown} could not be reached` };
    }
    const text = await response.text().catch(() => "");
    if (response.status === 401) return { ok: false, error: `the edge at ${shown} refused the operator token (401)` };
    if (response.status === 429) return { ok: false, error: `the edge at ${shown} is limiting operator logins (429); try again in a minute` };
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return { ok: false, error: `the edge at ${shown} answered HTTP ${response.status} without JSON` };
    }
    if (!response.ok) {
      const reason = typeof (json as { error?: unknown })?.error === "string" ? `: ${(json as { error: string }).error.slice(0, 200)}` : "";
      return { ok: false, error: `the edge at ${shown} answered HTTP ${response.status}${reason}` };
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) return { ok: false, error: `the edge at ${shown} answered ${path} in an unexpected shape` };
    return { ok: true, value: parsed.data };
  }

  // Open tabs refresh every few seconds: answers younger than this are shared, so N tabs do not make N× the edge calls.
  const reuseMs = options.reuseMs ?? 2_000;
  let recent: { at: number; result: Promise<EdgeResult<EdgeState>> } | undefined;

  return {
    url: shown,
    state() {
      const t = now();
      if (recent && t - recent.at < reuseMs) return recent.result;
      recent = { at: t, result: fetchState() };
      return recent.result;
    },
    async replay(deliveryId) {
      recent = undefined;
      const result = await call("POST", "/dead-letters/replay", z.looseObject({ ok: z.literal(true), deliveryId: z.string() }), { deliveryId });
      return result.ok ? { ok: true, value: { deliveryId: result.value.deliveryId } } : result;
    },
  };

  async function fetchState(): Promise<EdgeResult<EdgeState>> {
    const [outbox, dead, cron] = await Promise.all([
      call("GET", "/outbox?limit=1000", OutboxSchema),
      call("GET", "/dead-letters?limit=1000", DeadLettersSchema),
      call("GET", "/cron", CronSchema),
    ]);
    if (!outbox.ok) return outbox;
    if (!dead.ok) return dead;
    if (!cron.ok) return cron;
    const nodes = new Map<string, { pending: number; dead: number; nextAttemptAt: string | null }>();
    const entry = (id: string) => nodes.get(id) ?? (nodes.set(id, { pending: 0, dead: 0, nextAttemptAt: null }), nodes.get(id)!);
    for (const d of outbox.value.pending) {
      const n = entry(d.nodeId);
      n.pending++;
      if (d.nextAttemptAt && (n.nextAttemptAt === null || d.nextAttemptAt < n.nextAttemptAt)) n.nextAttemptAt = d.nextAttemptAt;
    }
    for (const d of dead.value.deadLetters) entry(d.nodeId).dead++;
    for (const job of cron.value.jobs) entry(job.nodeId);
    return {
      ok: true,
      value: {
        counts: outbox.value.counts,
        nodes: [...nodes].map(([nodeId, n]) => ({ nodeId, ...n })).sort((a, b) => a.nodeId.localeCompare(b.nodeId)),
        pending: outbox.value.pending,
        dead: dead.value.deadLetters,
        catchUp: cron.value.catchUp ?? null,
        jobs: cron.value.jobs,
        fetchedAt: now(),
      },
    };
  }
}
