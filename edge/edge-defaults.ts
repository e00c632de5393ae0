/** The edge's documented defaults: body limit, forwarding timeout and the outbox retry schedule. */

/** OpenClaw's `hooks.maxBodyBytes` default (docs/openclaw-compat.md §5), so edge and node refuse the same bodies. */
export const MAX_DEFAULT_BODY_BYTES = 262_144;

/**
 * Delays between outbox attempts after the first (immediate) one, in seconds — Svix's schedule:
 * immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h. After the last retry fails, the delivery is a dead letter.
 */
export const SVIX_RETRY_SCHEDULE_SECONDS: readonly number[] = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000];

/** The largest node answer the edge relays or records; a hook answer is a few hundred bytes. */
export const MAX_NODE_ANSWER_BYTES = 65_536;

/**
 * The single outbox Durable Object's name (`idFromName`) of earlier versions, which held every node's calls and
 * cron ticks. It still drains what it holds and is listed by the operator API; nothing new is queued there.
 */
export const OUTBOX_NAME = "outbox";

/** Each node's own outbox Durable Object (`idFromName`): its queued calls, its cron jobs and their dead-man's switches. */
export const nodeOutboxName = (nodeId: string) => `outbox:node:${nodeId}`;
