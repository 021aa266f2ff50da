/**
 * What the atomic engine reads before it plans: the KeyValueStore's pointer (with the ETag a switch
 * must name), the state's live pointer, the atomic state (canary, previews, retiring releases), and
 * — only for operations that copy or prune — the hosting bucket's keys and the manifests of every
 * release that is kept. A switch to a release whose files are known to be in place (its release
 * index) reads neither; it lists only that release's prefix (deploy/atomic-apply.ts, prepare).
 */
import { lostLockError } from '../adapters/lock-holder.ts';
import { sameReleases } from '../atomic/release-pointer.ts';
import { type AtomicLiveState, type AtomicRelease, releaseIdFor } from '../engine/atomic-plan.ts';
import type { Manifest } from '../engine/types.ts';
import { FrontendOpsError, isFrontendOpsError } from '../errors.ts';
import type { ReleasePointer, ReleasePointerRead, ReleaseStore } from '../ports.ts';
import type { Site } from '../site.ts';
import {
  type AtomicPending,
  type AtomicRecords,
  type AtomicStateRecord,
  createAtomicRecords,
  type ReleaseNameRef,
} from '../state/atomic.ts';
import { releaseIndexName } from '../state/names.ts';
import type { LivePointer } from '../state/records.ts';
import { assertAsDeployed } from './artifact-copy.ts';
import { deployLockLabel } from './deploy-lock.ts';
import { readManifest } from './publish.ts';

export interface AtomicContext {
  store: ReleaseStore;
  atomic: AtomicRecords;
  /** The KeyValueStore's pointer and ETag. */
  kvs: ReleasePointerRead;
  statePointer: { value: LivePointer; etag: string } | null;
  state: AtomicStateRecord;
  /**
   * atomic/state.json as readAtomicContext read it (null: there was none), `state` before its
   * defaults, for a check beside it (AtomicReadBeside); absent in a context made otherwise.
   */
  stateStored?: unknown;
  now: number;
}

/** The release store of an atomic site; a clear refusal on an in-place one. */
export function requireReleaseStore(site: Site): ReleaseStore {
  if (site.mode !== 'atomic' || !site.releases) {
    throw new FrontendOpsError(
      'BAD_INPUT',
      `${site.target.stack} deploys in place: its stack outputs name no release store (releaseStoreArn). ` +
        'Canaries, previews and one-write switches need atomic releases: update the stack with the Pulumi ' +
        'program of this repository (it creates the KeyValueStore and the release router), then run ' +
        '`frontendops migrate --to atomic`.',
    );
  }
  return site.releases;
}

export const atomicRecordsOf = (site: Site) => createAtomicRecords(site.state, site.target.statePrefix);

/**
 * Writes the atomic state over the version `read` (AtomicRecords.writeState), under the deploy lock.
 * Where the store honours conditional writes, a version written since means another holder has the
 * lock now (this one's was taken over before it noticed, or the locks never met): this one stops as
 * a holder that lost its lock, and what the other wrote stays.
 */
export async function writeAtomicStateOver(
  site: Site,
  next: AtomicStateRecord,
  read: { etag: string | null },
): Promise<string> {
  try {
    return await atomicRecordsOf(site).writeState(next, read);
  } catch (error) {
    if (!isFrontendOpsError(error, 'PRECONDITION_FAILED')) throw error;
    throw lostLockError(
      deployLockLabel(site.target),
      'the atomic state changed after this run read it, so another holder has taken it over',
    );
  }
}

/**
 * `pointer`: what this operation just wrote to the store (under the lock); `served`: the store as
 * this operation read it under the lock, nothing written since. Either way it is not read again.
 */
export async function readAtomicContext(
  site: Site,
  now: number,
  known?: { pointer: ReleasePointer } | { served: ReleasePointerRead },
): Promise<AtomicContext> {
  const store = requireReleaseStore(site);
  const atomic = atomicRecordsOf(site);
  const [kvs, statePointer, { state, stored }] = await Promise.all([
    !known
      ? store.read()
      : 'served' in known
        ? Promise.resolve(known.served)
        : Promise.resolve({ value: known.pointer, etag: '' }),
    site.records.readPointer(),
    atomic.readStateVersion(),
  ]);
  return { store, atomic, kvs, statePointer, state, stateStored: stored, now };
}

/** The pointer the state says the store should hold (null: nothing deployed atomically yet). */
export function expectedPointer(ctx: AtomicContext, spa: boolean): ReleasePointer | null {
  const live = ctx.statePointer?.value;
  if (!live || !ctx.kvs.value) return null;
  const canary = ctx.state.canary;
  return {
    live: releaseIdFor(live),
    ...(canary ? { canary: canary.releaseId, weight: canary.weight } : {}),
    ...(spa ? { spa: true } : {}),
  };
}

/**
 * The store names something the state does not: someone switched outside FrontendOps (or the state
 * was restored). Returned so the operation can record it; the operation itself still plans from
 * the state, which stays the source of truth.
 */
export function driftOf(ctx: AtomicContext, spa: boolean): ReleasePointer | null {
  const expected = expectedPointer(ctx, spa);
  if (!ctx.kvs.value || !expected) return null;
  // The spa flag follows the configuration; only the releases it names are the state's business.
  return sameReleases(expected, ctx.kvs.value) ? null : ctx.kvs.value;
}

/**
 * The store holds no pointer though the live release went out as an atomic release (its release
 * index is there): the key was deleted outside FrontendOps, and edges serve the bucket root. No
 * pointer is what should be before a stack's migration, and during one until its switch (`pending`).
 */
export async function pointerDeleted(
  site: Site,
  ctx: AtomicContext,
  pending: AtomicPending | null,
): Promise<boolean> {
  const live = ctx.statePointer?.value;
  if (ctx.kvs.value !== null || !live || (pending && pending.plan.pointerBefore === null)) return false;
  return (
    (await site.state.head(`${site.target.statePrefix}${releaseIndexName(releaseIdFor(live))}`)) !== null
  );
}

/**
 * What the store holds that the state does not, as an operation records it (`drift`): the pointer
 * it names (driftOf), or null where its key was deleted (pointerDeleted); undefined where it holds
 * what the state says. Every operation still plans from the state and writes the key from it.
 */
export async function storeDrift(
  site: Site,
  ctx: AtomicContext,
  pending: AtomicPending | null,
): Promise<ReleasePointer | null | undefined> {
  const drift = driftOf(ctx, site.spa);
  if (drift) return drift;
  return (await pointerDeleted(site, ctx, pending)) ? null : undefined;
}

/** What edges serve where the store holds no pointer (status' `served` and a pin's refusal say it). */
export const BUCKET_ROOT_SERVED = 'the bucket root (the store holds no release pointer)';

/** Why the store names what the state does not (status' `served` and a pin's refusal say it). */
export const STORE_CHANGED_OUTSIDE =
  'its release store (the key frontendops-release, which the deployer role can write) was changed outside FrontendOps.';

/** Every release the context keeps, by id, without manifests (retained first). */
export function keptRefs(ctx: AtomicContext): Map<string, ReleaseNameRef & { deployId?: string }> {
  const refs = new Map<string, ReleaseNameRef & { deployId?: string }>();
  const add = (ref: ReleaseNameRef & { deployId?: string }) => {
    if (!refs.has(ref.releaseId)) refs.set(ref.releaseId, ref);
  };
  for (const r of ctx.statePointer?.value.releases ?? []) add({ ...r, releaseId: releaseIdFor(r) });
  if (ctx.state.canary) add(ctx.state.canary);
  for (const p of ctx.state.previews) if (Date.parse(p.expiresAt) > ctx.now) add(p);
  for (const r of ctx.state.retiring)
    if (Date.parse(r.until) > ctx.now) for (const ref of r.releases) add(ref);
  return refs;
}

/**
 * A manifest reader that reads each artifact's manifest once. Given the digest a release recorded,
 * a manifest replaced since is refused (TAMPERED) rather than returned as that release's.
 */
export function manifestCache(site: Site) {
  const cache = new Map<string, Promise<Manifest | null>>();
  return async (ref: {
    app: string;
    commit: string;
    artifactDigest?: string;
    deployId?: string;
  }): Promise<Manifest | null> => {
    const key = `${ref.app}/${ref.commit}`;
    let hit = cache.get(key);
    if (!hit) {
      hit = readManifest(site.artifacts, ref.app, ref.commit);
      cache.set(key, hit);
    }
    const manifest = await hit;
    if (manifest && ref.artifactDigest !== undefined)
      assertAsDeployed(site, manifest, [{ ...ref, artifactDigest: ref.artifactDigest }]);
    return manifest;
  };
}

/**
 * The live state the plan needs. `full`: the hosting bucket's keys and every kept release's manifest
 * (for copying and pruning); otherwise no listing and no manifests (a switch to a release in place).
 */
export async function loadAtomicLiveState(
  site: Site,
  ctx: AtomicContext,
  options: {
    full: boolean;
    manifests?: ReturnType<typeof manifestCache>;
    /** The hosting bucket's keys when this operation already knows them (it listed, then copied). */
    hosting?: ReadonlyMap<string, number>;
  },
): Promise<AtomicLiveState> {
  const manifests = options.manifests ?? manifestCache(site);
  // Each kept release's manifest is held to the digest it went out with: the plan trusts what a
  // known release's manifest says its shared assets hold, so one replaced since (by whoever can write
  // the artifacts bucket) would vouch for other bytes under a live asset's name.
  const withManifest = async <R extends ReleaseNameRef>(ref: R): Promise<R & AtomicRelease> => ({
    ...ref,
    manifest: options.full
      ? await manifests({
          app: ref.app,
          commit: ref.commit,
          ...(ref.artifactDigest ? { artifactDigest: ref.artifactDigest } : {}),
        })
      : null,
  });
  const [listing, retained, canary, previews, retiring] = await Promise.all([
    options.full && !options.hosting ? site.hosting.list() : Promise.resolve([]),
    Promise.all(
      (ctx.statePointer?.value.releases ?? []).map((r) => withManifest({ ...r, releaseId: releaseIdFor(r) })),
    ),
    ctx.state.canary ? withManifest(ctx.state.canary) : Promise.resolve(null),
    Promise.all(ctx.state.previews.filter((p) => Date.parse(p.expiresAt) > ctx.now).map(withManifest)),
    Promise.all(
      ctx.state.retiring
        .filter((r) => Date.parse(r.until) > ctx.now)
        .map(async (r) => ({
          releases: await Promise.all(r.releases.map(withManifest)),
          root: r.root,
          until: Date.parse(r.until),
        })),
    ),
  ]);
  return {
    hosting: options.hosting ?? new Map(listing.map((o) => [o.key, o.size])),
    ...(options.hosting ? {} : { etags: new Map(listing.map((o) => [o.key, o.etag])) }),
    pointer: ctx.kvs.value,
    retained,
    canary: canary && { ...canary, weight: ctx.state.canary?.weight ?? 0 },
    previews,
    retiring,
  };
}
