/**
 * `npm start`: the local stack on loopback — the node agent with a demo config and agent, and the edge Worker
 * under `wrangler dev` pointing at it — with URLs, a ready curl, and `stack.json` for scripts. Ctrl-C (or
 * SIGTERM) stops every process it started: each child leads its own process group and the whole group goes.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { writeFileAtomic } from "../config/atomic-write.ts";
import { chooseLogFormat, formatLogLine } from "../server/log-format.ts";
import { DEV_CRON, writeDevFiles } from "./dev-files.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CLI_BIN = join(ROOT, "node/cli/bin.ts");
const WRANGLER = join(ROOT, "node_modules/wrangler/bin/wrangler.js");

function port(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === "" ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 65_535) {
    process.stderr.write(`clawgate dev: ${name} must be a port from 1 to 65535, got "${raw}"\n`);
    process.exit(2);
  }
  return value;
}

const dir = resolve(process.env["CLAWGATE_DEV_DIR"] || join(ROOT, ".clawgate-dev"));
const nodePort = port("CLAWGATE_DEV_NODE_PORT", 18789);
const edgePort = port("CLAWGATE_DEV_EDGE_PORT", 8787);
const nodeUrl = `http://127.0.0.1:${nodePort}`;
const edgeUrl = `http://127.0.0.1:${edgePort}`;
const stackFile = join(dir, "stack.json");

const children: ChildProcess[] = [];
/** Readable lines on a terminal; JSON for a pipe, or with --log-format json (`npm start -- --log-format json`). */
const logFormatArg = process.argv.indexOf("--log-format");
const readable = chooseLogFormat(logFormatArg === -1 ? undefined : process.argv[logFormatArg + 1], process.env, process.stdout.isTTY === true) === "pretty";
let stopping: Promise<void> | undefined;

function start(name: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  // detached = its own process group, so stopping the stack also stops grandchildren (wrangler's workerd,
  // the agent's spawn host and runtimes) with one kill(-pgid).
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  for (const stream of [child.stdout!, child.stderr!]) {
    let buffer = "";
    stream.setEncoding("utf8").on("data", (d: string) => {
      buffer += d;
      const lines = buffer.split("\n");
      buffer = lines.pop() ?? "";
      // The daemon logs JSON into this pipe; a person watching a terminal reads one line per event instead.
      // A record without a level (the edge's events) takes its stream's: wrangler prints console.log on stdout, warnings and errors on stderr.
      for (const line of lines) if (line.trim()) process.stdout.write(`[${name}] ${readable ? formatLogLine(line, stream === child.stdout ? "INFO" : "WARN") : line}\n`);
    });
  }
  child.once("exit", (code, signal) => {
    // A child that dies on its own takes the stack down: half a stack would only confuse.
    if (!stopping) {
      process.stderr.write(`clawgate dev: ${name} exited (${code ?? signal}); stopping the stack\n`);
      void stop(1);
    }
  });
  children.push(child);
  return child;
}

const groupAlive = (pid: number) => {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** SIGTERM every group, wait (bounded) for every member to go, SIGKILL whatever is left, then exit. */
function stop(code: number): Promise<void> {
  stopping ??= (async () => {
    const groups = children.map((c) => c.pid).filter((pid): pid is number => pid !== undefined);
    for (const pid of groups) {
      try {
        process.kill(-pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
    const deadline = Date.now() + 10_000;
    while (groups.some(groupAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    for (const pid of groups.filter(groupAlive)) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // gone in between
      }
    }
    await rm(stackFile, { force: true });
    process.exit(code);
  })();
  return stopping;
}
process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));

async function waitFor(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${url}: its process exited`);
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(1_000) })).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not become healthy within ${timeoutMs} ms`);
}

const files = await writeDevFiles({ dir, nodePort, edgePort, nodePath: process.execPath });
try {
  // JSON into the pipe whatever the environment says: this process turns it into readable lines.
  const node = start("node", [CLI_BIN, "node", "start", "--config", files.configPath, "--allow-root", "--log-format", "json"]);
  await waitFor(`${nodeUrl}/healthz`, node, 20_000);
  const edge = start(
    "edge",
    [WRANGLER, "dev", "--ip", "127.0.0.1", "--port", String(edgePort), "--test-scheduled", "--env-file", files.edgeEnvPath,
      "--persist-to", join(dir, "wrangler-state")],
    { WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", DO_NOT_TRACK: "1" },
  );
  await waitFor(`${edgeUrl}/healthz`, edge, 90_000);
} catch (error) {
  if (!stopping) process.stderr.write(`clawgate dev: ${(error as Error).message}\n`);
  await stop(1);
}

await writeFileAtomic(
  stackFile,
  `${JSON.stringify(
    {
      edgeUrl,
      nodeUrl,
      hookToken: files.edgeToken,
      stateDir: files.stateDir,
      configPath: files.configPath,
      // The stack and each child's process group (= its pid): what Ctrl-C stops.
      pids: { stack: process.pid, node: children[0]?.pid, edge: children[1]?.pid },
    },
    null,
    2,
  )}\n`,
);
const rel = (p: string) => (p.startsWith(ROOT) ? p.slice(ROOT.length) : p);
process.stdout.write(
  [
    "",
    "clawgate local stack is up (loopback only):",
    `  edge   ${edgeUrl}   (the Worker under wrangler dev)`,
    `  node   ${nodeUrl}  (the node agent; demo agent "main" on a command runtime)`,
    `  config ${files.configPath}`,
    `  stack  ${stackFile}`,
    "",
    "Wake the host through the edge (a heartbeat runs on the node):",
    `  curl -s -X POST ${edgeUrl}/hooks/wake -H "Authorization: Bearer $(cat ${rel(files.edgeTokenPath)})" \\`,
    `       -H 'Content-Type: application/json' -d '{"text":"hello from the edge","mode":"now"}'`,
    "Fire the edge's heartbeat cron, and wake the node directly as a same-host cron line would:",
    `  curl -s "${edgeUrl}/__scheduled?cron=${DEV_CRON.replace(/ /g, "+")}"`,
    `  curl -s -X POST ${nodeUrl}/hooks/wake -H "Authorization: Bearer $(cat ${rel(files.hookTokenPath)})" \\`,
    `       -H 'Content-Type: application/json' -d '{"text":"Cron heartbeat","mode":"now"}'`,
    "Look around:",
    `  npm run -s clawgate -- doctor --config ${rel(files.configPath)}`,
    `  npm run -s clawgate -- secrets audit --config ${rel(files.configPath)}`,
    "",
    "Ctrl-C stops everything.",
    "",
  ].join("\n"),
);
