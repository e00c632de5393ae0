/**
 * Session keys stay inside their agent (docs/security.md): a session key the caller chose, directly or through
 * a mapping's template, that names an agent (`agent:<id>:…`, OpenClaw's agent-scoped form) must name the agent
 * the call runs as; otherwise one agent would read and extend another agent's transcript.
 */

const AGENT_SCOPED = /^agent:([^:]*)/i;
/** Caller text is quoted in the answer only this far. */
const SHOWN = 64;

/**
 * The 400 text refusing `sessionKey` for a call that runs as `targetAgentId`, or undefined when the key names
 * no agent or names that one (agent ids compare case-insensitively, as OpenClaw normalises them).
 */
export function sessionScopeProblem(sessionKey: string, targetAgentId: string): string | undefined {
  const named = AGENT_SCOPED.exec(sessionKey)?.[1];
  if (named === undefined || named.toLowerCase() === targetAgentId.toLowerCase()) return undefined;
  const shown = JSON.stringify(named.length > SHOWN ? `${named.slice(0, SHOWN)}…` : named);
  return `sessionKey must stay inside its agent: it names agent ${shown}, but the call runs as agent ${JSON.stringify(targetAgentId)}`;
}
