/**
 * The raw request path rule both halves apply before routing (docs/security.md): a path holding a `.` or `..`
 * segment (also percent-encoded), an empty segment (`//`) or a backslash is refused, because a URL parser or a
 * proxy in front would resolve it to another route than the one a path filter matched.
 */

/** The one-line 400 text. */
export const UNSAFE_PATH_TEXT = "request path may not contain '.' or '..' segments (also percent-encoded), '//' or '\\'";

const DOT_SEGMENT = /^(?:\.|%2e){1,2}$/i;

/**
 * The path of a raw request target (origin-form `/a/b?q` or absolute-form `http://h/a/b?q`), undefined for
 * a target with no path (`*`, authority-form).
 */
function pathOf(target: string): string | undefined {
  let rest = target;
  if (!rest.startsWith("/")) {
    const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/.exec(rest);
    if (!scheme) return undefined;
    rest = rest.slice(scheme[0].length) || "/";
  }
  const end = rest.search(/[?#]/);
  return end === -1 ? rest : rest.slice(0, end);
}

/** True when the raw request target's path is one a router sees exactly as sent. */
export function isSafeRequestPath(target: string): boolean {
  const path = pathOf(target);
  if (path === undefined) return true;
  if (path.includes("\\") || path.includes("//")) return false;
  for (const segment of path.split("/")) if (DOT_SEGMENT.test(segment)) return false;
  return true;
}
