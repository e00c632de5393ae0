/** The shape of a doctor finding (OpenClaw's security-audit shape, docs/openclaw-compat.md §8) and how a report prints. */

export const DOCTOR_SEVERITIES = ["info", "warn", "critical"] as const;
export type DoctorSeverity = (typeof DOCTOR_SEVERITIES)[number];

export interface DoctorFinding {
  /** Stable id, OpenClaw's where one exists (`hooks.token_too_short`, `fs.config.perms_world_readable`). */
  readonly checkId: string;
  readonly severity: DoctorSeverity;
  readonly title: string;
  /** What was seen: paths, modes, counts — never a secret value. */
  readonly detail: string;
  readonly remediation?: string;
}

/** A finding `--fix` can repair by tightening one path's mode; never tokens, bindings or content. */
export interface FixablePerms {
  readonly path: string;
  readonly mode: number;
}

export interface DoctorReport {
  /** False when any critical finding is left. */
  readonly ok: boolean;
  readonly summary: { readonly critical: number; readonly warn: number; readonly info: number };
  readonly findings: readonly DoctorFinding[];
  /** Paths `--fix` tightened, as `chmod` lines. */
  readonly fixed: readonly string[];
}

const RANK: Record<DoctorSeverity, number> = { critical: 0, warn: 1, info: 2 };

export function buildReport(findings: readonly DoctorFinding[], fixed: readonly string[]): DoctorReport {
  const sorted = [...findings].sort((a, b) => RANK[a.severity] - RANK[b.severity] || a.checkId.localeCompare(b.checkId));
  const count = (s: DoctorSeverity) => sorted.filter((f) => f.severity === s).length;
  const summary = { critical: count("critical"), warn: count("warn"), info: count("info") };
  return { ok: summary.critical === 0, summary, findings: sorted, fixed };
}

export function formatDoctorReport(report: DoctorReport): string {
  const lines: string[] = [];
  for (const line of report.fixed) lines.push(`fixed: ${line}`);
  for (const f of report.findings) {
    lines.push(`${f.severity.toUpperCase().padEnd(8)} ${f.checkId}: ${f.title}`);
    lines.push(`         ${f.detail}`);
    if (f.remediation) lines.push(`         fix: ${f.remediation}`);
  }
  const { critical, warn, info } = report.summary;
  lines.push(`${critical} critical, ${warn} warn, ${info} info${report.ok ? "" : " — not production-ready"}`);
  return `${lines.join("\n")}\n`;
}
