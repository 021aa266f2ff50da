/**
 * applyDeploy: carries out a DeployPlan, in the order that keeps the site whole (the README's "Safe for users" promise):
 * hashed assets → other files → HTML → live pointer → prune → invalidate → verify → record + audit.
 * Before the first write the plan is saved as pending, so an interrupted deploy is finished or
 * repaired by running it again.
 */
import pMap from 'p-map';
import { formatAuditHead } from '../contract/audit-head.ts';
import { invalidationCallerReference, planInvalidationBatches } from '../engine/invalidation.ts';
import { type DeployPlan, deployIdentity, type PlannedCopy } from '../engine/plan.ts';
import type { FileGroup } from '../engine/types.ts';
import { FrontendOpsError, isFrontendOpsError } from '../errors.ts';
import type { ApprovalUsed } from '../ports.ts';
import { settleAll } from '../settle-all.ts';
import type { Site } from '../site.ts';
import {
  type AuditEntry,
  appendAudit,
  assertChangeLock,
  boundRecords,
  digestOrNull,
  readAudit,
  readAuditHead,
  recordBinding,
  settleAuditHeads,
  stateDigest,
  usedApprovalRecorded,
} from '../state/audit.ts';
import { TAGGED_KINDS } from '../state/audit-entry.ts';
import { LIVE, PUBLISH_LOG, recordName } from '../state/names.ts';
import { pinRolledBack, pinsWhenFinished } from '../state/pin.ts';
import { assertReadAsRecorded } from '../state/recorded-state.ts';
import {
  type DeploymentRecord,
  type LivePointer,
  type PendingDeploy,
  type RequestInfo,
  stoppedByOf,
  writtenOver,
} from '../state/records.ts';
import { copyArtifactFile } from './artifact-copy.ts';
import {
  assertPlannedFromLive,
  pruneSkipped,
  putBackVisible,
  recordLost,
  switchPointer,
  takeBackSwitch,
} from './html-guard.ts';
import { checkPending, type LiveRead } from './live.ts';
import type { ApplyOptions, ApplyResult, AuditHead, DeploySummary } from './types.ts';
import type { Verification } from './verify.ts';
import { verifyServed } from './verify.ts';

export type { ApplyOptions, ApplyResult, AuditHead, DeployEvent } from './types.ts';

const GROUPS: FileGroup[] = ['asset', 'other', 'html'];

/**
 * `approval`: what the deploy's own authorize returned, for its crash-recovery record and so its
 * record and entry. An argument of its own, never an option a caller passes through (a deploy's
 * options are handed on to its automatic rollback, which uses no approval).
 */
export async function applyDeploy(
  site: Site,
  plan: DeployPlan,
  options: ApplyOptions,
  approval?: ApprovalUsed,
  /** The stopped change its run finished before it (its deploy id): named by its pointer's entry. */
  finishedFirst?: string,
  /** It writes over another deploy's pending record: that one may still be copying (html-guard.ts). */
  supersedes = false,
): Promise<ApplyResult> {
  const now = options.now ?? (() => new Date());
  const started = now();
  const pending: PendingDeploy = {
    plan,
    request: options.request,
    startedAt: started.toISOString(),
    pointerMoved: false,
    ...(options.pinOnSuccess && plan.kind === 'rollback' ? { pinOnSuccess: true as const } : {}),
    ...(approval ? { approval } : {}),
  };
  await site.records.writePending(pending);
  let checked: LiveRead['pointer'] | undefined;
  try {
    checked = await copyAll(site, plan, options);
  } catch (error) {
    if (await stillOurs(error, options)) {
      // Kept for the record a later deploy writes when it replaces this one (best effort: the store
      // that refused a copy may refuse this too, and then the record says "interrupted").
      await site.records.writePending({ ...pending, stoppedBy: stoppedByOf(error) }).catch(() => {});
    }
    throw error;
  }

  await switchPointer(
    site,
    plan,
    () => movePointer(site, plan, now(), options, checked, finishedFirst),
    options.onEvent,
    supersedes,
  );
  const moved = { ...pending, pointerMoved: true };
  await site.records.writePending(moved);
  options.onEvent?.({
    type: 'step',
    step: 'pointer',
    detail: `${plan.app}@${plan.commit.slice(0, 7)} is live`,
  });
  if (!options.stopBeforeInvalidation) return finishMoved(site, moved, options);
  // Synced, waiting for its invalidation: pruned now (and again, idempotently, when it is finished).
  await settleAuditHeads(site.state, site.target.statePrefix);
  await pruneUnreferenced(site, plan, options);
  return { record: null, verification: null, auditHead: null };
}

/**
 * Whether a run stopped by this error may still write its crash-recovery record: not when it lost
 * the lock or its plan no longer fits (another operation's record may be there now), nor when the
 * lock cannot be confirmed as still ours.
 */
export async function stillOurs(error: unknown, options: Pick<ApplyOptions, 'lock'>): Promise<boolean> {
  if (isFrontendOpsError(error, 'LOCKED') || isFrontendOpsError(error, 'CONFLICT')) return false;
  try {
    await options.lock?.assertHeld();
    return true;
  } catch {
    return false;
  }
}

/**
 * The plan's copies, group by group (assets first); visible files only while the plan still fits.
 * Stopped after visible files were replaced, it puts the live release's back before it throws
 * (html-guard.ts putBackVisible), so a failed deploy leaves the site serving one release whole.
 * Ends by asking the lock, which the switch needs. Returns the live pointer as the last check before
 * visible files read it (undefined: none copied).
 */
async function copyAll(
  site: Site,
  plan: DeployPlan,
  options: ApplyOptions,
): Promise<LiveRead['pointer'] | undefined> {
  let checked: LiveRead['pointer'] | undefined;
  let replaced = 0;
  const started: string[] = [];
  const running = new Set<Promise<void>>();
  try {
    for (const group of GROUPS) {
      const batch = plan.copies.filter((c) => c.group === group);
      if (group !== 'asset' && batch.length > 0) {
        // Visitors see these files: only while the lock is still ours, and the plan still fits.
        await options.lock?.assertHeld();
        checked = await assertPlannedFromLive(site, plan);
        started.push(...batch.map((c) => c.path));
      }
      let done = 0;
      // Taken as copy slots free up (a 20,000-file deploy never queues 20,000 tasks), keeping no
      // results; the first failure stops the group.
      await pMap(
        batch,
        async (copy) => {
          const copying = copyOne(site, plan, copy);
          running.add(copying);
          try {
            await copying;
          } catch (error) {
            // A file found not to be the published one was copied all the same: it is put back too.
            if (group !== 'asset' && isFrontendOpsError(error, 'TAMPERED')) replaced++;
            throw error;
          } finally {
            running.delete(copying);
          }
          if (group !== 'asset') replaced++;
          options.onEvent?.({ type: 'copy', group, done: ++done, total: batch.length });
        },
        { concurrency: options.concurrency ?? 32 },
      );
    }
    // Before the switch: a holder that lost its lock meanwhile puts back what it replaced (below).
    await options.lock?.assertHeld();
  } catch (error) {
    // Copies already sent when one failed still land: wait for them before putting anything back.
    await Promise.allSettled([...running]);
    throw await putBackVisible(site, plan, error, replaced, started);
  }
  return checked;
}

/**
 * Whether finishing a stopped change pins its release (pinsWhenFinished, a walk of the audit chain for
 * a rollback): given by a run that asked it already under the same lock, so the chain is walked once.
 */
export type FinishPins = () => Promise<boolean>;

/**
 * Finishes a deploy from its crash-recovery record (pending.json, read back from the state bucket):
 * one interrupted after its pointer moved, or synced without invalidating. The record is not bound by
 * the audit chain, so it is checked first (live.ts checkPending: the live pointer must have its
 * release live, its prune must spare what a kept release serves); one FrontendOps did not write is
 * refused (TAMPERED) with nothing written. `known`: what the caller already read of the live state.
 */
export async function finishDeploy(
  site: Site,
  pending: PendingDeploy,
  options: ApplyOptions,
  known?: LiveRead,
  finishPins?: FinishPins,
): Promise<ApplyResult & { record: DeploymentRecord; auditHead: AuditHead }> {
  const { prune, pointer } = await checkPending(site, pending, known);
  const plan = prune === pending.plan.prune ? pending.plan : { ...pending.plan, prune };
  // Only a rollback that is live pins when it is finished: a record read back may say anything.
  const { pinOnSuccess, ...unpinned } = pending;
  // Nor one whose pin a later change lifted or replaced: pinning again would undo that change.
  const pins =
    pointer?.value.deployId === plan.deployId &&
    (await (finishPins ? finishPins() : pinsWhenFinished(site, { ...plan, pinOnSuccess })));
  return finishMoved(site, { ...(pins ? pending : unpinned), plan }, options);
}

/**
 * The steps after the pointer moved — prune (idempotent), invalidate, verify, record: of this run's
 * deploy, or of one read back from its pending record and checked (finishDeploy).
 */
async function finishMoved(
  site: Site,
  pending: PendingDeploy,
  options: ApplyOptions,
): Promise<ApplyResult & { record: DeploymentRecord; auditHead: AuditHead }> {
  const { plan } = pending;
  const now = options.now ?? (() => new Date());
  // The release's entry is whole (its head moved) before anything is deleted or the CDN is told.
  await settleAuditHeads(site.state, site.target.statePrefix);
  await pruneUnreferenced(site, plan, options);

  let invalidation: DeploymentRecord['invalidation'] = null;
  if (site.cdn && plan.invalidationPaths.length > 0) {
    const batches = planInvalidationBatches(plan.invalidationPaths);
    const ids: string[] = [];
    for (const paths of batches) {
      const result = await site.cdn.invalidate({
        paths,
        callerReference: invalidationCallerReference(plan.deployId, paths),
      });
      ids.push(result.id);
    }
    invalidation = { paths: batches.flat(), ids };
    options.onEvent?.({
      type: 'step',
      step: 'invalidate',
      detail: `${invalidation.paths.length} path(s), ${ids.join(', ')}`,
    });
  }

  let verification: Verification | null = null;
  const index = plan.copies.find((c) => c.key === 'index.html')?.sha256 ?? (await liveIndexSha(site));
  if (site.target.siteUrl && index) {
    verification = await verifyServed(site.target.siteUrl, index, {
      ...(options.verifyTimeoutMs !== undefined ? { timeoutMs: options.verifyTimeoutMs } : {}),
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    options.onEvent?.({ type: 'step', step: 'verify', detail: verification.detail });
  }

  const failed = verification?.ok === false;
  const record = deploymentRecord(pending, now(), {
    copied: plan.copies.map((c) => c.path),
    deleted: plan.prune.map((k) => `/${k}`),
    invalidation,
    verification: verification && {
      ok: verification.ok,
      url: verification.url,
      attempts: verification.attempts,
      detail: verification.detail,
    },
    outcome: failed ? 'failed' : 'succeeded',
    ...(failed
      ? {
          error: {
            code: 'VERIFY_FAILED',
            message: `The CDN did not serve the new index.html in time: ${verification?.detail}.`,
          },
        }
      : {}),
  });
  const entry = await recordDeployment(
    site,
    record,
    { data: publishedInFacts(plan), landed: true },
    options.publishHead,
  );
  // A rollback's pin is its last step, before its crash-recovery record goes (see pinRolledBack).
  const pinned =
    pending.pinOnSuccess && record.outcome === 'succeeded'
      ? await pinRolledBack(site, plan, pending.request)
      : undefined;
  await site.records.clearPending();
  options.onEvent?.({
    type: 'step',
    step: 'record',
    detail: `deployment ${plan.deployId} recorded (${record.outcome})`,
  });
  return {
    record,
    verification,
    auditHead: { seq: entry.seq, hash: entry.hash },
    ...(pinned ? { pinned } : {}),
  };
}

/** The deployment record of a pending deploy, with what happened to it. */
export function deploymentRecord(
  pending: PendingDeploy,
  finished: Date,
  result: Pick<
    DeploymentRecord,
    'copied' | 'deleted' | 'invalidation' | 'verification' | 'outcome' | 'error'
  >,
): DeploymentRecord {
  const { plan } = pending;
  return {
    ...deployIdentity(plan),
    fromDeployId: plan.fromDeployId,
    fromCommit: plan.fromCommit,
    request: pending.request,
    plan: {
      copies: plan.copies.length,
      unchanged: plan.unchanged,
      prune: plan.prune.length,
      bytes: plan.bytesToCopy,
      retained: plan.retained,
    },
    ...result,
    startedAt: pending.startedAt,
    finishedAt: finished.toISOString(),
    durationMs: finished.getTime() - Date.parse(pending.startedAt),
    ...(pending.approval ? { approval: pending.approval } : {}),
  };
}

/**
 * A change read back from a crash-recovery record, with the approval it names kept only where the
 * chain records that approval used for it (state/audit.ts usedApprovalRecorded): what its superseded
 * record and entry may name. A record is bound by no entry, and one naming an approval nobody used
 * would have FrontendOps write an entry `audit verify` calls tampered.
 */
export async function withRecordedApproval<T extends { approval?: ApprovalUsed; plan: { deployId: string } }>(
  site: Site,
  pending: T,
): Promise<T> {
  if (!pending.approval) return pending;
  if (
    await usedApprovalRecorded(site.state, site.target.statePrefix, pending.approval, pending.plan.deployId)
  )
    return pending;
  const { approval: _unrecorded, ...rest } = pending;
  return rest as T;
}

/**
 * What a change's switch, which landed, made so ("v went live"), and what this run recorded of it
 * before the write at hand (default: nothing): said by a refusal of that write once the change lost
 * its lock (recordLost), not that nothing more was changed.
 */
type Landed = { what: string; recorded?: string };

/** A lost lock's refusal of a change's own write, said with what its switch made so (`landed`). */
const lostAfter =
  (landed: Landed | undefined) =>
  (lost: unknown): never => {
    throw landed ? recordLost(landed.what, lost, landed.recorded) : lost;
  };

/**
 * Writes a deployment record (records.ts writeRecord); returns the digest to bind and the record as
 * stored. A record already under its deploy id is held to judgeStoredRecord: kept when an entry binds
 * it, written over by this change's own when it is a stopped run's of this change, refused (TAMPERED)
 * otherwise. A deploy judges the record it found there before it writes anything (deploy.ts); this is
 * the check at the write, for every change that records. Found there, the record is judged only while
 * the change's lock holds: a holder that slept past its lease, while the lock's next holder finished
 * or recorded this change, stops (LOCKED, said with `landed`), and neither calls that one's record not
 * FrontendOps' nor writes over it.
 */
export async function writeOwnRecord(
  site: Site,
  record: DeploymentRecord,
  landed?: Landed,
): Promise<{ digest: string; stored: DeploymentRecord }> {
  const { digest, stored } = await site.records.writeRecord(record);
  if (digest === stateDigest(record)) return { digest, stored: record };
  await assertChangeLock(site.state, site.target.statePrefix)?.catch(lostAfter(landed));
  if ((await judgeStoredRecord(site, stored, record)) === 'kept') return { digest, stored };
  return { digest: (await site.records.writeRecord(record, { replace: true })).digest, stored: record };
}

/**
 * What becomes of `stored`, the record found under the deploy id of a change about to record `record`
 * (writeOwnRecord's rule, said once; a deploy asks it before its first write too): 'written' over by
 * the store (it says superseded, records.ts writtenOver, or it is this very record); 'kept' as it is
 * (an entry binds it: this change ran before and was recorded); 'replaced' by this change's own (no
 * entry binds it, and it is a stopped run's of this change). Anything else is refused (TAMPERED,
 * recordNotOurs).
 *
 * One no entry binds is never bound as found: the deployer role can write it, and binding it would
 * record as FrontendOps' what someone else wrote (an outcome, a verification, a request, an approval
 * nobody used). It is replaced by this change's own if it is of this change's build and request and
 * approval (a run of this change that stopped before its entry wrote it; one saying it went live,
 * recorded by a run that has it live too), and refused otherwise, unless it says superseded and an
 * entry binds it (the same deploy stopped twice is recorded as it was first). `bound`: whether an
 * entry binds `stored`, when the caller already asked (the chain is read only when it is needed).
 */
export async function judgeStoredRecord(
  site: Site,
  stored: DeploymentRecord,
  record: DeploymentRecord,
  bound: () => Promise<boolean> = async () =>
    (await boundRecords(site.state, site.target.statePrefix, [stored])).length > 0,
  /** Judged before the change's first write (ownRecordAhead): what a refusal says stands, and to run next. */
  ahead?: RefusedAhead,
): Promise<'written' | 'kept' | 'replaced'> {
  if (writtenOver(stored, record) || stateDigest(stored) === stateDigest(record)) return 'written';
  // What the row is, too: a canary's start or abort row rewritten without its `op` would be bound,
  // and counted from then on, as a release the stack had live.
  const fields = ['deployId', 'app', 'commit', 'artifactDigest', 'kind', 'op'] as const;
  const asked = (r: DeploymentRecord) =>
    [r.request?.actor, r.request?.text, r.request?.at, digestOrNull(r.approval ?? null)].join('\n');
  const ours = asked(stored) === asked(record);
  const identity =
    fields.every((field) => stored[field] === record[field]) &&
    digestOrNull(stored.canary ?? null) === digestOrNull(record.canary ?? null);
  // A stored one saying superseded may be this change's or the chain's own; one saying it went live,
  // only this very change's (never kept for a change that did not go live).
  if (identity && (stored.outcome === 'superseded' || (record.outcome !== 'superseded' && ours))) {
    if (await bound()) return 'kept';
    // Its other fields (an outcome, a verification, an error, a message) say what no entry recorded.
    if (ours) return 'replaced';
  }
  throw recordNotOurs(record.deployId, ahead);
}

/**
 * What a refusal before a change's first write says (judgeStoredRecord `ahead`): what stands, where
 * that is not "nothing" (the automatic switch back after a deploy that failed its verification
 * leaves that deploy live), and what to run once the record is deleted.
 */
export interface RefusedAhead {
  outcome: string;
  next: string;
  /** What became of the record, where not "it was not recorded". */
  refused?: string;
}

const NOTHING_CHANGED: RefusedAhead = { outcome: 'Nothing was changed.', next: 'run the command again' };

/**
 * A dry run's words (deploy.ts, atomic-apply.ts): it plans the deploy id the change gets from the same
 * state, so a record the change would refuse ahead is said before anyone approves or confirms it.
 */
export const DRY_RUN_REFUSED: RefusedAhead = {
  refused: 'so the change planned here would refuse it before its first write, approved or not',
  outcome: 'This was a dry run: nothing was changed.',
  next: 'run the command again',
};

/**
 * What the automatic switch back after a failed verification says when it is refused before its
 * first write, whatever refused it (a record planted under its deploy id, the index of the release
 * it goes back to edited since): the failed change stays live, recorded as failed, the switch back
 * (to `back`) wrote nothing, and how to go back by hand. Said once, in place and atomic alike.
 */
export function switchBackRefused(failed: FailedChange, back: string): RefusedAhead {
  return {
    outcome: `${failedStaysLive(failed)}. The automatic switch back to ${back} was refused before it wrote anything.`,
    next: 'roll back: `frontendops rollback`',
  };
}

/** The change whose verification failed: its deploy id and build. */
export type FailedChange = { deployId: string; app: string; commit: string };

/** That a change whose verification failed stays live, in the words its refusals use. */
export const failedStaysLive = (failed: FailedChange) =>
  `${failed.deployId} (${failed.app}@${failed.commit.slice(0, 7)}) stays live, recorded as failed (the CDN did not serve it)`;

/** A change about to go live: what its record will say, but for the approval it uses. */
export interface IntendedChange {
  plan: PendingDeploy['plan'];
  request: RequestInfo;
  /** An atomic canary promote's marks (its op, the canary it ends). */
  marks?: Pick<DeploymentRecord, 'op' | 'canary'>;
}

/**
 * The record `change` writes when it goes live, using `approval`, as far as judgeStoredRecord reads
 * it (its build, kind, request, approval and outcome; its times and counts only matter to a stored
 * record that is this very one).
 */
const intendedRecord = (change: IntendedChange, approval: ApprovalUsed | undefined): DeploymentRecord => {
  const at = new Date();
  return {
    ...deploymentRecord(
      {
        plan: change.plan,
        request: change.request,
        startedAt: at.toISOString(),
        pointerMoved: true,
        ...(approval ? { approval } : {}),
      },
      at,
      { copied: [], deleted: [], invalidation: null, verification: null, outcome: 'succeeded' },
    ),
    ...change.marks,
  };
};

/**
 * `stored`, the record found under the deploy id of a change that has not written anything yet,
 * judged as writeOwnRecord will judge it when the change records (judgeStoredRecord): deploy ids are
 * deterministic, so one may have been planted there by whoever can write the state bucket, and a
 * change that made its release live before refusing it would leave that release live and
 * unrecorded. `change`: the change, whose record (intendedRecord) depends on the approval it uses.
 * Which approval that is, is known only once authorize answered: judged first as if it were the one
 * the stored record names, then again, through the returned function, with it (before the change's
 * first write; whether an entry binds the stored record is read once, and only if needed). null when
 * nothing is stored. `refused`: what a refusal says stands (default: nothing was changed).
 */
export async function ownRecordAhead(
  site: Site,
  stored: DeploymentRecord | null,
  change: IntendedChange,
  refused: RefusedAhead = NOTHING_CHANGED,
): Promise<((approval: ApprovalUsed | undefined) => Promise<unknown>) | null> {
  if (!stored) return null;
  let bound: Promise<boolean> | undefined;
  const isBound = () => {
    bound ??= boundRecords(site.state, site.target.statePrefix, [stored]).then((b) => b.length > 0);
    return bound;
  };
  const judge = (approval: ApprovalUsed | undefined, ahead?: RefusedAhead) =>
    judgeStoredRecord(site, stored, intendedRecord(change, approval), isBound, ahead);
  // Nothing is written before this first judgement; the second follows authorize (which may record
  // an approval used) and a stopped change recorded superseded.
  await judge(stored.approval, refused);
  return (approval) => judge(approval);
}

/** A record under a change's deploy id that is not the change's (judgeStoredRecord). */
const recordNotOurs = (deployId: string, ahead: RefusedAhead | undefined) =>
  new FrontendOpsError(
    'TAMPERED',
    `The deployment record of ${deployId} (under this stack's state prefix) was already there, and is not this deploy's: it names another build, request or outcome. It was not written by FrontendOps, ${ahead?.refused ?? 'so it was not recorded'}.${ahead ? ` ${ahead.outcome}` : ''} ` +
      `Run \`frontendops audit verify\` to see what else was changed in the state bucket; after checking, delete that record, then ${ahead?.next ?? 'run the command again'}.`,
    { details: { object: recordName(deployId) } },
  );

/**
 * A deployment finished before, asked for again (invalidate_cdn after its answer was lost): its record
 * and the audit head at its own entry (as its first answer named it, and so its deploy tag: the
 * chain's head now may be a later deployment's), answered only when the chain binds that record (readRelease refuses one written
 * around the chain, which would tell the agent what nobody did; an old chain's record, which no entry
 * binds, is refused CONFLICT). Reads the chain, on this retry only. `notFound`: what to say when there
 * is no record.
 */
export async function finishedBefore(
  site: Site,
  deployId: string,
  notFound: string,
): Promise<{ record: DeploymentRecord; auditHead: AuditHead | null }> {
  // A canary's start or abort row is no deployment: nothing to verify or record, no receipt to give.
  const record = await site.records.readRelease(
    deployId,
    {
      stack: site.target.stack,
      asked: 'verify and record',
      instead: () => 'A canary is started, aborted and promoted with `frontendops canary`.',
    },
    site.releases,
    {
      // An old chain's entry holds the build and outcome; an answer hands the whole record (who
      // asked, what was verified) to the agent, which that entry does not vouch for.
      legacy: () =>
        new FrontendOpsError(
          'CONFLICT',
          `Deployment ${deployId} was recorded by a FrontendOps from before audit entries bound records: its entry holds its build and outcome, not who asked for it or what was verified, so its record is no answer to this request. Nothing was changed. \`frontendops history\` shows it; to make its build live again, deploy or promote it.`,
          { details: { object: recordName(deployId) } },
        ),
    },
  );
  if (!record) throw new FrontendOpsError('NOT_FOUND', notFound);
  return { record, auditHead: await ownEntryHead(site, record) };
}

/**
 * The audit head at the entry that recorded `record` (entryRecording), as the change that recorded it
 * returned it: what its deploy tag carries, whoever answers for it later. Null where none binds it.
 */
export async function ownEntryHead(site: Site, record: DeploymentRecord): Promise<AuditHead | null> {
  return (await ownEntryHeadOf(site, record.deployId))(record);
}

/** ownEntryHead before the record of `deployId` is read (recordBinding): it may be read meanwhile. */
export async function ownEntryHeadOf(
  site: Site,
  deployId: string,
): Promise<(record: DeploymentRecord) => AuditHead | null> {
  const binding = await recordBinding(site.state, site.target.statePrefix, deployId);
  return (record) => {
    const entry = binding(record);
    return entry && { seq: entry.seq, hash: entry.hash };
  };
}

/**
 * The stopped change the run that made `live` live finished first (DeploySummary
 * finishedFirstRecord), as the chain holds it, for a retry of that run whose answer was lost: the
 * release live before it, where the entry that bound `live`'s pointer (its run's own "release"
 * entry) names it as the change its run finished first (auditRelease finishedFirst), recorded (as
 * finishedBefore reads it) from its crash-recovery record (request.resumedFrom), with the audit head
 * of its own entry (ownEntryHead), the one its tag carried. Nothing where the chain shows none.
 * "Live just before, finished from its crash record" is no evidence by itself: every change synced
 * and then finished by invalidate_cdn is recorded so, whoever finished it.
 */
export async function finishedFirstOnRecord(
  site: Site,
  /** The live pointer as read (none: nothing to name). */
  live: { deployId: string; releases: readonly { deployId: string }[] } | null | undefined,
): Promise<Pick<DeploySummary, 'finishedFirstRecord'>> {
  const before = live?.releases[1]?.deployId;
  if (!live || !before) return {};
  const entries = await readAudit(site.state, site.target.statePrefix);
  // Its run's own entry: a later run that finishes it vouches for its pointer again from its
  // crash-recovery record (resumedFrom), and knows nothing of what its run finished first.
  const bound = entries.findLast(
    (e) => e.type === 'release' && e.data.deployId === live.deployId && e.data.resumedFrom === undefined,
  );
  if (bound?.data.finishedFirst !== before) return {};
  const found = await finishedBefore(site, before, 'none').catch(() => null);
  if (!found?.record.request.resumedFrom || !found.auditHead) return {};
  return finishedFirstRecord(found.record.op ?? found.record.kind, found.record, found.auditHead);
}

/** A deployment's key facts as its audit entry carries them (readers match an entry to its record by deploy id and kind). */
function recordFacts(record: DeploymentRecord): Record<string, unknown> {
  return {
    deployId: record.deployId,
    stack: record.stack,
    app: record.app,
    commit: record.commit,
    artifactDigest: record.artifactDigest,
    request: record.request,
    copied: record.copied,
    deleted: record.deleted,
    invalidationIds: record.invalidation?.ids ?? [],
    verification: record.verification?.ok ?? null,
    outcome: record.outcome,
    ...(record.error ? { error: record.error } : {}),
    // The approval it used, which audit verify holds it to (state/approval-evidence.ts).
    ...(record.approval ? { approval: record.approval } : {}),
  };
}

/**
 * Where a change's build was found, where not in the stack's own publish log (DeployPlan
 * publishedIn): that stack, and its log's head as the check read it. Its entry names both, and
 * `audit verify` holds that log to that head, as the stack's own to `publishHead`: whoever rewrites
 * it whole after the change must rewrite this chain too, which the deploy tags show.
 */
export const publishedInFacts = ({
  publishedIn,
  publishedInHead,
}: Pick<DeployPlan, 'publishedIn' | 'publishedInHead'>): Record<string, string> =>
  publishedIn && publishedInHead ? { publishedIn, publishedInHead } : {};

/**
 * Writes the immutable record and its audit entry, which carries its key facts and binds its digest.
 * An atomic operation adds its own facts and the state objects its entry binds, and names a promoted
 * canary's entry for what it was.
 *
 * The entry also names the publish log's head as it is now (`publishHead`, "<seq>:<hash>", read
 * beside the record's write): the deploy tags anchor the deploy chain in git, and through these
 * entries the publish log too, so a publish log rewritten whole after a deploy no longer verifies.
 * A publish log whose head cannot be read is left unnamed: it never stops a deploy. `seen`: the head
 * as the deploy's check of its build read it (ApplyOptions publishHead), named instead of reading it
 * again (one request fewer); a publish landing meanwhile is anchored by the next deploy's entry.
 */
export async function recordDeployment(
  site: Site,
  record: DeploymentRecord,
  more: {
    type?: string;
    data?: Record<string, unknown>;
    objects?: Record<string, string>;
    /**
     * The record of a switch that landed, its release entry written (in place or atomic): refused
     * (LOCKED) once the lock's next holder appended while this one slept, it says so (recordLost).
     */
    landed?: boolean;
  } = {},
  seen?: AuditHead | null,
): Promise<AuditEntry> {
  const landed = more.landed
    ? { what: `${record.deployId} went live`, recorded: 'its release going live, not its deployment' }
    : undefined;
  const [{ digest, stored }, publishHead] = await settleAll([
    writeOwnRecord(site, record, landed),
    seen !== undefined
      ? seen
      : readAuditHead(site.state, `${site.target.statePrefix}${PUBLISH_LOG}`).catch(() => null),
  ]);
  return appendOwnEntry(
    site,
    {
      type: more.type ?? record.kind,
      objects: { [recordName(record.deployId)]: digest, ...more.objects },
      data: {
        ...recordFacts(stored),
        ...more.data,
        ...(publishHead ? { publishHead: formatAuditHead(publishHead) } : {}),
      },
    },
    landed,
  );
}

/**
 * A change's own entry, appended under its lock and settled before the lock goes (heldForAppends).
 * `landed`: what its switch, which landed, made so ("v went live"), and what this run recorded of it
 * before this entry: refused (LOCKED) once the lock's next holder appended while this one slept, the
 * entry says so (recordLost), not that nothing more was changed. The one way every entry after a
 * switch is appended (auditRelease, recordDeployment, an atomic canary's start or abort).
 */
export function appendOwnEntry(
  site: Site,
  event: Parameters<typeof appendAudit>[3],
  landed?: Landed,
): Promise<AuditEntry> {
  return appendAudit(site.state, site.target.statePrefix, site.locker, event, { overlap: true }).catch(
    lostAfter(landed),
  );
}

async function pruneUnreferenced(site: Site, plan: DeployPlan, options: ApplyOptions): Promise<void> {
  if (plan.prune.length === 0) return;
  await options.lock?.assertHeld();
  if (await pruneSkipped(site, plan, options.onEvent)) return;
  await site.hosting.delete(plan.prune);
  options.onEvent?.({
    type: 'step',
    step: 'prune',
    detail: `${plan.prune.length} object(s) no retained release uses`,
  });
}

const copyOne = (site: Site, plan: DeployPlan, copy: PlannedCopy) =>
  copyArtifactFile(site, plan, copy.path, copy.key, copy);

/**
 * `checked`: the pointer as read by the last check before visible files were copied. Where writes
 * are conditional the compare-and-swap holds the write to that read (a switch since is refused, as
 * the check below would refuse it), so it is not read again: one round trip fewer.
 */
async function movePointer(
  site: Site,
  plan: DeployPlan,
  at: Date,
  { request, lock }: Pick<ApplyOptions, 'request' | 'lock'>,
  checked: LiveRead['pointer'] | undefined,
  finishedFirst?: string,
): Promise<void> {
  const current =
    checked !== undefined && (await site.state.supportsConditionalWrites())
      ? checked
      : await site.records.readPointer();
  // Read again (where the write cannot be made over the version checked): held to the chain as the
  // lock's check held it, so an edit made while the files synced is not carried into the pointer.
  if (current !== checked) {
    await assertReadAsRecorded(
      site,
      { [LIVE]: current?.value ?? null },
      `The ${plan.kind} ${plan.deployId} has its files synced and its pointer not written; once the version named here is put back, run the ${plan.kind} again to finish it`,
    );
  }
  if ((current?.value.deployId ?? null) !== plan.fromDeployId && current?.value.deployId !== plan.deployId) {
    throw new FrontendOpsError(
      'PRECONDITION_FAILED',
      `The live release changed while deploying (now ${current?.value.deployId}, planned from ${plan.fromDeployId}). Run the deploy again: it plans from what is live now.`,
    );
  }
  const ref = {
    deployId: plan.deployId,
    app: plan.app,
    commit: plan.commit,
    artifactDigest: plan.artifactDigest,
    releasedAt: at.toISOString(),
  };
  const previous = current?.value.releases ?? [];
  const pointer: LivePointer = {
    ...ref,
    releases: [
      ref,
      ...previous.filter((r) => r.deployId !== plan.deployId && plan.retained.includes(r.deployId)),
    ],
  };
  const { digest, etag } = await site.records.writePointer(pointer, current?.etag ?? null);
  // Asked again once the switch landed: a holder paused between its last look and this write (asleep
  // past its lease) switched over whatever the lock's new holder did meanwhile, such as a pin. Its
  // switch is taken back, unrecorded (html-guard.ts takeBackSwitch).
  await lock?.assertHeld().catch((lost: unknown) => takeBackSwitch(site, plan, current, etag, lost));
  await auditRelease(site, pointer, digest, {
    kind: plan.kind,
    request,
    at,
    ...(finishedFirst ? { finishedFirst } : {}),
  });
}

/**
 * The entry that vouches for the live pointer after it moved: which release is live, why, and the
 * pointer's digest — so an edited live.json fails `audit verify`. (The deployment's own entry comes
 * at the end, when its record is written; a sync waiting for its invalidation is live meanwhile.)
 * Every caller's switch has landed (in place or atomic): refused (LOCKED) once the lock's next holder
 * appended while this one slept, it says so (recordLost), not that nothing more was changed.
 */
export async function auditRelease(
  site: Site,
  pointer: LivePointer,
  digest: string,
  context: {
    kind: string;
    request: RequestInfo;
    at: Date;
    /**
     * The stopped change the run that moved the pointer finished before its own (its deploy id), as
     * that run knew it: what a retry of that run names as finished first (finishedFirstOnRecord).
     */
    finishedFirst?: string;
  },
): Promise<AuditEntry> {
  return appendOwnEntry(
    site,
    {
      type: 'release',
      data: {
        deployId: pointer.deployId,
        stack: site.target.stack,
        app: pointer.app,
        commit: pointer.commit,
        artifactDigest: pointer.artifactDigest,
        kind: context.kind,
        actor: context.request.actor,
        // Finished from a crash-recovery record: the actor is what that record says, not who ran this.
        ...(context.request.resumedFrom ? { resumedFrom: context.request.resumedFrom } : {}),
        ...(context.finishedFirst ? { finishedFirst: context.finishedFirst } : {}),
        retained: pointer.releases.map((r) => r.deployId),
      },
      objects: { [LIVE]: digest },
      at: context.at,
    },
    // The pending record goes out beside the head's move; settled before the prune (finishMoved).
    { what: `${pointer.deployId} went live` },
  );
}

async function liveIndexSha(site: Site): Promise<string | undefined> {
  return (await site.hosting.head('index.html'))?.metadata.sha256;
}

/**
 * Whether a stopped in-place change went live: its pointer moved, as its crash-recovery record says
 * or as the live pointer names it (it stopped between the two). The one rule for what is finished:
 * by the next run (settlePending), by invalidate_cdn (finishSyncedDeploy), and said so by a dry run
 * (DeploySummary finishes). Any other never went live.
 */
export const wentLive = (pending: PendingDeploy, pointer: LivePointer | null | undefined): boolean =>
  pending.pointerMoved || pointer?.deployId === pending.plan.deployId;

/**
 * A pending plan means a deploy was interrupted. If its pointer had moved, only the later steps
 * remain: finish them now. Otherwise its copies may have landed: their keys are copied again, and
 * if the new plan is a different deploy the interrupted one is recorded as superseded. `pending` is
 * the record as read under the lock; the result, what is left of it to supersede.
 */
export async function settlePending(
  site: Site,
  options: ApplyOptions,
  pending: PendingDeploy | null,
  finishPins?: FinishPins,
): Promise<{
  pending: PendingDeploy | null;
  known?: LiveRead;
  /** The interrupted deploy this finished: its record and the audit head after it. */
  finished?: { record: DeploymentRecord; auditHead: AuditHead };
}> {
  if (!pending) return { pending: null };
  options.onEvent?.({
    type: 'step',
    step: 'resume',
    detail: `found interrupted ${pending.plan.kind} ${pending.plan.deployId}`,
  });
  // The record is not bound by the audit chain: checked against the live pointer (and, for a prune
  // to finish, the retained releases' manifests) before anything of it is written. What the check
  // read is what the plan is made from next, so it is not read again.
  const known = await checkPending(site, pending);
  const pointer = known.pointer;
  const live = pointer?.value.deployId === pending.plan.deployId;
  if (wentLive(pending, pointer?.value)) {
    // The process may have died between writing the pointer and its audit entry: vouch for it again.
    if (pointer && live) {
      await auditRelease(site, pointer.value, stateDigest(pointer.value), {
        kind: pending.plan.kind,
        request: pending.request,
        at: new Date(),
      });
    }
    const { record, auditHead } = await finishDeploy(
      site,
      { ...pending, pointerMoved: true },
      options,
      known,
      finishPins,
    );
    return { pending: null, known, finished: { record, auditHead } };
  }
  return { pending, known };
}

/**
 * A stopped change a run finished before its own (DeploySummary finishedFirstRecord): what its deploy
 * tag carries, where its finish succeeded and it made a release live for everyone; else nothing.
 */
export const finishedFirstRecord = (
  kind: string,
  record: DeploymentRecord | null,
  auditHead: AuditHead | null,
): Pick<DeploySummary, 'finishedFirstRecord'> =>
  record?.outcome === 'succeeded' && auditHead && TAGGED_KINDS.has(kind)
    ? {
        finishedFirstRecord: {
          deployId: record.deployId,
          kind,
          commit: record.commit,
          artifactDigest: record.artifactDigest,
          request: record.request,
          fromCommit: record.fromCommit,
          auditHead,
        },
      }
    : {};
