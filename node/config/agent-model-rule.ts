/**
 * Which agents can run nothing: every run needs a model id (the agent's own `model` or `agents.defaults.model`;
 * without a `runtime` it runs on the openai runtime), so an agent without one has each heartbeat, wake and agent
 * call given up at once (ERR_NO_MODEL, docs/dispatch.md). One rule for `clawgate doctor`, `clawgate init`,
 * `clawgate status` and the console.
 */
import type { AgentsConfig } from "./agents-schema.ts";

/** The config keys that give an agent something to run, named in every text that reports one without. */
export const AGENT_MODEL_FIX =
  'set agents.defaults.model (e.g. "ollama/llama3.1:8b" with models.providers.ollama), or agents.list[].model with agents.list[].runtime (openai, command or openclaw): docs/dispatch.md#runtimes-agentsdefaultsruntime-or-agentslistruntime';

/** The agent's model and runtime after `agents.defaults` is applied (a resolved agent-table entry has both). */
export interface AgentModelFields {
  readonly id: string;
  readonly model: unknown;
  readonly runtime: unknown;
}

/** What is wrong with an agent that can run nothing, as one line; undefined when it has a model. */
export function noModelProblem(agent: AgentModelFields): string | undefined {
  if (agent.model !== undefined) return undefined;
  return agent.runtime === undefined
    ? `agent "${agent.id}" has no model or runtime configured: its heartbeats, wakes and agent calls are given up (ERR_NO_MODEL)`
    : `agent "${agent.id}" has a runtime but no model: its heartbeats, wakes and agent calls are given up (ERR_NO_MODEL)`;
}

/**
 * The configured agents that can run nothing, each with its problem: without an `agents.list` the implicit agent
 * "main"; none without an `agents` section (an intake-only node runs nothing).
 */
export function agentsWithoutModel(agents: AgentsConfig | undefined): { readonly id: string; readonly problem: string }[] {
  if (agents === undefined) return [];
  const defaults = agents.defaults ?? {};
  const list: readonly { id: string; model?: unknown; runtime?: unknown }[] = agents.list?.length ? agents.list : [{ id: "main" }];
  return list.flatMap((a) => {
    const problem = noModelProblem({ id: a.id, model: a.model ?? defaults.model, runtime: a.runtime ?? defaults.runtime });
    return problem === undefined ? [] : [{ id: a.id, problem }];
  });
}
