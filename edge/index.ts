/** The clawgate edge Worker's entry: the assembled Worker with production I/O, and its outbox Durable Object class. */
import { createEdgeWorker } from "./edge-app.ts";
import { productionEdgeIo } from "./edge-io.ts";

export { CallerAuthState } from "./auth/auth-state-object.ts";
export { EdgeOutbox } from "./outbox-object.ts";

export default createEdgeWorker(productionEdgeIo());
