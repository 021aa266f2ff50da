/**
 * Pin, unpin and promote: the release manager's three words after a rollback.
 * - pinRelease: the live release stays live; deploys past it are refused until a promote or unpin.
 * - unpinRelease: deploys go through again (nothing else changes).
 * - promoteRelease: make one release live for everyone and clear any pin — today a deploy of that
 *   release that lifts the pin under the same lock; atomic releases extend it to promote a canary.
 * Each takes the deploy lock; every change is in the audit chain (state/pin.ts).
 */

import { samePointer } from '../engine/atomic-plan.ts';
import { DEPLOY_ID, shortSha } from '../engine/ids.ts';
import { FrontendOpsError, holding, isFrontendOpsError } from '../errors.ts';
import type { HeldLock, ReleasePointerRead } from '../ports.ts';
import type { Site } from '../site.ts';
import { type AuditEntry, assertAuditWritable } from '../state/audit.ts';
import { clearPin, type PinRecord, type PinShown, readPin, readPinStored, writePin } from '../state/pin.ts';
import { assertKeptAsRecorded, assertLiveAsRecorded } from '../state/recorded-state.ts';
import type { RequestInfo } from '../state/records.ts';
import { againCommand } from './again-command.ts';
import { describePointer, nowOf, readStoreHeldToAnchor } from './atomic-apply.ts';
import {
  atomicRecordsOf,
  BUCKET_ROOT_SERVED,
  readAtomicContext,
  STORE_CHANGED_OUTSIDE,
  storeDrift,
} from './atomic-live.ts';
import { type DeployOptions, type DeploySummary, deployArtifact, liftingPin } from './deploy.ts';
import { takeDeployLockReading } from './deploy-lock.ts';
import { resolvePublishedCommit } from './publish.ts';

export interface PinOptions {
  /** The release the person means to pin (deploy id or commit): it must be the live one. */
  to?: string;
  request: RequestInfo;
  waitMs?: number;
  /** The clock which kept releases (previews, retained ones) are judged by; the real one by default. */
  now?: () => Date;
}

/**
 * Pins the live release. Pinning what is already pinned keeps the first pin (created: false); a pin
 * of it that stopped before pin.json was written, finished under the lock, takes effect now (created).
 */
export async function pinRelease(
  site: Site,
  options: PinOptions,
): Promise<{ pin: PinRecord; created: boolean }> {
  return withDeployLock(site, options, async (lock, finished, store) => {
    const [read, served] = await Promise.all([
      site.records.readPointer(),
      notWhatIsServed(site, options, store),
    ]);
    if (served instanceof FrontendOpsError) throw served;
    const live = read?.value;
    if (!live) {
      throw new FrontendOpsError(
        'NOT_FOUND',
        `Nothing is deployed to ${site.target.stack} yet, so there is nothing to pin.`,
      );
    }
    // A pin holds the release the chain records live: never a pointer no entry records yet.
    await assertLiveAsRecorded(site, live, 'Nothing was pinned');
    const to = options.to;
    if (to && live.deployId !== to && !live.commit.startsWith(to)) {
      // A rollback goes back to a release the stack keeps, or to one its history records as live.
      const kept = live.releases.some((r) => r.deployId === to || r.commit.startsWith(to));
      throw pinNotLiveError({ stack: site.target.stack, shown: to, live, kept });
    }
    const { pin: existing, etag } = await readPinStored(site);
    if (existing && existing.deployId === live.deployId)
      return { pin: existing, created: finished?.type === 'pin' };
    await fenceSwitches(site, served);
    const pin: PinRecord = {
      stack: site.target.stack,
      deployId: live.deployId,
      app: live.app,
      commit: live.commit,
      by: options.request.actor,
      reason: options.request.message ?? null,
      at: new Date().toISOString(),
      cause: 'pin',
    };
    await writePin(site, pin, { lock, over: etag });
    return { pin, created: true };
  });
}

/** A pin of the release `shown` that is not the live one any more; `kept`: the live pointer keeps it. */
export interface PinNotLive {
  stack: string;
  shown: string;
  live: { deployId: string; app: string; commit: string };
  kept: boolean;
}

/**
 * What a pin of a release no longer live says first, on every surface: what is live, that nothing
 * was pinned, how to pin what is live (the console goes on in its own words: console/routes.ts).
 */
export const pinNotLiveWords = ({ stack, shown, live }: PinNotLive): string =>
  `${shown} is not the live release of ${stack} (live: ${live.app}@${shortSha(live.commit)}, ${live.deployId}; it may have gone live since ${shown} was shown). Nothing was pinned. A pin keeps what is live: to pin ${live.deployId}, look at it and pin again;`;

/** The refusal (CONFLICT) of a pin of a release no longer live: its words, then the CLI's way back to it. */
export function pinNotLiveError(refused: PinNotLive): FrontendOpsError {
  const { shown, kept } = refused;
  return new FrontendOpsError(
    'CONFLICT',
    `${pinNotLiveWords(refused)} ` +
      (kept
        ? `to go back to ${shown} and pin it, roll back to it (\`frontendops rollback --to ${shown}\`): a rollback pins.`
        : `if ${shown} went live here (\`frontendops history\` lists what did), \`frontendops rollback --to ${shown}\` goes back to it and pins.`),
    {
      details: {
        pinNotLive: {
          ...refused,
          live: { deployId: refused.live.deployId, app: refused.live.app, commit: refused.live.commit },
        },
      },
    },
  );
}

/**
 * On an atomic stack, what visitors get is what the CDN's release store names, and a pin keeps that.
 * Refused (CONFLICT) where the store names another release than the state calls live:
 * - an operation stopped after its switch (the store names its release) and before the state
 *   followed (marked switched): the refusal names the command that finishes it. Once an atomic
 *   operation is marked switched, the pointer names its release;
 * - the store written outside FrontendOps (the deployer role can write it: an older kept release
 *   served again, a canary nobody started), as `status` says it (storeDrift): put the recorded release
 *   back, or roll back to the one served, which pins; or the key deleted (pointerDeleted, as
 *   `status` says it), so that edges serve the bucket root: put the recorded release back.
 * Where the store serves what the state records, the store as read (which the pin then fences:
 * fenceSwitches); in place, where the pointer is the switch itself, null.
 */
async function notWhatIsServed(
  site: Site,
  options: PinOptions,
  /** The release store as read under the lock (withDeployLock), not read again. */
  served: ReleasePointerRead | null,
): Promise<FrontendOpsError | ReleasePointerRead | null> {
  if (site.mode !== 'atomic') return null;
  const [ctx, pending] = await Promise.all([
    readAtomicContext(site, nowOf(options), served ? { served } : undefined),
    atomicRecordsOf(site).readPending(),
  ]);
  if (
    pending?.plan.liveChanges &&
    !pending.switched &&
    samePointer(ctx.kvs.value, pending.plan.pointerAfter)
  ) {
    const { plan } = pending;
    return new FrontendOpsError(
      'CONFLICT',
      `An interrupted ${pending.op} of ${plan.app}@${shortSha(plan.commit)} (${plan.deployId}) switched the CDN to it but did not finish: the release ${site.target.stack} records as live is not the one served. Nothing was pinned. Finish it first (\`${againCommand({ op: pending.op, commit: plan.commit, ...(plan.canaryAfter ? { percent: plan.canaryAfter.weight } : {}) })}\`), then pin.`,
      { details: { deployId: plan.deployId } },
    );
  }
  const live = ctx.statePointer?.value;
  const drift = live ? await storeDrift(site, ctx, pending) : undefined;
  if (!live || drift === undefined) return ctx.kvs;
  return new FrontendOpsError(
    'CONFLICT',
    `The CDN serves ${drift ? describePointer(drift) : BUCKET_ROOT_SERVED}, not the release ${site.target.stack} records as live (${live.app}@${shortSha(live.commit)}, ${live.deployId}): ${STORE_CHANGED_OUTSIDE} Nothing was pinned: a pin keeps what visitors get. ` +
      `To put the recorded release back, \`frontendops deploy --commit ${shortSha(live.commit)}\`, then pin${drift ? '; to keep the one served, roll back to it (a rollback pins)' : ''}. \`frontendops audit verify\` checks the store against the audit log.`,
    { details: { served: drift, live: live.deployId } },
  );
}

/**
 * Before an atomic stack's pin is written, the release store is written again as it was read, over
 * the version read (`served`): a deploy whose lock lapsed under it (a laptop asleep, a long pause)
 * after its last look at the lock, its switch sent once it wakes, writes over the version it read
 * before this pin, so its switch is refused rather than make a release live past the pin (and it
 * tries no other version once its lock is lost: atomic-apply.ts switchPointer). Refused here
 * (CONFLICT, nothing pinned) when a switch landed since this pin read the store. In place nothing
 * is written: the pointer's version is its content's digest, which the same pointer keeps.
 */
async function fenceSwitches(site: Site, served: ReleasePointerRead | null): Promise<void> {
  if (!served?.value || !site.releases) return;
  try {
    await site.releases.write(served.value, served.etag);
  } catch (error) {
    if (!isFrontendOpsError(error, 'PRECONDITION_FAILED')) throw error;
    throw new FrontendOpsError(
      'CONFLICT',
      `The release ${site.target.stack} serves was switched while this pin read it (a deploy or rollback whose lock had lapsed under it). Nothing was pinned. Look at what is live now (\`frontendops status\`) and pin again.`,
    );
  }
}

/**
 * Lifts the pin; `cleared` is the pin that was there (null: the stack was not pinned, nothing changed),
 * or the one a stopped unpin lifted, finished under the lock (its pin.json removed now).
 */
export async function unpinRelease(
  site: Site,
  /** `shown`: the pin the person saw; another one set since is refused (CONFLICT), nothing cleared. */
  options: { request: RequestInfo; waitMs?: number; shown?: PinShown },
): Promise<{ cleared: PinRecord | null }> {
  return withDeployLock(site, options, async (lock, finished) => ({
    cleared:
      (await clearPin(site, {
        by: options.request.actor,
        reason: options.request.message ?? null,
        via: 'unpin',
        lock,
        ...(options.shown ? { shown: options.shown } : {}),
      })) ?? (finished?.type === 'unpin' ? (finished.data.was as PinRecord) : null),
  }));
}

export type PromoteOptions = Omit<DeployOptions, 'pin' | 'kind'>;

/**
 * Makes app@commit live for everyone and clears any pin, in one deploy under one lock: the
 * deployment record and a promote-labelled 'unpin' audit entry say who did it and why. On a
 * protected stack the caller gets the person's approval first, as for a deploy.
 */
export async function promoteRelease(site: Site, options: PromoteOptions): Promise<DeploySummary> {
  // Every promote lifts the pin: its plan names that pin, in the dry run a person approves and under
  // the lock (here before the first write, of another release; of the live release, which changes
  // nothing else, in settlePin), so an approval of it is of lifting that pin only, and a pin set
  // since (a freeze) is neither lifted nor gone past by it.
  const { authorize } = options;
  const summary = await deployArtifact(site, {
    ...options,
    kind: 'deploy',
    pin: 'clear',
    ...(authorize
      ? {
          authorize: async (plan, context) =>
            authorize(plan.clearsPin === undefined ? liftingPin(plan, await readPin(site)) : plan, context),
        }
      : {}),
  });
  if (!options.dryRun) return summary;
  return { ...summary, plan: liftingPin(summary.plan, await readPin(site)) };
}

/**
 * The release a person named for a promote, redeploy or pin: a deploy id from the history (its
 * commit), or a commit or its prefix with a published build. Returns the full commit.
 */
export async function resolveRelease(
  site: Site,
  app: string,
  ref: string,
): Promise<{ app: string; commit: string; deployId?: string }> {
  if (DEPLOY_ID.test(ref)) {
    const [record, pointer] = await Promise.all([
      site.records.readRelease(
        ref,
        {
          stack: site.target.stack,
          asked: 'promote or redeploy',
          instead: (commit) =>
            `To make that build live for everyone, name its commit (${shortSha(commit)}); a running canary is made live with \`frontendops canary promote\`.`,
        },
        site.releases,
      ),
      site.records.readPointer(),
    ]);
    const retained = pointer?.value.releases.find((r) => r.deployId === ref);
    // No record: the live pointer's kept release names the build. The pointer is the deployer role's
    // to write too, and so is a crash-recovery record that makes verify call it a stopped change's:
    // believed only as the chain binds the pointer, or records that release going live (one more
    // read where the pointer is as bound, on this path only).
    if (!record && retained && pointer) await assertKeptAsRecorded(site, pointer.value, retained);
    const found = record ?? retained;
    if (!found) {
      throw new FrontendOpsError(
        'NOT_FOUND',
        `No deployment ${ref} is recorded for ${site.target.stack}. See \`frontendops history\` for deploy ids.`,
      );
    }
    return { app: found.app, commit: found.commit, deployId: ref };
  }
  return { app, commit: await resolvePublishedCommit(site.artifacts, app, ref) };
}

/** What `status` and the console say about a pin, for people. */
export type { PinRecord };
export { readPin };

/**
 * `run` under the deploy lock, told of a stopped pin change the lock's check finished (or null). An
 * environment marker that cannot be read is refused by the lock (takeDeployLockReading), as for every
 * change: it may name another environment, whose history this pin would not be in.
 */
async function withDeployLock<T>(
  site: Site,
  options: { request: RequestInfo; waitMs?: number },
  run: (lock: HeldLock, finished: AuditEntry | null, served: ReleasePointerRead | null) => Promise<T>,
): Promise<T> {
  // On an atomic stack a chain cut back past the head the release store anchors is refused with the
  // lock, as for every change, before a stopped pin change is finished on it (the store as read
  // then: `served`).
  const atomic = site.mode === 'atomic';
  const { lock, finishedPin, first } = await takeDeployLockReading(
    site,
    options,
    async () => null,
    atomic ? () => readStoreHeldToAnchor(site) : undefined,
  );
  return holding(lock, async () => {
    // A log the pin's own append would be refused on stops it before pin.json is written.
    if (atomic) return await run(lock, finishedPin, (first ?? (await readStoreHeldToAnchor(site))).served);
    await assertAuditWritable(site.state, site.target.statePrefix);
    return await run(lock, finishedPin, null);
  });
}
