/** A loopback HTTP server standing in for the operator's alert webhook: it keeps every JSON body posted to it. */
import { type IncomingMessage, createServer } from "node:http";

export interface AlertSink {
  /** The URL to give the edge as CLAWGATE_ALERT_WEBHOOK_URL. */
  readonly url: string;
  /** Every alert body received, in arrival order. */
  readonly alerts: { text: string }[];
  close(): Promise<void>;
}

export async function startAlertSink(): Promise<AlertSink> {
  const alerts: { text: string }[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let body = "";
    req.setEncoding("utf8").on("data", (d: string) => (body += d));
    req.on("end", () => {
      alerts.push(JSON.parse(body) as { text: string });
      res.end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/alert`, alerts, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
