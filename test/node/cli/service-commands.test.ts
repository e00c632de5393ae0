/** `clawgate service print|install` and `clawgate cron print` through the real CLI: a real plist parse, systemd-analyze, and the cron line run by /bin/sh against a loopback server. */
import { execFile } from "node:child_process";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { chmod, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { parse as parsePlist } from "plist";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runCli } from "../../helpers/run-cli.ts";

const exec = promisify(execFile);
let dir: string;
let configPath: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "clawgate-service-"));
  configPath = join(dir, "openclaw.json");
  await writeFile(
    configPath,
    JSON.stringify({
      hooks: { enabled: true, token: "${OPENCLAW_HOOKS_TOKEN}", path: "/hooks" },
      clawgate: { stateDir: join(dir, "state"), node: { host: "127.0.0.1", port: 18790 }, dispatch: { memoryBudgetGb: 24 } },
    }),
    { mode: 0o600 },
  );
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** PATH with this Node's own folder first: the service file then names process.execPath itself. */
const ownNodeFirst = { env: { ...process.env, PATH: `${dirname(process.execPath)}:/usr/bin:/bin` } };
const serviceArgs = (kind: string) => ["service", "print", kind, "--user", "clawgate", "--home", "/home/clawgate", "--config", configPath];

describe("clawgate service print launchd", () => {
  it("prints a plist that parses, with absolute program arguments and the supervision keys (docs/operations.md#supervision)", async () => {
    const run = await runCli(serviceArgs("launchd"), ownNodeFirst);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const job = parsePlist(run.stdout) as Record<string, unknown>;
    expect(job["Label"]).toBe("com.clawgate.node");
    const args = job["ProgramArguments"] as string[];
    expect(args[0]).toBe(process.execPath);
    expect(args[1]).toMatch(/^\/.*\/node\/cli\/bin\.ts$/);
    expect(args.slice(2)).toEqual(["node", "start", "--config", configPath, "--state-dir", join(dir, "state")]);
    expect(job["KeepAlive"]).toBe(true);
    expect(job["RunAtLoad"]).toBe(true);
    expect(job["ThrottleInterval"]).toBe(10);
    expect(job["UserName"]).toBe("clawgate");
    expect(job["StandardOutPath"]).toBe(join(dir, "state", "logs", "node.out.log"));
    expect(job["StandardErrorPath"]).toBe(join(dir, "state", "logs", "node.err.log"));
    const env = job["EnvironmentVariables"] as Record<string, string>;
    expect(env["HOME"]).toBe("/home/clawgate");
    expect(env["PATH"]?.split(":")).toContain("/usr/bin");
    expect(env["PATH"]?.split(":")[0]).toBe(join(process.execPath, ".."));
  });

  it("refuses root, a relative path and an unknown kind, each with one line naming the problem", async () => {
    const root = await runCli(["service", "print", "launchd", "--user", "root", "--config", configPath]);
    expect(root.code).toBe(1);
    expect(root.stderr).toBe("clawgate: --user root: the daemon must not run as root; pass --user with a dedicated account (e.g. clawgate)\n");
    const spaced = await runCli([...serviceArgs("systemd"), "--state-dir", "/srv/my state"]);
    expect(spaced.code).toBe(1);
    expect(spaced.stderr).toBe('clawgate: stateDir must not contain spaces, quotes, %, $ or \\: "/srv/my state"\n');
    const kind = await runCli(["service", "print", "upstart", "--user", "clawgate"]);
    expect(kind.code).toBe(1);
    expect(kind.stderr).toBe('clawgate: service kind must be launchd or systemd, got "upstart"\n');
    expect(root.stdout + spaced.stdout + kind.stdout).toBe("");
  });
});

describe("clawgate service print systemd", () => {
  it("prints a unit with the hardening keys, MemoryMax from the dispatch budget, and systemd-analyze accepts it", async () => {
    const run = await runCli(serviceArgs("systemd"), ownNodeFirst);
    expect(run.code).toBe(0);
    const unit = parseUnit(run.stdout);
    const service = unit.get("Service")!;
    expect(service.get("User")).toEqual(["clawgate"]);
    expect(service.get("Restart")).toEqual(["always"]);
    expect(service.get("NoNewPrivileges")).toEqual(["yes"]);
    expect(service.get("ProtectSystem")).toEqual(["strict"]);
    expect(service.get("PrivateTmp")).toEqual(["yes"]);
    expect(service.get("ReadWritePaths")).toEqual([join(dir, "state")]);
    expect(service.get("ExecReload")).toEqual(["/bin/kill -HUP $MAINPID"]);
    expect(service.get("ExecStart")?.[0]?.split(" ").slice(0, 2)).toEqual([process.execPath, expect.stringMatching(/\/node\/cli\/bin\.ts$/)]);
    // 24 GiB budget + max(1 GiB, 2.4 GiB) headroom.
    expect(service.get("MemoryMax")).toEqual([`${Math.ceil(24 * 1024 * 1.1)}M`]);
    expect(service.get("Environment")).toEqual([
      "HOME=/home/clawgate",
      expect.stringMatching(/^PATH=\//),
      `NODE_COMPILE_CACHE=${join(dir, "state", "compile-cache")}`,
    ]);
    expect(unit.get("Install")?.get("WantedBy")).toEqual(["multi-user.target"]);

    const analyze = await exec("sh", ["-c", "command -v systemd-analyze"]).catch(() => undefined);
    if (!analyze) {
      console.warn("systemd-analyze is not installed here: the unit was checked by parsing its keys only");
      return;
    }
    const file = join(dir, "clawgate-node.service");
    await writeFile(file, run.stdout);
    const verified = await exec("systemd-analyze", ["verify", file]).then(
      (r) => ({ code: 0, out: r.stdout + r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
    );
    // verify exits 0 on unknown keys too; any line about our file is a finding.
    expect(verified.out.split("\n").filter((l) => l.includes("clawgate-node.service"))).toEqual([]);
    expect(verified.code).toBe(0);
  });

  it("omits MemoryMax without a budget and says how to get one", async () => {
    await writeFile(configPath, JSON.stringify({ clawgate: { stateDir: join(dir, "state") } }));
    const run = await runCli(serviceArgs("systemd"), ownNodeFirst);
    expect(run.code).toBe(0);
    expect(parseUnit(run.stdout).get("Service")?.has("MemoryMax")).toBe(false);
    expect(run.stdout).toContain("# MemoryMax: set clawgate.dispatch.memoryBudgetGb");
  });
});

describe("clawgate service install", () => {
  it("writes the file 0644 into --dir, creates the agent's folders, and only prints the load commands", async () => {
    const target = join(dir, "LaunchAgents");
    const me = (await exec("id", ["-un"])).stdout.trim();
    const user = me === "root" ? "clawgate" : me;
    const run = await runCli(["service", "install", "launchd", "--user", user, "--home", dir, "--config", configPath, "--dir", target]);
    expect(run.code).toBe(0);
    const file = join(target, "com.clawgate.node.plist");
    expect((await stat(file)).mode & 0o777).toBe(0o644);
    expect((parsePlist(await readFile(file, "utf8")) as Record<string, unknown>)["UserName"]).toBe(user);
    expect(run.stdout).toContain(`wrote ${file}\n`);
    expect(run.stdout).toContain(`launchctl bootstrap gui/$(id -u ${user}) ${file}`);
    if (user === me) {
      expect((await stat(join(dir, "state", "logs"))).mode & 0o777).toBe(0o700);
    } else {
      expect(run.stdout).toContain(`sudo install -d -m 700 -o ${user} ${join(dir, "state", "logs")}`);
    }

    const unitDir = join(dir, "systemd");
    const unit = await runCli(["service", "install", "systemd", "--user", "clawgate", "--home", dir, "--config", configPath, "--dir", unitDir]);
    expect(unit.code).toBe(0);
    expect((await stat(join(unitDir, "clawgate-node.service"))).mode & 0o777).toBe(0o644);
    expect(unit.stdout).toContain("sudo systemctl enable --now clawgate-node.service");
  });
});

describe("clawgate cron print", () => {
  const TOKEN = "hook-token-value-0123456789abcdef";
  let tokenFile: string;

  beforeEach(async () => {
    tokenFile = join(dir, "hook.token");
    await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  });

  it("prints a line with absolute paths and timeouts that, run by /bin/sh, wakes a loopback server with the token from the file", async () => {
    const received: { method?: string; url?: string; headers?: IncomingHttpHeaders; body?: string }[] = [];
    const server = createServer((req, res) => {
      let body = "";
      req.setEncoding("utf8").on("data", (d: string) => (body += d));
      req.on("end", () => {
        received.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true,"mode":"now"}');
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const port = (server.address() as AddressInfo).port;
      await mkdir(join(dir, "state", "logs"), { recursive: true });
      const run = await runCli(["cron", "print", "--config", configPath, "--url", `http://127.0.0.1:${port}/hooks/wake`, "--token-file", tokenFile]);
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
      const line = run.stdout.trim();
      expect(line).not.toContain(TOKEN);
      expect(line).toContain("--connect-timeout 5 --max-time 30");
      const [m, h, dom, mon, dow, ...rest] = line.split(" ");
      expect([m, h, dom, mon, dow]).toEqual(["*/15", "*", "*", "*", "*"]);
      const command = rest.join(" ");
      expect(command).toMatch(/^\( \/\S*\/sed -n .* \| \/\S*\/curl -sS /);
      const log = join(dir, "state", "logs", "cron-heartbeat.log");
      expect(command).toContain(`>> ${log} 2>&1`);

      // Run it as cron would: /bin/sh -c with an almost empty environment.
      await exec("/bin/sh", ["-c", command], { env: {} });
      await exec("/bin/sh", ["-c", command], { env: {} });
      expect(received).toHaveLength(2);
      expect(received[0]).toMatchObject({ method: "POST", url: "/hooks/wake", body: '{"text":"Cron heartbeat","mode":"now"}' });
      expect(received[0]?.headers?.["authorization"]).toBe(`Bearer ${TOKEN}`);
      expect(received[0]?.headers?.["content-type"]).toBe("application/json");
      expect(await readFile(log, "utf8")).toBe('{"ok":true,"mode":"now"}\n{"ok":true,"mode":"now"}\n');
    } finally {
      server.close();
    }
  });

  it("derives the wake URL from the config and warns about a missing log folder", async () => {
    const run = await runCli(["cron", "print", "--config", configPath, "--token-file", tokenFile, "--schedule", "0 * * * *"], {
      env: { ...process.env, CLAWGATE_STATE_DIR: "" },
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^0 \* \* \* \* .* http:\/\/127\.0\.0\.1:18790\/hooks\/wake /);
    expect(run.stderr).toBe(
      `clawgate: warning: ${join(dir, "state", "logs")} does not exist; create it (mkdir -p -m 700 ${join(dir, "state", "logs")}) or cron cannot append its log\n`,
    );
  });

  it("refuses a token file others can read, a bad schedule and a non-loopback URL", async () => {
    await chmod(tokenFile, 0o644);
    const open = await runCli(["cron", "print", "--config", configPath, "--token-file", tokenFile]);
    expect(open.code).toBe(1);
    expect(open.stderr).toBe(`clawgate: --token-file ${tokenFile} has mode 644; the hook token file must be private (chmod 600 ${tokenFile})\n`);
    await chmod(tokenFile, 0o600);
    const schedule = await runCli(["cron", "print", "--config", configPath, "--token-file", tokenFile, "--schedule", "every 15 minutes"]);
    expect(schedule.code).toBe(1);
    expect(schedule.stderr).toContain('schedule must be five cron fields, e.g. "*/15 * * * *", got "every 15 minutes"');
    const remote = await runCli(["cron", "print", "--config", configPath, "--token-file", tokenFile, "--url", "http://10.0.0.5:18789/hooks/wake"]);
    expect(remote.code).toBe(1);
    expect(remote.stderr).toContain("wakeUrl must be the node agent's loopback http URL");
    expect(open.stdout + schedule.stdout + remote.stdout).toBe("");
  });
});

/** A unit file as section → key → values (repeated keys keep every value), comments dropped. */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      sections.set(header[1]!, (current = new Map()));
      continue;
    }
    const eq = line.indexOf("=");
    if (!current || eq < 1) throw new Error(`not a unit line: ${line}`);
    const key = line.slice(0, eq);
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1)]);
  }
  return sections;
}

it("names Node by the PATH entry that links to it (Homebrew's and nvm's real paths carry the version), else by its own path", async () => {
  const bin = join(dir, "stable-bin");
  await mkdir(bin);
  await symlink(process.execPath, join(bin, "node"));
  const linked = await runCli(serviceArgs("systemd"), { env: { ...process.env, PATH: `${bin}:/usr/bin:/bin` } });
  expect(linked.stdout).toMatch(new RegExp(`^ExecStart=${join(bin, "node").replace(/[.]/g, "\\.")} `, "m"));
  // A node on PATH that is another binary (the machine's own) is not taken for this one.
  const other = await runCli(serviceArgs("systemd"), { env: { ...process.env, PATH: "/usr/bin:/bin" } });
  expect(other.stdout).toContain(`ExecStart=${process.execPath} `);
});
