/**
 * The chat box: one request in words, run by the agent (src/agent) with progress streamed to the
 * page. Approvals come from the person, explicitly: the chat request carries `approve`, set only by
 * the confirm button the page shows after the agent asked. Every approval asked is reported back, so
 * the page can show what needs confirming and send the same words again with approve: true.
 */
import type { ApproveFn } from '../agent/approval.ts';
import type { AgentEvent, AgentResult } from '../agent/types.ts';
import type { ApprovalAsked, ChatReply, ProgressEvent } from './types.ts';

export interface ConsoleAgentOptions {
  actor: string;
  /** The stack selected in the console (its --stack reference): the one the agent's tools act on. */
  stack: string;
  approve: ApproveFn;
  onEvent: (event: AgentEvent) => void;
}

/** The agent as the console calls it; the CLI passes a wrapper of runAgentRequest (src/agent/index.ts). */
export type ConsoleAgent = (text: string, options: ConsoleAgentOptions) => Promise<AgentResult>;

export async function runChat(
  agent: ConsoleAgent,
  input: {
    text: string;
    approve: boolean;
    actor: string;
    stack: string;
    runId: string;
    onEvent: (event: ProgressEvent) => void;
  },
): Promise<ChatReply> {
  const approvals: ApprovalAsked[] = [];
  const approver: ApproveFn = async (request) => {
    approvals.push({ ...request, approved: input.approve });
    return { approved: input.approve, by: input.actor, via: 'console' };
  };
  const result = await agent(input.text, {
    actor: input.actor,
    stack: input.stack,
    approve: approver,
    onEvent: (event) => {
      const detail = describeAgentEvent(event);
      if (detail) input.onEvent({ type: 'agent', detail });
    },
  });
  return {
    runId: input.runId,
    answer: result.message,
    approvals,
    ok: !['refused', 'declined', 'failed'].includes(result.outcome),
  };
}

/** One line per agent event, for the progress list under the chat. */
export function describeAgentEvent(event: AgentEvent): string | null {
  switch (event.type) {
    case 'intent':
      return `${event.planner}: ${event.description}`;
    case 'call':
      return `calling ${event.tool}`;
    case 'result':
      return `${event.call.tool}: ${event.call.status} — ${event.call.summary}`;
    case 'progress':
      return `${event.tool}: ${event.progress}${event.total !== undefined ? `/${event.total}` : ''}${event.message ? ` ${event.message}` : ''}`;
    case 'approval':
      return `approval ${event.decision.approved ? 'given' : 'not given'}: ${event.request.summary}`;
    case 'text':
      return event.text;
    case 'plan-step':
      return `would call ${event.tool}`;
    case 'done':
      return null;
  }
}
