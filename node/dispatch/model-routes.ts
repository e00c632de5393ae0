/**
 * The admin API's model memory routes (below the admin prefix, behind the admin token): `GET /models` lists each
 * model's estimates (GiB), hard limit, limit kills and last peaks beside the memory budget; `POST
 * /models/<model>/reset` forgets what was learned about one model (percent-encode the id: it holds a "/").
 */
import type { Hono } from "hono";
import type { ModelMemoryReport } from "./model-memory.ts";

export interface ModelsAnswer {
  /** The memory budget (GiB): a model whose estimate is above it is given up (ERR_OVER_BUDGET). */
  readonly budgetGb: number;
  readonly models: readonly ModelMemoryReport[];
}

export interface ModelMemoryAdmin {
  list(): ModelsAnswer;
  /** False when nothing was learned about `model`. */
  reset(model: string): boolean;
}

export function registerModelRoutes(admin: Hono, models: ModelMemoryAdmin): void {
  admin.get("/models", (c) => c.json({ ok: true, ...models.list() }));
  admin.post("/models/:model{.+}/reset", (c) => {
    const model = c.req.param("model");
    if (!models.reset(model)) return c.json({ ok: false, error: "nothing learned about this model" }, 404);
    return c.json({ ok: true, model, estimate: models.list().models.find((m) => m.model === model) ?? null });
  });
}
