/**
 * A real failed WAL sync under the real daemon: strace's fault injection makes every fdatasync fail with EIO. The
 * wake whose row could not be synced is answered 503, never 200; the daemon logs why, stops and exits 1 with a
 * one-line reason, so the supervisor restarts it; the restart takes the retried delivery (docs/intake.md).
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, expect, it } from "vitest";
import { type NodeProcess, startNodeProcess } from "../helpers/node-process.ts";

const TOKEN = "hook-token-journal-failure-0123456789";
let dir: string;
const started: NodeProcess[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "clawgate-sync-failure-"));
  await writeFile(join(dir, "openclaw.json"), JSON.stringify({ hooks: { enabled: true, token: TOKEN }, clawgate: { node: { id: "n" } } }));
});
afterEach(async () => {
  for (const p of started.splice(0)) {
    // Under strace the daemon is strace's child: a signal to strace would leave it running.
    const pid = /"pid":(\d+)/.exec(p.output().stdout)?.[1];
    if (pid) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // already gone
      }
    }
    await p.stop("SIGKILL");
  }
  await rm(dir, { recursive: true, force: true });
});

/** Whether strace can trace a child here and inject a fault (needs the strace package and ptrace). */
function straceInjects(): boolean {
  try {
    execFileSync("strace", ["-f", "-qq", "-o", "/dev/null", "-e", "trace=fdatasync", "-e", "inject=fdatasync:error=EIO", "true"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const wake = (url: string) =>
  fetch(`${url}/hooks/wake`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "idempotency-key": "k-1", "content-type": "application/json" },
    body: JSON.stringify({ text: "disk check" }),
  });

it("answers 503 for a wake whose WAL sync failed, exits 1 with the reason, and takes the retry after the restart", async (ctx) => {
  if (!straceInjects()) ctx.skip("strace cannot trace and inject faults here (install Debian's strace; ptrace must be allowed)");
  const args = ["--config", join(dir, "openclaw.json"), "--port", "0", "--state-dir", join(dir, "state"), "--log-format", "json"];
  const env = { CLAWGATE_ALLOW_ROOT: "1" };
  // Only the journal's WAL: any other file's sync (SQLite's own, state files) runs as usual.
  const wal = join(dir, "state", "intake.sqlite-wal");
  const failing = await startNodeProcess(args, { env, wrapper: ["strace", "-f", "-qq", "-o", "/dev/null", "-P", wal, "-e", "trace=fdatasync", "-e", "inject=fdatasync:error=EIO"] });
  started.push(failing);

  const refused = await wake(failing.url);
  expect(refused.status).toBe(503);
  expect(refused.headers.get("retry-after")).toBe("1");
  expect(await refused.json()).toEqual({ ok: false, error: "the delivery could not be stored; retry" });
  expect(await failing.exited).toBe(1);
  const { stdout, stderr } = failing.output();
  expect(stderr.trim().split("\n").at(-1)).toBe("clawgate: the intake journal failed a WAL sync; exiting so the supervisor restarts the node");
  const fatal = stdout.split("\n").filter(Boolean).map((line) => JSON.parse(line) as { level: number; msg: string; err?: { code?: string } }).find((line) => line.level === 60);
  expect(fatal).toMatchObject({ msg: "the intake journal failed a WAL sync: deliveries are refused until the node restarts", err: { code: "ERR_JOURNAL_FAILED" } });

  // The supervisor's restart: the journal is reopened from the file and takes the retry.
  const restarted = await startNodeProcess(args, { env });
  started.push(restarted);
  const retried = await wake(restarted.url);
  expect(retried.status).toBe(200);
  expect(await retried.json()).toMatchObject({ ok: true });
  expect(await restarted.stop()).toBe(0);
  const db = new DatabaseSync(join(dir, "state", "intake.sqlite"), { readOnly: true });
  try {
    expect(db.prepare("SELECT COUNT(*) AS n FROM deliveries WHERE delivery_id = 'k-1'").get()).toEqual({ n: 1 });
  } finally {
    db.close();
  }
});
