/** `~` expansion for config paths: `~` and `~/x` become the home folder; `~user` is left as written. */
import { homedir } from "node:os";
import { join } from "node:path";

export function expandHome(p: string, home: string = homedir()): string {
  if (p === "~") return home;
  if (p.startsWith("~/")) return join(home, p.slice(2));
  return p;
}
