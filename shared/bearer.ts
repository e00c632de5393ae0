/**
 * The one reading of an `Authorization: Bearer` header both halves use, OpenClaw's (extractHookToken,
 * docs/openclaw-compat.md §5): the header trimmed, the scheme `Bearer` in any case followed by a space, and the
 * rest trimmed is the credential; an empty rest is no credential.
 */

/** The credential, or undefined when the header is absent or holds no Bearer credential. */
export function bearerToken(header: string | null | undefined): string | undefined {
  const value = header?.trim() ?? "";
  if (value.slice(0, 7).toLowerCase() !== "bearer ") return undefined;
  return value.slice(7).trim() || undefined;
}
