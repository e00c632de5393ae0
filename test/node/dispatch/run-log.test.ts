/** The JSON-lines run log: last record of an id wins, survives reopening (and a torn last line), 0600. */
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { RUN_LOG_FILE, openRunLog } from "../../../node/dispatch/run-log.ts";

let dir: string | undefined;
afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

it("indexes by id and delivery, lists newest first with filters, and reopens after a torn write", () => {
  dir = mkdtempSync(join(tmpdir(), "clawgate-runlog-"));
  const log = openRunLog(dir);
  const base = { kind: "agent" as const, agentId: "main", sessionKey: "s", attempt: 1 };
  log.write({ ...base, id: "a", status: "running", deliveryIds: ["d1"] });
  log.write({ ...base, id: "a", status: "ok", deliveryIds: ["d1"] });
  log.write({ ...base, id: "b", status: "error", deliveryIds: ["d2"], agentId: "ops" });
  log.write({ ...base, id: "h", kind: "heartbeat", status: "ok", deliveryIds: [] });
  expect(log.get("a")!.status).toBe("ok");
  expect(log.list().map((r) => r.id)).toEqual(["h", "b", "a"]);
  expect(log.list({ kind: "heartbeat" }).map((r) => r.id)).toEqual(["h"]);
  expect(log.list({ kind: "agent", status: "ok" }).map((r) => r.id)).toEqual(["a"]);
  expect(log.list({ status: "ok" }).map((r) => r.id)).toEqual(["h", "a"]);
  expect(log.list({ agentId: "ops" }).map((r) => r.id)).toEqual(["b"]);
  expect(log.counts()).toMatchObject({ ok: 2, error: 1, running: 0 });
  log.close();
  appendFileSync(join(dir, RUN_LOG_FILE), '{"id":"c","status":"runn'); // a crash mid-write
  const again = openRunLog(dir);
  expect(again.forDelivery("d1").map((r) => r.status)).toEqual(["ok"]);
  expect(again.get("c")).toBeUndefined();
  expect(statSync(join(dir, RUN_LOG_FILE)).mode & 0o777).toBe(0o600);
  again.close();
});

it("compacts at open once the file passes its threshold, keeping the newest record of the newest runs", () => {
  dir = mkdtempSync(join(tmpdir(), "clawgate-runlog-"));
  const log = openRunLog(dir);
  const base = { kind: "agent" as const, agentId: "main", sessionKey: "s", attempt: 1, deliveryIds: [] };
  for (let i = 0; i < 50; i++) {
    log.write({ ...base, id: `r${i}`, status: "running" });
    log.write({ ...base, id: `r${i}`, status: "ok" });
  }
  log.close();
  const before = statSync(join(dir, RUN_LOG_FILE)).size;
  const again = openRunLog(dir, { maxInMemory: 10, compactAboveBytes: 1024 });
  again.close();
  const lines = readFileSync(join(dir, RUN_LOG_FILE), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { id: string; status: string });
  expect(statSync(join(dir, RUN_LOG_FILE)).size).toBeLessThan(before);
  expect(lines.map((l) => l.id)).toEqual(Array.from({ length: 10 }, (_, i) => `r${40 + i}`));
  expect(new Set(lines.map((l) => l.status))).toEqual(new Set(["ok"]));
  expect(statSync(join(dir, RUN_LOG_FILE)).mode & 0o777).toBe(0o600);
});
