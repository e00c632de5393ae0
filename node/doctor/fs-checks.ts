/** Doctor checks on files and folders: modes and owners of the config, the state dir and the secrets files (seed §07: 600/700). */
import type { Stats } from "node:fs";
import { dirname, join } from "node:path";
import type { LoadedConfig } from "../config/config-file.ts";
import { expandHome } from "../config/home-path.ts";
import { ADMIN_TOKEN_FILE } from "../state/admin-token.ts";
import { NODE_INFO_FILE } from "../state/node-discovery.ts";
import type { DoctorFinding, FixablePerms } from "./doctor-finding.ts";

export interface FsCheckIo {
  readonly stat: (path: string) => Promise<Stats>;
  readonly uid: number | undefined;
  readonly home: string;
}

/** A finding plus, when `--fix` can repair it, the mode to set. */
export interface FsFinding {
  readonly finding: DoctorFinding;
  readonly fix?: FixablePerms;
}

const octal = (mode: number) => (mode & 0o777).toString(8).padStart(3, "0");

async function statOrUndefined(io: FsCheckIo, path: string): Promise<Stats | undefined> {
  try {
    return await io.stat(path);
  } catch {
    return undefined;
  }
}

function ownerFinding(io: FsCheckIo, st: Stats, path: string, what: string, idPrefix: string): FsFinding[] {
  if (io.uid === undefined || st.uid === io.uid) return [];
  return [
    {
      finding: {
        checkId: `${idPrefix}.owner`,
        severity: "warn",
        title: `${what} is owned by another user`,
        detail: `${path} is owned by uid ${st.uid}; this check runs as uid ${io.uid} (run doctor as the service user)`,
        remediation: `chown the file to the user the node agent runs as`,
      },
    },
  ];
}

/** A file that must be 0600: group/world readable is critical (a secret leaks), writable too (it can be replaced). */
async function privateFile(io: FsCheckIo, path: string, what: string, idPrefix: string, readableSeverity: "warn" | "critical"): Promise<FsFinding[]> {
  const st = await statOrUndefined(io, path);
  if (!st) return [];
  const out: FsFinding[] = [...ownerFinding(io, st, path, what, idPrefix)];
  const mode = st.mode & 0o777;
  const fix = { path, mode: 0o600 };
  const remediation = `chmod 600 ${path} (or clawgate doctor --fix)`;
  if (mode & 0o022) {
    out.push({
      finding: { checkId: `${idPrefix}.perms_writable`, severity: "critical", title: `${what} is writable by others`, detail: `${path} has mode ${octal(mode)}`, remediation },
      fix,
    });
  } else if (mode & 0o004) {
    out.push({
      finding: { checkId: `${idPrefix}.perms_world_readable`, severity: "critical", title: `${what} is world-readable`, detail: `${path} has mode ${octal(mode)}`, remediation },
      fix,
    });
  } else if (mode & 0o040) {
    out.push({
      finding: { checkId: `${idPrefix}.perms_group_readable`, severity: readableSeverity, title: `${what} is group-readable`, detail: `${path} has mode ${octal(mode)}`, remediation },
      fix,
    });
  }
  return out;
}

/** A folder holding private files: writable by others is critical (files can be swapped), listable is a warning. */
async function privateDir(io: FsCheckIo, path: string, what: string, idPrefix: string, openSeverity: "warn" | "critical"): Promise<FsFinding[]> {
  const st = await statOrUndefined(io, path);
  if (!st) return [];
  const out: FsFinding[] = [...ownerFinding(io, st, path, what, idPrefix)];
  const mode = st.mode & 0o777;
  const fix = { path, mode: 0o700 };
  const remediation = `chmod 700 ${path} (or clawgate doctor --fix)`;
  if (mode & 0o022) {
    out.push({
      finding: { checkId: `${idPrefix}.perms_writable`, severity: "critical", title: `${what} is writable by others`, detail: `${path} has mode ${octal(mode)}`, remediation },
      fix,
    });
  } else if (mode & 0o077) {
    out.push({
      finding: { checkId: `${idPrefix}.perms_open`, severity: openSeverity, title: `${what} is open to other users`, detail: `${path} has mode ${octal(mode)}`, remediation },
      fix,
    });
  }
  return out;
}

/** Absolute paths of the file providers' secrets files (`~` expanded). */
export function secretsFilePaths(loaded: LoadedConfig, home: string): string[] {
  const paths = new Set<string>();
  for (const provider of Object.values(loaded.config.secrets.providers)) {
    if (provider.source === "file") paths.add(expandHome(provider.path, home));
  }
  return [...paths];
}

export async function fsFindings(configPath: string, loaded: LoadedConfig | undefined, stateDir: string, io: FsCheckIo): Promise<FsFinding[]> {
  const out: FsFinding[] = [];
  // The config may hold plaintext credentials (until migrated) and decides who may call: 0600 like OpenClaw's.
  out.push(...(await privateFile(io, configPath, "the config file", "fs.config", "warn")));
  out.push(...(await privateDir(io, dirname(configPath), "the config folder", "fs.config_dir", "warn")));

  const stateSt = await statOrUndefined(io, stateDir);
  if (!stateSt) {
    out.push({
      finding: {
        checkId: "fs.state_dir.missing",
        severity: "info",
        title: "the state dir does not exist yet",
        detail: `${stateDir} is created (0700) at the node agent's first start`,
      },
    });
  } else {
    // The agent refuses to start with an open state dir: critical.
    out.push(...(await privateDir(io, stateDir, "the state dir", "fs.state_dir", "critical")));
    for (const name of [ADMIN_TOKEN_FILE, NODE_INFO_FILE, "intake.sqlite", "intake.sqlite-wal", "intake.sqlite-shm"]) {
      out.push(...(await privateFile(io, join(stateDir, name), `${name} in the state dir`, "fs.state_file", "critical")));
    }
  }

  if (loaded) {
    for (const path of secretsFilePaths(loaded, io.home)) {
      // The file provider refuses anything but 0600 itself; doctor says so before a start fails.
      out.push(...(await privateFile(io, path, "a secrets file", "fs.secrets_file", "critical")));
      out.push(...(await privateDir(io, dirname(path), "a secrets file's folder", "fs.secrets_dir", "warn")));
    }
  }
  return dedupeByPath(out);
}

/** The config and a secrets file often share a folder: report each path once per check. */
function dedupeByPath(findings: FsFinding[]): FsFinding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const key = `${f.fix?.path ?? f.finding.detail}|${f.finding.checkId.split(".").pop()}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
