/**
 * The files an installed service file starts: its Node, the clawgate entry and the config (`startArgs` in
 * service-spec.ts wrote them). Doctor checks they still exist — an upgrade to another Node, a moved checkout or
 * a removed global install leaves a unit that restarts into "file not found" forever.
 */
import { parse as parsePlist } from "plist";

/** Node, entry and config paths named by a launchd plist (ProgramArguments) or a systemd unit (ExecStart=); [] when none is found. */
export function servicePaths(file: string, text: string): string[] {
  let args: string[] = [];
  if (file.endsWith(".plist")) {
    try {
      const doc = parsePlist(text) as { ProgramArguments?: unknown };
      if (Array.isArray(doc.ProgramArguments)) args = doc.ProgramArguments.map(String);
    } catch {
      return [];
    }
  } else {
    const line = text.split("\n").find((l) => l.startsWith("ExecStart="));
    if (!line) return [];
    args = line.slice("ExecStart=".length).trim().split(/\s+/);
  }
  const config = args.indexOf("--config");
  return [args[0], args[1], config === -1 ? undefined : args[config + 1]].filter((p): p is string => typeof p === "string" && p.startsWith("/"));
}
