/** The intake journal: idempotent accept, pending order, settle, dead list and revive, 0600 files, and acked deliveries that survive kill -9. */
import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openIntakeJournal } from "../../../node/intake/intake-journal.ts";

const WRITER = fileURLToPath(new URL("../../fixtures/intake/journal-writer.ts", import.meta.url));
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "clawgate-journal-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const delivery = (id: string, response = '{"ok":true,"runId":"r-1"}') => ({
  deliveryId: id,
  kind: "agent",
  payload: '{"message":"hi"}',
  response,
  receivedAt: 1_700_000_000_000,
});

describe("intake journal", () => {
  it("accepts a delivery id once and answers a duplicate with the original", () => {
    const journal = openIntakeJournal(dir);
    expect(journal.accept(delivery("a")).inserted).toBe(true);
    const again = journal.accept(delivery("a", '{"ok":true,"runId":"r-2"}'));
    expect(again.inserted).toBe(false);
    expect(again.delivery.response).toBe('{"ok":true,"runId":"r-1"}');
    journal.close();
  });

  it("lists pending deliveries in arrival order and settles them once", () => {
    const journal = openIntakeJournal(dir);
    for (const id of ["c", "a", "b"]) journal.accept(delivery(id));
    expect(journal.pending().map((d) => d.deliveryId)).toEqual(["c", "a", "b"]);
    expect(journal.settle("a", "done")).toBe(true);
    expect(journal.settle("a", "dead")).toBe(false);
    expect(journal.pending().map((d) => d.deliveryId)).toEqual(["c", "b"]);
    expect(journal.counts()).toEqual({ pending: 2, done: 1, dead: 0 });
    journal.close();
  });

  it("lists dead deliveries newest first with a limit, and revives only a dead one (also after reopening)", () => {
    const journal = openIntakeJournal(dir);
    for (const id of ["a", "b", "c", "d"]) journal.accept(delivery(id));
    for (const id of ["a", "b", "c"]) journal.settle(id, "dead");
    journal.settle("d", "done");
    expect(journal.list("dead").map((d) => d.deliveryId)).toEqual(["c", "b", "a"]);
    expect(journal.list("dead", 2).map((d) => d.deliveryId)).toEqual(["c", "b"]);
    expect(journal.list("done").map((d) => [d.deliveryId, d.state])).toEqual([["d", "done"]]);
    expect(journal.revive("b")).toBe(true);
    expect(journal.revive("b")).toBe(false); // pending now: nothing to revive
    expect(journal.revive("d")).toBe(false); // done stays done
    expect(journal.revive("nope")).toBe(false);
    journal.close();

    const reopened = openIntakeJournal(dir);
    expect(reopened.get("b")?.state).toBe("pending");
    expect(reopened.pending().map((d) => d.deliveryId)).toEqual(["b"]);
    expect(reopened.list("dead").map((d) => d.deliveryId)).toEqual(["c", "a"]);
    expect(reopened.counts()).toEqual({ pending: 1, done: 1, dead: 2 });
    reopened.close();
  });

  it("keeps its files closed to other users", async () => {
    const journal = openIntakeJournal(dir);
    journal.accept(delivery("x"));
    for (const name of await readdir(dir)) expect({ name, mode: (await stat(join(dir, name))).mode & 0o777 }).toEqual({ name, mode: 0o600 });
    journal.close();
  });

  it("loses no acknowledged delivery when the writer is killed with SIGKILL mid-stream", async () => {
    const child = spawn(process.execPath, [WRITER, dir], { stdio: ["ignore", "pipe", "inherit"] });
    const acked: string[] = [];
    let buffer = "";
    await new Promise<void>((resolve, reject) => {
      child.stdout.setEncoding("utf8").on("data", (d: string) => {
        buffer += d;
        const lines = buffer.split("\n");
        buffer = lines.pop()!;
        for (const line of lines) acked.push(line.slice("acked ".length));
        if (acked.length >= 300 && child.exitCode === null) {
          child.kill("SIGKILL");
          resolve();
        }
      });
      child.once("exit", (code) => (acked.length >= 300 ? resolve() : reject(new Error(`writer exited early (${code})`))));
    });
    await new Promise((r) => (child.exitCode === null && child.signalCode === null ? child.once("exit", r) : r(undefined)));
    const journal = openIntakeJournal(dir);
    const pendingIds = new Set(journal.pending(100_000).map((d) => d.deliveryId));
    const lost = acked.filter((id) => !pendingIds.has(id));
    expect(lost).toEqual([]);
    expect(pendingIds.size).toBeGreaterThanOrEqual(acked.length);
    journal.close();
  });
});
