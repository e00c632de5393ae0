/** The intake journal: idempotent accept, pending order, settle, dead list and revive, 0600 files, and acked deliveries that survive kill -9. */
import { spawn } from "node:child_process";
import { fdatasyncSync, fdatasync as fsDatasync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { JournalCommitError, JournalFailedError, openIntakeJournal } from "../../../node/intake/intake-journal.ts";

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

  it.each([["one commit per delivery", "single"], ["group commit", "grouped"]])("loses no acknowledged delivery when the writer is killed with SIGKILL mid-stream (%s)", async (_, mode) => {
    const child = spawn(process.execPath, [WRITER, dir, mode], { stdio: ["ignore", "pipe", "inherit"] });
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
    // Opening wrote what the killed writer's WAL held into the database file itself: a copy of that file alone
    // (no WAL beside it) holds every acknowledged delivery.
    const bare = join(dir, "bare");
    await mkdir(bare);
    await copyFile(join(dir, "intake.sqlite"), join(bare, "intake.sqlite"));
    journal.close();
    const copy = openIntakeJournal(bare);
    const inFile = new Set(copy.pending(100_000).map((d) => d.deliveryId));
    expect(acked.filter((id) => !inFile.has(id))).toEqual([]);
    copy.close();
  });

  it("commits concurrent deliveries as one group, each answered only after that commit", async () => {
    const journal = openIntakeJournal(dir);
    const before = journal.stats().commits;
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => journal.acceptGrouped(delivery(`g-${i}`))));
    expect(results.every((r) => r.inserted)).toBe(true);
    expect(journal.stats()).toEqual({ commits: before + 1, syncs: 1, inserted: 50 });
    // A second wave after the first commit is its own group.
    await Promise.all([journal.acceptGrouped(delivery("h-1")), journal.acceptGrouped(delivery("h-2"))]);
    expect(journal.stats().commits).toBe(before + 2);
    journal.close();
    const reopened = openIntakeJournal(dir);
    expect(reopened.counts().pending).toBe(52);
    reopened.close();
  });

  it("answers a duplicate inside the same group with the original, once that group is durable", async () => {
    const journal = openIntakeJournal(dir);
    const [first, second] = await Promise.all([journal.acceptGrouped(delivery("a")), journal.acceptGrouped(delivery("a", '{"ok":true,"runId":"r-2"}'))]);
    expect(first!.inserted).toBe(true);
    expect(second).toMatchObject({ inserted: false, delivery: { response: '{"ok":true,"runId":"r-1"}' } });
    expect(journal.stats()).toMatchObject({ commits: 1, inserted: 1 });
    journal.close();
  });

  it("commits an open group before a read or another write touches its rows", async () => {
    const journal = openIntakeJournal(dir);
    const pending = journal.acceptGrouped(delivery("a"));
    // settle() must not ride on (or roll back with) the group: the group commits first, then the settle.
    expect(journal.settle("a", "done")).toBe(true);
    expect(journal.stats().commits).toBe(2);
    await expect(pending).resolves.toMatchObject({ inserted: true });
    journal.acceptGrouped(delivery("b"));
    expect(journal.get("b")?.state).toBe("pending");
    expect(journal.stats().commits).toBe(3);
    journal.close();
  });

  it("fails every delivery of a group whose commit fails, and stores none of them", async () => {
    let failNext = true;
    const journal = openIntakeJournal(dir, {
      commit: (db) => {
        if (failNext) {
          failNext = false;
          throw new Error("disk I/O error");
        }
        db.exec("COMMIT");
      },
    });
    const outcomes = await Promise.allSettled(["a", "b", "c"].map((id) => journal.acceptGrouped(delivery(id))));
    for (const outcome of outcomes) {
      expect(outcome.status).toBe("rejected");
      const reason = (outcome as PromiseRejectedResult).reason as JournalCommitError;
      expect(reason).toBeInstanceOf(JournalCommitError);
      expect(reason.code).toBe("ERR_JOURNAL_COMMIT");
      expect(reason.message).toBe("the intake journal could not commit");
    }
    expect(journal.counts()).toEqual({ pending: 0, done: 0, dead: 0 });
    expect(journal.stats()).toEqual({ commits: 0, syncs: 0, inserted: 0 });
    // The next group starts clean: the same ids are new again.
    await expect(journal.acceptGrouped(delivery("a"))).resolves.toMatchObject({ inserted: true });
    expect(journal.counts().pending).toBe(1);
    journal.close();
  });

  it("acknowledges a group only once a WAL sync covers it; deliveries arriving during a sync share one commit and the next sync", async () => {
    const held: (() => void)[] = [];
    const journal = openIntakeJournal(dir, { sync: (fd, done) => held.push(() => fsDatasync(fd, done)) });
    const settled: string[] = [];
    const track = (id: string) => journal.acceptGrouped(delivery(id)).then(() => settled.push(id));
    const first = track("a");
    await new Promise((r) => setImmediate(r)); // group 1 committed, its sync started and held
    expect(held).toHaveLength(1);
    expect(journal.stats()).toMatchObject({ commits: 1, syncs: 1 });
    const second = [track("b"), track("c")];
    await new Promise((r) => setImmediate(r)); // arrived during the sync: their group stays open
    const third = track("d");
    await new Promise((r) => setImmediate(r)); // and d joins it, turns of the loop later
    expect(journal.stats()).toMatchObject({ commits: 1, syncs: 1 });
    expect(settled).toEqual([]); // committed, not yet durable: nobody is answered
    held.shift()!();
    await first;
    expect(settled).toEqual(["a"]);
    // The sync's end committed b, c and d as one transaction and started one sync for them.
    expect(journal.stats()).toMatchObject({ commits: 2, syncs: 2 });
    expect(held).toHaveLength(1);
    // A read of an open group's row commits it first; here the group is committed, not yet synced: no answer.
    expect(journal.get("d")?.state).toBe("pending");
    expect(settled).toEqual(["a"]);
    held.shift()!();
    await Promise.all([...second, third]);
    expect(settled.sort()).toEqual(["a", "b", "c", "d"]);
    journal.close();
  });

  it("a group whose commit fails at a sync's end does not strand what a read committed during that sync", async () => {
    const held: (() => void)[] = [];
    let failNext = false;
    const journal = openIntakeJournal(dir, {
      sync: (fd, done) => held.push(() => fsDatasync(fd, done)),
      commit: (db) => {
        if (failNext) {
          failNext = false;
          throw new Error("disk I/O error");
        }
        db.exec("COMMIT");
      },
    });
    const a = journal.acceptGrouped(delivery("a"));
    await new Promise((r) => setImmediate(r)); // a committed, its sync held
    const b = journal.acceptGrouped(delivery("b"));
    expect(journal.counts().pending).toBe(2); // the read commits b's group now; b waits for the next sync
    const c = journal.acceptGrouped(delivery("c"));
    failNext = true; // c's group will fail when the held sync ends
    held.shift()!();
    await expect(a).resolves.toMatchObject({ inserted: true });
    await expect(c).rejects.toMatchObject({ code: "ERR_JOURNAL_COMMIT" });
    // b is not stranded: a sync covering it started anyway.
    expect(held).toHaveLength(1);
    held.shift()!();
    await expect(b).resolves.toMatchObject({ inserted: true });
    expect(journal.counts()).toEqual({ pending: 2, done: 0, dead: 0 });
    journal.close();
  });

  it("refuses a delivery after close with a JournalCommitError, and never throws from a deferred flush", async () => {
    const journal = openIntakeJournal(dir);
    journal.close();
    await expect(journal.acceptGrouped(delivery("late"))).rejects.toMatchObject({ code: "ERR_JOURNAL_COMMIT", message: "the intake journal could not commit" });
    await new Promise((r) => setImmediate(r));
  });

  it("fails every delivery of a group whose WAL sync fails", async () => {
    const journal = openIntakeJournal(dir, { sync: (_fd, done) => done(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" })) });
    const outcomes = await Promise.allSettled(["a", "b"].map((id) => journal.acceptGrouped(delivery(id))));
    expect(outcomes.map((o) => o.status)).toEqual(["rejected", "rejected"]);
    expect((outcomes[0] as PromiseRejectedResult).reason).toMatchObject({ code: "ERR_JOURNAL_COMMIT", message: "the intake journal could not commit" });
    journal.close();
  });

  it("after a failed WAL sync refuses every delivery — what a read committed meanwhile, what waited, a retry — and tells its owner once", async () => {
    const held: ((error?: Error) => void)[] = [];
    const failures: JournalFailedError[] = [];
    const journal = openIntakeJournal(dir, {
      sync: (fd, done) => held.push((error) => (error ? done(error) : fsDatasync(fd, done))),
      onFailure: (error) => failures.push(error),
    });
    const a = journal.acceptGrouped(delivery("a"));
    await new Promise((r) => setImmediate(r)); // a committed, its sync held
    const b = journal.acceptGrouped(delivery("b"));
    expect(journal.get("b")?.state).toBe("pending"); // the read commits b's group; b waits for the next sync
    const c = journal.acceptGrouped(delivery("c")); // waits in the open group
    held.shift()!(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" }));
    await expect(a).rejects.toMatchObject({ code: "ERR_JOURNAL_COMMIT", message: "the intake journal could not commit" });
    await expect(b).rejects.toMatchObject({ code: "ERR_JOURNAL_COMMIT" });
    const refused = { code: "ERR_JOURNAL_FAILED", message: "the intake journal stopped after a failed WAL sync; it takes no delivery until the node restarts" };
    await expect(c).rejects.toMatchObject(refused);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toBeInstanceOf(JournalFailedError);
    expect(failures[0]).toBeInstanceOf(JournalCommitError);
    expect(journal.failure()).toBe(failures[0]);
    // The page cache still shows a, which is not known to be on disk: a retry is not answered from it.
    expect(journal.get("a")?.deliveryId).toBe("a");
    await expect(journal.acceptGrouped(delivery("a"))).rejects.toMatchObject(refused);
    expect(() => journal.accept(delivery("d"))).toThrow(refused.message);
    expect(held).toHaveLength(0);
    expect(failures).toHaveLength(1);
    journal.close();

    // The restart: reopened from what the file holds, the journal takes deliveries again.
    const reopened = openIntakeJournal(dir);
    expect(reopened.failure()).toBeUndefined();
    expect(reopened.get("c")).toBeUndefined();
    await expect(reopened.acceptGrouped(delivery("a"))).resolves.toMatchObject({ inserted: false });
    await expect(reopened.acceptGrouped(delivery("e"))).resolves.toMatchObject({ inserted: true });
    reopened.close();
  });

  it("stops after a failed blocking sync too: a group whose own sync then succeeds is not acknowledged, and the caller gets the error", async () => {
    const held: (() => void)[] = [];
    let failNow = false;
    const failures: JournalFailedError[] = [];
    const journal = openIntakeJournal(dir, {
      sync: (fd, done) => held.push(() => fsDatasync(fd, done)),
      syncNow: (fd) => {
        if (failNow) throw Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" });
        fdatasyncSync(fd);
      },
      onFailure: (error) => failures.push(error),
    });
    journal.accept(delivery("a"));
    const b = journal.acceptGrouped(delivery("b"));
    await new Promise((r) => setImmediate(r)); // b committed, its sync held
    failNow = true;
    expect(() => journal.settle("a", "done")).toThrow("EIO: i/o error, fdatasync");
    expect(failures.map((f) => f.code)).toEqual(["ERR_JOURNAL_FAILED"]);
    held.shift()!(); // b's own sync succeeds, but the failed one before it may have taken its error
    await expect(b).rejects.toMatchObject({ code: "ERR_JOURNAL_FAILED" });
    await expect(journal.acceptGrouped(delivery("c"))).rejects.toMatchObject({ code: "ERR_JOURNAL_FAILED" });
    journal.close();
    expect(failures).toHaveLength(1);
  });

  it("a failed sync at close fails what waited for it, tells the owner, and still closes", async () => {
    const held: (() => void)[] = [];
    const failures: JournalFailedError[] = [];
    const journal = openIntakeJournal(dir, {
      sync: (fd, done) => held.push(() => fsDatasync(fd, done)),
      syncNow: () => {
        throw Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" });
      },
      onFailure: (error) => failures.push(error),
    });
    const a = journal.acceptGrouped(delivery("a"));
    await new Promise((r) => setImmediate(r)); // a committed, its sync held
    const b = journal.acceptGrouped(delivery("b"));
    expect(journal.counts().pending).toBe(2); // the read commits b, which waits for the next sync
    expect(() => journal.close()).not.toThrow();
    await expect(b).rejects.toMatchObject({ code: "ERR_JOURNAL_COMMIT" });
    held.shift()!();
    await expect(a).rejects.toMatchObject({ code: "ERR_JOURNAL_FAILED" });
    expect(failures).toHaveLength(1);
    expect(() => journal.get("a")).toThrow(); // closed
  });
});
