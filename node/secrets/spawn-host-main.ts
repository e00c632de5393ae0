/**
 * The spawn host process: it runs exec resolvers for the node agent, so the fork+exec stall of each spawn
 * lands in this small process instead of the agent's event loop. It exits, killing every resolver group it
 * started, as soon as its IPC channel to the agent closes — including when the agent is killed with -9.
 */
import type { ChildProcess } from "node:child_process";
import { lowerOwnPriority, lowerSessionPriority } from "./background-priority.ts";
import { type ExecSpec, killTree, runResolverProcess } from "./exec-runner.ts";

interface Request {
  readonly id: number;
  readonly spec: ExecSpec;
}

const running = new Set<ChildProcess>();

process.on("message", (message: Request) => {
  void runResolverProcess(message.spec, undefined, (child) => {
    if (child.pid !== undefined) lowerSessionPriority(child.pid);
    running.add(child);
    child.once("close", () => running.delete(child));
  }).then((outcome) => {
    if (process.connected) process.send!({ id: message.id, outcome });
  });
});

process.on("disconnect", () => {
  for (const child of running) killTree(child);
  process.exit(0);
});

// Resolvers inherit the host's lower priority: resolution yields the cores to the agent's requests.
lowerOwnPriority();
process.send!({ ready: true });
