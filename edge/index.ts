/** The clawgate edge Worker's entry: routes, auth and forwarding arrive with the edge issue. */
import { Hono } from "hono";

const app = new Hono<{ Bindings: Env }>();

app.get("/healthz", (c) => c.json({ ok: true, nodeId: c.env.CLAWGATE_NODE_ID }));

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
