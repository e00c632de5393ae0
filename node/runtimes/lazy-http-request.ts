/**
 * undici's `request()`, loaded on the first model call: an idle agent — most of its life — does not carry
 * the HTTP client (about 10 MB resident), which counts against the idle-RSS target of the node agent.
 */
import type { request as undiciRequest } from "undici";

export type HttpRequest = typeof undiciRequest;

let loading: Promise<HttpRequest> | undefined;

export const lazyHttpRequest = ((...args: Parameters<HttpRequest>) =>
  (loading ??= import("undici").then((undici) => undici.request)).then((request) => request(...args))) as HttpRequest;
