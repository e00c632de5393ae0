/**
 * Constant-time comparisons with Web Crypto only (workerd and Node alike): digests and MACs compared without an
 * early exit, and secrets compared through their SHA-256 so neither content nor length leaks through timing.
 */

const encoder = new TextEncoder();

/** Equality of two byte strings of public length (digests, MACs): every byte is looked at. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** SHA-256 of a text's UTF-8 bytes. */
export async function sha256Bytes(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

/**
 * True when `presented` equals one of `accepted`. Every accepted secret is compared (no early exit), each
 * through its digest, so the time depends on neither which one matched nor any secret's length.
 */
export async function secretMatches(presented: string, accepted: readonly string[]): Promise<boolean> {
  const p = await sha256Bytes(presented);
  let ok = false;
  for (const secret of accepted) ok = equalBytes(p, await sha256Bytes(secret)) || ok;
  return ok;
}
