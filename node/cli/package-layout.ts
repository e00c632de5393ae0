/**
 * Where the running clawgate's own files are. A checkout runs the TypeScript sources (node/cli/bin.ts); an
 * installed package runs the JavaScript that `npm pack` built (dist/node/cli.js, see scripts/build-package.ts),
 * because Node does not strip types under node_modules. Everything that names one of clawgate's own entry
 * points to another process (service files, the daemon exec, `edge deploy`) asks here.
 */
import { fileURLToPath } from "node:url";

/** True in the built package (this module was bundled into dist/node/), false when running the sources. */
export const RUNS_BUILT = !import.meta.url.endsWith(".ts");

const here = (built: string, source: string) => fileURLToPath(new URL(RUNS_BUILT ? built : source, import.meta.url));

/** The `clawgate` executable: what service files run with Node. */
export const CLI_ENTRY = here("./cli.js", "./bin.ts");
/** The daemon's entry in the built package (`clawgate node start` execs it); a checkout builds its own (daemon-bundle.ts). */
export const BUILT_DAEMON_ENTRY = fileURLToPath(new URL("./daemon.js", import.meta.url));
/** The Worker `clawgate edge deploy` hands to wrangler: the built bundle, or the sources in a checkout. */
export const WORKER_ENTRY = here("../edge/worker.js", "../../edge/index.ts");
/** The edge's configuration check that `clawgate edge deploy` runs before wrangler (node/deploy/edge-project.ts). */
export const EDGE_CONFIG_MODULE = here("../edge/edge-config.js", "../../edge/edge-config.ts");
/** package.json of this clawgate (its version). */
export const PACKAGE_JSON = here("../../package.json", "../../package.json");
