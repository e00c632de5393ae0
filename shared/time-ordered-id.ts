/**
 * Time-ordered ids for deliveries that bring no key of their own (and envelope `jti`s): RFC 9562 UUIDv7 — the
 * millisecond clock in the first 48 bits, then random bits. The node's journal keeps delivery ids in a unique
 * B-tree index; ids that grow with time land in its last page, where random v4 ids would touch a different page
 * per row and triple the bytes each group commit writes (docs/benchmarks.md). Web-standard only.
 */

/** A UUIDv7 for `nowMs`, its random bits taken from `randomUUID` (a v4 source: its variant bits are kept). */
export function timeOrderedId(nowMs: number, randomUUID: () => string): string {
  const clock = Math.max(0, Math.floor(nowMs)).toString(16).padStart(12, "0").slice(-12);
  // v4 layout: xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx; keep from the third group's random digits on.
  return `${clock.slice(0, 8)}-${clock.slice(8)}-7${randomUUID().slice(15)}`;
}
