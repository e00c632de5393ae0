/** Constants both halves agree on: ports, header names and protocol versions. Web-standard only. */

/** The node agent's default loopback port (the same as OpenClaw's gateway, so cron lines keep working). */
export const DEFAULT_NODE_PORT = 18789;

/** Exec-provider protocol version (docs/openclaw-compat.md §2). */
export const EXEC_PROTOCOL_VERSION = 1;

/** Route prefix of the node agent's admin API (the CLI's reload/status), separate from hooks. */
export const ADMIN_PREFIX = "/_clawgate/admin";

/** Route prefix of the node agent's operator console (browser pages, loopback only; docs/console.md). */
export const CONSOLE_PREFIX = "/_clawgate/console";
