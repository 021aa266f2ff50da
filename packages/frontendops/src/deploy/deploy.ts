/**
 * deployArtifact / rollbackRelease: the thin I/O shell around planDeploy and applyDeploy — take the
 * environment's lock, finish or account for an interrupted deploy, read, plan, apply; on a failed
 * verification roll back to the previous release when asked to.
 */

import { anchorApprovalUse } from '../atomic/anchored-head.ts';
import { describeFinished, finishedFirst } from '../engine/describe.ts';
import { artifactDigest } from '../engine/manifest.ts';
import { type DeployPlan, deployIdentity, planDeploy } from '../engine/plan.ts';
import { backendErrorName, FrontendOpsError, holding, isFrontendOpsError } from '../errors.ts';
import type { ApprovalUsed, ReleasePointerRead } from '../ports.ts';
import { settleAll } from '../settle-all.ts';
import type { Site } from '../site.ts';
import { assertAppendable, boundRecords, readAuditHead } from '../state/audit.ts';
import { assertMarkerAsRecordedAhead, markEnvironment } from '../state/environment.ts';
import { ATOMIC_STATE } from '../state/names.ts';
import {
  assertDeployAllowed,
  clearPin,
  type PinRecord,
  pinLifted,
  pinRolledBack,
  pinsWhenFinished,
  readPin,
} from '../state/pin.ts';
import {
  canaryRowRefusal,
  type DeploymentRecord,
  type PendingDeploy,
  type RequestInfo,
  recordsOfBuild,
  supersededError,
} from '../state/records.ts';
import {
  applyDeploy,
  DRY_RUN_REFUSED,
  deploymentRecord,
  type FailedChange,
  type FinishPins,
  failedStaysLive,
  finishDeploy,
  finishedBefore,
  finishedFirstOnRecord,
  finishedFirstRecord,
  ownRecordAhead,
  publishedInFacts,
  type RefusedAhead,
  recordDeployment,
  settlePending,
  switchBackRefused,
  wentLive,
  withRecordedApproval,
} from './apply.ts';
import { assertAsDeployed, keptOrRefused } from './artifact-copy.ts';
import { finishSyncedAtomic, refusedAfterFinishing } from './atomic-apply.ts';
import { deployAtomic } from './atomic-deploy.ts';
import { atomicRecordsOf } from './atomic-live.ts';
import { takeDeployLock, takeDeployLockReading } from './deploy-lock.ts';
import { recordLost } from './html-guard.ts';
import {
  assertAtomicPendingSound,
  assertPreviousWasLive,
  checkPending,
  checkPendingUnlocked,
  inPlaceKeptPrefixes,
  isUnrecordedBuild,
  type LiveRead,
  type PublishedBuild,
  publishedBuild,
  readLiveState,
  requireManifest,
} from './live.ts';
import { pinRefusalAhead } from './pin-ahead.ts';
import type {
  ApplyOptions,
  AuditHead,
  DeployOptions,
  DeploySummary,
  RecordedBuild,
  StoppedChange,
} from './types.ts';

export type { DeployOptions, DeploySummary } from './types.ts';

export async function deployArtifact(site: Site, options: DeployOptions): Promise<DeploySummary> {
  // Atomic releases (deploy/atomic-*.ts): upload under the release prefix, then one key write.
  if (site.mode === 'atomic') return deployAtomicPinned(site, options);
  // Work sent ahead of need (each round trip to a bucket in a region counts): reads, the
  // conditional-write probe (a create of a kept object), the CDN client's load. All of it is done
  // before the deploy returns or throws, whatever stopped it: none of its requests outlives the call
  // and lands in what a long-lived process (an MCP server, the console) does next.
  const ahead: Promise<unknown>[] = [];
  const sendAhead = <T>(work: Promise<T>): Promise<T> => {
    work.catch(() => {}); // judged, or awaited where its failure is reported, by whoever uses it
    ahead.push(work);
    return work;
  };
  try {
    return await deployInPlace(site, options, sendAhead);
  } finally {
    await Promise.allSettled(ahead);
  }
}

/**
 * The build's manifest: a rollback's to a release the stack recorded going live is held to that
 * record (assertAsDeployed); any other build must be one a publish log the stack trusts recorded
 * (publishedBuild), whose head as read there the deployment's entry names (`publishHead`).
 */
const buildToDeploy = async (
  site: Site,
  options: DeployOptions,
): Promise<Omit<PublishedBuild, 'publishHead'> & Partial<PublishedBuild>> =>
  options.recorded
    ? { manifest: await requireManifest(site, options.app, options.commit) }
    : publishedBuild(site, options.app, options.commit);

async function deployInPlace(
  site: Site,
  options: DeployOptions,
  sendAhead: <T>(work: Promise<T>) => Promise<T>,
): Promise<DeploySummary> {
  const started = Date.now();
  const kind = options.kind ?? 'deploy';

  // The records stored under the commit's deploy ids (one LIST, read while the rest is): the
  // deployments this stack recorded of the build, of which a manifest replaced since one of them went
  // out is refused below, however long ago that was; and whatever is under the id the plan gives,
  // judged before the first write (inPlaceRecordAhead). A rollback to a retained release holds the
  // manifest to the pointer instead: it only lists them, and reads the one under its plan's id if
  // there is one.
  const found = sendAhead<ReadonlyMap<string, DeploymentRecord | null>>(
    options.recorded
      ? site.records.listedUnder(options.commit).then((ids) => new Map(ids.map((id) => [id, null])))
      : site.records.storedUnder(options.commit),
  );
  // Sent ahead too: a run that stops before it awaits this (a dry run whose manifest is missing) must
  // not leave its rejection unhandled when the LIST failed.
  const earlier = options.recorded
    ? Promise.resolve([])
    : sendAhead(found.then((stored) => recordsOfBuild(stored, options.app, options.commit)));

  if (options.dryRun) {
    // What the lock's check refuses first (a marker not as the chain wrote it), said first.
    const markerHeld = sendAhead(assertMarkerAsRecordedAhead(site));
    // A build no trusted log records is said after what the lock's check refuses, as the run says it.
    const { manifest, ...published } = await buildToDeploy(site, options).catch(async (error: unknown) => {
      if (isUnrecordedBuild(error)) await markerHeld;
      throw error;
    });
    // Said as the real run would say it (under the lock, below), not shown as an in-place plan.
    const [recorded, atomicState, read] = await Promise.all([
      site.records.readPending(),
      site.state.head(`${site.target.statePrefix}${ATOMIC_STATE}`),
      site.records.readPointer(),
    ]);
    await markerHeld;
    if (atomicState) throw servesAtomicReleases(site);
    // The run holds a crash-recovery record to what FrontendOps writes before it finishes or
    // supersedes it (settlePending): one the deployer role planted is refused now as then, not said
    // as a change the run finishes first.
    // (Read without the lock: a deploy's switch read half before, half after, is not taken for one,
    // and what follows is said from the reading the check went on with.)
    const { pending, known } = recorded
      ? await checkPendingUnlocked(site, recorded, { pointer: read })
      : { pending: null, known: { pointer: read } };
    const { pointer } = known;
    // A change stopped after it went live is finished first (settlePending): planned from what it
    // made live, as the run plans once it finished it; one that never went live left its copies uncertain.
    const stopped = pending && wentLive(pending, pointer?.value) ? pending.plan : null;
    const live = await readLiveState(site, stopped ? null : pending, { pointer });
    assertAsDeployed(site, manifest, [...recordedBuilds(live, options), ...(await earlier)]);
    const plan = planFor(site, kind, manifest, live, published);
    // The change gets this deploy id from this state: a record under it that the change would refuse
    // before its first write (inPlaceRecordAhead) is said now, before anyone confirms or approves it.
    // Judged with this request, the one the change is run with (the CLI, run_sync) or, made anew as
    // the change's will be (get_deploy_target, approve), no more its record's than the change's.
    if (!plan.noop) await inPlaceRecordAhead(site, plan, options.request, await found, DRY_RUN_REFUSED);
    options.onEvent?.({ type: 'plan', plan });
    // This release live by a change stopped before it was recorded: the run finishes that one, with
    // nothing else to do, and says so; another release: the run finishes it first, then this plan.
    const finished = stopped && pending ? await stoppedChangeOf(site, pending) : null;
    return {
      ...summarize(plan, { dryRun: true, started, request: options.request }),
      ...(finished ? (plan.noop ? { finishes: finished } : { finishesFirst: finished }) : {}),
    };
  }

  // A CDN that cannot be reached would fail only after the release is live: refuse before anything
  // (after the manifest, whose absence is the first thing said).
  if (site.cdn?.unavailable) {
    await buildToDeploy(site, options);
    throw new FrontendOpsError('BAD_INPUT', site.cdn.unavailable);
  }
  // The CDN's client loads while the state is read and the plan made; it must be ready before the
  // first write, so a CDN that cannot even be set up stops the deploy with nothing changed.
  const cdnReady = sendAhead(Promise.resolve(site.cdn?.prepare?.()));
  // The manifest is read while the lock is taken (one round trip fewer); a build that is not
  // published lets the lock go again and is what the deploy says, whatever the lock answered. A
  // deploy that would wait for the lock learns first whether there is anything to deploy. Whether
  // the store honours conditional writes (which lock to take: one request, kept for the process) is
  // asked meanwhile.
  const manifestRead = sendAhead(buildToDeploy(site, options));
  sendAhead(site.state.supportsConditionalWrites()); // asked again, and judged, by the lock
  if ((options.waitMs ?? 0) > 0) await manifestRead;
  // Reads under the lock, sent together and while the lock checks the state against the audit chain
  // (each round trip to a bucket in a region counts): the head, the pin, an interrupted deploy, an
  // atomic state, and the live state a deploy plans from when nothing was
  // interrupted. What they find is judged in a fixed order, so the same state always gives the same
  // answer.
  const checkPin = kind === 'deploy' && options.pin !== 'clear';
  const underLock = async () => {
    const uninterrupted = sendAhead(readLiveState(site, null)); // used only when nothing was interrupted
    const reads = await Promise.allSettled([
      readAuditHead(site.state, site.target.statePrefix),
      checkPin ? readPin(site) : Promise.resolve(null),
      site.records.readPending(),
      site.state.head(`${site.target.statePrefix}${ATOMIC_STATE}`),
    ]);
    // An entry past the head that the deploy's own append would refuse (judged before the first write).
    const [head] = reads;
    const appendable =
      head.status === 'fulfilled'
        ? sendAhead(assertAppendable(site.state, site.target.statePrefix, head.value))
        : null;
    return { uninterrupted, reads, appendable };
  };
  const [read, taken] = await Promise.allSettled([
    manifestRead,
    takeDeployLockReading(site, options, underLock),
  ]);
  if (read.status === 'rejected') {
    // What the lock's check refused (a marker or state not as the chain recorded it) stops every
    // change: said before a build no trusted publish log records.
    if (taken.status === 'rejected' && isUnrecordedBuild(read.reason)) throw taken.reason;
    if (taken.status === 'fulfilled') return holding(taken.value.lock, () => Promise.reject(read.reason));
    throw read.reason;
  }
  if (taken.status === 'rejected') throw taken.reason;
  const { manifest, publishHead, ...published } = read.value;
  const { lock } = taken.value;
  // A rollback someone asked for pins its release as its own last step (pinRolledBack).
  options = {
    ...options,
    lock,
    pinOnSuccess: kind === 'rollback',
    ...(publishHead !== undefined ? { publishHead } : {}),
  };
  return holding(lock, async () => {
    const { uninterrupted, appendable } = taken.value.read;
    const [head, pin, interrupted, atomicState] = taken.value.read.reads;
    // A stack migrated to atomic releases, opened through outputs that still say in place (the
    // seed's syncCommand, an outputs file from before): an in-place prune would delete the releases
    // the site serves. Nothing is written.
    if (atomicState.status === 'fulfilled' && atomicState.value) throw servesAtomicReleases(site);
    // A damaged audit head stops the deploy here, before anything is written; so does an entry past
    // the head that the deploy's own append would refuse (read while the lock checked the state).
    if (head.status === 'rejected') throw head.reason;
    if (pin.status === 'rejected') throw pin.reason;
    if (interrupted.status === 'rejected') throw interrupted.reason;
    // Whether finishing the stopped change pins: asked once under the lock, by the pin check and the
    // finish alike (for a rollback, a walk of the audit chain; nothing else changes it meanwhile).
    const stopped = interrupted.value;
    const finishPins = finishPinsOf(site, stopped);
    // Held to the pin a stopped rollback it finishes leaves (its own); judged again once finished.
    if (checkPin)
      assertDeployAllowed(
        pin.value,
        site.target.stack,
        manifest.commit,
        await pinsOnFinish(stopped, finishPins),
      );
    if (stopped) await appendable; // finishing an interrupted deploy writes at once
    const { pending, known, finished } = await settlePending(site, options, stopped, finishPins);
    // Refused after it finished a stopped change (a deploy of another build than a stopped rollback's
    // finds that rollback's pin): the refusal says what was finished and recorded, as atomic runs do.
    const planned = async () => {
      // Finishing a stopped rollback pins its release, as its last step: this deploy is held to that
      // pin too, as to any (read again only when something was finished).
      if (checkPin && interrupted.value)
        assertDeployAllowed(await readPin(site), site.target.stack, manifest.commit);
      const live = interrupted.value ? await readLiveState(site, pending, known) : await uninterrupted;
      if (options.recorded) keptOrRefused(site, options.recorded, live.releases);
      assertAsDeployed(site, manifest, [...recordedBuilds(live, options), ...(await earlier)]);
      const plan = planFor(site, kind, manifest, live, published);
      options.onEvent?.({ type: 'plan', plan });
      await appendable;
      // A record already under this plan's deploy id is judged now, as it would be when this change
      // records (judgeStoredRecord): one planted there is refused before anything is written.
      const ownRecord = plan.noop ? null : await inPlaceRecordAhead(site, plan, options.request, await found);
      return { plan, ownRecord };
    };
    const { plan, ownRecord } = await planned().catch((error: unknown) => {
      // Recorded failed too (a stopped rollback whose finish set no pin, refused by the pin before it).
      throw finished ? refusedAfterFinishing(error, describeFinished(finishedFirst(finished.record))) : error;
    });
    const superseded = pending !== null && pending.plan.deployId !== plan.deployId;
    if (superseded) await recordSuperseded(site, pending);
    if (plan.noop) {
      // Nothing of this deploy replaces the stopped one's crash-recovery record: it goes now that it
      // is recorded, or every later change would record it again.
      if (superseded) await site.records.clearPending();
      const same = finished?.record.outcome === 'succeeded' && finished.record.commit === plan.commit;
      return {
        ...summarize(plan, { dryRun: false, started, request: options.request }),
        ...(same
          ? {
              finishedInterrupted: {
                deployId: finished.record.deployId,
                kind: finished.record.kind,
                artifactDigest: finished.record.artifactDigest,
                fromCommit: finished.record.fromCommit,
                auditHead: finished.auditHead,
              },
              // A change that stopped run finished before its own: its tag is due too, as it was then.
              ...(await finishedFirstOnRecord(site, (await site.records.readPointer())?.value)),
            }
          : {}),
        ...(await settlePin(site, plan, options, same ? finished.record : undefined)),
      };
    }
    // Before authorize: a CDN that cannot be set up stops the change without using its approval.
    await cdnReady;
    const approval = await options.authorize?.(plan);
    await ownRecord?.(approval);
    // The marker as the lock read it (one that cannot be read was refused there).
    await markEnvironment(site, taken.value.marker);

    const { record, auditHead, pinned } = await applyDeploy(
      site,
      plan,
      options,
      approval,
      finished?.record.deployId,
      superseded,
    );
    const summary = {
      ...summarize(plan, { dryRun: false, started, request: options.request, ...(record ? { record } : {}) }),
      auditHead,
      // The stopped change finished before this plan, as the dry run said (finishesFirst).
      ...(finished ? { finishedFirst: finishedFirst(finished.record) } : {}),
      // Its deploy tag is due, as any deployment's that went live and was verified.
      ...(finished ? finishedFirstRecord(finished.record.kind, finished.record, finished.auditHead) : {}),
    };
    if (!record) return { ...summary, outcome: 'synced' };
    const rolledBackTo = await rollBackIfNotServed(site, plan, record, options);
    if (rolledBackTo) return { ...summary, outcome: 'failed', rolledBackTo };
    if (record.outcome !== 'succeeded') return summary;
    return { ...summary, ...(pinned ? { pinned } : await settlePin(site, plan, options)) };
  });
}

/** Whether finishing `pending` pins its release (pinsWhenFinished): asked once, however often called. */
const finishPinsOf = (site: Site, pending: PendingDeploy | null): FinishPins => {
  let asked: Promise<boolean> | undefined;
  return () =>
    (asked ??= pending
      ? pinsWhenFinished(site, { ...pending.plan, pinOnSuccess: pending.pinOnSuccess })
      : Promise.resolve(false));
};

/**
 * What a stopped change's finish pins (finishPinsOf): a rollback's release, as finishDeploy.
 */
const pinsOnFinish = async (
  pending: PendingDeploy | null,
  finishPins: FinishPins,
): Promise<{ commit: string; pins: true } | null> =>
  pending && (await finishPins()) ? { commit: pending.plan.commit, pins: true as const } : null;

/** A stopped change as the dry run names it (finishes, finishesFirst), with what its finish pins. */
const stoppedChangeOf = async (site: Site, pending: PendingDeploy): Promise<StoppedChange> => ({
  deployId: pending.plan.deployId,
  kind: pending.plan.kind,
  app: pending.plan.app,
  commit: pending.plan.commit,
  ...((await finishPinsOf(site, pending)())
    ? { pins: true as const, by: pending.request.actor, reason: pending.request.message ?? null }
    : {}),
});

/** A stack migrated to atomic releases, opened through outputs that still describe it in place. */
const servesAtomicReleases = (site: Site) =>
  new FrontendOpsError(
    'BAD_INPUT',
    `Stack ${site.target.stack} serves atomic releases (it was migrated), but its outputs describe an in-place stack: an in-place deploy would delete the releases it serves. Nothing was changed. Use the stack's current outputs (after \`pulumi up\`, releaseStoreArn among them).`,
  );

/** Rolls back to a retained release (default: the one before the live one), by deploy id or commit. */
export async function rollbackRelease(
  site: Site,
  options: Omit<DeployOptions, 'app' | 'commit' | 'kind'> & { to?: string },
): Promise<DeploySummary> {
  // A rollback stopped after it made its release live left its plan pending. Run again, it finishes
  // that one (deployArtifact settles it under the lock; planning the same release again is a no-op
  // that pins it) instead of reading the live release, which is now its destination, and taking the
  // release it rolled back from for "the previous release".
  // The stopped rollback's record is not bound by the audit chain: it is finished only towards a
  // release the stack had (checked against the pointer, read with it; see stoppedRollback).
  const [read, stopped, pin] = await readBeforeLock(
    site,
    'its live pointer, its pin and any stopped rollback it would finish',
    () =>
      settleAll([
        site.records.readPointer(),
        options.to ? Promise.resolve(null) : stoppedRollback(site),
        options.to ? Promise.resolve(null) : readPin(site),
      ]),
  );
  if (stopped) {
    await stopped.check({ pointer: read });
    return deployArtifact(site, { ...options, app: stopped.app, commit: stopped.commit, kind: 'rollback' });
  }
  const pointer = read?.value;
  // The live release is there by a rollback that pinned it: `rollback` again is that rollback again,
  // run by someone who did not see it end (killed after it finished), not a second one back to the
  // release it left. Going further back names the release (`--to`).
  if (pointer && pin?.cause === 'rollback' && pin.deployId === pointer.deployId) {
    return deployArtifact(site, { ...options, app: pointer.app, commit: pointer.commit, kind: 'rollback' });
  }
  if (!pointer)
    throw new FrontendOpsError(
      'NOT_FOUND',
      `Nothing is deployed to ${site.target.stack} yet, so there is nothing to roll back.`,
    );
  let target: RecordedBuild | undefined = options.to
    ? pointer.releases.find((r) => r.deployId === options.to || r.commit.startsWith(options.to ?? ''))
    : pointer.releases.find((r) => r.artifactDigest !== pointer.artifactDigest);
  // Read before the lock: held under it to the pointer its check vouched for.
  if (target) target = { ...target, fromPointer: true };
  if (!target && options.to) {
    const names = (r: DeploymentRecord) => r.deployId === options.to || r.commit.startsWith(options.to ?? '');
    // Only records the chain binds: nothing checks records before a change starts, and one written
    // around the chain would send the rollback to any published build.
    const { releases, canaryRows, bound } = await readBeforeLock(
      site,
      'its deployment records and the audit log that binds them',
      async () => {
        const { releases, canaryRows } = await site.records.listReleases(200);
        const named = [...releases, ...canaryRows].filter(names);
        return {
          releases,
          canaryRows,
          bound: new Set(await boundRecords(site.state, site.target.statePrefix, named)),
        };
      },
    );
    const named = releases.filter((r) => bound.has(r));
    // A canary's start or abort is a row of the history, not a release the stack had live.
    const canary = canaryRows.find((r) => bound.has(r));
    if (named.length === 0 && canary) {
      throw canaryRowRefusal(canary, {
        named: options.to,
        stack: site.target.stack,
        asked: 'roll back to',
        instead: (commit) => `To make that build live, deploy it: \`frontendops deploy --commit ${commit}\`.`,
      });
    }
    // A rollback goes to a release the stack had: a deployment that went live, not one that was
    // superseded before it did or failed its verification (so a stopped rollback's record always
    // names a release the stack had, which is how one FrontendOps did not write is told apart).
    const record = named.find((r) => r.outcome === 'succeeded');
    const other = named[0];
    if (!record && other) {
      throw new FrontendOpsError(
        'NOT_FOUND',
        `Deployment ${other.deployId} (${other.app}@${other.commit.slice(0, 7)}) did not go live on ${site.target.stack} (it is recorded ${other.outcome}), so it is no release to roll back to. To make that build live, deploy it: \`frontendops deploy --commit ${other.commit}\`.`,
      );
    }
    if (record)
      target = {
        deployId: record.deployId,
        app: record.app,
        commit: record.commit,
        artifactDigest: record.artifactDigest,
      };
  }
  if (!target) {
    throw new FrontendOpsError(
      'NOT_FOUND',
      options.to
        ? `No deployment or commit "${options.to}" is known for ${site.target.stack}. See \`frontendops history\` for deploy ids and commits.`
        : `Only one release of ${site.target.stack} is known, so there is no previous release to roll back to.`,
    );
  }
  return deployArtifact(site, {
    ...options,
    app: target.app,
    commit: target.commit,
    kind: 'rollback',
    recorded: target,
  });
}

/**
 * What a rollback reads of the state before it takes the deploy lock (to choose where it goes, and
 * refuse early), read by `read`: a state bucket that does not answer there (the network, a 5xx,
 * access denied: S3's error as the adapter gives it) is said as what could not be read (`what`), that
 * nothing was changed, and what to do. Never the state prefix (it reaches no MCP client); a bucket
 * that does not exist is said as the adapter says it, and any other refusal goes through as it is.
 */
async function readBeforeLock<T>(site: Site, what: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    const cause = isFrontendOpsError(error, 'UPSTREAM') ? error.cause : undefined;
    if (!(cause instanceof Error) || cause.name === 'NoSuchBucket') throw error;
    const said = backendErrorName(cause.name) ? ` (${cause.name})` : '';
    throw new FrontendOpsError(
      'UPSTREAM',
      `The state of ${site.target.stack} could not be read before the rollback took the deploy lock: ${what}, in the state bucket ${site.target.stateBucket}${said}. Nothing was changed. ` +
        "Check that this machine reaches the state bucket's S3 endpoint and that its credentials may read the stack's state prefix (s3:GetObject and s3:ListBucket), then run the rollback again.",
      { cause, details: { bucket: site.target.stateBucket } },
    );
  }
}

/** What the stack recorded of the builds it had live: the retained releases (the live one first), and a rollback's destination. */
const recordedBuilds = (live: { releases: readonly RecordedBuild[] }, options: DeployOptions) => [
  ...live.releases,
  ...(options.recorded ? [options.recorded] : []),
];

/**
 * The plan of a rollback that stopped before it finished (in place or atomic), or null; with the
 * check its record must pass first, given the live pointer: it goes to a release the stack had live
 * (live.ts), or it was not written by FrontendOps and is refused (TAMPERED) with nothing written.
 */
async function stoppedRollback(
  site: Site,
): Promise<{ app: string; commit: string; check: (known: LiveRead) => Promise<unknown> } | null> {
  if (site.mode === 'atomic') {
    const pending = await atomicRecordsOf(site).readPending();
    if (pending?.op !== 'rollback') return null;
    return { ...pending.plan, check: (known) => assertAtomicPendingSound(site, pending, known) };
  }
  const pending = await site.records.readPending();
  if (pending?.plan.kind !== 'rollback') return null;
  return { ...pending.plan, check: (known) => checkPending(site, pending, known) };
}

/**
 * After a release went live (or was already live), under the deploy lock: a rollback pins it; a
 * promote lifts the pin. The automatic rollback of a failed verification does not pin.
 */
async function settlePin(
  site: Site,
  plan: DeployPlan,
  options: DeployOptions,
  /** The stopped change this no-op run finished (DeploySummary finishedInterrupted), if any. */
  finished?: { deployId: string; kind: string },
  /** The release store as the run read it under the lock, nothing written since (not read again). */
  served?: ReleasePointerRead,
): Promise<Pick<DeploySummary, 'pinned' | 'unpinned'>> {
  const { request } = options;
  if (plan.kind === 'rollback') {
    const deployId = plan.noop
      ? ((await site.records.readPointer())?.value.deployId ?? plan.deployId)
      : plan.deployId;
    return { pinned: await pinRolledBack(site, { ...plan, deployId }, request) };
  }
  if (options.pin === 'clear') {
    // A promote of the live release changes no file but lifts the pin: that is its change, approved
    // as one (a protected stack's unpin is a person's), before the pin goes. Its plan names the pin
    // read here, under the lock (liftingPin), so an approval to lift another pin does not count.
    const pin = plan.noop ? await readPin(site) : null;
    const approval = pin ? await options.authorize?.(liftingPin(plan, pin)) : undefined;
    // On an atomic stack its use is anchored, as a change's is (no switch follows it either).
    const { releases } = site;
    if (approval && pin && site.mode === 'atomic' && releases)
      await anchorApprovalUse(
        site,
        releases,
        served ?? (await releases.read()),
        `the pin on ${pin.deployId} was not lifted, and stays. Run the promote again: this approval is used, so it asks for a new approval.`,
      );
    const unpinned = await clearPin(site, {
      by: request.actor,
      reason: request.message ?? null,
      via: 'promote',
      deployId: plan.deployId,
      // The pin that was approved to go, and no other (the lock held keeps it as read).
      ...(pin ? { shown: pin } : {}),
    }).catch((lost: unknown) => {
      // Its lock lost past its switch (asleep past its lease): the run says what landed and was recorded
      // (its unpin entry too, when it was the pin set after it that stayed).
      throw plan.noop
        ? lost
        : recordLost(
            `${plan.deployId} went live`,
            lost,
            isFrontendOpsError(lost) && lost.details?.unpinRecorded === true
              ? 'its release going live, its deployment and the pin lifted'
              : 'its release going live and its deployment, not the pin lifted',
          );
    });
    return unpinned ? { unpinned } : {};
  }
  // A deploy that finished a stopped rollback of its release: the pin that rollback set as its last
  // step (pinRolledBack) stays, and is said (one read, only then).
  if (finished?.kind === 'rollback') {
    const pin = await readPin(site);
    return pin?.deployId === finished.deployId ? { pinned: pin } : {};
  }
  return {};
}

/**
 * A promote's plan naming the pin it lifts (null: none): what an approval of it binds (changeDigest),
 * made the same way by its dry run and under the lock (promoteRelease).
 */
export const liftingPin = <P extends DeployPlan>(plan: P, pin: PinRecord | null): P => ({
  ...plan,
  clearsPin: pinLifted(pin),
});

/**
 * An atomic deploy or rollback with the pin honoured as in place: a deploy past the pin is refused,
 * a rollback pins, a promote lifts it (the engine holds the lock for the switch; the pin is read and
 * written around it).
 */
async function deployAtomicPinned(site: Site, options: DeployOptions): Promise<DeploySummary> {
  const kind = options.kind ?? 'deploy';
  const checkPin = !options.dryRun && kind === 'deploy' && options.pin !== 'clear';
  // Its dry run: a refusal of what it chose gives way to the pin's, which the run reads first.
  const pinAhead = options.dryRun && kind === 'deploy' && options.pin !== 'clear';
  return deployAtomic(site, {
    ...options,
    checkPin,
    ...(pinAhead
      ? {
          refusedBeforeChoosing: (finishing: StoppedChange | null) =>
            pinRefusalAhead(site, {
              kind,
              commit: options.commit,
              ...(finishing?.commit === options.commit
                ? { finishes: finishing }
                : finishing
                  ? { finishesFirst: finishing }
                  : {}),
            }),
        }
      : {}),
    pinOnSuccess: kind === 'rollback',
    // A rollback that finished pinned itself (pinRolledBack); a no-op one pins here.
    settle: async (summary, served) =>
      summary.outcome === 'failed' || summary.pinned
        ? {}
        : settlePin(site, summary.plan, options, summary.finishedInterrupted, served),
  });
}

/**
 * A deploy the CDN did not serve (recorded as failed) goes back to the release before it, under the
 * lock the caller holds, unless rollbackOnFailure is false or nothing was live before. Returns the
 * deploy id of the rollback, or null when there was none.
 */
async function rollBackIfNotServed(
  site: Site,
  plan: DeployPlan,
  record: DeploymentRecord,
  options: DeployOptions,
): Promise<string | null> {
  if (record.outcome !== 'failed' || options.rollbackOnFailure === false || !plan.fromCommit) return null;
  options.onEvent?.({
    type: 'step',
    step: 'rollback',
    detail: `verification failed: rolling back to ${plan.fromCommit.slice(0, 7)}`,
  });
  const back = await deployLocked(
    site,
    { ...options, commit: plan.fromCommit, app: plan.app, kind: 'rollback', pinOnSuccess: false },
    plan,
  );
  return back.deployId;
}

/**
 * A deploy run while the caller already holds the lock (the automatic rollback of `failed`), which
 * stays live when it is refused before it writes anything (the release it goes back to replaced, a
 * record under its deploy id that is not its own).
 */
async function deployLocked(
  site: Site,
  options: DeployOptions,
  failed: FailedChange,
): Promise<DeploySummary> {
  const started = Date.now();
  const manifest = await requireManifest(site, options.app, options.commit);
  const state = await readLiveState(site, null);
  // The release it goes back to is one the pointer retains: its manifest must be the one it had then.
  assertAsDeployed(
    site,
    manifest,
    state.releases,
    `${failedStaysLive(failed)}; it was not rolled back to that release.`,
  );
  const plan = planFor(site, options.kind ?? 'deploy', manifest, state);
  // Its deploy id is as computable as any (the build it goes back to, the failed deploy it goes
  // from): a record planted under it is refused before the switch back writes anything (one read).
  if (!plan.noop) {
    const stored = await site.records.readRecord(plan.deployId);
    const ownRecord = await ownRecordAhead(
      site,
      stored,
      { plan, request: options.request },
      switchBackRefused(failed, `${plan.commit.slice(0, 7)} (deployment ${plan.deployId})`),
    );
    await ownRecord?.(undefined); // it uses no approval
  }
  const { record } = await applyDeploy(site, plan, { ...options, stopBeforeInvalidation: false });
  return summarize(plan, { dryRun: false, started, request: options.request, ...(record ? { record } : {}) });
}

/** What finishing a synced deploy did: its record, the audit head, and any automatic switch back. */
export interface FinishedSync {
  record: DeploymentRecord;
  auditHead: AuditHead | null;
  /** The deployment that put the previous release back after this one failed its verification. */
  rolledBackTo?: string;
}

/**
 * Finishes a deploy that was synced with stopBeforeInvalidation: invalidate, verify, record; one the
 * CDN does not serve is rolled back, as deployArtifact does (unless rollbackOnFailure is false).
 * Idempotent: for a deploy already finished it returns its record.
 */
export async function finishSyncedDeploy(
  site: Site,
  deployId: string,
  options: ApplyOptions & { waitMs?: number; rollbackOnFailure?: boolean },
): Promise<FinishedSync> {
  if (site.mode === 'atomic') return finishSyncedAtomic(site, deployId, options);
  const lock = await takeDeployLock(site, options);
  return holding(lock, async () => {
    const pending = await site.records.readPending();
    // Finished when it went live, by the rule the next run finishes it by (wentLive): its pointer
    // moved by the flag, or, stopped before its flag, as the live pointer names it, finished as the next
    // run finishes it (settlePending, which vouches for that pointer again: its entry may not have been
    // written). Any other is not waiting for this.
    const ours = pending?.plan.deployId === deployId ? pending : null;
    const finished = !ours
      ? undefined
      : ours.pointerMoved
        ? await finishDeploy(site, ours, { ...options, lock })
        : (await settlePending(site, { ...options, lock }, ours)).finished;
    if (pending && finished) {
      const { record, auditHead } = finished;
      // The release to switch back to comes from the same record: one the stack had, or none.
      if (record.outcome === 'failed' && options.rollbackOnFailure !== false) {
        await assertPreviousWasLive(site, pending.plan);
      }
      const rolledBackTo = await rollBackIfNotServed(site, pending.plan, record, {
        ...options,
        lock,
        app: pending.plan.app,
        commit: pending.plan.commit,
      });
      return { record, auditHead, ...(rolledBackTo ? { rolledBackTo } : {}) };
    }
    return finishedBefore(
      site,
      deployId,
      `Deployment ${deployId} is neither waiting for its invalidation nor recorded for ${site.target.stack}. Sync it first, or check the id with \`frontendops history\`.`,
    );
  });
}

/**
 * The record stored under the deploy id `plan` gives, if any (`stored`, as read ahead by storedUnder,
 * or only listed: then read now, on this rare path only), judged before the deploy writes anything
 * (apply.ts ownRecordAhead).
 */
async function inPlaceRecordAhead(
  site: Site,
  plan: DeployPlan,
  request: RequestInfo,
  stored: ReadonlyMap<string, DeploymentRecord | null>,
  refused?: RefusedAhead,
): Promise<((approval: ApprovalUsed | undefined) => Promise<unknown>) | null> {
  if (!stored.has(plan.deployId)) return null;
  const found = stored.get(plan.deployId) ?? (await site.records.readRecord(plan.deployId));
  return ownRecordAhead(site, found, { plan, request }, refused);
}

async function recordSuperseded(site: Site, record: PendingDeploy): Promise<void> {
  const pending = await withRecordedApproval(site, record);
  await recordDeployment(
    site,
    deploymentRecord(pending, new Date(), {
      copied: [],
      deleted: [],
      invalidation: null,
      verification: null,
      outcome: 'superseded',
      error: supersededError(pending.stoppedBy),
    }),
    { data: publishedInFacts(pending.plan) },
  );
}

function planFor(
  site: Site,
  kind: 'deploy' | 'rollback',
  manifest: Parameters<typeof planDeploy>[0]['manifest'],
  live: Awaited<ReturnType<typeof readLiveState>>,
  { publishedIn, publishedInHead }: Pick<DeployPlan, 'publishedIn' | 'publishedInHead'> = {},
) {
  const plan = planDeploy({
    stack: site.target.stack,
    kind,
    manifest,
    artifactDigest: artifactDigest(manifest),
    live,
    retain: site.retain,
    prune: site.target.prune,
    keepPrefixes: inPlaceKeptPrefixes(site),
  });
  return publishedIn ? { ...plan, publishedIn, ...(publishedInHead ? { publishedInHead } : {}) } : plan;
}

function summarize(
  plan: DeployPlan,
  context: { dryRun: boolean; started: number; request: RequestInfo; record?: DeploymentRecord },
): DeploySummary {
  const { record } = context;
  return {
    ...deployIdentity(plan),
    request: context.request,
    dryRun: context.dryRun,
    noop: plan.noop,
    outcome: context.dryRun ? 'planned' : plan.noop ? 'noop' : (record?.outcome ?? 'succeeded'),
    copied: context.dryRun || plan.noop ? 0 : plan.copies.length,
    unchanged: plan.unchanged,
    pruned: context.dryRun ? 0 : plan.prune.length,
    retained: plan.retained,
    invalidation:
      record?.invalidation ?? (context.dryRun ? { paths: plan.invalidationPaths, ids: [] } : null),
    verification: record?.verification ?? null,
    durationMs: Date.now() - context.started,
    plan,
    ...(record?.error ? { error: record.error } : {}),
  };
}
