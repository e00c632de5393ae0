/**
 * `clawgate init`: from an existing (or a new minimal) openclaw.json to a host ready for production — secrets
 * moved into a 0600 file store, loopback binding, a SecretRef hook token, a node id, the edge signing key pair
 * and a first caller token, and the operator's edge project — then the remaining steps with the values filled
 * in. Everything is decided and checked before the first write; a second run finds nothing to do and says so.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import * as clack from "@clack/prompts";
import type { Command } from "commander";
import { AGENT_MODEL_FIX, agentsWithoutModel } from "../config/agent-model-rule.ts";
import { writeFileAtomic } from "../config/atomic-write.ts";
import { ConfigError } from "../config/config-errors.ts";
import { type LoadedConfig, loadConfig, parseConfig, resolveConfigPath } from "../config/config-file.ts";
import { expandHome } from "../config/home-path.ts";
import { CALLER_NAME_RE, generateCallerToken, generateEdgeKeyPair } from "../deploy/edge-credentials.ts";
import { WRANGLER_CONFIG_FILE, buildEdgeConfig, buildWranglerConfig, cronJobsFromConfig, PLACEHOLDER_HOST_SUFFIX, readEdgeProject } from "../deploy/edge-project.ts";
import { openInitFiles } from "../deploy/init-files.ts";
import { DEFAULT_HOOKS_PATH } from "../intake/hooks-policy.ts";
import { runAudit } from "../secrets/audit.ts";
import { runConfigure } from "../secrets/configure.ts";
import { defaultFileProvider } from "../secrets/configure-plan.ts";
import { writeFileStore } from "../secrets/configure-store.ts";
import { CliError } from "./cli-error.ts";
import { type CliIo, configFlag, configOption } from "./cli-io.ts";
import { EDGE_CONFIG_MODULE } from "./package-layout.ts";

interface InitFlags {
  yes?: boolean;
  stateDir?: string;
  edgeDir?: string;
  hostname?: string;
  caller: string;
  provider: string;
  workerName: string;
  migrate: boolean;
}

/** The questions init asks in a terminal; tests inject answers. */
export interface InitPrompts {
  text(message: string, initial: string): Promise<string>;
  confirm(message: string, initial: boolean): Promise<boolean>;
}

export interface InitDeps {
  readonly isInteractive?: () => boolean;
  readonly prompts?: InitPrompts;
  readonly env?: NodeJS.ProcessEnv;
}

const clackPrompts: InitPrompts = {
  async text(message, initial) {
    // Enter alone takes the default; typing replaces it (an initialValue would be appended to).
    const answer = await clack.text({ message, placeholder: initial, defaultValue: initial });
    if (clack.isCancel(answer)) throw new CliError("init cancelled; nothing more written");
    return String(answer);
  },
  async confirm(message, initial) {
    const answer = await clack.confirm({ message, initialValue: initial });
    if (clack.isCancel(answer)) throw new CliError("init cancelled; nothing more written");
    return answer;
  },
};

/** The hook token's place in a json file store. */
const HOOK_TOKEN_ID = "/hooks/token";

export function registerInitCommand(program: Command, io: CliIo, deps: InitDeps = {}): void {
  program
    .command("init")
    .description("set this host up for production: config, secrets, node id, edge keys, caller token and the edge project")
    .addOption(configOption())
    .option("--yes", "answer every question with its default or flag; keep existing files init did not write (and list them)")
    .option("--state-dir <dir>", "the daemon's state dir, written as clawgate.stateDir (default: ~/.clawgate)")
    .option("--edge-dir <dir>", "the edge project folder", "~/.clawgate/edge")
    .option("--hostname <name>", "public hostname of the tunnel to this host (the edge forwards to https://<name>)")
    .option("--caller <name>", "name of the first caller token", "main")
    .option("--provider <alias>", "file secret provider that holds migrated credentials and the hook token", "clawgate")
    .option("--worker-name <name>", "the edge Worker's name", "clawgate-edge")
    .option("--no-migrate", "leave plaintext credentials where they are (the audit still lists them)")
    .action(async (opts: InitFlags, command: Command) => {
      const env = deps.env ?? process.env;
      const interactive = !opts.yes && (deps.isInteractive ?? (() => Boolean(process.stdin.isTTY && process.stdout.isTTY)))();
      if (!opts.yes && !interactive) throw new CliError("stdin is not a terminal: pass --yes (and flags for the answers) to run init non-interactively");
      const prompts = interactive ? (deps.prompts ?? clackPrompts) : undefined;
      await runInit(opts, configFlag(command), env, io, prompts);
    });
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

async function runInit(opts: InitFlags, configArg: string | undefined, env: NodeJS.ProcessEnv, io: CliIo, prompts: InitPrompts | undefined): Promise<void> {
  const home = env["HOME"] || homedir();
  const configPath = resolveConfigPath(configArg, env, home);
  const edgeDir = resolve(expandHome(opts.edgeDir ?? "~/.clawgate/edge", home));
  const say = (line: string) => io.stdout(`${line}\n`);

  // 1. Read and validate everything first: bad input ends here with nothing written.
  const configExisted = await exists(configPath);
  let loaded: LoadedConfig;
  try {
    loaded = configExisted ? await loadConfig(configPath) : parseConfig(`${JSON.stringify(minimalConfig(), null, 2)}\n`, configPath);
  } catch (error) {
    if (error instanceof ConfigError) {
      const [first, ...more] = error.issues;
      const what = first ? (first.path ? `${first.path}: ${first.message}` : first.message) : "invalid";
      throw new CliError(`${error.file}: ${what}${more.length > 0 ? ` (and ${more.length} more: clawgate doctor lists them)` : ""}`, { code: error.code });
    }
    throw error;
  }
  if (opts.hostname !== undefined) checkHostname(opts.hostname);
  if (!CALLER_NAME_RE.test(opts.caller)) throw new CliError(`--caller must match ${CALLER_NAME_RE.source}, got "${opts.caller}"`);
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(opts.workerName)) throw new CliError(`--worker-name must be lower-case letters, digits and inner hyphens (a Worker name), got "${opts.workerName}"`);
  if (!/^[a-z][a-z0-9_-]{0,63}$/.test(opts.provider)) throw new CliError(`--provider must match ^[a-z][a-z0-9_-]{0,63}$, got "${opts.provider}"`);
  // A --provider that cannot hold values ends here, before the migration writes anything.
  ensureFileProvider(structuredClone(loaded.raw), opts.provider, configPath);
  const signingKeyFile = join(edgeDir, "signing-key.jwk");
  const publicKeys = (loaded.raw["clawgate"] as { edge?: { publicKeys?: unknown } } | undefined)?.edge?.publicKeys;
  const needsKey = !Array.isArray(publicKeys) || publicKeys.length === 0;
  if (needsKey && (await exists(signingKeyFile))) {
    throw new CliError(`${signingKeyFile} exists but the config has no clawgate.edge.publicKeys: move the file away or add its public half; nothing written`);
  }
  const callerTokenFile = join(edgeDir, `caller-${opts.caller}.token`);
  const knownCallers = await previousCallers(edgeDir);
  if (!knownCallers && (await exists(callerTokenFile))) {
    throw new CliError(`${callerTokenFile} exists but no edge project names its caller: move it away or pass another --caller; nothing written`);
  }
  const files = await openInitFiles(edgeDir);
  const changes: string[] = [];
  const kept: string[] = [];

  // 2. Plaintext credentials: the audit, then (if accepted) configure → apply into the 0600 file store.
  let migrated = false;
  if (configExisted) {
    const report = await runAudit({ configPath, env });
    const plaintext = report.findings.filter((f) => f.code === "PLAINTEXT_FOUND");
    if (plaintext.length > 0) {
      say(`secrets audit: ${plaintext.length} plaintext credential(s): ${plaintext.map((f) => f.jsonPath).join(", ")}`);
      const accept = !opts.migrate ? false : prompts ? await prompts.confirm(`move them into a 0600 file store (provider "${opts.provider}")?`, true) : true;
      if (accept) {
        await backupConfig(configPath, say);
        const result = await runConfigure({ configPath, provider: opts.provider, apply: true, yes: true, interactive: false, env, log: say });
        for (const warning of result.warnings) say(`warning: ${warning}`);
        changes.push(`moved ${plaintext.length} plaintext credential(s) into secret refs`);
        migrated = true;
        loaded = await loadConfig(configPath);
      } else {
        say("plaintext credentials left in place (clawgate secrets configure moves them later)");
      }
    }
  }

  // 3. The config edits: loopback, hooks on with a SecretRef token, node id, edge public key, state dir.
  const raw = structuredClone(loaded.raw);
  const section = <T extends Record<string, unknown>>(parent: Record<string, unknown>, key: string): T => {
    if (typeof parent[key] !== "object" || parent[key] === null || Array.isArray(parent[key])) parent[key] = {};
    return parent[key] as T;
  };
  const gateway = section(raw, "gateway");
  if (gateway["bind"] !== "loopback") {
    changes.push(`gateway.bind: ${JSON.stringify(gateway["bind"] ?? null)} → "loopback"`);
    gateway["bind"] = "loopback";
  }
  const hooks = section(raw, "hooks");
  if (hooks["enabled"] !== true) {
    hooks["enabled"] = true;
    changes.push("hooks.enabled: true");
  }
  let newHookToken: string | undefined;
  const providerConfig = ensureFileProvider(raw, opts.provider, configPath);
  if (hooks["token"] === undefined) {
    newHookToken = randomBytes(32).toString("base64url");
    hooks["token"] = { source: "file", provider: opts.provider, id: HOOK_TOKEN_ID };
    changes.push(`hooks.token: a new token, stored in ${String(providerConfig.config["path"])}`);
  } else if (typeof hooks["token"] === "string") {
    say("warning: hooks.token is still plaintext (not migrated); the edge and cron wakes work, but doctor will flag it");
  }
  if (providerConfig.added && newHookToken) changes.push(`secrets.providers.${opts.provider}: file store ${String(providerConfig.config["path"])}`);
  else if (providerConfig.added) delete (raw["secrets"] as { providers: Record<string, unknown> }).providers[opts.provider];
  const clawgate = section(raw, "clawgate");
  const node = section(clawgate, "node");
  if (typeof node["id"] !== "string") {
    node["id"] = `node-${randomBytes(3).toString("hex")}`;
    changes.push(`clawgate.node.id: ${String(node["id"])}`);
  }
  if (opts.stateDir !== undefined && clawgate["stateDir"] !== opts.stateDir) {
    clawgate["stateDir"] = opts.stateDir;
    changes.push(`clawgate.stateDir: ${opts.stateDir}`);
  }
  const edge = section(clawgate, "edge");
  let newKey: Awaited<ReturnType<typeof generateEdgeKeyPair>> | undefined;
  if (needsKey) {
    newKey = await generateEdgeKeyPair();
    edge["publicKeys"] = [newKey.publicJwk];
    changes.push(`clawgate.edge.publicKeys: ${newKey.kid}; private half → ${signingKeyFile} (0600, for clawgate edge secret put)`);
  }
  // Validate the result before writing it (the same rules the daemon applies at start).
  const configText = `${JSON.stringify(raw, null, 2)}\n`;
  const parsed = parseConfig(configText, configPath);

  // 4. The edge project, derived from the config; an existing caller list is kept.
  const nodeId = String(node["id"]);
  const hooksPath = typeof hooks["path"] === "string" ? hooks["path"].replace(/\/+$/, "") || DEFAULT_HOOKS_PATH : DEFAULT_HOOKS_PATH;
  let hostname = opts.hostname ?? (await previousHostname(edgeDir));
  if (hostname === undefined && prompts) hostname = checkHostname(await prompts.text("public hostname of the tunnel to this host", `${nodeId}${PLACEHOLDER_HOST_SUFFIX}`));
  hostname ??= `${nodeId}${PLACEHOLDER_HOST_SUFFIX}`;
  const agentIds = agentIdsOf(raw);
  let callers = knownCallers;
  let newCaller: ReturnType<typeof generateCallerToken> | undefined;
  if (!callers) {
    newCaller = generateCallerToken(opts.caller);
    callers = [newCaller.entry];
  }
  const { jobs, skipped } = cronJobsFromConfig(raw);
  const edgeConfig = buildEdgeConfig({ nodeId, origin: `https://${hostname}`, hooksPath, agents: agentIds, callers, jobs });
  const wranglerPath = join(edgeDir, WRANGLER_CONFIG_FILE);
  const wranglerText = buildWranglerConfig({ name: opts.workerName, edgeConfig });
  const wranglerState = await files.state(wranglerPath, wranglerText);
  let writeWrangler = wranglerState === "missing" || wranglerState === "ours";
  if (wranglerState === "theirs") {
    writeWrangler = prompts ? await prompts.confirm(`${wranglerPath} was not written by clawgate init; replace it (a .bak copy is kept)?`, false) : false;
    if (!writeWrangler) kept.push(wranglerPath);
  }

  // 5. Write: config (backed up), store, keys, edge project. In a terminal the operator sees the changes first.
  const configChanged = !configExisted || changes.some((c) => !c.startsWith("moved "));
  if (configChanged && configExisted && prompts) {
    say(`changes to ${configPath}:\n${changes.filter((c) => !c.startsWith("moved ")).map((c) => `  ${c}`).join("\n")}`);
    if (!(await prompts.confirm(`update ${configPath} (a 0600 backup is kept)?`, true))) throw new CliError(`init stopped: ${configPath} is unchanged and nothing more was written`);
  }
  if (configChanged) {
    if (configExisted && !migrated) await backupConfig(configPath, say);
    if (newHookToken) await writeFileStore(providerConfig.config, [{ id: HOOK_TOKEN_ID, value: newHookToken }], home);
    if (newKey) await files.writeNewPrivate(signingKeyFile, `${JSON.stringify(newKey.privateJwk)}\n`);
    await mkdir(dirname(configPath), { recursive: true, mode: 0o700 });
    await writeFileAtomic(configPath, configText);
    say(`${configExisted ? "updated" : "created"} ${configPath}`);
  }
  if (newCaller) {
    await files.writeNewPrivate(callerTokenFile, `${newCaller.token}\n`);
    changes.push(`caller token "${opts.caller}" → ${callerTokenFile} (0600)`);
  }
  if (writeWrangler && wranglerState !== "same") {
    await files.write(wranglerPath, wranglerText, 0o644, { backup: wranglerState === "theirs" });
    changes.push(`${wranglerState === "missing" ? "wrote" : "updated"} ${wranglerPath}`);
  }
  await files.save();

  for (const every of skipped) say(`note: heartbeat every ${every} has no exact cron expression; the node's own timer runs it, the edge does not wake it`);
  if (kept.length > 0) say(`kept (not written by clawgate init):\n${kept.map((k) => `  ${k}`).join("\n")}`);
  if (changes.length === 0) {
    say(`nothing to change: ${configPath} and ${edgeDir} are already set up`);
  } else {
    say(`changes:\n${changes.map((c) => `  ${c}`).join("\n")}`);
  }
  const withoutModel = agentsWithoutModel(parsed.config.agents).map((a) => a.id);
  say(nextSteps({ configPath, edgeDir, hostname, callerTokenFile, workerName: opts.workerName, signingKeyPending: await exists(signingKeyFile), hooksPath, withoutModel }));
}

/** A DNS name with at least one dot; the edge forwards to https://<it>. */
function checkHostname(hostname: string): string {
  if (!/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$/.test(hostname)) {
    throw new CliError(`--hostname must be a DNS name such as clawgate.example.com, got "${hostname}"`);
  }
  return hostname;
}

function minimalConfig(): Record<string, unknown> {
  return {
    gateway: { bind: "loopback" },
    hooks: { enabled: true, path: DEFAULT_HOOKS_PATH },
    agents: { defaults: { heartbeat: { every: "30m" } } },
  };
}

function agentIdsOf(raw: Record<string, unknown>): string[] {
  const list = (raw["agents"] as { list?: { id?: unknown }[] } | undefined)?.list;
  const ids = Array.isArray(list) ? list.map((a) => a?.id).filter((id): id is string => typeof id === "string") : [];
  return ids.length > 0 ? ids : ["main"];
}

function ensureFileProvider(raw: Record<string, unknown>, alias: string, configPath: string): { config: Record<string, unknown>; added: boolean } {
  const secrets = (typeof raw["secrets"] === "object" && raw["secrets"] !== null ? raw["secrets"] : (raw["secrets"] = {})) as Record<string, unknown>;
  const providers = (typeof secrets["providers"] === "object" && secrets["providers"] !== null ? secrets["providers"] : (secrets["providers"] = {})) as Record<string, Record<string, unknown>>;
  const existing = providers[alias];
  if (existing) {
    if (existing["source"] !== "file" || existing["mode"] === "singleValue") throw new CliError(`--provider ${alias}: secrets.providers.${alias} is not a json file provider; pass another --provider`);
    return { config: existing, added: false };
  }
  providers[alias] = defaultFileProvider(configPath);
  return { config: providers[alias], added: true };
}

/** A private copy of the config beside it before init changes it (it may hold plaintext credentials). */
async function backupConfig(configPath: string, say: (line: string) => void): Promise<void> {
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "");
  const backup = `${configPath}.bak-${stamp}`;
  await writeFileAtomic(backup, await readFile(configPath), 0o600);
  say(`backup of the config: ${backup} (0600)`);
}

/** The edge config of an existing edge project (any author), read loosely: its callers and node hostname are kept. */
async function previousEdgeConfig(edgeDir: string): Promise<Record<string, unknown> | undefined> {
  try {
    return (await readEdgeProject(edgeDir, { module: EDGE_CONFIG_MODULE })).edgeConfig;
  } catch {
    return undefined;
  }
}

async function previousCallers(edgeDir: string): Promise<{ name: string; sha256: string }[] | undefined> {
  const config = await previousEdgeConfig(edgeDir);
  const auth = (config?.["routes"] as { wake?: { auth?: { type: string; tokens?: { name: string; sha256: string }[] }[] } } | undefined)?.wake?.auth;
  const tokens = auth?.find((a) => a.type === "bearer")?.tokens;
  return tokens && tokens.length > 0 ? tokens : undefined;
}

async function previousHostname(edgeDir: string): Promise<string | undefined> {
  const config = await previousEdgeConfig(edgeDir);
  const origin = (config?.["nodes"] as { origin?: string }[] | undefined)?.[0]?.origin;
  return origin ? new URL(origin).hostname : undefined;
}

/** What is left to do, in order; an agent without a model comes first (until it has one, every wake is given up). */
function nextSteps(v: { configPath: string; edgeDir: string; hostname: string; callerTokenFile: string; workerName: string; signingKeyPending: boolean; hooksPath: string; withoutModel: readonly string[] }): string {
  const placeholder = v.hostname.endsWith(PLACEHOLDER_HOST_SUFFIX);
  let n = 0;
  const step = () => `  ${++n}.`;
  const agents = v.withoutModel.map((id) => `"${id}"`).join(", ");
  const lines = [
    "",
    "Next steps:",
    ...(v.withoutModel.length > 0
      ? [
          `${step()} Model: agent${v.withoutModel.length === 1 ? "" : "s"} ${agents} ${v.withoutModel.length === 1 ? "has" : "have"} no model or runtime, so every wake is given up (ERR_NO_MODEL):`,
          `     in ${v.configPath}, ${AGENT_MODEL_FIX}`,
        ]
      : []),
    `${step()} Tunnel: cloudflared tunnel create clawgate-node${placeholder ? " (then rerun: clawgate init --hostname <its public name>)" : ""}`,
    `     clawgate tunnel print --config ${v.configPath} --hostname ${v.hostname} --access-team <team> --access-aud <AUD tag> > ~/.cloudflared/config.yml`,
    "     (the Cloudflare Access application in front of the node; --no-access prints a config without it, with a warning)",
    `${step()} Service: clawgate service install ${process.platform === "darwin" ? "launchd" : "systemd"} --config ${v.configPath}   (then load it as printed)`,
    `${step()} Edge (needs wrangler and \`wrangler login\`):`,
    ...(v.signingKeyPending ? [`     clawgate edge secret put --edge-dir ${v.edgeDir}`] : []),
    `     clawgate edge deploy --edge-dir ${v.edgeDir}`,
    `${step()} First wake, through the edge (workers.dev URL as printed by the deploy):`,
    `     curl -X POST https://${v.workerName}.<your-subdomain>.workers.dev${v.hooksPath}/wake \\`,
    `       -H "Authorization: Bearer $(cat ${v.callerTokenFile})" -H 'Content-Type: application/json' -d '{"text":"hello","mode":"now"}'`,
    `  Then: clawgate doctor --config ${v.configPath}`,
    "",
  ];
  return lines.join("\n");
}
