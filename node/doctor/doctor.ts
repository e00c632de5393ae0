/** `clawgate doctor`: every production check in one report; `fix` only tightens file modes, never tokens or bindings. */
import type { StatsFs, Stats } from "node:fs";
import { access, chmod, readFile, stat, statfs } from "node:fs/promises";
import { homedir } from "node:os";
import { type LoadedConfig, loadConfig } from "../config/config-file.ts";
import { ConfigError } from "../config/config-errors.ts";
import { runAudit } from "../secrets/audit.ts";
import type { ProviderIo } from "../secrets/provider-registry.ts";
import { readAdminToken } from "../state/admin-token.ts";
import { readNodeInfo } from "../state/node-discovery.ts";
import { resolveStateDir } from "../state/state-dir.ts";
import { servicePaths } from "../service/service-file-paths.ts";
import { knownServiceFiles } from "../service/service-spec.ts";
import { agentModelFindings, bindingFindings, edgeFindings, hooksFindings, resolveInboundTokens } from "./config-checks.ts";
import { type DoctorFinding, type DoctorReport, buildReport } from "./doctor-finding.ts";
import { type FsFinding, fsFindings } from "./fs-checks.ts";
import { DEFAULT_HEARTBEAT_EVERY, diskFindings, heartbeatFindings, parseEvery, probeAgent, servicePathFindings, supervisionFindings } from "./host-checks.ts";
import { probeModelMemory } from "./model-memory-checks.ts";

export interface DoctorIo {
  readonly env: NodeJS.ProcessEnv;
  readonly uid: number | undefined;
  readonly home: string;
  readonly now: () => number;
  readonly fetch: typeof fetch;
  readonly stat: (path: string) => Promise<Stats>;
  readonly statfs: (path: string) => Promise<StatsFs>;
  readonly chmod: (path: string, mode: number) => Promise<void>;
  readonly exists: (path: string) => Promise<boolean>;
  /** Reads a service file (default: fs readFile). */
  readonly readText?: (path: string) => Promise<string>;
  readonly providerIo?: ProviderIo;
}

export const defaultDoctorIo = (): DoctorIo => ({
  env: process.env,
  uid: process.getuid?.(),
  home: homedir(),
  now: Date.now,
  fetch,
  stat: (p) => stat(p),
  statfs: (p) => statfs(p),
  chmod: (p, m) => chmod(p, m),
  exists: (p) => access(p).then(() => true, () => false),
});

export interface DoctorOptions {
  readonly configPath: string;
  readonly stateDir?: string;
  readonly fix?: boolean;
  readonly allowExec?: boolean;
  readonly io?: Partial<DoctorIo>;
}

export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const io: DoctorIo = { ...defaultDoctorIo(), ...options.io };
  const findings: DoctorFinding[] = [];

  let loaded: LoadedConfig | undefined;
  try {
    loaded = await loadConfig(options.configPath);
  } catch (error) {
    findings.push({
      checkId: error instanceof ConfigError && error.code === "ERR_CONFIG_NOT_FOUND" ? "config.missing" : "config.invalid",
      severity: "critical",
      title: "the config cannot be used",
      // ConfigError messages name the file and field, never a value.
      detail: error instanceof ConfigError ? error.message : `${options.configPath}: unreadable`,
      remediation: "fix the config; the node agent refuses to start without a valid one",
    });
  }
  const stateDir = resolveStateDir(options.stateDir, loaded?.config.clawgate?.stateDir, io.env, io.home);

  findings.push(...rootFindings(io));
  if (loaded) {
    findings.push(...bindingFindings(loaded));
    const tokens = await resolveInboundTokens(loaded, {
      allowExec: options.allowExec ?? false,
      providerIo: io.providerIo ?? { env: io.env },
    });
    findings.push(...hooksFindings(loaded, tokens));
    findings.push(...edgeFindings(loaded));
    findings.push(...agentModelFindings(loaded));
    findings.push(...(await secretsAuditFindings(options.configPath, options.allowExec ?? false, io)));
  }

  // Permissions: fix first (when asked), then check again, so the report shows what is left.
  let fsResults = await fsFindings(options.configPath, loaded, stateDir, { stat: io.stat, uid: io.uid, home: io.home });
  const fixed: string[] = [];
  if (options.fix) {
    for (const { fix } of fsResults) {
      if (!fix) continue;
      const before = (await io.stat(fix.path)).mode & 0o777;
      // Only ever remove bits: the result is the intersection of the current mode and 600/700.
      const mode = before & fix.mode;
      await io.chmod(fix.path, mode);
      fixed.push(`chmod ${mode.toString(8).padStart(3, "0")} ${fix.path} (was ${before.toString(8).padStart(3, "0")})`);
    }
    if (fixed.length > 0) fsResults = await fsFindings(options.configPath, loaded, stateDir, { stat: io.stat, uid: io.uid, home: io.home });
  }
  findings.push(...fsResults.map((r: FsFinding) => r.finding));

  const searched = knownServiceFiles(io.home);
  const found: string[] = [];
  for (const path of searched) if (await io.exists(path)) found.push(path);
  findings.push(...supervisionFindings(found, searched));
  for (const file of found) {
    const text = await (io.readText ?? ((p: string) => readFile(p, "utf8")))(file).catch(() => "");
    const missing: string[] = [];
    for (const path of servicePaths(file, text)) if (!(await io.exists(path))) missing.push(path);
    findings.push(...servicePathFindings(file, missing));
  }

  const info = await readNodeInfo(stateDir);
  const { state, findings: agentFindings } = await probeAgent(info, await readAdminToken(stateDir), io);
  findings.push(...agentFindings);
  if (state.running) findings.push(...(await probeModelMemory(info?.url, await readAdminToken(stateDir), io.fetch)));
  const agents = loaded?.config.agents;
  const list = agents?.list ?? [];
  if (list.length <= 1) {
    // The default agent's own heartbeat setting wins over agents.defaults (docs/openclaw-compat.md §6).
    const every = list[0]?.heartbeat?.every ?? agents?.defaults?.heartbeat?.every;
    // An `agents` section without a list still runs the implicit agent "main".
    findings.push(...heartbeatFindings(every, state, io.now(), agents !== undefined));
  } else {
    // Every agent runs its own heartbeat: one that stopped must not hide behind another that still runs.
    const defaultAgent = list.find((a) => a.default) ?? list[0];
    for (const [i, a] of list.entries()) {
      const own = a.heartbeat?.every;
      const everyField = own !== undefined ? `agents.list[${i}].heartbeat.every` : "agents.defaults.heartbeat.every";
      const every = own ?? agents?.defaults?.heartbeat?.every;
      // "Disabled" is about the default agent, whose heartbeat next-heartbeat wakes wait for; others may opt out.
      if (a !== defaultAgent && parseEvery(every ?? DEFAULT_HEARTBEAT_EVERY) === 0) continue;
      findings.push(...heartbeatFindings(every, state, io.now(), true, { id: a.id, everyField }));
    }
  }

  const fs = await io.statfs(stateDir).catch(() => io.statfs(io.home).catch(() => undefined));
  findings.push(...diskFindings(stateDir, fs));

  return buildReport(findings, fixed);
}

/** The node agent refuses root; doctor runs as the service user, so its own uid is the one that matters. */
function rootFindings(io: DoctorIo): DoctorFinding[] {
  if (io.uid !== 0) return [];
  const allowed = io.env["CLAWGATE_ALLOW_ROOT"] === "1";
  return [
    {
      checkId: "process.running_as_root",
      // An explicit CLAWGATE_ALLOW_ROOT=1 (containers, CI) is the operator's choice: still reported, not fatal.
      severity: allowed ? "warn" : "critical",
      title: "running as root",
      detail: allowed ? "uid 0, allowed by CLAWGATE_ALLOW_ROOT=1" : "uid 0: a compromised agent or resolver would own the host",
      remediation: "create a dedicated user (e.g. clawgate), chown its ~/.openclaw and state dir, run the agent and doctor as it",
    },
  ];
}

async function secretsAuditFindings(configPath: string, allowExec: boolean, io: DoctorIo): Promise<DoctorFinding[]> {
  let report;
  try {
    report = await runAudit({ configPath, env: io.env, allowExec, ...(io.providerIo ? { providerIo: io.providerIo } : {}) });
  } catch (error) {
    const code = (error as { code?: string }).code;
    return [
      {
        checkId: "secrets.audit_failed",
        severity: "critical",
        title: "the secrets audit could not run",
        detail: `${code ?? "error"}: see clawgate secrets audit for the full reason`,
        remediation: "clawgate secrets audit --check",
      },
    ];
  }
  if (report.status === "clean") {
    if (report.resolution.skippedExecRefs === 0) return [];
    return [
      {
        checkId: "secrets.audit_exec_skipped",
        severity: "info",
        title: "exec refs were not resolved",
        detail: `${report.resolution.skippedExecRefs} exec ref${report.resolution.skippedExecRefs === 1 ? "" : "s"} skipped`,
        remediation: "clawgate doctor --allow-exec runs the resolvers too",
      },
    ];
  }
  const s = report.summary;
  const codes = [...new Set(report.findings.map((f) => `${f.code} ${f.jsonPath}`))].slice(0, 5).join("; ");
  return [
    {
      checkId: "secrets.audit_not_clean",
      severity: report.status === "unresolved" || report.findings.some((f) => f.severity === "error") ? "critical" : "warn",
      title: "the secrets audit is not clean",
      detail: `${s.plaintextCount} plaintext, ${s.unresolvedRefCount} unresolved, ${s.shadowedRefCount} shadowed, ${s.legacyResidueCount} legacy residue (${codes})`,
      remediation: "clawgate secrets audit → configure → apply → reload",
    },
  ];
}
