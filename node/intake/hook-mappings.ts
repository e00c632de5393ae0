/**
 * Mapped hooks (OpenClaw `hooks.mappings`): `POST <hooks.path>/<name>` matched by path and `payload.source`
 * and rendered from `{{payload.x}}`, `{{headers.x}}`, `{{query.x}}`, `{{now}}` templates into the body of a
 * wake or an agent run. Templates are compiled once at start; a request only walks precompiled paths.
 * No code transforms: executing config-named modules is out of scope for a hardened intake.
 */
import type { z } from "zod";
import { ENVELOPE_HEADER } from "../../shared/envelope.ts";
import type { HookMappingSchema } from "../config/config-schema.ts";
import { HooksConfigError } from "./hooks-config-error.ts";

export type HookMappingConfig = z.infer<typeof HookMappingSchema>;

/** Prototype-chain segments (OpenClaw's BLOCKED_PATH_KEYS): refused at start, never walked. */
const BLOCKED_SEGMENTS = new Set(["__proto__", "prototype", "constructor"]);
/** Credentials a template must never copy into a journaled message (and from there to a model or chat). */
const SECRET_HEADERS = new Set(["authorization", "proxy-authorization", "cookie", "x-openclaw-token", ENVELOPE_HEADER]);
/** The direct routes always win over a mapping, so a mapping on these paths would never run. */
const DIRECT_ROUTES = new Set(["wake", "agent"]);

/** What a template can see of one request. */
export interface MappingRequest {
  readonly route: string;
  readonly payload: Readonly<Record<string, unknown>>;
  readonly header: (name: string) => string | undefined;
  readonly query: URLSearchParams;
  readonly nowMs: number;
}

export type SessionKeySource = "request" | "mapping-static" | "mapping-templated";

export type MappedRequest =
  | { readonly ok: true; readonly mapping: string; readonly kind: "wake"; readonly body: Record<string, unknown> }
  | {
      readonly ok: true;
      readonly mapping: string;
      readonly kind: "agent";
      readonly body: Record<string, unknown>;
      /** A templated session key comes from the caller, so it is held to hooks.allowRequestSessionKey. */
      readonly sessionKeySource: SessionKeySource;
    }
  | { readonly ok: false; readonly error: string };

export interface CompiledMapping {
  readonly id: string;
  render(request: MappingRequest): MappedRequest;
}

export interface HookMappings {
  readonly size: number;
  /** The first mapping (config order) whose path and source match, like OpenClaw's applyHookMappings. */
  find(route: string, payload: Readonly<Record<string, unknown>>): CompiledMapping | undefined;
}

type Segment = string | number;
type Part = string | ((request: MappingRequest) => unknown);
interface Template {
  readonly templated: boolean;
  render(request: MappingRequest): string;
}

const TEMPLATE_EXPR = /\{\{\s*([^}]*?)\s*\}\}/g;
/** `a.b[0].c`: names of letters, digits, `_`, `$`, `-` (header names), and numeric indexes. */
const PATH_SYNTAX = /^[A-Za-z0-9_$-]+(?:\.[A-Za-z0-9_$-]+|\[\d+\])*$/;

function parsePath(path: string, where: string): Segment[] {
  if (!PATH_SYNTAX.test(path)) throw new HooksConfigError(`${where}: "${path}" is not a template path like a.b[0].c`);
  const segments: Segment[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    if (m[2] !== undefined) {
      segments.push(Number(m[2]));
      continue;
    }
    if (BLOCKED_SEGMENTS.has(m[1]!)) throw new HooksConfigError(`${where}: path segment "${m[1]}" is not allowed`);
    segments.push(m[1]!);
  }
  return segments;
}

/** Own properties and array indexes only: nothing inherited is ever read, whatever the payload holds. */
function walk(value: unknown, segments: readonly Segment[]): unknown {
  let current = value;
  for (const segment of segments) {
    if (typeof segment === "number") {
      if (!Array.isArray(current)) return undefined;
      current = current[segment];
    } else {
      if (typeof current !== "object" || current === null || Array.isArray(current) || !Object.hasOwn(current, segment)) return undefined;
      current = (current as Record<string, unknown>)[segment];
    }
  }
  return current;
}

function compileExpr(expr: string, where: string): (request: MappingRequest) => unknown {
  if (expr === "now") return (r) => new Date(r.nowMs).toISOString();
  if (expr === "path") return (r) => r.route;
  const dot = expr.indexOf(".");
  const root = dot === -1 ? "" : expr.slice(0, dot);
  if (root === "headers" || root === "query") {
    const [name, ...rest] = parsePath(expr.slice(dot + 1), where);
    if (typeof name !== "string") throw new HooksConfigError(`${where}: "${expr}" needs a ${root} name`);
    const key = name.toLowerCase();
    if (root === "headers") {
      if (SECRET_HEADERS.has(key)) throw new HooksConfigError(`${where}: header "${key}" carries a credential and may not be templated`);
      return (r) => walk(r.header(key), rest);
    }
    return (r) => walk(r.query.get(name) ?? undefined, rest);
  }
  // `payload.x`, or a bare `x` (OpenClaw reads a bare path from the payload too).
  const segments = parsePath(root === "payload" ? expr.slice(dot + 1) : expr, where);
  return (r) => walk(r.payload, segments);
}

function compileTemplate(template: string, where: string): Template {
  const parts: Part[] = [];
  let last = 0;
  for (const m of template.matchAll(TEMPLATE_EXPR)) {
    if (m.index > last) parts.push(template.slice(last, m.index));
    parts.push(compileExpr(m[1]!, where));
    last = m.index + m[0].length;
  }
  if (last < template.length) parts.push(template.slice(last));
  const templated = parts.some((p) => typeof p !== "string");
  return {
    templated,
    render(request) {
      let out = "";
      for (const part of parts) out += typeof part === "string" ? part : stringify(part(request));
      return out;
    },
  };
}

function stringify(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

const normalizePath = (path: string | undefined) => path?.trim().replace(/^\/+|\/+$/g, "") || undefined;

function compileMapping(mapping: HookMappingConfig, index: number, ids: Set<string>): CompiledMapping & { matches(route: string, payload: Readonly<Record<string, unknown>>): boolean } {
  const at = `hooks.mappings[${index}]`;
  if (mapping.transform !== undefined) {
    throw new HooksConfigError(
      `${at}.transform: code transforms are not supported (executing config-named modules is out of scope for a hardened intake); use messageTemplate/textTemplate`,
    );
  }
  const id = mapping.id?.trim() || `mapping-${index + 1}`;
  if (ids.has(id)) throw new HooksConfigError(`${at}.id: "${id}" is used by another mapping`);
  ids.add(id);
  const matchPath = normalizePath(mapping.match?.path);
  if (matchPath && DIRECT_ROUTES.has(matchPath)) {
    throw new HooksConfigError(`${at}.match.path: "${matchPath}" is a built-in route, so this mapping would never run`);
  }
  const matchSource = mapping.match?.source?.trim() || undefined;
  const action = mapping.action ?? "agent";
  const wakeMode = mapping.wakeMode ?? "now";
  const optional = (field: "name" | "sessionKey" | "to" | "model" | "thinking") => {
    const text = mapping[field];
    return text === undefined || text.trim() === "" ? undefined : compileTemplate(text, `${at}.${field}`);
  };

  const matches = (route: string, payload: Readonly<Record<string, unknown>>) =>
    (matchPath === undefined || matchPath === route) &&
    (matchSource === undefined || (Object.hasOwn(payload, "source") && payload["source"] === matchSource));

  if (action === "wake") {
    const text = compileTemplate(mapping.textTemplate ?? "", `${at}.textTemplate`);
    return {
      id,
      matches,
      render(request) {
        const rendered = text.render(request);
        // OpenClaw's text for a mapping that renders nothing.
        if (rendered.trim() === "") return { ok: false, error: "hook mapping requires text" };
        return { ok: true, mapping: id, kind: "wake", body: { text: rendered, mode: wakeMode } };
      },
    };
  }

  const message = compileTemplate(mapping.messageTemplate ?? "", `${at}.messageTemplate`);
  const templates = { name: optional("name"), sessionKey: optional("sessionKey"), to: optional("to"), model: optional("model"), thinking: optional("thinking") };
  const sessionKeySource: SessionKeySource = templates.sessionKey?.templated ? "mapping-templated" : "mapping-static";
  const fixed = {
    ...(mapping.agentId?.trim() ? { agentId: mapping.agentId.trim() } : {}),
    wakeMode,
    ...(mapping.deliver !== undefined ? { deliver: mapping.deliver } : {}),
    ...(mapping.channel !== undefined ? { channel: mapping.channel } : {}),
    ...(mapping.timeoutSeconds !== undefined ? { timeoutSeconds: mapping.timeoutSeconds } : {}),
  };
  return {
    id,
    matches,
    render(request) {
      const rendered = message.render(request);
      if (rendered.trim() === "") return { ok: false, error: "hook mapping requires message" };
      const body: Record<string, unknown> = { message: rendered, ...fixed };
      for (const [field, template] of Object.entries(templates)) {
        const value = template?.render(request).trim();
        if (value) body[field] = value;
      }
      return { ok: true, mapping: id, kind: "agent", body, sessionKeySource };
    },
  };
}

/** Compiles `hooks.mappings` once; a HooksConfigError (naming the field) refuses the start. */
export function compileHookMappings(mappings: readonly HookMappingConfig[] | undefined): HookMappings {
  const ids = new Set<string>();
  const compiled = (mappings ?? []).map((m, i) => compileMapping(m, i, ids));
  return {
    size: compiled.length,
    find(route, payload) {
      for (const mapping of compiled) if (mapping.matches(route, payload)) return mapping;
      return undefined;
    },
  };
}
