/** Size limits both halves enforce, written once: the edge refuses what the node would refuse, with the same number. */

/** Longest delivery id, idempotency key or `webhook-id` (the length OpenClaw accepts for an idempotency key). */
export const MAX_DELIVERY_ID = 256;
