/**
 * The edge's operator messages (dead-man's alert and recovery, a delivery that became a dead letter): one POST each to the alert webhook secret, as
 * Slack-compatible `{"text": …}` JSON, or ntfy's JSON publish shape (`topic`, `title`, `message`) when a topic is set.
 * Every text is escaped for its format here, the one place alerts leave the edge.
 */

export interface AlertSenderOptions {
  /** `CLAWGATE_ALERT_WEBHOOK_URL`; never logged. */
  readonly url: string;
  /** With a topic, post ntfy's JSON (to the server's root URL); without, Slack's `{"text"}`. */
  readonly ntfyTopic?: string | undefined;
  readonly timeoutMs?: number;
  /** The edge's outbound fetch (edge/edge-io.ts). */
  readonly fetch: typeof fetch;
}

export type AlertKind = "alert" | "recovery" | "dead-letter";

const TITLES: Record<AlertKind, string> = {
  alert: "clawgate: heartbeat missing",
  recovery: "clawgate: heartbeat recovered",
  "dead-letter": "clawgate: delivery gave up",
};

/** True when the webhook took it (2xx); false otherwise, so the caller retries later. */
export type AlertSender = (kind: AlertKind, text: string) => Promise<boolean>;

/**
 * Alert texts quote caller-chosen values (delivery ids, paths, reasons). Control characters become U+FFFD, so
 * nothing a caller sends can start a new line or hide text.
 */
const plainText = (text: string) => text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, "\ufffd");

/**
 * Slack's escaping (api.slack.com "Formatting text": `&`, `<`, `>` as entities), so a quoted value can never
 * become a mention (`<!channel>`), a labelled link (`<https://…|…>`) or a user ping.
 */
export const slackText = (text: string) => plainText(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export function createAlertSender(options: AlertSenderOptions): AlertSender {
  const doFetch = options.fetch;
  const timeoutMs = options.timeoutMs ?? 10_000;
  return async (kind, text) => {
    const body = options.ntfyTopic
      ? { topic: options.ntfyTopic, title: TITLES[kind], message: plainText(text), priority: kind === "recovery" ? 3 : 5 }
      : { text: slackText(text) };
    try {
      const res = await doFetch(options.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.body?.cancel();
      return res.ok;
    } catch {
      return false;
    }
  };
}
