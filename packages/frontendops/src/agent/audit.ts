/**
 * Every agent request — answered, refused, declined or failed — becomes one 'agent-request' entry in
 * the stack's audit chain (DESIGN §1.2), linking the words, who asked, the planner, each tool call with
 * its result summary, and the deploy id, commit and tag. Writing it must never hide the answer: a
 * failure to write is reported next to the result.
 */
import type { Environment } from '../environment.ts';
import { appendAudit } from '../state/audit.ts';
import type { AgentResult } from './types.ts';

export const AGENT_AUDIT_TYPE = 'agent-request';

export function auditData(result: AgentResult, at: Date): Record<string, unknown> {
  return {
    request: { text: result.request, actor: result.actor, planner: result.planner, at: at.toISOString() },
    intent: result.intent,
    dryRun: result.dryRun,
    calls: result.calls.map((c) => ({ tool: c.tool, args: c.args, status: c.status, summary: c.summary })),
    deployId: result.deployId ?? null,
    commit: result.commit ?? null,
    tag: result.tag ?? null,
    invalidationIds: result.invalidationIds ?? [],
    outcome: result.outcome,
    message: result.message.slice(0, 2000),
  };
}

/** Appends the entry; returns its sequence number, or the reason it could not be written. */
export async function recordAgentRequest(
  env: Environment,
  result: AgentResult,
  at: Date,
): Promise<{ seq: number } | { error: string }> {
  try {
    const entry = await appendAudit(env.state, env.target.statePrefix, env.locker, {
      type: AGENT_AUDIT_TYPE,
      data: auditData(result, at),
      at,
    });
    return { seq: entry.seq };
  } catch (error) {
    // The backend's message may name the bucket: keep it out of the answer.
    return {
      error: `the audit entry could not be written (${(error as { code?: string }).code ?? (error as Error).name})`,
    };
  }
}
