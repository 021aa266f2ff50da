/**
 * The atomic engine's shell: every operation on an atomic site (deploy, rollback, canary start /
 * promote / abort, migration) is the same run — take the stack's deploy lock, settle what an
 * interrupted operation left, read, plan (engine/atomic-plan.ts), then:
 *
 *   save the plan as pending → copy the release's missing files (assets, other files, HTML; all
 *   server-side) → write its release index → ONE conditional KeyValueStore write (If-Match the ETag
 *   read before planning) → the state follows (canary / retiring releases, then the live pointer)
 *   → verify through the edge → prune what nothing needs once the grace has passed → record + audit.
 *
 * A release with a release index is not copied: its prefix is listed and held against the index
 * before planning, and a rollback or canary promote to one whose files are gone (deleted from the
 * hosting bucket outside FrontendOps) is refused with nothing written. A switch the edge then does
 * not serve (deploy, rollback, canary promote) is switched back to the release live before it.
 *
 * No invalidation, ever: the function rewrites URIs before the cache, so the cache key names the
 * release. Crash recovery: the KeyValueStore write is the commit point. A re-run (any operation,
 * under the lock) finds the pending operation and reads the store: if it holds the pending
 * pointer, the write landed and the state is brought in step and the operation finished; if not,
 * it never went live and is dropped (its copies are reused, being content-addressed). A lost ETag
 * race is re-read: when only another key changed (the preview secret) the write is retried; when
 * another switch came first the operation stops, live is what the other switch made it, and the
 * state is left naming nothing this operation did. The lock is asked right before the key write and
 * the prune; the prune also reads the store and the pending plan again right before it deletes, so
 * an operator whose lock did not meet ours never has what its switch made live deleted by us.
 */
import { setTimeout as delay } from 'node:timers/promises';
import pMap from 'p-map';
import { anchorApprovalUse } from '../atomic/anchored-head.ts';
import type { ReleasePointer } from '../atomic/release-pointer.ts';
import { formatAuditHead, parseAuditHead } from '../contract/audit-head.ts';
import {
  type AtomicCopy,
  type AtomicOp,
  type AtomicPlan,
  assertOwnReleaseId,
  bucketFor,
  planAtomic,
  planAtomicPruneNow,
  releaseIdFor,
  releaseIdOfKey,
  releaseKeyOf,
  samePointer,
  unvouchedReleaseKeys,
} from '../engine/atomic-plan.ts';
import { groupOf } from '../engine/cache-policy.ts';
import { isCanaryEvent } from '../engine/canary-event.ts';
import { describeFinish, describeFinished, finishedFirst, operationWords } from '../engine/describe.ts';
import { canaryRowId } from '../engine/ids.ts';
import { artifactDigest } from '../engine/manifest.ts';
import { deployIdentity } from '../engine/plan.ts';
import type { FileGroup, Manifest } from '../engine/types.ts';
import { alsoSaying, FrontendOpsError, holding, isFrontendOpsError } from '../errors.ts';
import type { ApprovalUsed, ReleasePointerRead } from '../ports.ts';
import { settleAll } from '../settle-all.ts';
import type { Site } from '../site.ts';
import type {
  AtomicPending,
  AtomicStateRecord,
  ReleaseIndex,
  ReleaseNameRef,
  RetiringRecord,
} from '../state/atomic.ts';
import {
  ABSENT,
  type AuditEntry,
  assertAuditWritable,
  assertChainHoldsAnchor,
  canaryRunningByChain,
  digestOrNull,
  isRecord,
  readAudit,
  readAuditHead,
  readJsonQuietly,
  readNewestEntry,
  stateDigest,
} from '../state/audit.ts';
import {
  assertMarkerAsRecordedAhead,
  type EnvironmentMarker,
  markEnvironment,
  readEnvironmentMarker,
} from '../state/environment.ts';
import { ATOMIC_PENDING, ATOMIC_STATE, LIVE, recordName, releaseIndexName } from '../state/names.ts';
import { type PinRecord, pinRolledBack, pinsWhenFinished } from '../state/pin.ts';
import { assertIndexAsRecorded, assertReadAsRecorded } from '../state/recorded-state.ts';
import {
  type DeploymentRecord,
  type RequestInfo,
  type StoppedBy,
  stoppedByOf,
  supersededError,
} from '../state/records.ts';
import {
  type ApplyOptions,
  type AuditHead,
  appendOwnEntry,
  auditRelease,
  DRY_RUN_REFUSED,
  deploymentRecord,
  failedStaysLive,
  finishedBefore,
  finishedFirstOnRecord,
  finishedFirstRecord,
  ownEntryHeadOf,
  ownRecordAhead,
  publishedInFacts,
  type RefusedAhead,
  recordDeployment,
  settlePending,
  stillOurs,
  switchBackRefused,
  withRecordedApproval,
  writeOwnRecord,
} from './apply.ts';
import {
  assertAsDeployed,
  copyArtifactFile,
  listedSharedAssets,
  replacedSharedAssets,
  sharedAssetsToCopy,
  withReplacedAssets,
} from './artifact-copy.ts';
import {
  type AtomicContext,
  atomicRecordsOf,
  keptRefs,
  loadAtomicLiveState,
  manifestCache,
  readAtomicContext,
  requireReleaseStore,
  storeDrift,
  writeAtomicStateOver,
} from './atomic-live.ts';
import { verifyReleaseServed } from './atomic-verify.ts';
import { takeDeployLockReading } from './deploy-lock.ts';
import {
  assertAtomicPendingSound,
  checkUnlocked,
  forgedPending,
  type LiveRead,
  migrationSwitch,
  ownPrefixes,
} from './live.ts';
import type { DeployEvent, DeploySummary, StoppedChange } from './types.ts';
import type { Verification } from './verify.ts';

export interface AtomicOptions extends ApplyOptions {
  /** How long to wait for another operation's lock (ms). */
  waitMs?: number;
  /** The environment marker as the deploy lock read it (set with `lock`, by whoever took it). */
  marker?: EnvironmentMarker | null;
  dryRun?: boolean;
  /**
   * A dry run's: the refusal its run gives before it chooses what to make live (a deploy's pin,
   * read after the settle finished `finishing`), said instead of a refusal of what it chose.
   */
  refusedBeforeChoosing?: (finishing: StoppedChange | null) => Promise<FrontendOpsError | null>;
  /**
   * A deploy, rollback or canary promote that fails verification switches back to the release live
   * before it; a canary start that fails is ended (default true).
   */
  rollbackOnFailure?: boolean;
  /**
   * Run after the operation, still under the deploy lock (what a rollback pins, a promote lifts):
   * an operation waiting for the lock then sees it. What it returns joins the summary.
   */
  settle?: (
    summary: AtomicSummary,
    /** The release store as the run read it under the lock, where nothing of it wrote the store since (a no-op). */
    served?: ReleasePointerRead,
  ) => Promise<Pick<DeploySummary, 'pinned' | 'unpinned'>>;
}

export interface AtomicSummary extends DeploySummary {
  mode: 'atomic';
  op: AtomicOp;
  releaseId: string;
  plan: AtomicPlan;
  /** The KeyValueStore's pointer afterwards (planned, for a dry run). */
  pointer: ReleasePointer;
  canary: AtomicPlan['canaryAfter'];
  /**
   * The store named releases the state did not (a switch outside FrontendOps): what it held; null,
   * it held no pointer (its key deleted outside FrontendOps, edges serving the bucket root).
   */
  drift?: ReleasePointer | null;
}

/** What an operation is about, chosen under the lock from what is live. */
export interface AtomicTarget {
  release: ReleaseNameRef;
  weight?: number;
  /** The stack whose publish log recorded the release's build, where not this one's, and that log's head (DeployPlan). */
  publishedIn?: string;
  publishedInHead?: string;
}

export type ChooseTarget = (ctx: AtomicContext) => Promise<AtomicTarget>;

/** Graces up to this long (the local edge's propagation) are waited out before pruning; longer ones are left to a later operation. */
const INLINE_GRACE_MS = 10_000;
const GROUPS: FileGroup[] = ['asset', 'other', 'html'];

export async function runAtomic(
  site: Site,
  op: AtomicOp,
  choose: ChooseTarget,
  options: AtomicOptions,
): Promise<AtomicSummary> {
  requireReleaseStore(site);
  const started = Date.now();
  if (options.dryRun) {
    // What the lock's check refuses first (a marker not as the chain wrote it), said first.
    let [, ctx] = await settleAll([
      assertMarkerAsRecordedAhead(site),
      readAtomicContext(site, nowOf(options)),
    ] as const);
    // The run refuses a crash-recovery record FrontendOps did not write before it finishes or drops
    // it (settleAtomic): said now, not as a change it finishes first. Read across a running switch,
    // the check goes on with a second reading (live.ts checkUnlocked); what follows is then said
    // from a context read after that record too, not from the pointer read before the switch.
    // The record is held to the store and the state as this context read them, not read again; what
    // follows goes by that one reading of it too, or by the reading beside the context read again.
    const recorded = await ctx.atomic.readPending();
    let stopped = recorded;
    // Whether its finish pins, as that check held it (heldToItsWrites: for a rollback, a walk of the
    // chain): said from that one reading, not asked again. A record read again is asked anew.
    let pins: boolean | undefined;
    if (recorded) {
      const checked = await checkAtomicPendingUnlocked(
        site,
        recorded,
        { pointer: ctx.statePointer },
        readBeside(ctx),
      );
      if (checked.pending !== recorded) {
        ctx = await readAtomicContext(site, nowOf(options));
        stopped = await ctx.atomic.readPending();
      } else pins = checked.held?.pinOnSuccess === true;
    }
    // A refusal of what this operation chose is the run's too, after its settle finished the change
    // stopped past its switch (settleAtomic): the dry run names that one, in its words. One stopped
    // before it is planned beside, as the run plans it (what it copied: unvouchedReleaseKeys).
    const unswitched = stopped && !switchedLive(stopped, ctx.kvs.value) ? stopped : null;
    const chosen = async () => prepare(site, op, ctx, await choose(ctx), unswitched);
    const prepared = await chosen().catch(async (error: unknown) => {
      const finishing =
        stopped && switchedLive(stopped, ctx.kvs.value) ? await stoppedChange(site, stopped, pins) : null;
      // The run's refusal before it chooses (a deploy's pin: pinChecked) comes first, as it would.
      const before = isFrontendOpsError(error, 'PINNED')
        ? null
        : await options.refusedBeforeChoosing?.(finishing);
      if (before) throw before;
      throw finishing
        ? refusedAfterFinishing(
            error,
            `would first ${describeFinish(finishing, site.target.stack)}`,
            'would finish',
          )
        : error;
    });
    // A record under the deploy id the operation gets that it would refuse before its first write
    // (runLocked) is said now, before anyone confirms or approves it (one read).
    await ownRecordAheadOf(site, prepared.plan, options, DRY_RUN_REFUSED);
    options.onEvent?.({ type: 'plan', plan: prepared.plan });
    const drift = await storeDrift(site, ctx, recorded);
    // This release live by an operation stopped past its switch: the run finishes that one
    // (settleAtomic), and says so; another release: the run finishes it first, then this plan.
    const finished =
      stopped && switchedLive(stopped, ctx.kvs.value) ? await stoppedChange(site, stopped, pins) : null;
    return {
      ...summarize(prepared.plan, {
        dryRun: true,
        started,
        request: options.request,
        ...(drift !== undefined ? { drift } : {}),
      }),
      ...(finished
        ? prepared.plan.noop && stopped && finishedBy(stopped, prepared.plan)
          ? { finishes: finished }
          : { finishesFirst: finished }
        : {}),
    };
  }
  const { lock, marker, first } = await takeDeployLockReading(
    site,
    options,
    async () => undefined,
    () => readStoreHeldToAnchor(site),
  );
  return holding(lock, async () => {
    const seen: { served?: ReleasePointerRead } = {};
    const summary = await runLocked(
      site,
      op,
      choose,
      { ...options, lock, marker },
      started,
      undefined,
      seen,
      first,
    );
    return options.settle ? { ...summary, ...(await options.settle(summary, seen.served)) } : summary;
  });
}

/**
 * The release store read under the deploy lock, the audit chain held first: a damaged head, an entry
 * past it the operation's own append would refuse, or a chain that does not hold the head the store
 * anchors (an approval's use past the newest switch) is refused here, before a stopped change is
 * finished on it or anything else is written (TAMPERED, nothing was changed). Every operation under
 * the deploy lock of an atomic stack reads the store so (a change, a preview, a synced deploy's
 * finish, a pin or unpin), with the lock's check (takeDeployLockReading `first`: before a stopped pin
 * change is finished too), and may hand the reading on: what it appends links to the head held and
 * anchors nothing.
 */
export async function readStoreHeldToAnchor(
  site: Site,
): Promise<{ head: AuditHead | null; served: ReleasePointerRead }> {
  const [head, served] = await Promise.all([
    assertAuditWritable(site.state, site.target.statePrefix),
    requireReleaseStore(site).read(),
  ]);
  await assertChainHoldsAnchor(site.state, site.target.statePrefix, site.target.stack, served.auditHead, {
    head,
  });
  return { head, served };
}

/**
 * Finishes an atomic deploy that was made live with stopBeforeInvalidation (the infra server's
 * run_sync): verify, prune, record; switched back when the CDN does not serve it. Idempotent: for a deploy already recorded it returns its record.
 */
export async function finishSyncedAtomic(
  site: Site,
  deployId: string,
  options: AtomicOptions,
): Promise<{ record: DeploymentRecord; auditHead: AuditHead | null; rolledBackTo?: string }> {
  requireReleaseStore(site);
  const { lock, marker, first } = await takeDeployLockReading(
    site,
    options,
    async () => undefined,
    () => readStoreHeldToAnchor(site),
  );
  options = { ...options, marker };
  return holding(lock, async () => {
    const atomic = atomicRecordsOf(site);
    const [pending, { served }] = await Promise.all([
      atomic.readPending(),
      first ?? readStoreHeldToAnchor(site),
    ]);
    // Finished when it went live, by the rule the next run finishes it by (settleAtomic: switched,
    // or the store serves what its switch wrote); any other is not waiting for this.
    const checked =
      pending?.plan.deployId === deployId
        ? await heldToItsWrites(site, pending, await assertAtomicPendingSound(site, pending), { served })
        : null;
    let held = checked?.pending ?? null;
    if (held && !held.switched && switchedLive(held, served.value))
      held = await afterSwitch(site, held, nowOf(options), lock);
    if (pending && held?.switched) {
      const finished = await finishAtomic(site, held, { ...options, lock });
      if (finished.record) {
        const { record, auditHead } = finished;
        // The CDN does not serve it: switch back, as a deploy run in one go does.
        if (record.outcome === 'failed' && options.rollbackOnFailure !== false) {
          if (checked?.fromDriftOnly) throw notSwitchedBackToDrift(pending.plan);
          const back = await switchBackAfterFailure(site, pending.plan, {
            ...options,
            lock,
            rollbackOnFailure: false,
          });
          if (back) return { record, auditHead, rolledBackTo: back.deployId };
        }
        return { record, auditHead };
      }
    }
    return finishedBefore(
      site,
      deployId,
      `Deployment ${deployId} is neither waiting to be verified nor recorded for ${site.target.stack}. Sync it first, or check the id with \`frontendops history\`.`,
    );
  });
}

/**
 * The record already under the deploy id of an operation that changes what is live, judged before
 * the operation writes anything (apply.ts ownRecordAhead): one read (this stack's id is known only
 * from the plan). A canary's start or abort row is named from its start time too (canaryRowId):
 * nobody computes it ahead.
 */
async function ownRecordAheadOf(
  site: Site,
  plan: AtomicPlan,
  options: AtomicOptions,
  refused?: RefusedAhead,
): Promise<((approval: ApprovalUsed | undefined) => Promise<unknown>) | null> {
  if (plan.noop || !plan.liveChanges) return null;
  const stored = await site.records.readRecord(plan.deployId);
  return ownRecordAhead(site, stored, { plan, request: options.request, marks: promoteMarks(plan) }, refused);
}

// ── the run ────────────────────────────────────────────────────────────────────────────────────

async function runLocked(
  site: Site,
  op: AtomicOp,
  choose: ChooseTarget,
  options: AtomicOptions,
  started: number,
  /**
   * What a refusal before the first write leaves (a record under its deploy id not its own, the
   * index of the release it switches to edited: default, nothing changed).
   */
  refusedAhead?: RefusedAhead,
  /** Set to the store as read, where the run writes nothing to it (a no-op): for what follows under the lock. */
  seen?: { served?: ReleasePointerRead },
  /** The store as the deploy lock's check read it, held to the anchor (undefined: read here). */
  lockRead?: { head: AuditHead | null; served: ReleasePointerRead },
): Promise<AtomicSummary> {
  // A damaged audit head stops the operation here, before anything is written, as does an entry past
  // the head that the operation's own append would refuse, or a chain cut back past the head the
  // store anchors (checked with the lock, before a stopped pin change is finished). The settle holds
  // a stopped change to the same reading of the store.
  const { head, served } = lockRead ?? (await readStoreHeldToAnchor(site));
  const { abandoned, finished: earlier } = await settleAtomic(site, options, served);
  // A change the settle finished may have written the store (a rollback's pin fences it): read again.
  const ctx = await readAtomicContext(site, nowOf(options), earlier ? undefined : { served });
  // The stopped change the settle finished, as the run's summary names it (finishedFirst).
  const firstFinished = earlier
    ? finishedFirst({
        deployId: earlier.pending.plan.deployId,
        kind: earlier.pending.op,
        outcome: earlier.finished.outcome,
      })
    : null;
  // Refused after the settle finished a stopped change (a deploy of a stopped canary start's build
  // finds the canary running): the refusal says what was finished and recorded (failed too), as the
  // dry run did.
  const finishedThen = (error: unknown) =>
    firstFinished ? refusedAfterFinishing(error, describeFinished(firstFinished)) : error;
  let target: AtomicTarget;
  try {
    target = await choose(ctx);
  } catch (error) {
    // The same operation, run again after its answer was lost: it was what the settle just finished
    // (a promote or abort then finds no canary). Say what was done, not that there is nothing to do.
    if (earlier?.pending.op !== op || !isFrontendOpsError(error, 'NOT_FOUND')) throw finishedThen(error);
    return summarize(earlier.pending.plan, {
      dryRun: false,
      started,
      request: earlier.pending.request,
      ...finishedFacts(earlier.finished),
    });
  }
  const prepared = await prepare(site, op, ctx, target, abandoned, true, refusedAhead).catch((error) => {
    throw finishedThen(error);
  });
  const { plan } = prepared;
  // What stops the run at its plan (a caller's check that it is the plan shown; a record already
  // under its deploy id, judged now as finishAtomic's writeOwnRecord will judge it: one planted there
  // is refused before anything is written) comes after the settle: said with what it finished.
  const ownRecord = await (async () => {
    options.onEvent?.({ type: 'plan', plan });
    return ownRecordAheadOf(site, plan, options, refusedAhead);
  })().catch((error: unknown) => {
    throw finishedThen(error);
  });
  // Another change, or the other end of the same canary (a stopped promote, then its abort, share
  // the canary's deploy id): what the stopped one was asked for is recorded, not dropped.
  const superseded =
    abandoned !== null &&
    (abandoned.plan.deployId !== plan.deployId ||
      (abandoned.op !== op && CANARY_ENDS.has(abandoned.op) && CANARY_ENDS.has(op)));
  if (superseded) {
    await recordAbandoned(site, abandoned);
    await ctx.atomic.clearPending();
  }
  const drift = await storeDrift(site, ctx, abandoned);
  const drifted = drift !== undefined ? { drift } : {};
  if (plan.noop) {
    if (seen) seen.served = ctx.kvs;
    // Nothing of this run replaces a stopped one of the same change: its record goes too.
    if (abandoned && !superseded) await ctx.atomic.clearPending();
    // A change of this release stopped past its switch (this one run again, or one of another kind: a
    // rollback's release deployed): the settle just finished it, as the dry run said (finishedBy),
    // and it is what to say and tag, as what it was.
    const record = earlier?.finished.record;
    const same = record?.outcome === 'succeeded' && earlier !== null && finishedBy(earlier.pending, plan);
    return {
      ...summarize(plan, { dryRun: false, started, request: options.request, ...drifted }),
      ...(same && earlier?.finished.auditHead
        ? {
            finishedInterrupted: {
              deployId: record.deployId,
              kind: earlier.pending.op,
              artifactDigest: record.artifactDigest,
              fromCommit: record.fromCommit,
              auditHead: earlier.finished.auditHead,
            },
            // A change its first run finished before its own: its tag is due too, as it was then.
            ...(await finishedFirstOnRecord(site, ctx.statePointer?.value)),
          }
        : {}),
    };
  }

  // The stopped change the settle finished before this plan, as the dry run said (finishesFirst).
  // Its deploy tag is due, as any deployment's that went live for everyone and was verified.
  const first =
    earlier && firstFinished
      ? {
          finishedFirst: firstFinished,
          ...finishedFirstRecord(earlier.pending.op, earlier.finished.record, earlier.finished.auditHead),
        }
      : {};
  const approval = await options.authorize?.(
    plan,
    earlier
      ? { finishedFirst: { op: earlier.pending.op, deployId: earlier.pending.plan.deployId } }
      : undefined,
  );
  await ownRecord?.(approval);
  // Its use anchored where whoever can write only the state bucket cannot cut it from the chain; the
  // switch anchors the chain's head again (a use a stopped run left unanchored: this run's start).
  let anchored = head;
  if (approval) {
    const used = await anchorApprovalUse(
      site,
      ctx.store,
      ctx.kvs,
      `nothing of this ${operationWords(op)} was written, and nothing went live. Run it again: this approval is used, so it asks for a new approval.`,
    );
    ctx.kvs = { ...ctx.kvs, etag: used.etag };
    anchored = used.head ?? anchored;
  }
  // The marker as the deploy lock read it when it was taken (one that cannot be read was refused there).
  await markEnvironment(
    site,
    options.marker !== undefined ? options.marker : await readEnvironmentMarker(site.hosting),
  );
  let pending: AtomicPending = {
    op,
    plan,
    request: options.request,
    startedAt: new Date(nowOf(options)).toISOString(),
    switched: false,
    ...(approval ? { approval } : {}),
    ...drifted,
    ...(options.pinOnSuccess && op === 'rollback' ? { pinOnSuccess: true as const } : {}),
    ...(prepared.ensured.length > 0
      ? {
          indexes: Object.fromEntries(
            prepared.ensured.map((index) => [releaseIndexName(index.releaseId), stateDigest(index)]),
          ),
        }
      : {}),
  };
  await ctx.atomic.writePending(pending);
  try {
    await copyFiles(site, plan.copies, options, plan.stray);
    await Promise.all(prepared.ensured.map((index) => ctx.atomic.writeReleaseIndex(index)));
  } catch (error) {
    // Kept for the record written when a later operation replaces this one (best effort).
    if (await stillOurs(error, options)) {
      await ctx.atomic.writePending({ ...pending, stoppedBy: stoppedByOf(error) }).catch(() => {});
    }
    throw error;
  }
  await options.lock?.assertHeld(); // the commit point: only while the lock is still ours
  await switchPointer(site, ctx, pending, options.lock, anchored);
  pending = await afterSwitch(site, pending, nowOf(options), options.lock, earlier?.pending.plan.deployId);
  options.onEvent?.({ type: 'step', step: 'pointer', detail: pointerDetail(plan) });
  if (options.stopBeforeInvalidation && plan.liveChanges) {
    return {
      ...summarize(plan, {
        dryRun: false,
        started,
        request: options.request,
        outcome: 'synced',
        ...drifted,
      }),
      ...first,
    };
  }
  const finished = await finishAtomic(site, pending, options, prepared.known);
  const summary = {
    ...summarize(plan, {
      dryRun: false,
      started,
      request: options.request,
      ...finishedFacts(finished),
      ...drifted,
    }),
    ...first,
  };
  if (finished.outcome === 'failed' && options.rollbackOnFailure !== false) {
    const back = await switchBackAfterFailure(site, plan, { ...options, rollbackOnFailure: false });
    if (back) return { ...summary, rolledBackTo: back.deployId };
  }
  return summary;
}

/**
 * The target, the live state it needs (a listing only when files may be copied) and the plan.
 *
 * A kept release with a release index is switched to without copying; before, its prefix is listed
 * (one LIST request per 1,000 of its non-asset files, sent with the index read) and held against the
 * files its index names: someone with write access to the hosting bucket may have deleted them. A
 * rollback or canary promote to a release not whole is refused here, before anything is written; a
 * deploy or canary start (which copy a build's files anyway) copies the missing ones again.
 */
async function prepare(
  site: Site,
  op: AtomicOp,
  ctx: AtomicContext,
  target: AtomicTarget,
  interrupted?: AtomicPending | null,
  /** Under the deploy lock (not a dry run): the index used is held to the chain. */
  locked = false,
  /** What its refusal leaves, when not "nothing" (runLocked's refusedAhead). */
  refused?: RefusedAhead,
) {
  const kept = keptRefs(ctx);
  const { releaseId } = target.release;
  const indexed = op !== 'migrate' && kept.has(releaseId);
  const checked = indexed && SWITCHES_TO_TARGET.has(op);
  const manifests = manifestCache(site);
  const [found, present, judged] = await Promise.all([
    indexed ? ctx.atomic.readReleaseIndex(releaseId) : Promise.resolve(null),
    checked ? releaseKeysPresent(site, releaseId) : Promise.resolve(null),
    checked ? sharedAssetsNotInPlace(site, ctx, target.release, manifests) : Promise.resolve(null),
  ]);
  const assets = judged ?? [];
  if (found && locked) {
    await assertIndexAsRecorded(site, releaseIndexName(releaseId), found, refused);
  }
  const missing = found && present ? missingFiles(found, present) : [];
  if (found && missing.length > 0 && !COPIES_WHEN_MISSING.has(op)) {
    throw await releaseIncomplete(site, op, ctx, found, missing, manifests);
  }
  if (found && assets.length > 0 && !COPIES_WHEN_MISSING.has(op)) {
    throw await releaseIncomplete(site, op, ctx, found, assets, manifests, 'assets');
  }
  // Missing files or shared assets not as its manifest says (deploy, canary start): planned from the
  // bucket's listing and the manifest, as a release that was never uploaded is, so the copies put
  // them back before the switch.
  const index = missing.length > 0 || assets.length > 0 ? null : found;
  const full = index === null;
  const [listed, manifest, liveIndexSha256] = await Promise.all([
    loadAtomicLiveState(site, ctx, { full, manifests }),
    full ? manifests(target.release) : Promise.resolve(null),
    op === 'canary-abort' ? liveIndexSha(site, ctx, manifests, locked) : Promise.resolve(null),
  ]);
  // The build's shared assets that a kept release vouches for are held to what the bucket holds:
  // judged once, by the check of a release in place when it made one.
  const live = !manifest
    ? listed
    : judged
      ? { ...listed, replaced: new Set(judged) }
      : await withReplacedAssets(site, { ...target.release, manifest }, listed);
  if (found && missing.length > 0 && !manifest) {
    throw await releaseIncomplete(site, op, ctx, found, missing, manifests);
  }
  // Files under the id of a release not kept (nothing pruned them yet) are held to the index stored
  // with them first, read only when the listing shows some. With none, nothing says they are this
  // build's (a deploy stopped before its index, perhaps of another build with the same id): only
  // those a stopped run of this build wrote are (unvouchedReleaseKeys).
  let unvouched: Set<string> | undefined;
  if (
    !indexed &&
    op !== 'migrate' &&
    [...listed.hosting.keys()].some((k) => releaseIdOfKey(k) === releaseId)
  ) {
    const stored = await ctx.atomic.readReleaseIndex(releaseId);
    if (stored) assertOwnReleaseId(site.target.stack, target.release, [stored]);
    else unvouched = unvouchedReleaseKeys(target.release, listed.hosting.keys(), interrupted?.plan ?? null);
  }
  const planned = planAtomic({
    stack: site.target.stack,
    op,
    release: { ...target.release, manifest },
    ...(index
      ? { inPlace: { files: index.files.length, assets: index.assets, indexSha256: index.indexSha256 } }
      : {}),
    live,
    liveIndexSha256,
    ...(target.weight !== undefined ? { weight: target.weight } : {}),
    retain: site.retain,
    spa: site.spa,
    now: ctx.now,
    graceMs: site.releaseGraceMs,
    keepPrefixes: ownPrefixes(site),
    ...(interrupted ? { written: interrupted.plan.copies } : {}),
    ...(unvouched ? { unvouched } : {}),
  });
  const { publishedIn, publishedInHead } = target;
  const plan = publishedIn
    ? { ...planned, publishedIn, ...(publishedInHead ? { publishedInHead } : {}) }
    : planned;
  // A migration copies the releases the in-place pointer retains too: each as it went out.
  if (op === 'migrate' && !plan.inPlace)
    for (const r of live.retained) if (r.manifest) assertAsDeployed(site, r.manifest, [r]);
  const sources = plan.inPlace
    ? []
    : op === 'migrate'
      ? [{ ...target.release, manifest }, ...live.retained]
      : [{ ...target.release, manifest }];
  const at = new Date(ctx.now).toISOString();
  const ensured = sources.flatMap((r) => (r.manifest ? [releaseIndexOf(r, r.manifest, at)] : []));
  // What the bucket holds once the copies are done (and the stray files deleted), for the prune: no
  // second listing.
  const stray = new Set(plan.stray);
  const known = full
    ? {
        hosting: new Map(
          [...live.hosting, ...plan.copies.map((c) => [c.key, c.size] as const)].filter(
            ([k]) => !stray.has(k),
          ),
        ),
        manifests,
      }
    : undefined;
  const copies = await sharedAssetsToCopy(site, plan.copies);
  if (copies.length === plan.copies.length) return { plan, ensured, known };
  const bytesToCopy = copies.reduce((sum, c) => sum + c.size, 0);
  return { plan: { ...plan, copies, bytesToCopy }, ensured, known };
}

/**
 * The shared assets (keys) of a release in place whose bytes are not its build's manifest's, or
 * that are gone (replacedSharedAssets, from listings of their folders: a few requests, not one per
 * asset, so headers rewritten in place are not seen here; a deploy's plan sees them), checked
 * before a switch to it or a preview of it; null (not judged) when its build is gone from the artifacts bucket, or is
 * not the one the stack recorded (nothing then says what its assets hold; a deploy of it is refused
 * as it is). What it finds is the plan's too (AtomicLiveState.replaced): not judged a second time.
 */
export async function sharedAssetsNotInPlace(
  site: Site,
  ctx: AtomicContext,
  release: { app: string; commit: string; artifactDigest: string },
  manifests: ReturnType<typeof manifestCache>,
): Promise<string[] | null> {
  const manifest = await manifests({ app: release.app, commit: release.commit }).catch(() => null);
  if (!manifest || artifactDigest(manifest) !== release.artifactDigest) return null;
  const known = async () =>
    Promise.all(
      [...keptRefs(ctx).values()].map((r) => manifests({ app: r.app, commit: r.commit }).catch(() => null)),
    );
  const listed = await listedSharedAssets(site, manifest);
  const replaced = await replacedSharedAssets(site, { ...release, manifest }, { listed }, known);
  return [...replaced].sort();
}

/** Operations that send visitors to their target release: one in place is checked whole first. */
const SWITCHES_TO_TARGET: ReadonlySet<AtomicOp> = new Set([
  'deploy',
  'rollback',
  'canary-start',
  'canary-promote',
]);
/** Of those, the ones that copy a build's missing files anyway; the others refuse a release not whole. */
const COPIES_WHEN_MISSING: ReadonlySet<AtomicOp> = new Set(['deploy', 'canary-start']);

/** The keys under a release's prefix: one LIST page per 1,000. */
export async function releaseKeysPresent(site: Site, releaseId: string): Promise<Set<string>> {
  const listed = await site.hosting.list(releaseKeyOf(releaseId, '/'));
  return new Set(listed.map((o) => o.key));
}

/** The files a release index names that are not under the release's prefix. */
export const missingFiles = (index: ReleaseIndex, present: ReadonlySet<string>): string[] =>
  index.files.filter((path) => !present.has(releaseKeyOf(index.releaseId, path)));

/** Marks the refusal, so that a switch back after a failed verification can tell it apart. */
const RELEASE_INCOMPLETE = 'release-incomplete';

/**
 * The refusal of a switch to a release whose files are not all in the hosting bucket (or, `assets`,
 * whose shared assets are not as its build published them): which release, how many and which, that
 * the bucket was changed outside FrontendOps, and what puts them back (a deploy of that commit, while
 * its build is still published).
 */
async function releaseIncomplete(
  site: Site,
  op: AtomicOp,
  ctx: AtomicContext,
  index: ReleaseIndex,
  missing: readonly string[],
  manifests: ReturnType<typeof manifestCache>,
  kind: 'files' | 'assets' = 'files',
): Promise<FrontendOpsError> {
  const published = (await manifests({ app: index.app, commit: index.commit }).catch(() => null)) !== null;
  const sha = index.commit.slice(0, 7);
  const canary = op === 'canary-promote';
  const share = ctx.state.canary ? `${ctx.state.canary.weight}%` : '<percent>';
  const shown = `${missing.slice(0, 3).join(', ')}${missing.length > 3 ? `, and ${missing.length - 3} more` : ''}`;
  const doing =
    op === 'rollback'
      ? 'rolling back to it'
      : op === 'canary-promote'
        ? 'promoting it'
        : op === 'canary-start'
          ? 'sending visitors to it'
          : 'deploying it';
  const back = kind === 'files' ? 'the missing files back' : 'them again';
  const what =
    kind === 'files'
      ? `${missing.length} of its ${index.files.length} files under its release prefix are missing (${shown}). Its release index lists them, so they were deleted or moved outside FrontendOps (by someone with write access to the hosting bucket), and ${doing} would serve errors to every visitor.`
      : `${missing.length} of its ${index.assets} shared assets are not what its build published (${shown}): their bytes were replaced, or they were deleted, outside FrontendOps (by someone with write access to the hosting bucket), and ${doing} would serve that to every visitor.`;
  const remedy = published
    ? canary
      ? `End the canary (\`frontendops canary abort\`), or start it again (\`frontendops deploy --commit ${sha} --canary ${share}\`): a canary start copies ${back} from its published build; then promote it.`
      : `To serve it again, deploy that commit again (\`frontendops deploy --commit ${sha}\`, or \`frontendops promote ${sha}\` while the stack is pinned): a deploy copies ${back} from its published build before it switches (then \`frontendops pin\` holds it there, as a rollback would). Or roll back to another release.`
    : `Its build is gone from the artifacts bucket too, so nothing can copy them back: publish that commit's build again and deploy it, or ${canary ? 'end the canary (`frontendops canary abort`)' : 'roll back to another release'}.`;
  return new FrontendOpsError(
    'CONFLICT',
    `${canary ? 'The canary ' : ''}${index.app}@${sha} (release ${index.releaseId}) is not whole in the hosting bucket of ${site.target.stack}: ${what} Nothing was changed: the site still serves ${describePointer(ctx.kvs.value)}. ${remedy}`,
    {
      details: {
        reason: RELEASE_INCOMPLETE,
        releaseId: index.releaseId,
        missing: missing.length,
        ...(kind === 'files' ? { files: index.files.length } : { assets: index.assets }),
        examples: missing.slice(0, 3),
        published,
      },
    },
  );
}

const isReleaseIncomplete = (error: unknown): error is FrontendOpsError =>
  isFrontendOpsError(error, 'CONFLICT') && error.details?.reason === RELEASE_INCOMPLETE;

/**
 * Whether a stopped atomic operation went live: switched, as its crash-recovery record says, or the
 * release store serves what its switch wrote (a switch that changed something: it stopped before its
 * record said so). The one rule for what is finished: by the next run (settleAtomic), by
 * invalidate_cdn (finishSyncedAtomic), and said so by a dry run (DeploySummary finishes).
 */
export const switchedLive = (pending: AtomicPending, served: ReleasePointer | null | undefined): boolean =>
  pending.switched ||
  (samePointer(served ?? null, pending.plan.pointerAfter) &&
    !samePointer(pending.plan.pointerBefore, pending.plan.pointerAfter));

/**
 * What an interrupted operation left. Switched (the state followed): only the finish remains.
 * Not marked switched but the store holds its pointer: the write landed, the state is brought in
 * step and it is finished. Otherwise it never went live: dropped (returned as abandoned, so the
 * caller records it as superseded when it plans something else). What was finished is returned too:
 * the same operation run again after its answer was lost reports it.
 */
export async function settleAtomic(
  site: Site,
  options: AtomicOptions,
  /** The release store as the caller read it under the lock (runLocked), not read again. */
  served?: ReleasePointerRead,
): Promise<{
  abandoned: AtomicPending | null;
  finished: { pending: AtomicPending; finished: Finished } | null;
}> {
  const inPlace = await site.records.readPending();
  if (inPlace) {
    // A record FrontendOps did not write (a rollback to a build never live here) is refused before
    // anything of it is finished or recorded (checkPending). One whose pointer moved, by its flag or
    // because the live pointer names it (stopped between the two), is finished as an in-place deploy
    // finishes it; any other is recorded superseded.
    const settled = await settlePending(site, options, inPlace);
    if (settled.pending) {
      const stopped = await withRecordedApproval(site, settled.pending);
      await recordDeployment(site, deploymentRecord(stopped, new Date(), superseded(stopped.stoppedBy)), {
        data: publishedInFacts(stopped.plan),
      });
      await site.records.clearPending();
    }
  }
  const atomic = atomicRecordsOf(site);
  const pending = await atomic.readPending();
  if (!pending) return { abandoned: null, finished: null };
  options.onEvent?.({
    type: 'step',
    step: 'resume',
    detail: `found interrupted ${pending.op} ${pending.plan.deployId}`,
  });
  const held = await checkAtomicPending(site, pending, undefined, served ? { served } : undefined);
  if (held.switched) {
    return {
      abandoned: null,
      finished: { pending: held, finished: await finishAtomic(site, held, options) },
    };
  }
  const now = served ?? (await requireReleaseStore(site).read());
  if (switchedLive(held, now.value)) {
    const switched = await afterSwitch(site, held, nowOf(options), options.lock);
    return {
      abandoned: null,
      finished: { pending: held, finished: await finishAtomic(site, switched, options) },
    };
  }
  // Kept until the operation is recorded superseded (runLocked): a run that stops or is refused
  // before then leaves it to the next one, which records it (before, it was gone, and the release
  // index it wrote read as written around the chain).
  return { abandoned: held, finished: null };
}

/**
 * The check an atomic crash-recovery record passes before anything of it is finished, switched or
 * recorded (assertAtomicPendingSound, then heldToItsWrites): TAMPERED for one FrontendOps did not
 * write. Reads only; returns the record to finish with. The settle runs it under the lock; a dry run
 * and `status` say its refusal before any change.
 */
export async function checkAtomicPending(
  site: Site,
  pending: AtomicPending,
  known?: LiveRead,
  beside?: Partial<AtomicReadBeside>,
): Promise<AtomicPending> {
  const live = await assertAtomicPendingSound(site, pending, known);
  return (await heldToItsWrites(site, pending, live, beside)).pending;
}

/**
 * The atomic state as stored (readJsonQuietly's shape) and the release store's pointer, as a reader
 * read them beside the crash-recovery record (status): the check goes by them, not reading either again.
 */
export interface AtomicReadBeside {
  state: { missing: boolean; damaged: boolean; value: unknown };
  served: ReleasePointerRead;
}

/** What readAtomicContext read of the state and the store, for a check beside it (AtomicReadBeside). */
const readBeside = (ctx: AtomicContext): AtomicReadBeside | undefined =>
  ctx.stateStored === undefined
    ? undefined
    : {
        state: { missing: ctx.stateStored === null, damaged: false, value: ctx.stateStored },
        served: ctx.kvs,
      };

/**
 * checkAtomicPending for a reader that holds no lock: status, a dry run (live.ts checkUnlocked).
 * `beside`: what the reader read with the record and `known` (AtomicReadBeside), for the first
 * check only; the second reading, after a refusal, reads everything again. `held`: the record
 * returned as the check held it (its pin dropped where its finish would not pin: pinsWhenFinished).
 */
export const checkAtomicPendingUnlocked = async (
  site: Site,
  pending: AtomicPending,
  known: LiveRead,
  beside?: AtomicReadBeside,
): Promise<{ pending: AtomicPending | null; known: LiveRead; held?: AtomicPending }> => {
  let held: AtomicPending | undefined;
  const read = await checkUnlocked(
    site,
    async (record: AtomicPending, at) => {
      held = await checkAtomicPending(site, record, at, at === known ? beside : undefined);
    },
    { pending, known, reread: () => atomicRecordsOf(site).readPending() },
  );
  return read.pending && held ? { ...read, held } : read;
};

/**
 * What an operation read back from atomic/pending.json wrote before it stopped, held to what
 * FrontendOps writes before its finish binds any of it in the chain. The record is bound by no entry:
 * whoever can write the state bucket can write one, with the state and release indexes to match, so
 * each is held to what that writer cannot make — the artifacts bucket's published manifests, the
 * CDN's release store, the live pointer the lock's check found as the chain binds it:
 * - each release index it names is its own release's (a migration's: a release the live pointer
 *   keeps), as FrontendOps makes it from the build's published manifest; one it did not write before
 *   it stopped (missing, or another genuine index of that build, as a preview writes) is left out of
 *   what the finish binds;
 * - a canary start's release is its build's, published with that digest;
 * - a switch it says it made is what the release store names (one another operation replaced since,
 *   where two operators' locks did not meet, is refused too: the record cannot tell it from a made-up
 *   one), switched from the release the live pointer keeps before it (or from the store's drift the
 *   record says its run found: storeDrift); a record pins only as a rollback;
 * - its prune names no release the switch serves, the live pointer keeps, or a preview shows;
 * - the state its switch wrote names the canary its pointer does. A state changed since by a change
 *   whose own entry bound it (a preview asked for meanwhile) is not bound again.
 * `known`: the live pointer as assertAtomicPendingSound read it (not read again); `beside`: the state
 * and the store as a reader read them with the record (AtomicReadBeside). Refused TAMPERED
 * with nothing written (live.ts forgedPending); returns the record to finish with, and whether its
 * switch was held only to its recorded drift (fromDriftOnly): then what it switched from is the
 * record's word alone, which a failed verification does not switch back to (notSwitchedBackToDrift).
 */
async function heldToItsWrites(
  site: Site,
  record: AtomicPending,
  known: LiveRead,
  beside?: Partial<AtomicReadBeside>,
): Promise<{ pending: AtomicPending; fromDriftOnly: boolean }> {
  let pending = record;
  let fromDriftOnly = false;
  const { plan } = pending;
  const prefix = site.target.statePrefix;
  const what = `${pending.op} ${plan.deployId} of ${String(plan.commit).slice(0, 7)}`;
  const refuse = (asks: string) => forgedPending(ATOMIC_PENDING, asks);
  const readStored = (name: string) => readJsonQuietly(site.state, `${prefix}${name}`);
  const manifests = manifestCache(site);
  const [stateStored, served] = await Promise.all([
    beside?.state ?? readStored(ATOMIC_STATE),
    beside?.served ?? requireReleaseStore(site).read(),
  ]);
  // Not marked switched, but the store names what its switch wrote: finished as switched
  // (switchedLive), so held as a switched one is.
  const wentLive = switchedLive(pending, served.value);
  const kept = new Set((known.pointer?.value.releases ?? []).map((r) => releaseIdFor(r)));
  // Whether an entry other than this operation's own binds atomic state: a switch "from nothing"
  // is only a stack's first. Its own entry (it stopped after it) may be followed by entries that
  // bind no atomic state (a pin or an unpin, which do not finish it): those are no other switch.
  // The chain is read at most once here, however many of the checks below ask for it.
  let chain: Promise<AuditEntry[]> | undefined;
  const auditEntries = () => {
    chain ??= readAudit(site.state, prefix);
    return chain;
  };
  const atomicStateBoundByOthers = async () =>
    (await auditEntries()).some(
      (e) =>
        e.objects?.[ATOMIC_STATE] !== undefined &&
        !(e.type === pending.op && e.data.deployId === plan.deployId),
    );
  const after = plan.pointerAfter as { live?: unknown; canary?: unknown; weight?: unknown } | undefined;

  if (pending.switched && !samePointer(served.value, plan.pointerAfter)) {
    throw refuse(`says ${what} switched, but the CDN's release store does not name what its switch wrote`);
  }
  // What its finish verifies the CDN against, and switches back to when the CDN does not serve it:
  // an index.html the build does not have would fail verification on purpose, and a release before
  // it that was not would go live with no one asking (or approving).
  if (wentLive && plan.liveChanges) {
    const verify = isRecord(plan.verify) ? plan.verify.indexSha256 : undefined;
    if (verify !== null && verify !== undefined) {
      const manifest = await manifests({ app: plan.app, commit: plan.commit }).catch(() => null);
      if (!manifest || verify !== manifest.files['/index.html']?.sha256) {
        throw refuse(`names ${what}, with an index.html to verify that is not that build's`);
      }
    }
    // The live pointer is written after the switch: it may still name the release switched from.
    const releases = known.pointer?.value.releases ?? [];
    const moved = releases[0] !== undefined && releaseIdFor(releases[0]) === plan.releaseId;
    const before = moved ? releases[1] : releases[0];
    const from = isRecord(plan.pointerBefore) ? plan.pointerBefore.live : undefined;
    // The stack's first atomic switch (its migration) switched from nothing: the live pointer keeps
    // the in-place release before it. Only while no entry binds atomic state but, when it stopped
    // after its own entry, that one (a record naming another operation's deploy id gains nothing).
    const first = plan.pointerBefore == null && !(await atomicStateBoundByOthers());
    // A run that found the store changed outside FrontendOps (storeDrift: another pointer, or no key)
    // switched from what the store held, and recorded that as its drift: held to that record.
    const drift = pending.drift;
    const fromDrift =
      drift !== undefined &&
      (drift === null || isRecord(drift)) &&
      samePointer(plan.pointerBefore, drift as ReleasePointer | null);
    if (before && from !== releaseIdFor(before) && !first) {
      if (!fromDrift) {
        throw refuse(
          `names ${what}, switched from a release the live pointer does not keep before it (${String(from).slice(0, 40)})`,
        );
      }
      fromDriftOnly = true;
    }
  }
  // A migration's switch (migrationSwitch) is the stack's first atomic switch, to the release the
  // live pointer has live: one claimed on a stack the chain records serving atomic releases was not
  // this record's (the store served it already), and would be recorded as a migration nobody ran.
  if (migrationSwitch(pending)) {
    if ((await atomicStateBoundByOthers()) || known.pointer?.value.deployId !== plan.deployId) {
      throw refuse(
        `names ${what}, a first switch to atomic releases, which this stack's audit chain already records`,
      );
    }
  }
  // An abort done changes nothing visitors get (the store names the live release, as before any
  // canary): only the chain shows there was a canary of its release to abort.
  if (wentLive && pending.op === 'canary-abort') {
    // Stopped after its own entry (before its record went): the canary ran until that entry.
    const entries = await auditEntries();
    const last = entries.findLast((e) => e.type.startsWith('canary-'));
    const own =
      last?.type === 'canary-abort' &&
      last.data.deployId === plan.deployId &&
      last.data.releaseId === plan.releaseId;
    const running = canaryRunningByChain(own ? entries.slice(0, entries.indexOf(last)) : entries);
    if (running !== plan.releaseId) {
      throw refuse(`says ${what} switched, but the audit chain records no canary of it running to abort`);
    }
  }
  // Only a rollback pins, once finished (the store naming its switch, checked above).
  // Nor one whose pin a later change lifted or replaced: pinning again would undo that change.
  const { pinOnSuccess, ...unpinned } = pending;
  if (
    pinOnSuccess &&
    !(await pinsWhenFinished(site, { ...pending, kind: pending.op, deployId: plan.deployId }))
  )
    pending = unpinned;
  if (pending.op === 'canary-start') {
    const manifest =
      typeof plan.app === 'string' && typeof plan.commit === 'string'
        ? await manifests({ app: plan.app, commit: plan.commit }).catch(() => null)
        : null;
    if (
      !manifest ||
      artifactDigest(manifest) !== plan.artifactDigest ||
      plan.releaseId !== releaseIdFor({ commit: plan.commit, artifactDigest: plan.artifactDigest })
    ) {
      throw refuse(`names ${what}, whose release is not that of a build published with its digest`);
    }
  }

  const written: Record<string, string> = {};
  const indexes = Object.entries(
    isRecord(pending.indexes) ? (pending.indexes as Record<string, unknown>) : {},
  );
  await Promise.all(
    indexes.map(async ([name, digest]) => {
      const stored = await readStored(name);
      if (stored.missing) return; // not written before it stopped: nothing of it is bound
      const index = stored.value as Partial<ReleaseIndex> | undefined;
      const ref =
        isRecord(index) &&
        typeof index.app === 'string' &&
        typeof index.commit === 'string' &&
        typeof index.artifactDigest === 'string' &&
        typeof index.uploadedAt === 'string'
          ? {
              releaseId: releaseIdFor({ commit: index.commit, artifactDigest: index.artifactDigest }),
              app: index.app,
              commit: index.commit,
              artifactDigest: index.artifactDigest,
            }
          : null;
      const its =
        ref && (ref.releaseId === plan.releaseId || (pending.op === 'migrate' && kept.has(ref.releaseId)));
      const manifest = its ? await manifests(ref).catch(() => null) : null;
      const made =
        ref && manifest && artifactDigest(manifest) === ref.artifactDigest
          ? stateDigest(releaseIndexOf(ref, manifest, index?.uploadedAt as string))
          : null;
      if (made === null || name !== releaseIndexName(ref?.releaseId ?? '') || digestOrNull(index) !== made) {
        throw refuse(
          `names ${what}, whose release index ${name.slice(0, 80)} is not one FrontendOps makes for it from that build's published manifest`,
        );
      }
      // The build's index as FrontendOps makes it, but not the one this record wrote (it stopped
      // before, and a preview, say, wrote its own since): that change's entry binds it, not this one.
      if (digest !== made) return;
      written[name] = made;
    }),
  );

  const state = isRecord(stateStored.value) ? stateStored.value : {};
  const previews = Array.isArray(state.previews) ? state.previews : [];
  const spared = new Set([
    after?.live,
    after?.canary,
    plan.releaseId,
    ...kept,
    ...previews.map((p) =>
      isRecord(p) && Date.parse(String(p.expiresAt)) > Date.now() ? p.releaseId : undefined,
    ),
  ]);
  if (Array.isArray(pending.pruning) && pending.pruning.some((id) => spared.has(id))) {
    throw refuse(`asks to finish ${what} by deleting the index of a release the stack still serves or keeps`);
  }
  const held: AtomicPending = {
    ...pending,
    ...(pending.indexes ? { indexes: written } : {}),
  };
  if (!pending.switched || pending.stateDigest === undefined) return { pending: held, fromDriftOnly };
  if (stateStored.missing || digestOrNull(stateStored.value) !== pending.stateDigest) {
    // Changed since its switch: by a change that bound it itself, or around the chain, which
    // `audit verify` reports. Either way, this finish does not vouch for it.
    const { stateDigest: _changedSince, ...rest } = held;
    return { pending: rest, fromDriftOnly };
  }
  const canary = (state.canary ?? null) as { releaseId?: unknown; weight?: unknown } | null;
  const agrees =
    pending.op === 'migrate' ||
    (after?.canary === undefined
      ? canary === null
      : canary?.releaseId === after.canary && canary.weight === after.weight);
  if (!agrees) {
    throw refuse(`names ${what}, whose state names another canary than its switch sends visitors to`);
  }
  return { pending: held, fromDriftOnly };
}

/**
 * A synced change that failed verification and was held only to its recorded drift (heldToItsWrites
 * fromDriftOnly): what it switched from is what its crash-recovery record says the store held, which
 * no entry binds and whoever can write the state bucket can name (any kept release). It stays live,
 * recorded as failed; the operator chooses what to serve.
 */
function notSwitchedBackToDrift(plan: AtomicPlan): FrontendOpsError {
  return new FrontendOpsError(
    'CONFLICT',
    `${failedStaysLive(plan)}. It switched from ${describePointer(plan.pointerBefore)}, which its crash-recovery record ${ATOMIC_PENDING} (bound by no audit entry) says the release store held outside FrontendOps when it was planned: it was not switched back there on its own, and the site stays as it is. ` +
      `Choose what to serve: \`frontendops status\` shows what is served, \`frontendops history\` what was live; then \`frontendops rollback --to <deployId|commit>\`, or deploy a build.`,
    { details: { object: ATOMIC_PENDING } },
  );
}

/**
 * Server-side copies from the artifacts bucket: hashed assets, then other files, then HTML; then
 * the stray files under the release's id deleted, all before its release index and its switch.
 */
export async function copyFiles(
  site: Site,
  copies: readonly AtomicCopy[],
  options: Pick<AtomicOptions, 'concurrency' | 'onEvent'>,
  /** Keys under the release's id its build has no file for (planReleaseFiles): deleted after the copies. */
  stray: readonly string[] = [],
): Promise<void> {
  for (const group of GROUPS) {
    const batch = copies.filter((c) => c.group === group);
    let done = 0;
    // As copy slots free up, no results kept, the first failure stops the group (as deploy/apply.ts).
    await pMap(
      batch,
      async (copy) => {
        await copyArtifactFile(site, copy, copy.path, copy.key, copy);
        options.onEvent?.({ type: 'copy', group, done: ++done, total: batch.length });
      },
      { concurrency: options.concurrency ?? 32 },
    );
  }
  if (stray.length > 0) await site.hosting.delete(stray);
}

/**
 * The one conditional write. A precondition failure is read again: the store already holding this
 * pointer means an earlier attempt landed; the store still holding the pointer planned from means
 * another key changed (the preview secret, or a pin's fence: deploy/pin.ts) and the write is retried
 * with the new ETag, while the lock is still ours; anything else means another switch came first —
 * stop, leaving live what that switch made it.
 */
async function switchPointer(
  site: Site,
  ctx: AtomicContext,
  pending: AtomicPending,
  lock: AtomicOptions['lock'],
  /** The chain's head the switch anchors with its pointer (the run's start, or its approval's use). */
  anchored: AuditHead | null,
): Promise<void> {
  const { plan } = pending;
  let head = anchored ? formatAuditHead(anchored) : undefined;
  let etag = ctx.kvs.etag;
  for (let attempt = 0; attempt < 5; attempt += 1) {
    try {
      await ctx.store.write(plan.pointerAfter, etag, head);
      return;
    } catch (error) {
      if (!isFrontendOpsError(error, 'PRECONDITION_FAILED')) throw error;
      const now = await ctx.store.read();
      if (samePointer(now.value, plan.pointerAfter)) return;
      if (!samePointer(now.value, plan.pointerBefore)) {
        // A holder that woke past its lock's lease found the new holder's switch: the crash-recovery
        // record is that one's (this one's it recorded superseded), and the chain is its to extend.
        await lock?.assertHeld();
        await ctx.atomic.clearPending();
        // Its release indexes were written (they are reused): the entry vouches for them.
        await appendOwnEntry(site, {
          type: 'atomic-switch-lost',
          data: {
            op: plan.op,
            deployId: plan.deployId,
            stack: plan.stack,
            app: plan.app,
            commit: plan.commit,
            releaseId: plan.releaseId,
            planned: plan.pointerAfter,
            plannedFrom: plan.pointerBefore,
            found: now.value,
            request: pending.request,
          },
          ...(pending.indexes ? { objects: pending.indexes } : {}),
        });
        throw new FrontendOpsError(
          'PRECONDITION_FAILED',
          `Another switch of ${plan.stack} came first: the edge now serves ${describePointer(now.value)}, not what this ${operationWords(plan.op)} planned from (${describePointer(plan.pointerBefore)}). Nothing of this ${operationWords(plan.op)} went live and the state was left as it was; its files are uploaded and will be reused. Run it again to plan from what is live now.`,
          { details: { found: now.value, planned: plan.pointerAfter } },
        );
      }
      // A holder that woke past its lock's lease retries nothing: what changed the store is the
      // new holder's (a pin fences the switch it pins so).
      await lock?.assertHeld();
      etag = now.etag;
      // An anchor written since (a policy adoption, outside the lock) is not moved back.
      const since = now.auditHead ? parseAuditHead(now.auditHead) : null;
      if (anchored && since && since.seq >= anchored.seq) head = undefined;
    }
  }
  throw new FrontendOpsError(
    'PRECONDITION_FAILED',
    `The release store of ${plan.stack} kept changing while switching; nothing went live. Try again.`,
  );
}

/**
 * After the store names the new pointer, the state follows: the releases the switch retired (kept
 * through the grace), the canary, then the live pointer. Idempotent, so a re-run after a crash
 * anywhere in here converges.
 */
async function afterSwitch(
  site: Site,
  pending: AtomicPending,
  at: number,
  lock?: AtomicOptions['lock'],
  /** The stopped change this operation's run finished before it (auditRelease finishedFirst). */
  finishedFirst?: string,
): Promise<AtomicPending> {
  const { plan } = pending;
  const atomic = atomicRecordsOf(site);
  const [{ state, etag, stored }, statePointer] = await Promise.all([
    atomic.readStateVersion(),
    site.records.readPointer(),
  ]);
  // Read again after the switch, and written back with this operation's change: held to the chain
  // as the lock's check held them, so an edit made meanwhile is not carried into what this binds.
  await assertReadAsRecorded(
    site,
    { [LIVE]: statePointer?.value ?? null, [ATOMIC_STATE]: stored },
    `The ${plan.op} ${plan.deployId} stopped after its switch (edges serve it) and before writing that object; once the version named here is put back, the next deploy or rollback of ${site.target.stack} finishes the switch`,
  );
  const known = new Map<string, ReleaseNameRef>();
  for (const r of statePointer?.value.releases ?? [])
    known.set(releaseIdFor(r), { ...r, releaseId: releaseIdFor(r) });
  if (state.canary) known.set(state.canary.releaseId, state.canary);
  const by = `${plan.op}:${plan.deployId}:${plan.pointerAfter.live}:${plan.pointerAfter.canary ?? ''}`;
  const retiring: RetiringRecord[] = state.retiring.filter((r) => Date.parse(r.until) > at && r.by !== by);
  const earlier = state.retiring.find((r) => r.by === by);
  if (earlier) retiring.push(earlier);
  else if (plan.leaving.releaseIds.length > 0 || plan.leaving.root) {
    retiring.push({
      releases: plan.leaving.releaseIds.map(
        (id) => known.get(id) ?? { releaseId: id, app: '', commit: '', artifactDigest: '' },
      ),
      root: plan.leaving.root,
      until: new Date(at + site.releaseGraceMs).toISOString(),
      by,
    });
  }
  const canary: AtomicStateRecord['canary'] = plan.canaryAfter
    ? {
        deployId: plan.canaryAfter.deployId,
        releaseId: plan.releaseId,
        app: plan.app,
        commit: plan.commit,
        artifactDigest: plan.artifactDigest,
        weight: plan.canaryAfter.weight,
        startedAt:
          state.canary?.releaseId === plan.releaseId ? state.canary.startedAt : new Date(at).toISOString(),
        request: pending.request,
      }
    : plan.op === 'migrate'
      ? state.canary
      : null;
  // The state is read, then written whole: a holder that lost its lock while its switch was on its
  // way (stalled past the lock's lifetime, taken over) would write back what it read over what the
  // new holder wrote since (a canary it started, a preview). It stops here instead; its switch is
  // the next operation's to finish, from the state as it is then. The write is conditional on the
  // version read too, where the store honours that: a takeover its lock has not noticed yet (the S3
  // lock learns of one at its next renewal), or one after this check, is caught by the write itself.
  await lock?.assertHeld();
  // The record names the state this switch writes before it is written: stopped between the two
  // writes and its switched mark, an edit of the state is then not passed off as the switch's own
  // (audit.ts). Run again after that stop, the state it wrote stays as it is.
  let written = pending.stateDigest;
  if (written === undefined || digestOrNull(stored) !== written) {
    const next: AtomicStateRecord = {
      canary,
      previews: state.previews.filter((p) => Date.parse(p.expiresAt) > at),
      retiring,
      ...(site.target.releaseStoreArn ? { releaseStore: site.target.releaseStoreArn } : {}),
    };
    written = stateDigest(next);
    await atomic.writePending({ ...pending, stateDigest: written });
    await writeAtomicStateOver(site, next, { etag });
  }
  if (plan.liveChanges && statePointer?.value.deployId !== plan.deployId) {
    const ref = {
      deployId: plan.deployId,
      app: plan.app,
      commit: plan.commit,
      artifactDigest: plan.artifactDigest,
      releasedAt: new Date(at).toISOString(),
    };
    const previous = (statePointer?.value.releases ?? []).filter((r) => releaseIdFor(r) !== plan.releaseId);
    const pointer = { ...ref, releases: [ref, ...previous].slice(0, Math.max(1, site.retain)) };
    const { digest } = await site.records.writePointer(pointer, statePointer?.etag ?? null);
    await auditRelease(site, pointer, digest, {
      kind: plan.op,
      request: pending.request,
      at: new Date(at),
      ...(finishedFirst ? { finishedFirst } : {}),
    });
  } else if (plan.liveChanges && statePointer) {
    // Run again after a stop between live.json and its entry: the pointer is this operation's, and
    // the entry that binds it is appended now, unless it is the chain's newest already (the stop came
    // after it). Otherwise live.json would stay bound by no entry: tampered, for good.
    const digest = stateDigest(statePointer.value);
    const newest = await readNewestEntry(site.state, site.target.statePrefix);
    if (newest?.objects?.[LIVE] !== digest) {
      await auditRelease(site, statePointer.value, digest, {
        kind: plan.op,
        request: pending.request,
        at: new Date(at),
        ...(finishedFirst ? { finishedFirst } : {}),
      });
    }
  }
  const switched: AtomicPending = {
    ...pending,
    switched: true,
    switchedAt: new Date(at).toISOString(),
    stateDigest: written,
  };
  await atomic.writePending(switched);
  return switched;
}

interface Finished {
  outcome: 'succeeded' | 'failed';
  verification: DeploymentRecord['verification'];
  pruned: string[];
  record: DeploymentRecord | null;
  auditHead: AuditHead | null;
  /** The pin a rollback set (pinOnSuccess). */
  pinned?: PinRecord;
}

/** What a finished operation's summary says of how it ended. */
const finishedFacts = (finished: Finished) => ({
  outcome: finished.outcome,
  verification: finished.verification,
  pruned: finished.pruned.length,
  auditHead: finished.auditHead,
  ...(finished.record ? { record: finished.record } : {}),
  ...(finished.pinned ? { pinned: finished.pinned } : {}),
});

/**
 * Where an operation that has switched stands when it is about to prune and record: still its own
 * to finish; its switch replaced since (the store names another pointer: deleting what that pointer's
 * releases use would break them); or finished by someone else. The last two only happen when
 * operators' locks do not meet (two machines on an endpoint without conditional writes, a lock lost
 * to failed renewals): the other operator took this pending plan for a crashed one, finished it and
 * cleared it (or replaced it with its own).
 */
type Standing = 'ours' | 'replaced' | 'finished';

async function standingOf(site: Site, pending: AtomicPending): Promise<Standing> {
  const [stored, now] = await Promise.all([
    atomicRecordsOf(site).readPending(),
    // A store that cannot be read now is taken as replaced: the prune is left to a later operation
    // (the safe side), and the switch, which landed, is still recorded.
    requireReleaseStore(site)
      .read()
      .catch(() => null),
  ]);
  const { plan } = pending;
  if (stored?.plan.deployId !== plan.deployId || stored.startedAt !== pending.startedAt) return 'finished';
  return now && samePointer(now.value, plan.pointerAfter) ? 'ours' : 'replaced';
}

/**
 * The operation was finished (verified, pruned, recorded) by another: nothing more is written. The
 * audit head is that finish's entry's (ownEntryHead), as the other operation's tag carries it, not
 * the chain's head now; a change that makes nothing live (no record, no tag) has the head now.
 */
async function finishedElsewhere(site: Site, plan: AtomicPlan, options: AtomicOptions): Promise<Finished> {
  // The record and the chain's entry binding it are read side by side. The record's failure is
  // said first, as before; the chain's only where there is a record to hold to it.
  const [record, headOf] = plan.liveChanges
    ? await settleAll([
        site.records.readRecord(plan.deployId),
        ownEntryHeadOf(site, plan.deployId).catch((error: unknown) => () => {
          throw error;
        }),
      ] as const)
    : [null, null];
  const auditHead =
    record && headOf ? headOf(record) : await readAuditHead(site.state, site.target.statePrefix);
  options.onEvent?.({
    type: 'step',
    step: 'record',
    detail: `${plan.op} ${plan.deployId} was finished and recorded by another operation meanwhile (its lock did not meet this one's); nothing more was pruned or recorded`,
  });
  return {
    outcome: record?.outcome === 'failed' ? 'failed' : 'succeeded',
    verification: record?.verification ?? null,
    pruned: [],
    record,
    auditHead,
  };
}

/** Verify through the edge, prune once the grace has passed, record and audit, clear the pending plan. */
async function finishAtomic(
  site: Site,
  pending: AtomicPending,
  options: AtomicOptions,
  known?: PruneKnowledge,
): Promise<Finished> {
  const { plan } = pending;
  let verification: Verification | null = null;
  if (site.target.siteUrl && plan.verify.indexSha256) {
    const canary = plan.verify.as === 'canary' && plan.canaryAfter;
    verification = await verifyReleaseServed(
      site.target.siteUrl,
      {
        indexSha256: plan.verify.indexSha256,
        as: canary ? 'canary' : 'all',
        ...(canary ? { cookie: `fo_bucket=${bucketFor(plan.releaseId, 'canary')}` } : {}),
      },
      {
        ...(options.verifyTimeoutMs !== undefined ? { timeoutMs: options.verifyTimeoutMs } : {}),
        ...(options.fetch ? { fetch: options.fetch } : {}),
      },
    );
    options.onEvent?.({ type: 'step', step: 'verify', detail: verification.detail });
  }
  const failed = verification?.ok === false;
  const prune = failed || plan.inPlace ? null : await pruneAfterGrace(site, pending, options, known);
  // The prune looked right before deleting; without one, look now (one read of each, together).
  if ((prune?.standing ?? (await standingOf(site, pending))) === 'finished') {
    return finishedElsewhere(site, plan, options);
  }
  const { pruned } = prune ?? { pruned: [] };
  // An earlier run of this operation that stopped during or after its prune named the indexes it
  // deletes; any still there go now (an index means "all files present"), and the entry binds all
  // of them as gone.
  const leftover = (pending.pruning ?? []).filter((id) => !prune?.goneIndexes.includes(id));
  if (leftover.length > 0) await atomicRecordsOf(site).deleteReleaseIndexes(leftover);
  const goneIndexes = [...leftover, ...(prune?.goneIndexes ?? [])];

  const finishedAt = new Date(nowOf(options));
  const checked = verification && {
    ok: verification.ok,
    url: verification.url,
    attempts: verification.attempts,
    detail: verification.detail,
  };
  const error = failed
    ? {
        code: 'VERIFY_FAILED',
        message: `The edge did not serve the release in time: ${verification?.detail}.`,
      }
    : undefined;
  const outcome = failed ? 'failed' : 'succeeded';
  const copied = plan.copies.map((c) => `/${c.key}`);
  const deleted = pruned.map((k) => `/${k}`);
  const atomicFacts = {
    mode: 'atomic',
    op: plan.op,
    releaseId: plan.releaseId,
    pointer: plan.pointerAfter,
    pointerBefore: plan.pointerBefore,
    ...(pending.drift !== undefined ? { drift: pending.drift } : {}),
    // The approval it used, which audit verify holds it to (a canary to its share).
    ...(pending.approval ? { approval: pending.approval } : {}),
  };

  // The entry that ends the operation vouches for the state.json its switch wrote, the release
  // indexes it wrote and the ones its prune removed.
  const atomicBound: Record<string, string> = {
    ...pending.indexes,
    ...Object.fromEntries(goneIndexes.map((id) => [releaseIndexName(id), ABSENT])),
    ...(pending.stateDigest ? { [ATOMIC_STATE]: pending.stateDigest } : {}),
  };
  let record: DeploymentRecord | null = null;
  let entry: AuditEntry;
  const recordOf = () =>
    deploymentRecord(
      {
        plan,
        request: pending.request,
        startedAt: pending.startedAt,
        pointerMoved: true,
        ...(pending.approval ? { approval: pending.approval } : {}),
      },
      finishedAt,
      { copied, deleted, invalidation: null, verification: checked, outcome, ...(error ? { error } : {}) },
    );
  if (plan.liveChanges) {
    record = {
      ...recordOf(),
      ...promoteMarks(plan),
    };
    record.plan.prune = pruned.length;
    entry = await recordDeployment(site, record, {
      type: plan.op === 'canary-promote' ? 'canary-promote' : record.kind,
      data: { ...atomicFacts, ...publishedInFacts(plan) },
      objects: atomicBound,
      landed: true,
    });
  } else {
    // Its switch landed (the edge serves what it made so): its row and entry say so once its lock is lost.
    const landed = {
      what: plan.canaryAfter
        ? `${plan.app}@${plan.commit.slice(0, 7)} went to ${plan.canaryAfter.weight}% of visitors as a canary`
        : 'its canary was taken off: every visitor got the live release again',
    };
    // A canary's start and its abort are rows of the history of their own (one record and its
    // history index), bound by their entry as a deployment's record is by its entry.
    const row = canaryRow(pending, recordOf());
    if (row) atomicBound[recordName(row.deployId)] = (await writeOwnRecord(site, row, landed)).digest;
    entry = await appendOwnEntry(
      site,
      {
        type: plan.op,
        data: {
          deployId: plan.deployId,
          stack: plan.stack,
          app: plan.app,
          commit: plan.commit,
          artifactDigest: plan.artifactDigest,
          request: pending.request,
          ...(plan.canaryAfter ? { weight: plan.canaryAfter.weight } : {}),
          copied,
          deleted,
          verification: checked?.ok ?? null,
          outcome,
          ...atomicFacts,
          ...publishedInFacts(plan),
          ...(row ? { recordId: row.deployId } : {}),
          ...(error ? { error } : {}),
        },
        objects: atomicBound,
      },
      landed,
    );
  }
  // A rollback's pin is its last step, before its crash-recovery record goes (see pinRolledBack).
  const pinned =
    pending.pinOnSuccess && outcome === 'succeeded'
      ? await pinRolledBack(site, plan, pending.request)
      : undefined;
  await atomicRecordsOf(site).clearPending();
  options.onEvent?.({
    type: 'step',
    step: 'record',
    detail: `${plan.op} ${plan.deployId} recorded (${outcome})`,
  });
  return {
    outcome,
    verification: checked,
    pruned,
    record,
    auditHead: { seq: entry.seq, hash: entry.hash },
    ...(pinned ? { pinned } : {}),
  };
}

/**
 * Deletes what nothing needs once edges can no longer serve it: a short grace (the local edge's
 * propagation delay) is waited out; a long one (real CloudFront) leaves the newly retired release
 * to a later operation. Release indexes go first, so an index always means "all files present".
 */
interface PruneKnowledge {
  hosting: ReadonlyMap<string, number>;
  manifests: ReturnType<typeof manifestCache>;
}

async function pruneAfterGrace(
  site: Site,
  pending: AtomicPending,
  options: AtomicOptions,
  known?: PruneKnowledge,
): Promise<{ pruned: string[]; goneIndexes: string[]; standing?: Standing }> {
  const { plan } = pending;
  // The store holds plan.pointerAfter: this operation wrote it, under the lock.
  const pointer = { pointer: plan.pointerAfter };
  let ctx = await readAtomicContext(site, nowOf(options), pointer);
  const waiting = Math.max(0, ...ctx.state.retiring.map((r) => Date.parse(r.until) - ctx.now));
  if (waiting > 0 && site.releaseGraceMs <= INLINE_GRACE_MS && waiting <= INLINE_GRACE_MS) {
    options.onEvent?.({
      type: 'step',
      step: 'prune',
      detail: `waiting ${waiting} ms until no edge serves the replaced release`,
    });
    await delay(waiting);
    ctx = await readAtomicContext(site, nowOf(options), pointer);
  }
  const live = await loadAtomicLiveState(site, ctx, {
    full: true,
    ...(known ? { hosting: known.hosting, manifests: known.manifests } : {}),
  });
  const prune = planAtomicPruneNow({ live, now: ctx.now, keepPrefixes: ownPrefixes(site) });
  if (prune.length === 0) return { pruned: [], goneIndexes: [] };
  // Right before deleting, what the prune was planned from is read again (the lock should make this
  // needless; when locks do not meet, it keeps a replaced switch's stale prune off the live release).
  await options.lock?.assertHeld();
  const standing = await standingOf(site, pending);
  if (standing !== 'ours') {
    options.onEvent?.({
      type: 'step',
      step: 'prune',
      detail: `skipped: ${standing === 'replaced' ? 'another switch' : 'another operation'} changed the site meanwhile; a later operation prunes what no kept release uses`,
    });
    return { pruned: [], goneIndexes: [], standing };
  }
  const keys = new Set(prune);
  const staying = new Set([...live.hosting.keys()].filter((k) => !keys.has(k)).map(releaseIdOfKey));
  const gone = [...new Set(prune.map(releaseIdOfKey))].filter(
    (id): id is string => id !== null && !staying.has(id),
  );
  if (gone.length > 0) await ctx.atomic.writePending({ ...pending, pruning: gone });
  await ctx.atomic.deleteReleaseIndexes(gone);
  await site.hosting.delete(prune);
  options.onEvent?.({
    type: 'step',
    step: 'prune',
    detail: `${prune.length} object(s) no kept release uses${gone.length ? ` (${gone.length} release(s))` : ''}`,
  });
  return { pruned: prune, goneIndexes: gone, standing };
}

/**
 * An operation that changed what everyone gets (deploy, rollback, canary promote) and failed
 * verification goes back to the release live before it (a canary that was being promoted is ended,
 * not restarted: its release is what the CDN did not serve); a canary start that failed is ended.
 * The switch back is a rollback of its own, recorded; it is not pinned (the caller's settle skips a
 * failed operation). A previous release that is not whole any more is not switched back to: the
 * failed operation's release stays live, and the event says why.
 */
async function switchBackAfterFailure(
  site: Site,
  plan: AtomicPlan,
  options: AtomicOptions,
): Promise<AtomicSummary | null> {
  const before = plan.pointerBefore;
  if (!before) return null;
  // A change of its own, which no one asked for: it uses no approval (the failed change used its
  // own, once; asking again would be refused as used), names none, and its plan is not the one the
  // caller watched for (an MCP server refuses a plan event of another deploy id as a changed live
  // release). Its steps are still reported, and the lock is the caller's.
  const { authorize: _asked, onEvent, ...rest } = options;
  options = {
    ...rest,
    pinOnSuccess: false,
    ...(onEvent ? { onEvent: (event: DeployEvent) => event.type !== 'plan' && onEvent(event) } : {}),
  };
  if (plan.op === 'deploy' || plan.op === 'rollback' || plan.op === 'canary-promote') {
    const to = plan.fromCommit?.slice(0, 7) ?? before.live;
    options.onEvent?.({
      type: 'step',
      step: 'rollback',
      detail: `verification failed: switching back to ${to}`,
    });
    try {
      return await runLocked(
        site,
        'rollback',
        async (ctx) => {
          const previous = keptRefs(ctx).get(before.live);
          if (!previous)
            throw new FrontendOpsError(
              'NOT_FOUND',
              `The previous release ${before.live} is not known any more.`,
            );
          return { release: previous };
        },
        options,
        Date.now(),
        switchBackRefused(plan, to),
      );
    } catch (error) {
      if (!isReleaseIncomplete(error)) throw error;
      options.onEvent?.({
        type: 'step',
        step: 'rollback',
        detail: `verification failed, and ${to} cannot be switched back to: ${error.message}`,
      });
      return null;
    }
  }
  if (plan.op === 'canary-start') {
    options.onEvent?.({ type: 'step', step: 'rollback', detail: 'verification failed: ending the canary' });
    return runLocked(site, 'canary-abort', canaryTarget, options, Date.now());
  }
  return null;
}

/**
 * The history row of a canary's start or abort: its own id (canaryRowId), the canary's deploy id
 * and, for a start, the share it sends. Nothing went live for everyone: what is live stays as it was.
 * null for any other operation.
 */
function canaryRow(pending: AtomicPending, record: DeploymentRecord): DeploymentRecord | null {
  const { plan } = pending;
  const deployId = canaryRowId(pending);
  if (deployId === null || !isCanaryEvent(pending.op)) return null;
  const op = pending.op;
  return {
    ...record,
    deployId,
    op,
    canary: {
      deployId: plan.deployId,
      ...(op === 'canary-start' && plan.canaryAfter ? { percent: plan.canaryAfter.weight } : {}),
    },
  };
}

/** The running canary, for promote and abort. */
export const canaryTarget: ChooseTarget = async (ctx) => {
  const canary = ctx.state.canary;
  if (!canary) {
    throw new FrontendOpsError(
      'NOT_FOUND',
      'No canary runs on this stack. Start one with `frontendops deploy --canary <percent>`.',
    );
  }
  return { release: canary };
};

// ── helpers ────────────────────────────────────────────────────────────────────────────────────

/**
 * `record`: as settleAtomic held it to its writes (heldToItsWrites), so its `indexes` are those it
 * wrote before it stopped, found and checked: what the entry vouches for.
 */
async function recordAbandoned(site: Site, record: AtomicPending): Promise<void> {
  const pending = await withRecordedApproval(site, record);
  const written = Object.entries(pending.indexes ?? {});
  let bound: Record<string, string> | undefined = written.length ? Object.fromEntries(written) : undefined;
  const recordOf = () =>
    deploymentRecord(
      {
        plan: pending.plan,
        request: pending.request,
        startedAt: pending.startedAt,
        pointerMoved: false,
        ...(pending.approval ? { approval: pending.approval } : {}),
      },
      new Date(),
      superseded(pending.stoppedBy),
    );
  // A deployment's record; a canary's start or abort, its own row (as its finish writes one).
  const row = pending.plan.liveChanges
    ? { ...recordOf(), ...promoteMarks(pending.plan) }
    : isCanaryEvent(pending.plan.op)
      ? canaryRow(pending, recordOf())
      : null;
  if (row) {
    bound = {
      ...bound,
      [recordName(row.deployId)]: (await writeOwnRecord(site, row)).digest,
    };
  }
  // The run's own entry, under its lock: a holder that slept past its lease here, while the lock's
  // next holder finished or recorded the stopped change, appends nothing after that one's entries.
  await appendOwnEntry(site, {
    type: `${pending.op}-superseded`,
    data: {
      deployId: pending.plan.deployId,
      stack: pending.plan.stack,
      app: pending.plan.app,
      commit: pending.plan.commit,
      releaseId: pending.plan.releaseId,
      request: pending.request,
      outcome: 'superseded',
      mode: 'atomic',
      // The approval it used, as an in-place change's superseded record names it.
      ...(pending.approval ? { approval: pending.approval } : {}),
      ...(row && !pending.plan.liveChanges ? { recordId: row.deployId } : {}),
    },
    ...(bound ? { objects: bound } : {}),
  });
}

/**
 * Whether a no-op run of `plan` finishes `stopped` (settled past its switch) as its own: a change of
 * the release the plan keeps live, whatever its kind (a rollback's release deployed, a promoted
 * canary's). Said by the dry run (finishes) and the run (finishedInterrupted) alike.
 */
const finishedBy = (stopped: AtomicPending, plan: AtomicPlan): boolean => stopped.plan.commit === plan.commit;

/**
 * A stopped operation as the dry run (finishes) and the run name it: a rollback pins when finished,
 * unless a later pin change lifted or replaced its pin (pinsWhenFinished), as the pending check does.
 * `pins`: that answer as the check of this record gave it (checkAtomicPendingUnlocked `held`).
 */
const stoppedChange = async (site: Site, stopped: AtomicPending, pins?: boolean): Promise<StoppedChange> => ({
  deployId: stopped.plan.deployId,
  kind: stopped.op,
  app: stopped.plan.app,
  commit: stopped.plan.commit,
  ...((pins ??
  (await pinsWhenFinished(site, { ...stopped, kind: stopped.op, deployId: stopped.plan.deployId })))
    ? { pins: true as const, by: stopped.request.actor, reason: stopped.request.message ?? null }
    : {}),
});

/**
 * A refusal of what a change chose, by a run that finishes a stopped change first (`finishing`:
 * "finished the interrupted …" for the run; for its dry run, `as` 'would finish', "would first
 * finish …"): said with it, the code and details unchanged, and "nothing was changed" in it said
 * "nothing more was changed" (the finish changed what is live). `as` 'would not finish': a dry run's
 * run refused before it finishes it, which changes nothing. Any other error goes through as it is.
 */
export const refusedAfterFinishing = (
  error: unknown,
  finishing: string,
  as: 'finished' | 'would finish' | 'would not finish' = 'finished',
): unknown =>
  error instanceof FrontendOpsError
    ? alsoSaying(
        error,
        `(This run ${finishing}.)`,
        as === 'would not finish' ? undefined : { changed: as === 'finished' ? finishing : true },
      )
    : error;

/** The two operations that end a canary, each under the canary's deploy id. */
const CANARY_ENDS: ReadonlySet<AtomicOp> = new Set(['canary-promote', 'canary-abort']);

/** A promote of the canary shows as one in the history, succeeded or superseded, not as a plain deploy. */
const promoteMarks = (plan: { op?: string; deployId: string }) =>
  plan.op === 'canary-promote' ? { op: 'canary-promote' as const, canary: { deployId: plan.deployId } } : {};

const superseded = (stoppedBy: StoppedBy | undefined) => ({
  copied: [],
  deleted: [],
  invalidation: null,
  verification: null,
  outcome: 'superseded' as const,
  error: supersededError(stoppedBy, 'operation'),
});

/**
 * The live release's index.html digest, which an abort verifies the edge against. `locked`: the index
 * it is read from is held to the chain as a switch's is (an edited digest would decide whether the
 * abort verifies, and against which page).
 */
async function liveIndexSha(
  site: Site,
  ctx: AtomicContext,
  manifests: ReturnType<typeof manifestCache>,
  locked: boolean,
): Promise<string | null> {
  const live = ctx.kvs.value?.live;
  if (!live) return null;
  const index = await ctx.atomic.readReleaseIndex(live);
  if (index && locked) await assertIndexAsRecorded(site, releaseIndexName(live), index);
  if (index) return index.indexSha256;
  const ref = keptRefs(ctx).get(live);
  const manifest = ref ? await manifests({ app: ref.app, commit: ref.commit }) : null;
  return manifest?.files['/index.html']?.sha256 ?? null;
}

export function releaseIndexOf(ref: ReleaseNameRef, manifest: Manifest, at: string): ReleaseIndex {
  const paths = Object.keys(manifest.files);
  return {
    releaseId: ref.releaseId,
    app: ref.app,
    commit: ref.commit,
    artifactDigest: ref.artifactDigest,
    files: paths.filter((p) => groupOf(p) !== 'asset').sort(),
    assets: paths.filter((p) => groupOf(p) === 'asset').length,
    indexSha256: manifest.files['/index.html']?.sha256 ?? null,
    uploadedAt: at,
  };
}

export const nowOf = (options: { now?: () => Date }) => (options.now ? options.now().getTime() : Date.now());

export function describePointer(pointer: ReleasePointer | null): string {
  if (!pointer) return 'the bucket root (no release pointer)';
  return pointer.canary
    ? `release ${pointer.live}, with ${pointer.weight ?? 0}% on canary ${pointer.canary}`
    : `release ${pointer.live}`;
}

function pointerDetail(plan: AtomicPlan): string {
  const what = `${plan.app}@${plan.commit.slice(0, 7)}`;
  switch (plan.op) {
    case 'canary-start':
      return `${what} serves ${plan.canaryAfter?.weight}% of visitors (one key write)`;
    case 'canary-abort':
      return `canary ${what} ended; everyone gets the live release (one key write)`;
    case 'migrate':
      return `${what} is served as atomic release ${plan.releaseId} (one key write)`;
    default:
      return `${what} is live (one key write, nothing to invalidate)`;
  }
}

function summarize(
  plan: AtomicPlan,
  context: {
    dryRun: boolean;
    started: number;
    request: RequestInfo;
    outcome?: AtomicSummary['outcome'];
    verification?: DeploymentRecord['verification'];
    pruned?: number;
    auditHead?: AuditHead | null;
    record?: DeploymentRecord;
    drift?: ReleasePointer | null;
    pinned?: PinRecord;
  },
): AtomicSummary {
  const outcome = context.dryRun ? 'planned' : plan.noop ? 'noop' : (context.outcome ?? 'succeeded');
  return {
    ...deployIdentity(plan),
    mode: 'atomic',
    op: plan.op,
    releaseId: plan.releaseId,
    pointer: plan.pointerAfter,
    canary: plan.canaryAfter,
    request: context.request,
    dryRun: context.dryRun,
    noop: plan.noop,
    outcome,
    copied: context.dryRun || plan.noop ? 0 : plan.copies.length,
    unchanged: plan.unchanged,
    pruned: context.dryRun ? 0 : (context.pruned ?? 0),
    retained: plan.retained,
    invalidation: context.dryRun ? { paths: [], ids: [] } : null,
    verification: context.verification ?? null,
    durationMs: Date.now() - context.started,
    plan,
    ...(context.auditHead !== undefined ? { auditHead: context.auditHead } : {}),
    ...(context.record?.error ? { error: context.record.error } : {}),
    ...(context.drift !== undefined ? { drift: context.drift } : {}),
    ...(context.pinned ? { pinned: context.pinned } : {}),
  };
}
