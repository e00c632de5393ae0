/**
 * The hook intake's refusal answers, exactly as OpenClaw 2026.2.26 words them (docs/openclaw-compat.md §5): the
 * status, the content type and the text. Both halves answer from here, so a refusal reads the same wherever it is
 * caught. Web-standard only.
 */

export const TEXT_CONTENT_TYPE = "text/plain; charset=utf-8";
export const JSON_CONTENT_TYPE = "application/json; charset=utf-8";

/** `?token=` in the query: refused before anything else, as text. */
export const QUERY_TOKEN_REFUSED =
  "Hook token must be provided via Authorization: Bearer <token> or X-OpenClaw-Token header (query parameters are not allowed).";
/** Plain-text answers (OpenClaw sends these as `text/plain; charset=utf-8`). */
export const UNAUTHORIZED = "Unauthorized";
export const TOO_MANY_REQUESTS = "Too Many Requests";
export const METHOD_NOT_ALLOWED = "Method Not Allowed";
export const NOT_FOUND = "Not Found";
/** JSON answers `{"ok":false,"error":<text>}`. */
export const PAYLOAD_TOO_LARGE = "payload too large";
export const BODY_TIMEOUT = "request body timeout";
export const BODY_CONNECTION_CLOSED = "Connection closed";

/** A plain-text refusal with OpenClaw's content type. */
export function textAnswer(status: number, text: string, headers: Record<string, string> = {}): Response {
  return new Response(text, { status, headers: { ...headers, "content-type": TEXT_CONTENT_TYPE } });
}

/** A JSON answer with OpenClaw's content type. */
export function jsonAnswer(status: number, body: object, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...headers, "content-type": JSON_CONTENT_TYPE } });
}
