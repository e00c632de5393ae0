/**
 * The edge's operator messages (dead-man's alert and recovery, a delivery that became a dead letter): one POST each to the alert webhook secret, as
 * Slack-compatible `{"text": …}` JSON, or ntfy's JSON publish shape (`topic`, `title`, `message`) when a topic is set.
 */

export interface AlertSenderOptions {
  /** `CLAWGATE_ALERT_WEBHOOK_URL`; never logged. */
  readonly url: string;
  /** With a topic, post ntfy's JSON (to the server's root URL); without, Slack's `{"text"}`. */
  readonly ntfyTopic?: string | undefined;
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
}

export type AlertKind = "alert" | "recovery" | "dead-letter";

const TITLES: Record<AlertKind, string> = {
  alert: "clawgate: heartbeat missing",
  recovery: "clawgate: heartbeat recovered",
  "dead-letter": "clawgate: delivery gave up",
};

/** True when the webhook took it (2xx); false otherwise, so the caller retries later. */
export type AlertSender = (kind: AlertKind, text: string) => Promise<boolean>;

export function createAlertSender(options: AlertSenderOptions): AlertSender {
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const timeoutMs = options.timeoutMs ?? 10_000;
  return async (kind, text) => {
    const body = options.ntfyTopic
      ? { topic: options.ntfyTopic, title: TITLES[kind], message: text, priority: kind === "recovery" ? 3 : 5 }
      : { text };
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
