/**
 * The infra server's approval question (an elicitation's message), written by the server and read by
 * the agent's gate, said once. The gate answers a question from a decision a person made about one
 * plan, so it must read which plan the server is asking about: the deploy id, which the message ends
 * with. Read from the end, so no summary text before it can pose as one.
 */
import { DEPLOY_ID } from '../engine/ids.ts';

export interface ApprovalQuestion {
  stack: string;
  action: string;
  summary: string;
  deployId: string;
  expiresAt: string;
}

export const approvalQuestion = (q: ApprovalQuestion): string =>
  `${q.stack} is a protected environment. Approve this ${q.action}? ${q.summary} (deploy id ${q.deployId}; the question expires at ${q.expiresAt}).`;

/**
 * The first words of an APPROVAL_REQUIRED refusal, the CLI's and the infra server's alike: which
 * environment, why it is protected (`protectedBy`, where known) and what needs the approval.
 */
export const needsApproval = (site: { target: { stack: string }; protectedBy?: string }, what: string) =>
  `${site.target.stack} is a protected environment${site.protectedBy ? ` (${site.protectedBy})` : ''}: "${what}" needs a person's approval.`;

const ASKED = new RegExp(
  `\\(deploy id (${DEPLOY_ID.source.slice(1, -1)}); the question expires at [^()]*\\)\\.$`,
);

/** The deploy id an approval question is about, or undefined when the message is not one. */
export const askedDeployId = (message: string): string | undefined => ASKED.exec(message)?.[1];

/**
 * How the sentence starts that tells an approver what approving also adopts of the configuration's
 * approval policy (state/approval-policy.ts adoptionWords); the server puts it last in its summary.
 */
export const ADOPTS = 'This approval also adopts ';

/**
 * What an approval question says approving also adopts (the sentence starting ADOPTS, up to the
 * deploy id), or undefined when it adopts nothing. Read from the last such sentence, so words in the
 * plan's own description can add a question, never hide one.
 */
export function askedAdoption(message: string): string | undefined {
  const end = ASKED.exec(message)?.index;
  if (end === undefined) return undefined;
  const start = message.lastIndexOf(ADOPTS, end);
  return start < 0 ? undefined : message.slice(start, end).trim();
}

/**
 * The last step of an APPROVAL_REQUIRED refusal, in an MCP client's terms: call the tool again. The
 * agent says it to its person in theirs (agent/runbook.ts), so the words are one piece both read.
 */
export const callAgain = (tool: string): string => `then call ${tool} again with the same arguments`;
