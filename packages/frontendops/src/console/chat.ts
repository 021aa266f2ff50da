/**
 * The chat box: one request in words, run by the agent (src/agent) with progress streamed to the
 * page in people's words (the tool's own words one click away). Approvals come from the person,
 * explicitly, for one plan: when the agent needs one, the reply carries that plan (its deploy id) and
 * the page shows it with a confirm button; confirming sends the same words again with that deploy id,
 * and only an approval request for exactly that plan, in exactly the words shown, is approved. If the
 * agent now plans something else (a newer build was published meanwhile), nothing is approved and the
 * new plan is shown.
 */
import type { ApproveFn } from '../agent/approval.ts';
import type { AgentEvent, AgentResult } from '../agent/types.ts';
import type { ApprovalRequest } from '../ports.ts';
import type { ApprovalAsked, ChatConfirm, ChatReply, ProgressEvent } from './types.ts';

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
    /**
     * The plan the person confirmed, as the page showed it (its deploy id, kind of change, the stack
     * the gate named and its words), if this is a confirmation.
     */
    confirm: ChatConfirm | null;
    actor: string;
    stack: string;
    runId: string;
    onEvent: (event: ProgressEvent) => void;
  },
): Promise<ChatReply> {
  const approvals: ApprovalAsked[] = [];
  let pending: ChatConfirm | null = null;
  // What the page showed of each plan asked for here, to confirm again after an approver's signature.
  const shownPlans = new Map<ApprovalAsked, ChatConfirm>();
  const approver: ApproveFn = async (request, { departs }) => {
    const shown = planShown(request, departs);
    // The deploy id alone is not the plan: a deploy of a commit and a rollback or promote to it,
    // planned from one live release, share it, and a canary's share is not in it. What was confirmed
    // is that kind of change, there, in the words the page showed (the share, how it departs from
    // the words of the request).
    const confirmed = input.confirm;
    const bound =
      shown !== null &&
      confirmed !== null &&
      shown.deployId === confirmed.deployId &&
      shown.action === confirmed.action &&
      shown.stack === confirmed.stack &&
      shown.summary === confirmed.summary;
    const asked: ApprovalAsked = { ...request, approved: bound };
    approvals.push(asked);
    if (shown) shownPlans.set(asked, shown);
    if (bound)
      return { approved: true, by: input.actor, via: `the console (confirmed plan ${request.deployId})` };
    if (shown && !pending) pending = shown;
    return { approved: false, by: input.actor, via: 'the console, waiting for a confirmation' };
  };
  const result = await agent(input.text, {
    actor: input.actor,
    stack: input.stack,
    approve: approver,
    onEvent: (event) => {
      const words = describeAgentEvent(event);
      if (words) input.onEvent({ type: 'agent', detail: words.detail, headline: words.headline });
    },
  });
  // The page's confirmation is the agent host's word. Where the infra server wants an approver's
  // signature for that same plan, the plan stays open: once signed, the next confirmation deploys it.
  const needsSignature = result.calls.find(
    (call) => call.status === 'error' && call.summary.includes('APPROVAL_REQUIRED'),
  );
  const confirmed = input.confirm ? approvals.find((a) => a.approved) : undefined;
  const reopened = confirmed && shownPlans.get(confirmed);
  if (needsSignature && reopened && !pending) {
    return {
      runId: input.runId,
      answer: `Waiting for an approver's signature. ${forThePage(result.message)} Then confirm again.`,
      approvals,
      ok: false,
      confirm: reopened,
      replaced: null,
    };
  }
  const confirm = pending as ChatConfirm | null;
  const replaced = input.confirm && confirm ? input.confirm.deployId : null;
  const answer = confirm
    ? replaced
      ? `The plan changed since you confirmed ${replaced}, so nothing was changed. This is the plan now: confirm it if it is what you want.`
      : 'Nothing has changed yet: this needs your confirmation.'
    : forThePage(result.message);
  return {
    runId: input.runId,
    answer,
    approvals,
    ok: confirm !== null || !['refused', 'declined', 'failed'].includes(result.outcome),
    confirm,
    replaced,
  };
}

/**
 * The plan the page shows for an approval request, or null where it names no plan (no deploy id):
 * where the agent's gate found the change is not the one the words name, the page says so.
 */
function planShown(request: ApprovalRequest, departs: string | undefined): ChatConfirm | null {
  if (!request.deployId) return null;
  return {
    action: request.action,
    stack: request.stack,
    summary: departs
      ? `${request.summary}. Note: this is not the change the words name: ${departs}.`
      : request.summary,
    deployId: request.deployId,
  };
}

/**
 * Words for a web page: terminal advice (--yes, `frontendops …` commands) has no place there — except
 * the approver's own step (`frontendops approve …`, `frontendops approver init`), which no page can
 * take for them: their signature is made with their key, in their terminal.
 */
export function forThePage(text: string): string {
  return text
    .replace(/`frontendops (?!approve)[^`]*`,? (or )?/g, '')
    .split(/(?<=\.)\s+/)
    .filter((sentence) => !/--yes\b/.test(sentence))
    .join(' ')
    .replace(/\(\s*\)/g, '')
    .trim();
}

const TOOL_WORDS: Record<string, string> = {
  latest_commit: 'Finding the latest commit of the app',
  get_commit: 'Looking up the commit',
  commits_between: 'Listing the commits in the release',
  list_deploy_tags: 'Reading the deploy tags',
  get_deploy_target: 'Planning the deploy',
  plan_deploy: 'Working out what would change',
  run_sync: 'Copying the files, HTML last',
  invalidate_cdn: 'Refreshing the CDN and checking the site',
  create_deploy_tag: 'Tagging the release in git',
  get_status: 'Reading what is live',
  get_history: 'Reading the history',
  rollback: 'Rolling back',
  promote_release: 'Promoting the release',
  pin_release: 'Pinning the live release',
  unpin_release: 'Lifting the pin',
  record_request: 'Recording the request in the audit log',
};

const toolWords = (tool: string) => TOOL_WORDS[tool] ?? tool;

/** One line per agent event for people, and the tool's own words as the detail. */
export function describeAgentEvent(event: AgentEvent): { headline: string; detail: string } | null {
  switch (event.type) {
    case 'intent':
      return { headline: `Understood: ${event.description}`, detail: `${event.planner}: ${event.intent}` };
    case 'call':
      // The result says it in words; the call itself is for the detail list only.
      return { headline: '', detail: `calling ${event.tool}` };
    case 'result': {
      const { call } = event;
      const detail = `${call.tool}: ${call.status} — ${call.summary}`;
      if (call.status === 'ok') return { headline: `Done: ${toolWords(call.tool).toLowerCase()}`, detail };
      if (call.status === 'skipped')
        return { headline: `Would: ${toolWords(call.tool).toLowerCase()}`, detail };
      return {
        headline: `Not done: ${toolWords(call.tool).toLowerCase()} — ${forThePage(call.summary)}`,
        detail,
      };
    }
    case 'progress':
      return {
        headline: `Copying files ${event.progress}${event.total !== undefined ? ` of ${event.total}` : ''}`,
        detail: `${event.tool}: ${event.progress}${event.total !== undefined ? `/${event.total}` : ''}${event.message ? ` ${event.message}` : ''}`,
      };
    case 'approval':
      return {
        headline: event.decision.approved
          ? `Confirmed by ${event.decision.by}: ${event.request.summary}`
          : `Needs your confirmation: ${event.request.summary}`,
        detail: `approval ${event.decision.approved ? 'given' : 'not given'} (${event.decision.via})`,
      };
    case 'text':
      return { headline: event.text, detail: 'the model' };
    case 'plan-step':
      return {
        headline: `Would: ${toolWords(event.tool).toLowerCase()}`,
        detail: `would call ${event.tool}`,
      };
    case 'done':
      return null;
  }
}
