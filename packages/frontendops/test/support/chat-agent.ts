/**
 * A console agent (ConsoleAgent) that asks for one change, under a deploy id, as the agent's gate
 * does: for the tests of the chat's confirmation (runChat, the console's API), where no model and no
 * stack take part. It keeps each decision it was given and says "done" when approved, "Not approved."
 * (declined) when not.
 */
import type { AgentResult } from '../../src/agent/types.ts';
import type { ConsoleAgent } from '../../src/console/chat.ts';
import type { ApprovalAction, ApprovalDecision } from '../../src/ports.ts';

/** The deploy id the agent asks under unless told. */
export const ASKED_DEPLOY_ID = 'a31ccdd-0123456789';

export interface AskedChange {
  action: ApprovalAction;
  stack: string;
  /** What the plan says (default: "<action> sophia-dashboard@a31ccdd on <stack>"). */
  summary?: string;
  /** How the change departs from the words, as the gate found it. */
  departs?: string;
}

/** `change`: what it asks for, or what it asks for on each turn. */
export function agentAsking(
  change: AskedChange | (() => AskedChange),
  decisions: ApprovalDecision[] = [],
): ConsoleAgent {
  return async (text, options) => {
    const { action, stack, summary, departs } = typeof change === 'function' ? change() : change;
    const decision = await options.approve(
      {
        action,
        stack,
        summary: summary ?? `${action} sophia-dashboard@a31ccdd on ${stack}`,
        deployId: ASKED_DEPLOY_ID,
      },
      { asked: [action], ...(departs ? { departs } : {}) },
    );
    decisions.push(decision);
    return {
      outcome: decision.approved ? 'succeeded' : 'declined',
      message: decision.approved ? 'done' : 'Not approved.',
      request: text,
      calls: [],
    } as unknown as AgentResult;
  };
}
