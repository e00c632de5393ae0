/**
 * A real OpenAI-compatible model server on loopback for tests: `/v1/chat/completions` (and an OpenClaw-style
 * `/hooks/agent`) with configurable latency, scripted faults (429 with Retry-After, 5xx, a hang until the client
 * goes away) — queued in order, or chosen per request so concurrent scenarios each get their own —, gates that hold
 * chosen requests until the test releases them, and a log of
 * every request with when it was answered or abandoned, so runtime, dispatcher and fault tests observe exactly what
 * reached "the model".
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage["headers"];
  /** Parsed JSON body (undefined when not JSON). */
  readonly body: any;
  readonly at: number;
  /** When the answer (or scripted fault) was sent; undefined while pending, for a reset, or when the client left first. */
  readonly answeredAt?: number;
  /** When the client went away before any answer (its run was aborted: timeout, shutdown). */
  readonly abortedAt?: number;
}

export interface ScriptedFault {
  /** HTTP status to answer with; 0 resets the connection without an answer. Ignored with `hang`. */
  readonly status: number;
  /** Never answer: hold the request until the client goes away (recorded as `abortedAt`). */
  readonly hang?: boolean;
  /** Sent as `Retry-After` (seconds, or an HTTP date string). */
  readonly retryAfter?: string;
  readonly body?: string;
}

export interface ModelServerOptions {
  /** Delay before each answer (ms). Changeable later with `setLatency`. */
  readonly latencyMs?: number;
  /** The assistant reply for a chat request; default echoes the last user message as `echo: <text>`. */
  readonly reply?: (body: any, req: RecordedRequest) => string;
  /**
   * Picks a fault for each chat/hook request (undefined: answer normally, or take the next queued fault), so
   * scenarios running at the same time can be keyed by e.g. a marker in the message or the model name.
   */
  readonly faultFor?: (req: RecordedRequest) => ScriptedFault | undefined;
}

export interface ModelServer {
  readonly url: string;
  /** Every request received, in order (including faulted ones). */
  readonly requests: RecordedRequest[];
  /** Requests whose path is `/v1/chat/completions`. */
  chatRequests(): RecordedRequest[];
  /** The next `faults.length` chat/hook requests get these answers, in order. */
  queueFaults(...faults: ScriptedFault[]): void;
  setLatency(ms: number): void;
  setReply(reply: (body: any, req: RecordedRequest) => string): void;
  /** Requests currently being answered (waiting out latency). */
  inFlight(): number;
  /**
   * Holds every chat/hook request that `match` picks (from now on) before it is answered, until the gate's
   * `release()`: runs stay "running" at the model for as long as a test needs, with no timing involved.
   */
  hold(match: (req: RecordedRequest) => boolean): ModelGate;
  close(): Promise<void>;
}

/** A set of requests held at the model server (see `ModelServer.hold`). */
export interface ModelGate {
  /** Requests waiting at this gate now. */
  held(): number;
  /** Answers the held requests and lets later matching ones through; idempotent. */
  release(): void;
}

const defaultReply = (body: any): string => {
  const messages: { role: string; content: string }[] = Array.isArray(body?.messages) ? body.messages : [];
  const last = [...messages].reverse().find((m) => m.role === "user");
  return `echo: ${last?.content ?? ""}`;
};

export async function startModelServer(options: ModelServerOptions = {}): Promise<ModelServer> {
  let latencyMs = options.latencyMs ?? 0;
  let reply = options.reply ?? defaultReply;
  const faults: ScriptedFault[] = [];
  const requests: RecordedRequest[] = [];
  let inFlight = 0;
  const sockets = new Set<import("node:net").Socket>();
  const gates = new Set<{ match: (req: RecordedRequest) => boolean; waiting: number; opened: Promise<void>; open: () => void }>();

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    let body: any;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    const path = (req.url ?? "/").split("?")[0]!;
    const recorded: { -readonly [K in keyof RecordedRequest]: RecordedRequest[K] } = { method: req.method ?? "GET", path, headers: req.headers, body, at: Date.now() };
    requests.push(recorded);
    inFlight++;
    let closed = false;
    let reset = false;
    const gone = new Promise<void>((resolve) =>
      res.on("close", () => {
        closed = true;
        if (recorded.answeredAt === undefined && !reset) recorded.abortedAt = Date.now();
        resolve();
      }),
    );
    // Stamped just before the answer goes out, so a `close` after it is not mistaken for the client leaving.
    const answered = () => void (recorded.answeredAt = Date.now());
    try {
      const isModelPath = path === "/v1/chat/completions" || path === "/hooks/agent";
      const gate = isModelPath ? [...gates].find((g) => g.match(recorded)) : undefined;
      if (gate) {
        gate.waiting++;
        await Promise.race([gate.opened, gone]);
        gate.waiting--;
      }
      if (latencyMs > 0) await new Promise((r) => setTimeout(r, latencyMs));
      if (closed) return;
      const modelPath = path === "/v1/chat/completions" || path === "/hooks/agent";
      const fault = modelPath ? (options.faultFor?.(recorded) ?? faults.shift()) : undefined;
      if (fault?.hang) {
        await gone;
        return;
      }
      if (fault && fault.status === 0) {
        reset = true;
        req.socket.destroy();
        return;
      }
      if (fault) {
        const headers: Record<string, string> = { "content-type": "application/json" };
        if (fault.retryAfter !== undefined) headers["retry-after"] = fault.retryAfter;
        answered();
        res.writeHead(fault.status, headers).end(fault.body ?? JSON.stringify({ error: { message: `scripted ${fault.status}` } }));
        return;
      }
      if (req.method === "POST" && path === "/v1/chat/completions") {
        const content = reply(body, recorded);
        answered();
        res.writeHead(200, { "content-type": "application/json" }).end(
          JSON.stringify({
            id: `chatcmpl-${requests.length}`,
            object: "chat.completion",
            created: Math.floor(Date.now() / 1000),
            model: body?.model ?? "unknown",
            choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
            usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
          }),
        );
        return;
      }
      if (req.method === "POST" && path === "/hooks/agent") {
        answered();
        res.writeHead(202, { "content-type": "application/json" }).end(JSON.stringify({ ok: true, runId: `oc-${requests.length}` }));
        return;
      }
      answered();
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: "not found" }));
    } finally {
      inFlight--;
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    chatRequests: () => requests.filter((r) => r.path === "/v1/chat/completions"),
    queueFaults: (...f) => void faults.push(...f),
    setLatency: (ms) => void (latencyMs = ms),
    setReply: (r) => void (reply = r),
    inFlight: () => inFlight,
    hold(match) {
      let open!: () => void;
      const opened = new Promise<void>((resolve) => (open = resolve));
      const gate = { match, waiting: 0, opened, open };
      gates.add(gate);
      return {
        held: () => gate.waiting,
        release() {
          gates.delete(gate);
          gate.open();
        },
      };
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const g of gates) g.open();
        gates.clear();
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
