/** Helpers the caller-auth tests share: requests as the hook intake builds them, tokens as the CLI prints them. */
import type { AuthRequest } from "../../../edge/auth/caller-auth.ts";

export function authRequest(init: { headers?: Record<string, string>; body?: string | Uint8Array; clientIp?: string; url?: string } = {}): AuthRequest {
  const body = init.body ?? "";
  return {
    method: "POST",
    url: new URL(init.url ?? "https://edge.test/hooks/wake"),
    headers: new Headers(init.headers ?? {}),
    rawBody: typeof body === "string" ? new TextEncoder().encode(body) : body,
    clientIp: init.clientIp,
  };
}

/** `cg_` + base64url of 32 random bytes, as `clawgate edge token NAME` prints it. */
export function freshToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `cg_${btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")}`;
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}
