/**
 * The approval gate in front of run_sync and rollback on protected stacks. Whoever asks — the
 * model, the agent, an MCP client — is never who approves. In order:
 * 1. the server records an approval request for this exact change (stack, action, deploy id, a
 *    nonce, an expiry), or finds the one it made before;
 * 2. a signed approval of that request by a key the stack's configuration lists is accepted
 *    (`frontendops approve`, run by the person who holds the key);
 * 3. in a GitHub Actions job, the deployment environment's approval is accepted, proved by the
 *    job's OIDC token (configured per stack; one change per run);
 * 4. only where the stack's configuration trusts its clients (`trustElicitation`): the MCP client's
 *    answer to the server's question, or the Approver the server was given (the console's button);
 * 5. otherwise the call is refused, saying who can approve and how.
 * Every approval is used once, under the deploy lock, just before the first write.
 */

import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  type CallToolResult,
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  type ClientCapabilities,
  type Implementation,
  type InputRequiredResult,
  inputRequired,
  inputResponse,
  type McpServer,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { jobEnvironmentOf } from '../../approval/github-job.ts';
import { githubEnvironmentGrant } from '../../approval/github-oidc.ts';
import type { ApprovalPolicy } from '../../config.ts';
import { approvalQuestion, callAgain, needsApproval } from '../../contract/approval-question.ts';
import { FrontendOpsError } from '../../errors.ts';
import type { ApprovalUsed, Approver } from '../../ports.ts';
import type { Site } from '../../site.ts';
import { approvalInForce } from '../../state/approval-in-force.ts';
import {
  adoptedNothingWords,
  adoptionWords,
  githubIdsWords,
  howToAdopt,
  notRecorded,
  type PolicyInForce,
} from '../../state/approval-policy.ts';
import {
  type Approval,
  type ApprovalAction,
  type ApprovalRequest,
  assertApprovedChange,
  auditDecision,
  changeDigest,
  checkSignedApproval,
  consumeApproval,
  openApprovalRequest,
  otherPinWords,
  type PlannedChange,
  policyDigest,
  readApprovalRequest,
} from '../../state/approvals.ts';
import { samePin } from '../../state/pin.ts';
import { toolFailure } from '../tool-result.ts';

export interface ApprovalGateInput {
  server: McpServer;
  ctx: ServerContext;
  site: Site;
  action: ApprovalAction;
  deployId: string;
  /** What would happen, naming no bucket: "deploy sophia-dashboard@3f2c1a9 to … : 40 files to copy …" */
  summary: string;
  /** What `frontendops approve` plans again to show the person the same change. */
  change: { app: string; commit: string; to?: string; weight?: number };
  /** The change as planned (a dry run): what the approval binds, and what the run under the lock must plan. */
  plan: PlannedChange;
  /** The tool to call again after approving, for the refusal message. */
  tool: string;
  secret: Buffer;
  approver?: Approver;
  now: () => number;
  /** Where a GitHub Actions job's OIDC request variables are read (default process.env). */
  env?: NodeJS.ProcessEnv;
  fetch?: typeof fetch;
}

export type ApprovalOutcome =
  | {
      approved: true;
      by: string;
      via: string;
      /** Where the approval counted but adopted nothing the configuration says: what, and why (adoptedNothingWords). */
      note?: string;
      /**
       * Marks the approval used; call under the deploy lock before the first write, with the plan made
       * there. Throws CONFLICT if that plan is another change than the one approved (the live release
       * changed meanwhile), DENIED if the approval was used. Returns what the change's entry names
       * (none where nothing needed approving).
       */
      use(plan: PlannedChange): Promise<ApprovalUsed | undefined>;
    }
  | { approved: false; result: CallToolResult | InputRequiredResult };

const ANSWER_KEY = 'approval';

/** A run that, under the deploy lock, plans another change than the one its approval (or its dry run) was of. */

export async function requireApproval(input: ApprovalGateInput): Promise<ApprovalOutcome> {
  const { site, deployId, action, summary, now } = input;
  if (!site.protected)
    return { approved: true, by: 'nobody', via: 'unprotected', use: async () => undefined };

  const client = describeClient(input.server, input.ctx);
  // A promote asked before, to lift another pin: an approval of that is not of this.
  const lifts = input.plan.clearsPin;
  const before =
    lifts !== undefined ? (await readApprovalRequest(site, action, deployId))?.request : undefined;
  const voided: string[] = [];
  const request = await openApprovalRequest(site, {
    action,
    deployId,
    summary,
    ...input.change,
    change: changeDigest(input.plan),
    ...(lifts !== undefined ? { clears: lifts } : {}),
    // The configured policy it is asked under: an approver whose configuration says another is told
    // their approval adopts none.
    policy: policyDigest(site.approval),
    requestedBy: client.name,
    now: now(),
    // The request before was approved, and that approval does not count now: said, instead of the
    // stored statement answering another request (which it then does).
    onVoided: (words) => voided.push(words),
  });
  // Who approves is what both the configuration and the audit log's record accept (approval-policy.ts).
  const inForce = await approvalInForce(site);
  const policy = inForce.policy;
  const problems: string[] = [...voided];
  const signed = await checkSignedApproval(site, request, now(), inForce);
  // Its approver was shown what it adopts of the configuration as it was then: changed since, it
  // records the policy in force, adopting nothing they were not shown.
  if (signed && 'approval' in signed)
    return granted(
      input,
      inForce,
      signed.approval,
      request.nonce,
      request.expiresAt,
      signed.adopts ? undefined : inForce.policy,
      signed.adopts ? undefined : adoptedNothingWords(inForce, 'its approver was not shown it'),
    );
  if (signed && 'rejected' in signed) {
    const otherPin =
      before?.clears !== undefined && before.nonce !== request.nonce && !samePin(before.clears, lifts);
    if (voided.length === 0)
      problems.push(
        `the stored approval was not accepted: ${otherPin ? `${otherPinWords(before?.clears, lifts)}; ask for a new approval of this plan` : signed.rejected}`,
      );
    await auditDecision(site, {
      decision: 'rejected',
      action,
      deployId,
      summary,
      by: 'unknown',
      via: 'signed',
      reason: signed.rejected,
      now: now(),
    });
  }

  if (policy.github) {
    const grant = await githubEnvironmentGrant(policy.github, action, input.env, input.fetch);
    // Its reviewers are not shown what it would adopt: it records the policy in force, adopting nothing.
    if (grant && 'approval' in grant)
      return granted(
        input,
        inForce,
        grant.approval,
        grant.grantKey,
        undefined,
        inForce.policy,
        adoptedNothingWords(inForce, 'its reviewers were not shown it'),
      );
    if (grant && 'rejected' in grant) problems.push(`no GitHub environment approval: ${grant.rejected}`);
  }

  if (policy.trustElicitation) {
    // In a GitHub Actions job whose environment approves the stack's changes, that environment (its
    // OIDC token, above) approves the job's, for the actions it lists, as it does the CLI's --yes
    // there: the job's own client answering the question would approve what its reviewers did not.
    const job = jobEnvironmentOf(input.env ?? process.env, inForce);
    if (job) {
      problems.push(
        `in a GitHub Actions job, an MCP client's answer is no approval of ${site.target.stack}'s changes: the "${job.environment}" environment's reviewers approve them, for ${job.actions.join(' and ')} (approval.github.actions)`,
      );
    } else {
      const answered = await askClient(input, request, client, inForce);
      if (answered) return answered;
    }
  }

  return refuse(
    new FrontendOpsError('APPROVAL_REQUIRED', refusal(input, request, client, problems, inForce)),
  );
}

/** Which client is calling and whether it can answer elicitation requests (per request on the 2026 era). */
export function describeClient(server: McpServer, ctx: ServerContext): { name: string; canElicit: boolean } {
  const envelope = (ctx.mcpReq.envelope ?? {}) as Record<string, unknown>;
  const capabilities = (envelope[CLIENT_CAPABILITIES_META_KEY] ?? server.server.getClientCapabilities()) as
    | ClientCapabilities
    | undefined;
  const info = (envelope[CLIENT_INFO_META_KEY] ?? server.server.getClientVersion()) as
    | Implementation
    | undefined;
  return {
    name: nameOf(info?.name) ?? 'an MCP client',
    canElicit: Boolean(capabilities?.elicitation),
  };
}

// ── private helpers ──────────────────────────────────────────────────────────────────────────────

/**
 * `expiresAt`: the end of the request's hour, held again when the approval is used (the run may have
 * waited for the lock, or finished an interrupted change first, after the gate accepted it).
 */
function granted(
  input: ApprovalGateInput,
  /** The policy in force it was judged under: what its use holds the chain to, and records by default. */
  judged: PolicyInForce,
  approval: Approval,
  nonce: string,
  expiresAt?: string,
  /** The policy its use records (consumeApproval): by default the configured one, which it adopts. */
  records?: ApprovalPolicy,
  /** What the result says it did not adopt, and why. */
  note?: string | null,
): ApprovalOutcome {
  return {
    approved: true,
    by: approval.by,
    via: approval.via,
    ...(note ? { note } : {}),
    async use(plan) {
      // Planned again under the lock: the same deploy id may be another change by now (a canary
      // started again after an abort, another share, a release's promote where a canary's was asked).
      assertApprovedChange(input.plan, plan);
      if (expiresAt !== undefined && !(Date.parse(expiresAt) > input.now())) {
        throw new FrontendOpsError(
          'DENIED',
          `The approval of this ${input.action} (${input.deployId}) expired at ${expiresAt}, before the change could start (it waited for the deploy lock). Nothing was changed. Ask for the change again: the server makes a new request to approve.`,
        );
      }
      const first = await consumeApproval(input.site, nonce, {
        action: input.action,
        deployId: input.deployId,
        approval,
        now: input.now(),
        judged,
        ...(records ? { records } : {}),
      });
      if (!first) {
        throw new FrontendOpsError(
          'DENIED',
          `The approval of this ${input.action} (${input.deployId}) was already used; an approval is good for one change. Nothing was changed. Ask for a new approval.`,
        );
      }
      return { nonce, by: approval.by, via: approval.via };
    },
  };
}

/**
 * A trusted client's answer: the elicitation round trip (the answer counts only with the server's
 * signature over this request's nonce, and only a literal confirm: true), or the server's Approver.
 * Returns the outcome, or null when the client cannot be asked.
 */
async function askClient(
  input: ApprovalGateInput,
  request: ApprovalRequest,
  client: { name: string; canElicit: boolean },
  inForce: PolicyInForce,
): Promise<ApprovalOutcome | null> {
  const { site, action, deployId, summary, now } = input;
  const stack = site.target.stack;
  // The answer is bound to the question as it was asked, what approving adopts included: asked
  // under another configured policy (changed before the answer came), it answers nothing.
  const token = approvalToken(input.secret, request, inForce.configured);
  const adopts = adoptionWords(inForce);
  // What the person is asked to approve: the plan, and what approving it adopts.
  const shown = adopts ? `${summary}. ${adopts}` : summary;
  const record = (approved: boolean, by: string, via: 'elicitation' | 'approver') =>
    auditDecision(site, {
      decision: approved ? 'approved' : 'declined',
      action,
      deployId,
      summary,
      by,
      via,
      now: now(),
    });
  const answer = inputResponse(input.ctx.mcpReq.inputResponses, ANSWER_KEY);
  if (answer.kind === 'elicit') {
    if (!sameToken(String(input.ctx.mcpReq.requestState() ?? ''), token)) {
      return refuse(
        new FrontendOpsError(
          'DENIED',
          `The approval answer does not belong to this ${action} of ${stack} (it carries no matching request state). Nothing was changed. Call ${input.tool} again and answer the approval question it asks.`,
        ),
      );
    }
    const content = answer.content ?? {};
    const claimed = nameOf(content.approver);
    const by = `${claimed ?? 'the user'} (as claimed by ${client.name})`;
    const approved = answer.action === 'accept' && content.confirm === true;
    await record(approved, by, 'elicitation');
    if (approved)
      return granted(input, inForce, { by, via: 'elicitation' }, request.nonce, request.expiresAt);
    return refuse(
      new FrontendOpsError(
        'DENIED',
        `Not approved: "${summary}" was ${answer.action === 'accept' ? 'not confirmed' : answer.action === 'cancel' ? 'cancelled' : 'declined'} by ${by}. Nothing was changed.`,
      ),
    );
  }

  if (client.canElicit) {
    return {
      approved: false,
      result: inputRequired({
        inputRequests: {
          [ANSWER_KEY]: inputRequired.elicit({
            mode: 'form',
            // What it adopts is part of the summary: the question ends with the deploy id, which an
            // agent's gate reads from the end (askedDeployId) to answer only for the plan it approved.
            message: approvalQuestion({
              stack,
              action,
              summary: shown,
              deployId,
              expiresAt: request.expiresAt,
            }),
            requestedSchema: {
              type: 'object',
              properties: {
                confirm: {
                  type: 'boolean',
                  title: 'Approve',
                  description: `Yes: ${summary}.`,
                },
                approver: {
                  type: 'string',
                  title: 'Your name',
                  description: 'Recorded in the audit log as the approver (as your client claims it).',
                  maxLength: 100,
                },
              },
              required: ['confirm'],
            },
          }),
        },
        requestState: token,
      }),
    };
  }

  if (input.approver) {
    const decision = await input.approver.approve({
      action,
      stack,
      summary: shown,
      deployId,
    });
    const by = `${nameOf(decision.by) ?? 'someone'} (via ${nameOf(decision.via) ?? 'the approver'})`;
    await record(decision.approved, by, 'approver');
    if (decision.approved)
      return granted(input, inForce, { by, via: 'approver' }, request.nonce, request.expiresAt);
    return refuse(
      new FrontendOpsError(
        'DENIED',
        `Not approved: "${summary}" was declined by ${by}. Nothing was changed.`,
      ),
    );
  }
  return null;
}

function refusal(
  input: ApprovalGateInput,
  request: ApprovalRequest,
  client: { name: string; canElicit: boolean },
  problems: string[],
  inForce: PolicyInForce,
): string {
  const { site, deployId, summary, tool } = input;
  const stack = site.target.stack;
  const policy = inForce.policy;
  const unrecorded = notRecorded(inForce, stack);
  const names = Object.keys(policy.approvers);
  const ways: string[] = [];
  if (names.length > 0) {
    // Several changes can wait under one deploy id (a canary's start, promote and abort; a deploy and
    // a promote of one build from one live release): the command names which, so it works as given.
    const which = ` --action ${request.action}`;
    ways.push(
      `An approver of ${stack} (${names.join(', ')}) approves it in a terminal with \`frontendops approve ${deployId} --stack ${stack}${which}\`, which shows this plan first; ${callAgain(tool)}.`,
    );
  }
  if (policy.github) {
    const { repository, repositoryId, ownerId, environment } = policy.github;
    // Where the policy names ids, a repository of that name with others (created again) is no way.
    const which =
      repositoryId === undefined && ownerId === undefined
        ? ''
        : ` (${githubIdsWords(policy.github)}; not another repository of that name)`;
    ways.push(
      `A GitHub Actions job of ${repository}${which} running in the "${environment}" environment is approved by that environment's reviewers.`,
    );
  }
  if (unrecorded.length > 0) ways.push(`But ${unrecorded.join('; ')}: ${howToAdopt(inForce, stack)}.`);
  if (ways.length === 0) {
    ways.push(
      `No approver is configured for ${stack}: a person creates an approver key with \`frontendops approver init\` and lists its public key under "approval.approvers" in frontendops.config.json.`,
    );
  }
  if (client.canElicit && !policy.trustElicitation) {
    ways.push(`(Answers from MCP clients such as ${client.name} do not count for ${stack}.)`);
  }
  return [
    `${needsApproval(site, summary)} Nothing was changed.`,
    ...ways,
    `The request is for this plan only and expires at ${request.expiresAt}.`,
    ...(problems.length > 0 ? [`Note: ${problems.join('; ')}.`] : []),
  ].join(' ');
}

const refuse = (error: FrontendOpsError): ApprovalOutcome => ({
  approved: false,
  result: toolFailure(error),
});

/** Binds an elicitation answer to this server, this request and its nonce, and the configured policy it was asked under. */
const approvalToken = (secret: Buffer, request: ApprovalRequest, configured: ApprovalPolicy) =>
  createHmac('sha256', secret)
    .update(
      `approval\n${request.stack}\n${request.action}\n${request.deployId}\n${request.nonce}\n${request.expiresAt}\n${policyDigest(configured)}`,
    )
    .digest('base64url');

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A display name from an untrusted value: printable, short, or nothing. */
function nameOf(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const clean = value
    .replace(/[^\p{L}\p{N} @._'()-]/gu, '')
    .trim()
    .slice(0, 100);
  return clean === '' ? undefined : clean;
}
