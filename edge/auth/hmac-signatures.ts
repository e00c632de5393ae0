/**
 * HMAC-SHA256 webhook signatures over the raw body, in the four formats senders use: Standard Webhooks
 * (standardwebhooks.com spec: `webhook-id`/`-timestamp`/`-signature`, `whsec_` base64 secrets, several
 * `v1,` signatures), GitHub (`X-Hub-Signature-256: sha256=<hex>`), Stripe (`Stripe-Signature: t=…,v1=…`)
 * and Slack (`X-Slack-Signature: v0=<hex>` over `v0:<X-Slack-Request-Timestamp>:<body>`).
 * Keys are imported once; each request computes one MAC per configured secret and compares it with every
 * presented signature in constant time (no early exit), so rotation (several secrets, several signatures)
 * costs no timing signal. Every scheme reports a delivery id taken from what its signature covers, so a
 * replayed copy is the same delivery (docs/security.md lists what each scheme uses).
 */
import { bodySha256 } from "../../shared/envelope.ts";
import { MAX_DELIVERY_ID } from "../../shared/limits.ts";
import type { HmacMethod } from "./auth-config.ts";
import { ABSENT, type CompiledMethod, type MethodOutcome, equalBytes, fieldError, readSecret, refused } from "./auth-method.ts";

/** Standard Webhooks' default tolerance, used by all timestamped schemes: 5 minutes either way. */
export const DEFAULT_SIGNATURE_TOLERANCE_S = 300;
/** The webhook-id becomes the delivery id, so it obeys the envelope's limit. */
const MAX_WEBHOOK_ID = MAX_DELIVERY_ID;
/** More signatures than this in one header is an attack on our CPU, not a rotation. */
const MAX_SIGNATURES = 16;
const HEX_RE = /^[0-9a-fA-F]+$/;
const encoder = new TextEncoder();

export function decodeBase64(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 === 1) return undefined;
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

function decodeHex(text: string): Uint8Array | undefined {
  if (text.length !== 64 || !HEX_RE.test(text)) return undefined;
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** The prefix and the body as one buffer: the MAC is over their concatenation. */
function signedContent(prefix: string, body: Uint8Array): Uint8Array<ArrayBuffer> {
  const head = encoder.encode(prefix);
  const out = new Uint8Array(head.length + body.length);
  out.set(head, 0);
  out.set(body, head.length);
  return out;
}

/** An event id a sender signs inside its JSON body (`id` for Stripe, `event_id` for Slack), if short and present. */
function signedEventId(body: Uint8Array, field: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
    const id = typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>)[field] : undefined;
    return typeof id === "string" && /^[\x21-\x7e]{1,128}$/.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The delivery id of a signed call, from what its signature covers (docs/security.md): the sender's signed
 * event id when the body has one, else the SHA-256 of the signed content. The exact same request sent again is
 * then the same delivery, whatever unsigned header (Idempotency-Key, X-GitHub-Delivery) it carries.
 */
async function signedDeliveryId(content: Uint8Array, eventId: string | undefined): Promise<string> {
  return eventId !== undefined ? `event:${eventId}` : `signed:${await bodySha256(content)}`;
}

/** A timestamp in decimal seconds (no sign, no fraction, no NaN), or undefined. */
function parseTimestamp(text: string | null | undefined): number | undefined {
  if (text === null || text === undefined || !/^[0-9]{1,12}$/.test(text)) return undefined;
  return Number(text);
}

export function compileHmacSignature(method: HmacMethod, field: string, env: Record<string, unknown>, now: () => number): Promise<CompiledMethod> {
  const bindings = typeof method.secretBinding === "string" ? [method.secretBinding] : method.secretBinding;
  const secretField = `${field}.secretBinding`;
  const secrets = bindings.map((binding): Uint8Array<ArrayBuffer> => {
    const secret = readSecret(env, binding, secretField);
    if (method.scheme !== "standard") return encoder.encode(secret);
    // Standard Webhooks: `whsec_` + base64 of the key bytes (the prefix is optional in its libraries).
    const bytes = decodeBase64(secret.startsWith("whsec_") ? secret.slice(6) : secret);
    if (!bytes || bytes.length < 16) throw fieldError(secretField, `Worker secret ${binding} is not a whsec_ base64 secret of at least 16 bytes`);
    return bytes;
  });
  const tolerance = method.toleranceSeconds ?? DEFAULT_SIGNATURE_TOLERANCE_S;
  const principal = `hmac:${method.scheme}:${method.name}`;
  const fresh = (ts: number) => Math.abs(now() / 1000 - ts) <= tolerance;
  return (async () => {
    const keys = await Promise.all(
      secrets.map((bytes) => crypto.subtle.importKey("raw", bytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"])),
    );
    /** True when a MAC under any key equals any presented signature; every pair is compared. */
    const anyMatches = async (content: Uint8Array<ArrayBuffer>, presented: readonly Uint8Array[]): Promise<boolean> => {
      let ok = false;
      for (const key of keys) {
        const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, content));
        for (const sig of presented) ok = equalBytes(mac, sig) || ok;
      }
      return ok;
    };
    const verdict = (ok: boolean, extra?: { deliveryId: string }): MethodOutcome => (ok ? { kind: "ok", principal, ...extra } : refused("ERR_AUTH_SIGNATURE"));

    switch (method.scheme) {
      case "standard":
        return {
          type: "hmac",
          async check(req) {
            const id = req.headers.get("webhook-id");
            const tsText = req.headers.get("webhook-timestamp");
            const header = req.headers.get("webhook-signature");
            if (id === null && tsText === null && header === null) return ABSENT;
            if (!id || id.length > MAX_WEBHOOK_ID || header === null) return refused("ERR_AUTH_SIGNATURE");
            const ts = parseTimestamp(tsText);
            if (ts === undefined || !fresh(ts)) return refused("ERR_AUTH_TIMESTAMP");
            const presented: Uint8Array[] = [];
            for (const part of header.split(" ").slice(0, MAX_SIGNATURES)) {
              // Other versions (v1a: asymmetric) are skipped, as the reference libraries do.
              if (!part.startsWith("v1,")) continue;
              const sig = decodeBase64(part.slice(3));
              if (sig) presented.push(sig);
            }
            if (presented.length === 0) return refused("ERR_AUTH_SIGNATURE");
            return verdict(await anyMatches(signedContent(`${id}.${tsText}.`, req.rawBody), presented), { deliveryId: id });
          },
        };
      case "github":
        return {
          type: "hmac",
          async check(req) {
            const header = req.headers.get("x-hub-signature-256");
            if (header === null) return ABSENT;
            const sig = header.startsWith("sha256=") ? decodeHex(header.slice(7)) : undefined;
            if (!sig) return refused("ERR_AUTH_SIGNATURE");
            // Copied into an ArrayBuffer-backed view: a caller's view may sit on a SharedArrayBuffer.
            const content = new Uint8Array(req.rawBody);
            // GitHub signs the body only (no timestamp, and X-GitHub-Delivery is unsigned): the body is the delivery.
            if (!(await anyMatches(content, [sig]))) return verdict(false);
            return verdict(true, { deliveryId: await signedDeliveryId(content, undefined) });
          },
        };
      case "stripe":
        return {
          type: "hmac",
          async check(req) {
            const header = req.headers.get("stripe-signature");
            if (header === null) return ABSENT;
            let tsText: string | undefined;
            const presented: Uint8Array[] = [];
            for (const item of header.split(",").slice(0, MAX_SIGNATURES + 1)) {
              const eq = item.indexOf("=");
              const key = item.slice(0, eq).trim();
              const value = item.slice(eq + 1).trim();
              if (key === "t") tsText = value;
              else if (key === "v1") {
                const sig = decodeHex(value);
                if (sig) presented.push(sig);
              }
            }
            const ts = parseTimestamp(tsText);
            if (ts === undefined || !fresh(ts)) return refused("ERR_AUTH_TIMESTAMP");
            if (presented.length === 0) return refused("ERR_AUTH_SIGNATURE");
            const content = signedContent(`${tsText}.`, req.rawBody);
            if (!(await anyMatches(content, presented))) return verdict(false);
            // Stripe's retries of one event carry new timestamps but the same signed event id.
            return verdict(true, { deliveryId: await signedDeliveryId(content, signedEventId(req.rawBody, "id")) });
          },
        };
      case "slack":
        return {
          type: "hmac",
          async check(req) {
            const header = req.headers.get("x-slack-signature");
            if (header === null) return ABSENT;
            const tsText = req.headers.get("x-slack-request-timestamp");
            const ts = parseTimestamp(tsText);
            if (ts === undefined || !fresh(ts)) return refused("ERR_AUTH_TIMESTAMP");
            const sig = header.startsWith("v0=") ? decodeHex(header.slice(3)) : undefined;
            if (!sig) return refused("ERR_AUTH_SIGNATURE");
            const content = signedContent(`v0:${tsText}:`, req.rawBody);
            if (!(await anyMatches(content, [sig]))) return verdict(false);
            // Events API bodies sign an `event_id` that Slack's retries keep; other bodies are their signed content.
            return verdict(true, { deliveryId: await signedDeliveryId(content, signedEventId(req.rawBody, "event_id")) });
          },
        };
    }
  })();
}
