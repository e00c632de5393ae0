/**
 * The one reading of an `Authorization: Bearer` header both halves use (RFC 6750 §2.1): the scheme matched
 * case-insensitively, one or more spaces, one credential without whitespace, optional trailing spaces.
 */

const BEARER = /^bearer[ ]+([^\s]+)[ ]*$/i;

/** The credential, or undefined when the header is absent or is not one Bearer credential. */
export function bearerToken(header: string | null | undefined): string | undefined {
  if (header === null || header === undefined) return undefined;
  return BEARER.exec(header)?.[1];
}
