/**
 * The hook intake (node/intake/hook-intake.ts) as Hono routes, mounted at `hooks.path` in the node app: what an
 * in-process caller of the app (`app.request`) reaches. The daemon's listener serves the same intake without
 * WHATWG objects (node/server/hooks-listener.ts).
 */
import { Readable } from "node:stream";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import { Hono, type Context } from "hono";
import { type HookCall, type HookIntake, type HookIntakeOptions, createHookIntake, readBodyStream } from "./hook-intake.ts";

export type HooksRoutesOptions = HookIntakeOptions & { readonly clientOf: (c: Context) => string };

/** Routes over an intake of their own (from its options), or over one the daemon shares with its listener. */
export function createHooksRoutes(options: HooksRoutesOptions | { readonly intake: HookIntake; readonly clientOf: (c: Context) => string }): Hono {
  const intake = "intake" in options ? options.intake : createHookIntake(options);
  const app = new Hono();
  app.all("*", async (c) => {
    const url = new URL(c.req.url);
    const answer = await intake.handle({
      method: c.req.method,
      target: url.pathname + url.search,
      header: (name) => c.req.header(name),
      client: options.clientOf(c),
      readBody: (max, timeoutMs) => readBody(c, max, timeoutMs),
    });
    return c.body(answer.body, answer.status, { ...answer.headers, "content-type": answer.contentType });
  });
  return app;
}

/**
 * The body through the same Node-stream reader as the listener: under @hono/node-server, Node's IncomingMessage
 * itself (`c.env.incoming`); in-process (`app.request`), the Request's stream.
 */
function readBody(c: Context, max: number, timeoutMs: number): ReturnType<HookCall["readBody"]> {
  const declared = Number(c.req.header("content-length") ?? "0");
  const incoming = (c.env as { incoming?: unknown } | undefined)?.incoming;
  if (incoming instanceof Readable) return readBodyStream(incoming, declared, max, timeoutMs);
  if (c.req.raw.body) return readBodyStream(Readable.fromWeb(c.req.raw.body as NodeReadableStream), declared, max, timeoutMs);
  return declared > max ? Promise.resolve("too-large") : Promise.resolve(new Uint8Array());
}
