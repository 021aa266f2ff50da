/**
 * Approvals of changes to protected stacks, kept beside the deployment records in the state bucket.
 *
 * 1. The server asks: when a change of a protected stack arrives without an approval, it writes an
 *    approval *request* — stack, action, the exact planned deploy id, what would happen, a random
 *    nonce and an expiry — at `approvals/requests/<action>-<deployId>.json` (and an audit entry).
 * 2. A person answers: `frontendops approve` takes only a request the audit chain binds as stored
 *    (isRequestRecorded; the server reuses no other either), re-plans (from state the audit chain
 *    records), shows the plan, and signs a statement naming the request's stack, action, deploy id,
 *    change digest, nonce and expiry with their approver key. Whoever can write the bucket can copy
 *    or edit that file, but cannot sign: the server accepts only a signature by a key the stack's
 *    configuration lists.
 * 3. The server uses it once: a `approvals/used/<nonce>.json` marker (created only if absent where the
 *    endpoint honours conditional writes) and an audit entry naming the authenticated approver.
 *
 * A deploy id is short (40 bits of a hash) and, on an atomic stack, not one change: a canary keeps
 * its id from start to promote or abort, a canary started again after an abort gets the same one, and
 * a release's promote has the id of the canary's. So the request and the signed statement carry the
 * change's digest (changeDigest: its kind, build with its artifact digest, and what it switches from
 * and to), and the server uses an approval only for a run whose plan, made under the deploy lock, has
 * that digest. A canary's share of visitors is carried in words too: an approval of 5% is not one of 99%.
 */

import type { KeyObject } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { encodePublicKey, keyFingerprint, signStatement, verifyStatement } from '../approval/keys.ts';
import type { ReleasePointer } from '../atomic/release-pointer.ts';
import type { ApprovalPolicy } from '../config.ts';
import type { AtomicPlan } from '../engine/atomic-plan.ts';
import { CANARY_SHARE } from '../engine/canary-share.ts';
import { APPROVER_PUBLIC_KEY, checkDeployId, DEPLOY_ID } from '../engine/ids.ts';
import type { DeployPlan, PinLifted } from '../engine/plan.ts';
import { capitalise } from '../engine/text.ts';
import { FrontendOpsError } from '../errors.ts';
import { APPROVAL_ACTIONS, type Approval, type ApprovalAction } from '../ports.ts';
import type { Site } from '../site.ts';
import {
  APPROVAL_TTL_MS,
  type ApprovalStatement,
  CLOCK_SKEW_MS,
  signedApprover,
  signedSchema,
} from './approval-evidence.ts';
import { approvalInForce, assertRecordedAsJudged } from './approval-in-force.ts';
import {
  canonicalPolicy,
  howToAdopt,
  notRecorded,
  type PolicyInForce,
  policyDigest,
} from './approval-policy.ts';
import {
  appendAudit,
  digestOrNull,
  givesApproval,
  newestBindings,
  stateDigest,
  usesApproval,
} from './audit.ts';
import type { AuditEntry } from './audit-entry.ts';
import { putJsonObject } from './json-object.ts';
import { APPROVAL_REQUESTS, APPROVALS_SIGNED, APPROVALS_USED, approvalName } from './names.ts';
import { pinLiftedWords } from './pin.ts';

export {
  APPROVAL_ACTIONS,
  APPROVAL_TTL_MS,
  type Approval,
  type ApprovalAction,
  type ApprovalStatement,
  policyDigest,
};

const requestSchema = z.object({
  v: z.literal(1),
  stack: z.string(),
  action: z.enum(APPROVAL_ACTIONS),
  deployId: z.string().regex(DEPLOY_ID),
  /** What would happen, in words that name no bucket. */
  summary: z.string(),
  app: z.string(),
  commit: z.string(),
  /**
   * Where the change goes, as it was asked for, to plan it again: a rollback's deploy id or commit,
   * a promote's release (a canary's promote has none: it promotes the canary).
   */
  to: z.string().optional(),
  /** A canary's share of visitors, in percent. */
  weight: z.number().int().min(CANARY_SHARE.min).max(CANARY_SHARE.max).optional(),
  /** The change's digest (changeDigest): absent from requests of FrontendOps before it, never reused. */
  change: z.string().optional(),
  /**
   * A promote: the pin it lifts as planned (DeployPlan clearsPin; null: none),
   * which its digest binds; named so a refusal can say an approval was of lifting another pin.
   */
  clears: z
    .object({ deployId: z.string(), commit: z.string(), by: z.string(), at: z.string() })
    .nullable()
    .optional(),
  /**
   * The digest of the configured approval policy the server asked under (policyDigest): an approver
   * whose configuration says another is told their approval adopts none. Absent before it was named.
   */
  policy: z.string().optional(),
  nonce: z.string().regex(/^[A-Za-z0-9_-]{22}$/),
  requestedAt: z.string(),
  expiresAt: z.string(),
  /** The MCP client's own name for itself: a claim. */
  requestedBy: z.string(),
});
export type ApprovalRequest = z.infer<typeof requestSchema>;

/** How the server knows a person approved: authenticated, never a client's say-so. */

const requestKey = (site: Site, action: ApprovalAction, deployId: string) =>
  `${site.target.statePrefix}${APPROVAL_REQUESTS}${approvalName(action, deployId)}`;
const signedKey = (site: Site, action: ApprovalAction, deployId: string) =>
  `${site.target.statePrefix}${APPROVALS_SIGNED}${approvalName(action, deployId)}`;
const usedKey = (site: Site, nonce: string) => `${site.target.statePrefix}${APPROVALS_USED}${nonce}.json`;
const relative = (site: Site, key: string) => key.slice(site.target.statePrefix.length);

export interface RequestInput {
  action: ApprovalAction;
  deployId: string;
  summary: string;
  app: string;
  commit: string;
  to?: string;
  weight?: number;
  /** The change's digest (changeDigest of its plan). */
  change: string;
  /** A promote: the pin its plan lifts (clearsPin). */
  clears?: PinLifted | null;
  /** The digest of the configured approval policy it is asked under (policyDigest). */
  policy?: string;
  requestedBy: string;
  now: number;
  /**
   * Told, in words, when the request made before for this change was approved and that approval does
   * not count now (answeredVoid), so a new request replaced it.
   */
  onVoided?(words: string): void;
}

/** What a plan changes, as an approval binds it (an atomic plan's op and pointers among it). */
export type PlannedChange = DeployPlan & Partial<Pick<AtomicPlan, 'op' | 'pointerBefore' | 'pointerAfter'>>;

/** A change planned again under the lock that is not the one approved (changeDigest differs). */
export const CHANGED_SINCE_APPROVED =
  'What is live changed since this change was planned and approved, so it is no longer the change approved. Nothing was changed. Ask for it again: it is planned from what is live now, and approved again if it needs approval.';

/**
 * What a run did under the lock before it planned: an interrupted change it finished first, which
 * changed what is live (a dry run made before the lock planned from what was live then).
 */
export interface AuthorizeContext {
  finishedFirst?: { op: string; deployId: string };
}

/**
 * Holds a run's plan, made under the lock, to the change approved (`approved`: the plan judged, or
 * shown and approved): CONFLICT otherwise, nothing more changed. When the run itself finished an
 * interrupted change first (`context`), the refusal says so: it was no other operator, and it did
 * change something. A promote that would lift another pin than the one judged is said as such.
 */
export function assertApprovedChange(
  approved: PlannedChange,
  plan: PlannedChange,
  context?: AuthorizeContext,
): void {
  const digest = changeDigest(approved);
  if (changeDigest(plan) === digest) return;
  const first = context?.finishedFirst;
  const otherPin = !first && changeDigest({ ...plan, clearsPin: approved.clearsPin }) === digest;
  throw new FrontendOpsError(
    'CONFLICT',
    first
      ? `This run first finished the ${first.op} ${first.deployId} that an earlier run left unfinished, which changed what is live, so the change judged before it (planned from what was live then) is not the change it would make now. Nothing more was changed. Run it again: it plans from what is live now, and asks again where it needs a yes.`
      : otherPin
        ? `${capitalise(otherPinWords(approved.clearsPin, plan.clearsPin))}. Nothing was changed: the pin stays. Ask for the promote again: it is planned with the pin there now, and needs a new approval of it.`
        : CHANGED_SINCE_APPROVED,
    otherPin
      ? { details: { approvedToLift: approved.clearsPin ?? null, pin: plan.clearsPin ?? null } }
      : undefined,
  );
}

/**
 * A promote judged (and approved) to lift one pin, that would lift another now
 * (`now`): a pin set since, by whoever.
 */
export const otherPinWords = (judged: PinLifted | null | undefined, now: PinLifted | null | undefined) =>
  judged
    ? `the approval of this promote was for lifting another pin (${pinLiftedWords(judged)}), not ${pinLiftedWords(now)}, which is there now`
    : `this promote was planned when nothing was pinned, so nothing approved lifting ${pinLiftedWords(now)}, which was set since`;

/**
 * The digest an approval binds: the change's stack, kind (an atomic operation's too), deploy id,
 * build (app, commit, artifact digest), what was live, on an atomic stack the releases its switch
 * sends visitors to before and after (live, canary, share), and for a promote (of the live release
 * or of another) the pin it lifts (clearsPin: which release, who set it, when; null: none). Two plans with the same
 * digest make the same change; what a dry run shows the person and what runs under the lock are held
 * to it.
 */
export function changeDigest(plan: PlannedChange): string {
  const releases = (pointer: ReleasePointer | null | undefined) =>
    pointer ? { live: pointer.live, canary: pointer.canary ?? null, weight: pointer.weight ?? 0 } : null;
  return stateDigest({
    stack: plan.stack,
    kind: plan.kind,
    op: plan.op ?? null,
    deployId: plan.deployId,
    app: plan.app,
    commit: plan.commit,
    artifactDigest: plan.artifactDigest,
    from: plan.fromDeployId,
    before: releases(plan.pointerBefore),
    after: releases(plan.pointerAfter),
    // Only where a plan names it (a promote): every other change's digest stays as it was.
    ...(plan.clearsPin !== undefined ? { clearsPin: plan.clearsPin } : {}),
  });
}

/**
 * The open request for this change: the one already made (so an approval given for it stays valid
 * while the agent asks again), or a new one with a fresh nonce once the last expired, was used, was
 * approved with an approval that does not count now (answeredVoid: its approver's key no longer
 * listed, its statement gone), or was for another change under this deploy id and action (another
 * share of visitors, a canary's promote where a release's is asked, a plan made from another live
 * release), which also voids any approval of that one.
 */
export async function openApprovalRequest(site: Site, input: RequestInput): Promise<ApprovalRequest> {
  checkDeployId(input.deployId, 'Use the deploy id the refusal message named.');
  const read = await readApprovalRequest(site, input.action, input.deployId);
  const existing = read?.request;
  // Its use the chain records, its marker gone: never reused, and the caller is told why (below).
  let replayed: AuditEntry | null = null;
  if (
    existing &&
    !requestWindowProblem(existing, input.now) &&
    existing.weight === input.weight &&
    existing.change === input.change &&
    Date.parse(existing.expiresAt) > input.now &&
    !(await isUsed(site, existing.nonce))
  ) {
    // The entries read back to the one that recorded the request hold every use of it there is.
    const recorded = await requestRecording(site, read);
    if (recorded.bound) {
      replayed = recorded.entries.findLast(usesApproval(existing.nonce)) ?? null;
      // Recorded approved, and that approval does not count now: a new request, as `frontendops
      // approve` never answers one the chain records answered again.
      const given = recorded.entries.findLast(givesApproval(existing.nonce));
      const voided = given && (await answeredVoid(site, existing, input.now, given));
      if (!replayed && !voided) return existing;
      if (voided && given) {
        const by = typeof given.data.by === 'string' ? given.data.by.slice(0, 64) : 'an approver';
        input.onVoided?.(
          `the approval ${by} gave the earlier request for this change (audit entry ${given.seq}) does not count now (${voided}), so this is a new request, to approve anew`,
        );
      }
    }
  }
  const request: ApprovalRequest = {
    v: 1,
    stack: site.target.stack,
    action: input.action,
    deployId: input.deployId,
    summary: input.summary,
    app: input.app,
    commit: input.commit,
    ...(input.to ? { to: input.to } : {}),
    ...(input.weight !== undefined ? { weight: input.weight } : {}),
    change: input.change,
    ...(input.clears !== undefined ? { clears: input.clears } : {}),
    ...(input.policy !== undefined ? { policy: input.policy } : {}),
    nonce: randomBytes(16).toString('base64url'),
    requestedAt: new Date(input.now).toISOString(),
    expiresAt: new Date(input.now + APPROVAL_TTL_MS).toISOString(),
    requestedBy: input.requestedBy,
  };
  // The entry first, then the object: stopped between the two, the object is the one an earlier entry
  // recorded (or none), which `audit verify` calls unfinished and asking again replaces. In the other
  // order the object stayed bound by no entry, and a request asked again reused it without one.
  const key = requestKey(site, input.action, input.deployId);
  await audit(site, 'approval-requested', request, bindingOf(site, key, request), input.now);
  await putJsonObject(site.state, key, request);
  if (replayed) {
    throw usedMarkerMissing(
      site,
      replayed,
      input,
      'A new request for it was made: ask for the change again, and have it approved anew.',
    );
  }
  return request;
}

/**
 * Why the approval the audit chain records given for `request` does not count now: its signed
 * statement gone from the state bucket, not the one its entry `given` recorded (signedAsRecorded), or
 * there and not accepted (checkSignedApproval: its approver's key no longer listed); null where it counts. Such a request is
 * never answered again (the chain records an approval once) nor reused: it is dead.
 */
export async function answeredVoid(
  site: Site,
  request: ApprovalRequest,
  now: number,
  given: AuditEntry,
  inForce?: PolicyInForce,
): Promise<string | null> {
  if (!(await signedAsRecorded(site, request, given))) return SIGNED_NOT_AS_RECORDED;
  const signed = await checkSignedApproval(site, request, now, inForce);
  if (!signed) return 'its signed statement is missing from the state bucket';
  return 'rejected' in signed ? signed.rejected : null;
}

const SIGNED_NOT_AS_RECORDED =
  'the signed statement in the state bucket is not the one the audit log recorded, which points to tampering';

/**
 * Whether the signed statement stored for `request` is the one the audit entry `given` recorded
 * (signApproval: the entry binds its digest); true where none is stored (answeredVoid says that).
 * Whoever can write the state bucket could otherwise swap in another: its signature edited, or
 * another approver's signature over the same request, which the log never recorded.
 */
export async function signedAsRecorded(
  site: Site,
  request: ApprovalRequest,
  given: AuditEntry,
): Promise<boolean> {
  const key = signedKey(site, request.action, request.deployId);
  const object = await site.state.get(key);
  if (!object) return true;
  const recorded = given.objects?.[relative(site, key)] ?? digestOrNull(given.data.signed);
  return recorded !== null && digestOrNull(parseQuietly(object.body)) === recorded;
}

/**
 * An approval the audit chain records used (`earlier`, its `approval-used` entry) whose "used" marker
 * is gone, spent again: refused, TAMPERED, saying when and for what it was used. `next`: what to do.
 */
function usedMarkerMissing(
  site: Site,
  earlier: AuditEntry,
  change: { action: ApprovalAction; deployId: string },
  next: string,
): FrontendOpsError {
  const said = (value: unknown) => (typeof value === 'string' ? value.slice(0, 64) : 'unknown');
  const stack = site.target.stack;
  return new FrontendOpsError(
    'TAMPERED',
    `The approval of this ${change.action} (${change.deployId}) of ${stack} was already used at ${said(earlier.at)} for the ${said(earlier.data.action)} ${said(earlier.data.deployId)} (audit entry ${earlier.seq}), but its "used" marker is missing from the state bucket, which points to tampering: an approval is good for one change. Nothing was changed. ${next} Run \`frontendops audit verify --stack ${stack}\` to see what else changed in the state bucket.`,
    { details: { seq: earlier.seq } },
  );
}

/**
 * Why a request's window is not the one hour the server gives it, or null. The server writes
 * expiresAt = requestedAt + one hour; whoever can write the state bucket could stretch it, and an
 * approval signed for a stretched request would outlive its hour. Such a request is never reused
 * (the server makes a new one), never approved (`frontendops approve` refuses it), and an approval
 * good for more than an hour after it was signed does not count.
 */
export function requestWindowProblem(request: ApprovalRequest, now: number): string | null {
  const asked = Date.parse(request.requestedAt);
  const expires = Date.parse(request.expiresAt);
  if (!Number.isFinite(asked) || !Number.isFinite(expires)) return 'its times are not dates';
  if (expires - asked !== APPROVAL_TTL_MS) {
    return `it runs from ${request.requestedAt} to ${request.expiresAt}, not the one hour the server gives a request`;
  }
  if (asked > now + CLOCK_SKEW_MS)
    return `it says it was asked at ${request.requestedAt}, which is still to come`;
  return null;
}

/**
 * A request as read, with the digest of what is stored (`stored`: what the entry that made it binds;
 * null, no digest can be made of it): the parsed request leaves out what the schema does not name,
 * and an object holding more is not the one the server wrote.
 */
export interface StoredRequest {
  request: ApprovalRequest;
  stored: string | null;
}

/** The request for this change, as read, or null (also for a damaged or foreign one). */
export async function readApprovalRequest(
  site: Site,
  action: ApprovalAction,
  deployId: string,
): Promise<StoredRequest | null> {
  checkDeployId(deployId, 'Use the deploy id the refusal message named.');
  const object = await site.state.get(requestKey(site, action, deployId));
  if (!object) return null;
  const value = parseQuietly(object.body);
  const parsed = requestSchema.safeParse(value);
  if (!parsed.success) return null;
  const request = parsed.data;
  return request.stack === site.target.stack && request.deployId === deployId && request.action === action
    ? { request, stored: digestOrNull(value) }
    : null;
}

/**
 * Whether a request, as read (`read`: the very object the caller acts on, not read again), is what
 * the audit chain records: the newest entry binding it names its digest. Whoever can write the state
 * bucket could otherwise rewrite one (who asked, what it says) and have an approver shown it, or the
 * server reuse it, as the server's own; or put the recorded one back before a second read.
 */
export async function isRequestRecorded(site: Site, read: StoredRequest): Promise<boolean> {
  return (await requestRecording(site, read)).bound;
}

/** isRequestRecorded (`bound`), with the entries it read: the newest back to the one binding the request. */
async function requestRecording(
  site: Site,
  read: StoredRequest,
): Promise<{ bound: boolean; entries: AuditEntry[] }> {
  if (read.stored === null) return { bound: false, entries: [] }; // no digest: nothing an entry binds is it
  const name = relative(site, requestKey(site, read.request.action, read.request.deployId));
  const { bound, entries } = await newestBindings(site.state, site.target.statePrefix, [name]);
  return { bound: bound.get(name)?.objects?.[name] === read.stored, entries };
}

/** Every request made for this deploy id (one per action at most), as read. */
export async function findStoredRequests(site: Site, deployId: string): Promise<StoredRequest[]> {
  const found = await Promise.all(
    APPROVAL_ACTIONS.map((action) => readApprovalRequest(site, action, deployId)),
  );
  return found.filter((r): r is StoredRequest => r !== null);
}

/**
 * Signs the request with the approver's key and stores the signed statement (with its audit entry).
 * `shown`: the plan in words as the approver was shown it, which the entry records (the request's own
 * summary is a file whoever can write the state bucket could edit), and the configured approval
 * policy they were shown what approving adopts of (the statement names its digest); null where they
 * were told it adopts none (the statement names none, and its use adopts nothing).
 */
export async function signApproval(
  site: Site,
  request: ApprovalRequest,
  signer: { key: KeyObject; name: string },
  now: number,
  shown?: { description: string; policy: ApprovalPolicy | null },
): Promise<ApprovalStatement> {
  const statement: ApprovalStatement = {
    v: 1,
    stack: request.stack,
    action: request.action,
    deployId: request.deployId,
    nonce: request.nonce,
    expiresAt: request.expiresAt,
    ...(request.weight !== undefined ? { weight: request.weight } : {}),
    ...(request.change !== undefined ? { change: request.change } : {}),
    ...(shown?.policy ? { policy: policyDigest(shown.policy) } : {}),
    approver: signer.name,
    publicKey: encodePublicKey(signer.key),
    signedAt: new Date(now).toISOString(),
  };
  const signed = { statement, signature: signStatement(signer.key, statement) };
  const bound = await writeBound(site, signedKey(site, request.action, request.deployId), signed);
  await audit(
    site,
    'approval',
    {
      decision: 'approved',
      deployId: request.deployId,
      action: request.action,
      summary: shown?.description ?? request.summary,
      by: signer.name,
      key: keyFingerprint(statement.publicKey),
      via: 'signed',
      signed,
    },
    bound,
    now,
  );
  return statement;
}

/**
 * The signed approval of this request, checked: signature by a key the stack's policy lists under the
 * name it claims, same stack, action, deploy id, nonce and share of visitors, unexpired, unused. null when there is
 * none; a reason when there is one that does not hold (forged, for another request, expired).
 * `adopts`: the configuration's policy is the one its approver was shown what approving adopts of;
 * otherwise (the configuration changed since, or a statement that names none) its use adopts nothing.
 */
export async function checkSignedApproval(
  site: Site,
  request: ApprovalRequest,
  now: number,
  /** The policy in force, where the caller read it (approval-policy.ts approvalInForce): only its approvers count. */
  known?: PolicyInForce,
): Promise<{ approval: Approval; adopts: boolean } | { rejected: string } | null> {
  const object = await site.state.get(signedKey(site, request.action, request.deployId));
  if (!object) return null;
  const inForce = known ?? (await approvalInForce(site));
  const parsed = signedSchema.safeParse(parseQuietly(object.body));
  if (!parsed.success) return { rejected: 'the stored approval is not a signed statement' };
  const { statement, signature } = parsed.data;
  const listed = inForce.policy.approvers[statement.approver];
  if (!listed || listed !== statement.publicKey) {
    if (inForce.configured.approvers[statement.approver] === statement.publicKey) {
      return {
        rejected: `it is signed by ${statement.approver.slice(0, 64)}, and ${notRecorded(inForce, site.target.stack).join('; ')}: ${howToAdopt(inForce, site.target.stack)}`,
      };
    }
    const key = APPROVER_PUBLIC_KEY.test(statement.publicKey)
      ? `the key ${statement.publicKey}`
      : 'no approver key';
    return {
      rejected: `it is signed by "${statement.approver.slice(0, 64)}" with ${key}, which frontendops.config.json does not list as an approver of ${site.target.stack} under that name`,
    };
  }
  if (!verifyStatement(listed, statement, signature)) return { rejected: 'its signature does not verify' };
  const same =
    statement.stack === site.target.stack &&
    statement.action === request.action &&
    statement.deployId === request.deployId &&
    statement.nonce === request.nonce &&
    statement.expiresAt === request.expiresAt;
  if (!same) return { rejected: 'it answers another request (stack, action, deploy id or nonce differ)' };
  const signedAt = Date.parse(statement.signedAt);
  if (!(Date.parse(statement.expiresAt) <= signedAt + APPROVAL_TTL_MS + CLOCK_SKEW_MS)) {
    return {
      rejected: `it would stay good until ${statement.expiresAt}, more than an hour after it was signed (${statement.signedAt.slice(0, 40)})`,
    };
  }
  if (statement.weight !== request.weight) {
    const share = (weight?: number) =>
      weight === undefined ? 'no share of visitors' : `${weight}% of visitors`;
    return { rejected: `it approves ${share(statement.weight)}, but ${share(request.weight)} was asked for` };
  }
  if (statement.change === undefined || statement.change !== request.change) {
    return {
      rejected:
        statement.change === undefined
          ? 'it names no planned change (signed by a FrontendOps from before approvals named one): approve the request again'
          : 'it approves another change than the one requested',
    };
  }
  if (Date.parse(statement.expiresAt) <= now) return { rejected: `it expired at ${statement.expiresAt}` };
  return {
    approval: { by: signedApprover(statement), via: 'signed', signed: parsed.data },
    adopts: statement.policy === policyDigest(inForce.configured),
  };
}

/**
 * Marks an approval used, once: true if this call used it, false if it had been used before. Where
 * the endpoint ignores conditional writes the deploy lock (held by the caller) serialises uses.
 */
export async function consumeApproval(
  site: Site,
  nonce: string,
  use: {
    action: ApprovalAction;
    deployId: string;
    approval: Approval;
    now: number;
    /**
     * The policy in force the approval was judged under (approvalInForce, read before the lock): the
     * chain must still record what it read (assertRecordedAsJudged), and nothing is read again of
     * the configuration.
     */
    judged: PolicyInForce;
    /**
     * The policy this use records: by default the configured one it was judged under, which an
     * approval shown what it adopts (adoptionWords) adopts; a GitHub job's, whose reviewers are shown
     * nothing of it, records the policy in force (judged.policy), adding nothing the log did not record.
     */
    records?: ApprovalPolicy;
  },
): Promise<boolean> {
  const records = canonicalPolicy(use.records ?? use.judged.configured);
  // The marker says "used" first; the chain says it too, where whoever can write the state bucket
  // cannot take it back: used there and the marker gone, it is spent again, refused before any write.
  // (Read in the walk that finds the policy recorded: one walk of the chain.)
  const earlier = await assertRecordedAsJudged(site, use.judged, records, nonce);
  const key = usedKey(site, nonce);
  if (earlier) {
    if (await site.state.head(key)) return false;
    throw usedMarkerMissing(site, earlier, use, 'Ask for a new approval.');
  }
  const marker = {
    // This use's own mark: a marker found in place that carries it is this use's, whose answer was
    // lost (the SDK's retry of a create that landed is refused), not an earlier use.
    attempt: randomBytes(12).toString('base64url'),
    nonce,
    action: use.action,
    deployId: use.deployId,
    by: use.approval.by,
    via: use.approval.via,
    usedAt: new Date(use.now).toISOString(),
  };
  const conditional = await site.state.supportsConditionalWrites();
  if (!conditional && (await site.state.head(key))) return false;
  try {
    await putJsonObject(site.state, key, marker, conditional ? { ifNoneMatch: '*' } : {});
  } catch (error) {
    if (!(error instanceof FrontendOpsError && error.code === 'PRECONDITION_FAILED')) throw error;
    const found = await site.state.get(key);
    const mine =
      found && (parseQuietly(found.body) as { attempt?: unknown } | null)?.attempt === marker.attempt;
    if (!mine) return false;
  }
  await audit(
    site,
    'approval-used',
    {
      deployId: use.deployId,
      action: use.action,
      by: use.approval.by,
      via: use.approval.via,
      // The statement its approver signed, so the record of this use cannot be made up (approval-evidence.ts).
      ...(use.approval.signed ? { signed: use.approval.signed } : {}),
      // The configured policy it was judged under (with the recorded one), which it adopts: who
      // approves from now on (approval-policy.ts).
      policy: records,
    },
    { [relative(site, key)]: stateDigest(marker) },
    use.now,
    // The change's own entry, under its lock: a run woken past its lease, once the next holder
    // appended, is asked its lock (LOCKED: no entry after that holder's; its marker spends the approval).
    { overlap: true },
  );
  return true;
}

export const isUsed = async (site: Site, nonce: string) =>
  (await site.state.head(usedKey(site, nonce))) !== null;

/** What used an approval (its "used" marker): the change and when; null where it is unused, or unreadable. */
export async function usedFor(
  site: Site,
  nonce: string,
): Promise<{ deployId: string; usedAt: string } | null> {
  const found = await site.state.get(usedKey(site, nonce));
  if (!found) return null;
  const marker = parseQuietly(found.body) as { deployId?: unknown; usedAt?: unknown } | null;
  return {
    deployId: typeof marker?.deployId === 'string' ? marker.deployId.slice(0, 64) : 'unknown',
    usedAt: typeof marker?.usedAt === 'string' ? marker.usedAt.slice(0, 40) : 'unknown',
  };
}

/** A decision other than a signed approval (an elicitation answer, a decline) for the record. */
export async function auditDecision(
  site: Site,
  decision: {
    decision: 'approved' | 'declined' | 'rejected';
    action: ApprovalAction;
    deployId: string;
    summary: string;
    by: string;
    via: string;
    reason?: string;
    now: number;
  },
): Promise<void> {
  const { now, ...data } = decision;
  await audit(site, 'approval', { ...data, stack: site.target.stack }, undefined, now);
}

// ── private helpers ──────────────────────────────────────────────────────────────────────────────

/**
 * Writes a state object and returns the binding its audit entry carries (name → digest). The digest
 * comes first: a value the audit cannot bind is refused with nothing written, not left behind as an
 * object that no entry records.
 */
async function writeBound(site: Site, key: string, value: unknown): Promise<Record<string, string>> {
  const bound = bindingOf(site, key, value);
  await putJsonObject(site.state, key, value);
  return bound;
}

/** The binding an entry carries for `value` at `key` (name → digest); BAD_INPUT for a value no digest can be made of. */
const bindingOf = (site: Site, key: string, value: unknown): Record<string, string> => ({
  [relative(site, key)]: stateDigest(value),
});

function parseQuietly(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return null;
  }
}

async function audit(
  site: Site,
  type: string,
  data: Record<string, unknown>,
  objects: Record<string, string> | undefined,
  now: number,
  options: { overlap?: boolean } = {},
) {
  await appendAudit(
    site.state,
    site.target.statePrefix,
    site.locker,
    {
      type,
      data: { ...data, stack: site.target.stack },
      ...(objects ? { objects } : {}),
      at: new Date(now),
    },
    options,
  );
}
