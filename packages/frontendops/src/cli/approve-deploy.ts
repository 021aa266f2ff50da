/**
 * `frontendops approve <deployId> --stack <stack>`: a person answers an approval request the infra
 * server made for a change of a protected stack. It approves only a request that exists, is
 * unexpired and unused; it plans the change again from what is live now, shows that plan, and
 * refuses when it is no longer the one requested; then it signs the request with the person's
 * approver key. The server accepts the signature only from a key the stack's configuration lists.
 */
import type { KeyObject } from 'node:crypto';
import { hostname } from 'node:os';
import { lockName } from '../adapters/lock-holder.ts';
import { encodePublicKey } from '../approval/keys.ts';
import { deployArtifact, rollbackRelease } from '../deploy/deploy.ts';
import { describePlan, describePromote } from '../engine/describe.ts';
import { checkDeployId } from '../engine/ids.ts';
import type { DeployPlan } from '../engine/plan.ts';
import { capitalise } from '../engine/text.ts';
import { badInput, FrontendOpsError, holding } from '../errors.ts';
import type { Site } from '../site.ts';
import { approvalInForce } from '../state/approval-in-force.ts';
import {
  adoptionWords,
  howToAdopt,
  notRecorded,
  otherPolicyWords,
  type PolicyInForce,
} from '../state/approval-policy.ts';
import {
  type ApprovalAction,
  type ApprovalRequest,
  type ApprovalStatement,
  auditDecision,
  changeDigest,
  checkSignedApproval,
  findStoredRequests,
  isRequestRecorded,
  isUsed,
  requestWindowProblem,
  type StoredRequest,
  signApproval,
  signedAsRecorded,
} from '../state/approvals.ts';
import { approvalAnswerOnChain } from '../state/audit.ts';
import type { AuditEntry } from '../state/audit-entry.ts';
import { pinLiftedWords } from '../state/pin.ts';
import { assertStateAsRecorded, readPinAsRecorded } from '../state/recorded-state.ts';
import type { RequestInfo } from '../state/records.ts';

export interface ApprovalPreview {
  request: ApprovalRequest;
  plan: DeployPlan;
  /** The plan in one sentence: "deploy sophia-dashboard@3f2c1a9 to prod (live: 1a2b3c4): 8 files to copy, …" */
  description: string;
  /**
   * What approving also adopts of the configuration's approval policy (approval-policy.ts
   * adoptionWords), or that it adopts none where the server asked under another (otherPolicyWords).
   */
  adopts?: string;
}

export interface ApproveOptions {
  deployId: string;
  action?: ApprovalAction;
  /** Who runs the dry run (recorded nowhere: it changes nothing). */
  request: RequestInfo;
  /** The approver's private key, loaded only once the request was found. */
  loadKey(): Promise<KeyObject>;
  /** Shows the plan and asks; false declines. */
  confirm(preview: ApprovalPreview, approver: string): Promise<boolean>;
  now?: () => number;
}

export async function approveRequest(
  site: Site,
  options: ApproveOptions,
): Promise<{ statement: ApprovalStatement; preview: ApprovalPreview }> {
  const now = options.now ?? Date.now;
  const request = await findOpenRequest(site, options.deployId, options.action, now());
  const preview = await planAgain(site, request, options.request);

  const key = await options.loadKey();
  const publicKey = encodePublicKey(key);
  // Who approves is what both the configuration and the audit log's record accept (approval-policy.ts).
  const inForce = await approvalInForce(site);
  const name = Object.entries(inForce.policy.approvers).find(([, listed]) => listed === publicKey)?.[0];
  const configured = Object.entries(inForce.configured.approvers).find(([, listed]) => listed === publicKey);
  if (!name && configured) {
    const stack = site.target.stack;
    throw new FrontendOpsError(
      'DENIED',
      `Your approver key counts for nothing yet: ${notRecorded(inForce, stack)
        .filter((part) => part.includes(`"${configured[0]}"`))
        .join('; ')}. Nothing was approved. ${capitalise(howToAdopt(inForce, stack))}.`,
    );
  }
  if (!name) {
    throw new FrontendOpsError(
      'DENIED',
      `Your approver key (${publicKey}) is not an approver of ${site.target.stack}, so nothing was approved. ` +
        `To become one, have this line added under "approval.approvers" in frontendops.config.json (a change your team reviews): "<your name>": "${publicKey}".`,
    );
  }

  // What approving adopts, as the server asked: where this configuration is not the one it asked
  // under (another checkout, or changed since), the approver is told it adopts none, and it names none.
  const other = otherPolicyWords(request.policy, inForce);
  const adopts = other ?? adoptionWords(inForce);
  if (!(await options.confirm({ ...preview, ...(adopts ? { adopts } : {}) }, name))) {
    await auditDecision(site, {
      decision: 'declined',
      action: request.action,
      deployId: request.deployId,
      summary: preview.description,
      by: `${name} (approver key)`,
      via: 'cli',
      now: now(),
    });
    throw new FrontendOpsError(
      'DENIED',
      `Not approved: "${preview.description}" was declined. Nothing was changed.`,
    );
  }
  // Another approver may have answered while this one read the plan (a request posted to a team's
  // channel): the check holds again under a lock of the request, where the answer is written. A
  // second record of one approval reads as tampered in `audit verify`, for good (append-only chain).
  const lock = await site.locker.acquire(approvalLockName(site, request), {
    label: `Approving ${request.action} ${request.deployId} of ${site.target.stack}`,
    owner: `${name} on ${hostname()} (pid ${process.pid})`,
    ttlMs: 60_000,
    waitMs: 30_000,
    onWait: (notice) => site.notify(notice),
  });
  const statement = await holding(lock, async () => {
    await assertNotAnswered(site, request, now(), inForce);
    return signApproval(site, request, { key, name }, now(), {
      description: preview.description,
      policy: other ? null : inForce.configured,
    });
  });
  return { statement, preview };
}

/** The lock one request's answer is written under: named by the stack's state location and the request. */
const approvalLockName = (site: Site, request: ApprovalRequest) =>
  lockName('approve', site.target.stateBucket, site.target.statePrefix, request.action, request.deployId);

/** The request this deploy id names, checked to be open; errors say what to do instead. */
async function findOpenRequest(
  site: Site,
  deployId: string,
  action: ApprovalAction | undefined,
  now: number,
): Promise<ApprovalRequest> {
  checkDeployId(deployId, 'Pass the deploy id named in the refusal message.');
  const stack = site.target.stack;
  const stored = await findStoredRequests(site, deployId);
  const waiting = stored.map((read) => read.request);
  const requests = stored.filter((read) => !action || read.request.action === action);
  if (requests.length === 0) {
    // Another action of this deploy id waits: said, with how to approve it.
    const others = waiting.map((r) => `${r.action} (--action ${r.action})`);
    throw new FrontendOpsError(
      'NOT_FOUND',
      `No approval was requested for ${action ?? 'a change'} ${deployId} of ${stack}, so there is nothing to approve. ` +
        (others.length > 0
          ? `What waits for ${deployId} is: ${others.join(', ')}. Approve that one if it is the change you mean.`
          : 'Approvals answer requests the server made: ask the agent to make the change, then approve the deploy id its refusal names.'),
    );
  }
  if (requests.length > 1) {
    const actions = requests.map((r) => r.request.action);
    throw badInput(
      `Approvals of ${actions.join(' and ')} ${deployId} wait; pass the one you mean: ${actions.map((a) => `--action ${a}`).join(' or ')}.`,
    );
  }
  const read = requests[0] as StoredRequest;
  const { request } = read;
  const stretched = requestWindowProblem(request, now);
  if (stretched) {
    throw new FrontendOpsError(
      'TAMPERED',
      `The approval request for ${request.action} ${deployId} of ${stack} was changed after the server wrote it: ${stretched}. Nothing was approved. Run \`frontendops audit verify\` to see what else changed, then ask the agent again: it makes a new request.`,
    );
  }
  if (Date.parse(request.expiresAt) <= now) {
    throw new FrontendOpsError(
      'CONFLICT',
      `The approval request for ${request.action} ${deployId} of ${stack} expired at ${request.expiresAt}. Nothing was approved. Ask the agent again: it makes a new request.`,
    );
  }
  // Who asked, and what: only as the entry the server wrote with the request records it (the request
  // as read above, which is what is shown and signed).
  if (!(await isRequestRecorded(site, read))) {
    throw new FrontendOpsError(
      'TAMPERED',
      `The approval request for ${request.action} ${deployId} of ${stack} is not what the audit log records: it was written or changed after the server wrote it, so who asked and what it says are not shown. Nothing was approved. Run \`frontendops audit verify\` to see what else changed, then ask the agent again: it makes a new request.`,
    );
  }
  await assertNotAnswered(site, request, now);
  return request;
}

/** Refuses a request already approved and used, or approved (by this person or another approver). */
async function assertNotAnswered(
  site: Site,
  request: ApprovalRequest,
  now: number,
  inForce?: PolicyInForce,
): Promise<void> {
  const { deployId } = request;
  const stack = site.target.stack;
  const [used, signed, answered] = await Promise.all([
    isUsed(site, request.nonce),
    checkSignedApproval(site, request, now, inForce),
    approvalAnswerOnChain(site.state, site.target.statePrefix, request.nonce),
  ]);
  if (used) {
    throw new FrontendOpsError(
      'CONFLICT',
      `The approval request for ${request.action} ${deployId} of ${stack} was already approved and used. Nothing was approved.`,
    );
  }
  // The chain records it approved, and the statement stored for it is another (its signature edited,
  // another approver's planted): tampering, whichever of them the policy would accept.
  if (answered?.type === 'approval' && !(await signedAsRecorded(site, request, answered))) {
    throw new FrontendOpsError(
      'TAMPERED',
      `The signed statement of the approval request for ${request.action} ${deployId} of ${stack} in the state bucket is not the one the audit log recorded ${approverOf(answered)} giving (audit entry ${answered.seq}): it was replaced or changed since, which points to tampering. Nothing was approved. ${await askAgain(site, inForce)} Run \`frontendops audit verify --stack ${stack}\` to see what else changed in the state bucket.`,
      { details: { seq: answered.seq } },
    );
  }
  // Approved once already (by this person or another approver): the chain records an approval as
  // given once, and a second record of it would read as tampered for good.
  if (signed && 'approval' in signed) {
    throw new FrontendOpsError(
      'CONFLICT',
      `The approval request for ${request.action} ${deployId} of ${stack} is already approved, by ${signed.approval.by}. Nothing more to approve: the change uses that approval when it is asked for again (before ${request.expiresAt}).`,
    );
  }
  // The chain records it approved, and its signed statement is there but does not count now (its
  // approver's key no longer listed, or the statement changed): the request is dead, never signed
  // again; asked again, the server makes a new one (approvals.ts answeredVoid).
  if (answered?.type === 'approval' && signed && 'rejected' in signed) {
    throw new FrontendOpsError(
      'CONFLICT',
      `The approval request for ${request.action} ${deployId} of ${stack} was already approved by ${approverOf(answered)} (audit entry ${answered.seq}); its signed statement is in the state bucket, but it is not accepted now: ${signed.rejected}. Nothing was approved. ${await askAgain(site, inForce)}`,
      { details: { seq: answered.seq } },
    );
  }
  // The chain records it answered, and the state bucket no longer says so: its "used" marker and
  // signed statement deleted (whoever can write the state bucket), so that it is signed again.
  if (answered) {
    const what = answered.type === 'approval' ? 'approved' : 'approved and used';
    throw new FrontendOpsError(
      'TAMPERED',
      `The approval request for ${request.action} ${deployId} of ${stack} was already ${what}, as the audit log recorded at ${answered.at.slice(0, 64)} (audit entry ${answered.seq}), but its objects are missing from the state bucket, which points to tampering. Nothing was approved. Ask the agent again: it makes a new request. Run \`frontendops audit verify --stack ${stack}\` to see what else changed in the state bucket.`,
      { details: { seq: answered.seq } },
    );
  }
}

/** Who the entry records giving an approval, as it names them. */
const approverOf = (entry: AuditEntry) =>
  typeof entry.data.by === 'string' ? entry.data.by.slice(0, 64) : 'an approver';

/** What to do about a request no longer answerable: ask again, and who approves the new one. */
async function askAgain(site: Site, inForce?: PolicyInForce): Promise<string> {
  const names = Object.keys((inForce ?? (await approvalInForce(site))).policy.approvers);
  return `Ask the agent again: it makes a new request, which an approver of ${site.target.stack}${names.length > 0 ? ` (${names.join(', ')})` : ''} approves.`;
}

/**
 * The requested change planned again from what is live now: it must still be the same change (its
 * digest, which the person's signature then carries). Planned only from state the audit chain records:
 * whoever can write the state bucket could otherwise show the person one build and have their
 * signature used for another (TAMPERED, nothing approved).
 */
async function planAgain(site: Site, request: ApprovalRequest, info: RequestInfo): Promise<ApprovalPreview> {
  await assertStateAsRecorded(site);
  const { plan } = await dryRunOf(site, request, info);
  if (plan.deployId !== request.deployId || request.change !== changeDigest(plan)) {
    // A promote, asked to lift one pin, with another one there now.
    const otherPin =
      request.clears !== undefined && changeDigest({ ...plan, clearsPin: request.clears }) === request.change;
    const why =
      request.change === undefined
        ? `${request.action} ${request.deployId} was requested by a FrontendOps from before requests named their change, so it cannot be approved`
        : otherPin
          ? `${request.action} ${request.deployId} was requested to lift another pin (${pinLiftedWords(request.clears)}) than the one there now (${pinLiftedWords(plan.clearsPin)}), so that change can no longer happen`
          : `the live release of ${site.target.stack} changed since ${request.action} ${request.deployId} was requested, so that change can no longer happen`;
    throw new FrontendOpsError(
      'CONFLICT',
      `${capitalise(why)}. Nothing was approved. Ask the agent again for a new plan.`,
    );
  }
  // A release's promote also lifts the pin: the person approves that too, so it is said.
  if (request.action === 'promote' && request.to) {
    const pin = await readPinAsRecorded(site, 'Nothing was approved');
    return { request, plan, description: describePromote(plan, pin) };
  }
  return { request, plan, description: describePlan(plan) };
}

/** The requested change as a dry run from what is live now. */
async function dryRunOf(site: Site, request: ApprovalRequest, info: RequestInfo) {
  const base = { request: info, dryRun: true } as const;
  switch (request.action) {
    case 'rollback':
      return rollbackRelease(site, { ...(request.to ? { to: request.to } : {}), ...base });
    case 'canary': {
      const { startCanary } = await import('../deploy/canary.ts');
      return startCanary(site, {
        app: request.app,
        commit: request.commit,
        weightPercent: request.weight ?? 10,
        ...base,
      });
    }
    case 'promote':
      // A release's promote names it (`to`); a canary's promotes the running canary.
      return request.to
        ? (await import('../deploy/pin.ts')).promoteRelease(site, {
            app: request.app,
            commit: request.to,
            ...base,
          })
        : (await import('../deploy/canary.ts')).promoteCanary(site, base);
    case 'abort':
      return (await import('../deploy/canary.ts')).abortCanary(site, base);
    default:
      return deployArtifact(site, { app: request.app, commit: request.commit, ...base });
  }
}
