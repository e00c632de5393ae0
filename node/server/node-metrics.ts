/** The node agent's Prometheus metrics (prom-client): requests by route and status, auth failures, intake depth, secrets state. */
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import type { IntakeJournal } from "../intake/intake-journal.ts";
import type { SecretsHealth, SecretsReloader } from "../secrets/secrets-reloader.ts";

export interface NodeMetrics {
  readonly registry: Registry;
  readonly requests: Counter<"route" | "status">;
  readonly authFailures: Counter<"route">;
  /** Counts one answered request (and a 401 as an auth failure); per request, so the labelled counters are kept. */
  countRequest(route: string, status: number): void;
}

const SECRETS_STATES: readonly SecretsHealth[] = ["inactive", "healthy", "degraded"];

/** One registry per agent (not prom-client's global), so several agents in one test process stay apart. */
export function createNodeMetrics(sources: { secrets: SecretsReloader; journal?: IntakeJournal }): NodeMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "clawgate_" });
  const requests = new Counter({
    name: "clawgate_http_requests_total",
    help: "HTTP requests answered, by route and status.",
    labelNames: ["route", "status"] as const,
    registers: [registry],
  });
  const authFailures = new Counter({
    name: "clawgate_auth_failures_total",
    help: "Refused authentications (hook token, envelope, admin token), by route.",
    labelNames: ["route"] as const,
    registers: [registry],
  });
  new Gauge({
    name: "clawgate_intake_deliveries",
    help: "Journaled deliveries by state; pending is the intake queue depth.",
    labelNames: ["state"] as const,
    registers: [registry],
    collect() {
      const counts = sources.journal?.counts() ?? { pending: 0, done: 0, dead: 0 };
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });
  new Gauge({
    name: "clawgate_intake_commits",
    help: "Intake journal transactions committed since start (a group commit counts once for all its deliveries).",
    registers: [registry],
    collect() {
      this.set(sources.journal?.stats().commits ?? 0);
    },
  });
  new Gauge({
    name: "clawgate_secrets_state",
    help: "1 for the secrets runtime's current state (healthy, degraded on last-known-good, inactive).",
    labelNames: ["state"] as const,
    registers: [registry],
    collect() {
      const current = sources.secrets.health();
      for (const state of SECRETS_STATES) this.set({ state }, state === current ? 1 : 0);
    },
  });
  new Gauge({
    name: "clawgate_secrets_snapshot_version",
    help: "Version of the active secrets snapshot (increments on each successful reload).",
    registers: [registry],
    collect() {
      this.set(sources.secrets.health() === "inactive" ? 0 : sources.secrets.snapshot().version);
    },
  });
  // prom-client hashes the labels on every inc(): keep each route and status's own counter instead.
  const labelled = new Map<string, { inc(): void }>();
  const countRequest = (route: string, status: number) => {
    const key = `${route} ${status}`;
    let counter = labelled.get(key);
    if (!counter) labelled.set(key, (counter = requests.labels({ route, status: String(status) })));
    counter.inc();
    if (status === 401) authFailures.inc({ route });
  };
  return { registry, requests, authFailures, countRequest };
}
