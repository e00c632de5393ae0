/**
 * The `openclaw` runtime: forwards a run to a local OpenClaw gateway's `POST /hooks/agent` with its hook token
 * (a SecretRef), so an operator keeps the gateway and puts clawgate (edge, journal, memory-aware queue) in front.
 * OpenClaw answers 202 `{ok, runId}` and runs the agent itself; the reply recorded here is that acceptance.
 */
import { type HttpRequest, lazyHttpRequest } from "./lazy-http-request.ts";
import { type AgentRuntime, type RuntimeRequest, type RuntimeResult, RuntimeError, isLoopbackUrl } from "./runtime-types.ts";

export interface OpenClawRuntimeOptions {
  /** The gateway's base URL, e.g. `http://127.0.0.1:18790`. */
  readonly url: string;
  /** The gateway's hooks path (OpenClaw `hooks.path`). Default `/hooks`. */
  readonly hooksPath?: string;
  /** The gateway's hook token, read per run from the snapshot (`agents.list.<i>.runtime.token`). */
  readonly token: () => string | undefined;
  /** The gateway's own agent id to target; default: the clawgate agent id. */
  readonly agentId?: string;
  readonly request?: HttpRequest;
}

export function createOpenClawRuntime(options: OpenClawRuntimeOptions): AgentRuntime {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new TypeError("url must be an absolute http(s) URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new TypeError("url must be an absolute http(s) URL");
  const hooksPath = options.hooksPath ?? "/hooks";
  if (!hooksPath.startsWith("/") || hooksPath === "/") throw new TypeError("hooksPath must start with / and may not be '/' (OpenClaw)");
  if (typeof options.token !== "function") throw new TypeError("token must be a function returning the current hook token");
  const endpoint = `${options.url.replace(/\/+$/, "")}${hooksPath.replace(/\/+$/, "")}/agent`;
  const request = options.request ?? lazyHttpRequest;
  return {
    type: "openclaw",
    // The gateway's models are its business; clawgate reserves nothing for a forward.
    local: false,
    async run(req: RuntimeRequest): Promise<RuntimeResult> {
      const token = options.token();
      if (!token) throw new RuntimeError("ERR_RUNTIME_AUTH", "the OpenClaw gateway hook token is not set (agents.list[].runtime.token)");
      // OpenClaw's `/hooks/agent` body (docs/openclaw-compat.md §5). The session key keeps its hook: prefix there.
      const body = {
        message: req.message,
        name: req.name ?? "Hook",
        agentId: options.agentId ?? req.agentId,
        sessionKey: req.sessionKey.replace(/^agent:[^:]+:/, ""),
        model: req.model,
        ...(req.thinking ? { thinking: req.thinking } : {}),
        ...(req.timeoutSeconds ? { timeoutSeconds: req.timeoutSeconds } : {}),
        idempotencyKey: req.runId,
      };
      let res;
      try {
        res = await request(endpoint, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
          body: JSON.stringify(body),
          signal: req.signal,
        });
      } catch (error) {
        if (req.signal.aborted) throw req.signal.reason;
        throw new RuntimeError("ERR_RUNTIME_UNREACHABLE", `OpenClaw gateway request failed (${(error as { code?: string }).code ?? "error"})`, { retryable: true });
      }
      const json = (await res.body.json().catch(() => undefined)) as { ok?: boolean; runId?: string } | undefined;
      if (res.statusCode !== 200 && res.statusCode !== 202) {
        const code = res.statusCode === 401 ? "ERR_RUNTIME_AUTH" : "ERR_RUNTIME_HTTP";
        throw new RuntimeError(code, `OpenClaw gateway answered HTTP ${res.statusCode}`, { retryable: res.statusCode === 429 || res.statusCode >= 500 });
      }
      return { reply: `accepted by OpenClaw gateway${json?.runId ? ` (runId ${json.runId})` : ""}`, attempts: 1 };
    },
  };
}

/** Whether a gateway URL is on this host (the expected setup); the config check warns otherwise. */
export const isLocalGateway = isLoopbackUrl;
