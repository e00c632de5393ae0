/** Session transcripts on disk (0600, safe names, history continues) and the per-session system-event queues. */
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createSessionStore, sessionFileName, storedSessionKey } from "../../../node/sessions/session-store.ts";
import { createSystemEventQueues, systemLines } from "../../../node/sessions/system-events.ts";

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "clawgate-sessions-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("session store", () => {
  it("continues a session across store instances (a restart) and keeps files 0600 in a 0700 dir", () => {
    const dir = tmp();
    const a = createSessionStore(dir);
    a.append("agent:main:hook:x", [
      { role: "user", content: "one", at: 1 },
      { role: "assistant", content: "two", at: 2 },
    ]);
    const b = createSessionStore(dir);
    expect(b.history("agent:main:hook:x")).toEqual([
      { role: "user", content: "one" },
      { role: "assistant", content: "two" },
    ]);
    expect(b.history("agent:main:hook:other")).toEqual([]);
    expect(statSync(b.fileOf("agent:main:hook:x")).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "sessions")).mode & 0o777).toBe(0o700);
  });

  it("bounds history to the last N turns", () => {
    const s = createSessionStore(tmp());
    s.append("k", Array.from({ length: 10 }, (_, i) => ({ role: "user" as const, content: String(i), at: i })));
    expect(s.history("k", 3).map((m) => m.content)).toEqual(["7", "8", "9"]);
  });

  it("trims a long session to its last turns once the file passes its threshold", () => {
    const s = createSessionStore(tmp(), { compactAboveBytes: 2048, keepOnCompact: 5 });
    for (let i = 0; i < 100; i++) s.append("main", [{ role: "user", content: `turn ${i}`, at: i }]);
    expect(statSync(s.fileOf("main")).size).toBeLessThan(2048);
    expect(s.history("main", 1000).at(-1)!.content).toBe("turn 99");
    expect(s.history("main", 1000).length).toBeLessThanOrEqual(50);
    expect(statSync(s.fileOf("main")).mode & 0o777).toBe(0o600);
  });

  it("names files so keys cannot collide or leave the directory", () => {
    const dir = tmp();
    const s = createSessionStore(dir);
    s.append("../../etc/passwd", [{ role: "user", content: "x", at: 1 }]);
    expect(readdirSync(join(dir, "sessions"))).toHaveLength(1);
    expect(sessionFileName("a/b")).not.toBe(sessionFileName("a_b"));
    expect(sessionFileName("../x")).not.toContain("/");
  });

  it("stores hook sessions under the agent like OpenClaw", () => {
    expect(storedSessionKey("main", "hook:123")).toBe("agent:main:hook:123");
    expect(storedSessionKey("main", "agent:ops:main")).toBe("agent:ops:main");
  });
});

describe("system events", () => {
  it("queues per session, drains in order, requeues in front, one entry per delivery", () => {
    const q = createSystemEventQueues();
    q.enqueue("s", { text: "a", at: 1, deliveryId: "d1" });
    q.enqueue("s", { text: "a again", at: 2, deliveryId: "d1" });
    q.enqueue("s", { text: "b\nsecond line", at: 3 });
    expect(q.pending("s")).toBe(2);
    expect(q.oldestAt("s")).toBe(1);
    const drained = q.drain("s");
    expect(systemLines(drained)).toBe("System: a\nSystem: b second line");
    expect(q.hasDelivery("d1")).toBe(false);
    q.enqueue("s", { text: "c", at: 4 });
    q.requeue("s", drained);
    expect(q.drain("s").map((e) => e.text)).toEqual(["a", "b\nsecond line", "c"]);
  });

  it("when full, drops the oldest non-wake events and says so; wakes are never dropped", () => {
    const q = createSystemEventQueues({ maxPerSession: 2 });
    q.enqueue("s", { text: "wake", at: 1, deliveryId: "w" });
    q.enqueue("s", { text: "s1", at: 2 });
    q.enqueue("s", { text: "s2", at: 3 });
    q.enqueue("s", { text: "s3", at: 4 });
    expect(q.pending("s")).toBe(2);
    expect(q.drain("s").map((e) => e.text)).toEqual(["(2 older system events were dropped: the queue was full)", "wake", "s3"]);
  });
});
