/**
 * Atomic releases, planned from data alone (the in-place mode's planDeploy, for the other layout).
 *
 * Layout: content-hashed assets (groupOf(path) === 'asset') live once, shared, at their usual keys;
 * every other file of a release lives under `_releases/<releaseId>/<path>`. The viewer-request
 * function routes non-asset requests to the release named by ONE KeyValueStore key, so deploying,
 * rolling back, starting, promoting or aborting a canary is one conditional key write: no copies
 * beyond the release's own new files, no invalidation.
 *
 * Release ids are content ids (releaseIdFor): the same artifact always lives under the same prefix,
 * so a redeploy, a rollback, a promote or a crashed deploy run again reuses the files already there,
 * and "is this key there?" is a complete answer for release files (each S3 copy is atomic).
 */
import { createHash } from 'node:crypto';
import type { ReleasePointer } from '../atomic/release-pointer.ts';
import { FrontendOpsError } from '../errors.ts';
import { groupOf } from './cache-policy.ts';
import { CANARY_SHARE_RULE, isCanaryShare } from './canary-share.ts';
import { deployIdFor } from './ids.ts';
import { keyOf, RELEASES_KEY_PREFIX } from './manifest.ts';
import { type DeployPlan, describePrune, type PlannedCopy, plannedWork } from './plan.ts';
import type { FileGroup, Manifest } from './types.ts';

/** What an atomic operation does to the release pointer. */
export type AtomicOp = 'deploy' | 'rollback' | 'canary-start' | 'canary-promote' | 'canary-abort' | 'migrate';

/**
 * `<7 hex of the commit>-r<12 hex of the artifact digest>`: the same artifact, the same id, whatever
 * the stack's history (a deploy id also names what was live before, so it changes with every deploy).
 */
export function releaseIdFor(ref: { commit: string; artifactDigest: string }): string {
  const hex = createHash('sha256').update(ref.artifactDigest).digest('hex');
  return `${ref.commit.slice(0, 7)}-r${hex.slice(0, 12)}`;
}

/** Release ids as releaseIdFor makes them. */
export const RELEASE_ID = /^[0-9a-f]{7}-r[0-9a-f]{12}$/;

/** The key of a release file: `/index.html` of release X → `_releases/X/index.html`. */
export const releaseKeyOf = (releaseId: string, sitePath: string) =>
  `${RELEASES_KEY_PREFIX}${releaseId}${sitePath}`;

/** The release a `_releases/<id>/…` key belongs to; null for any other key. */
export function releaseIdOfKey(key: string): string | null {
  if (!key.startsWith(RELEASES_KEY_PREFIX)) return null;
  const id = key.slice(RELEASES_KEY_PREFIX.length).split('/')[0];
  return id ? id : null;
}

/**
 * The bucket the viewer-request function puts a visitor in for a canary: `(bucket + hash(canary)) %
 * 100 < weight` gets the canary (the same arithmetic as viewer-request.js, kept equal by a test).
 */
export function canaryHash(canaryId: string): number {
  let h = 0;
  for (let i = 0; i < canaryId.length; i++) h = (h * 31 + canaryId.charCodeAt(i)) % 100;
  return h;
}

/** A fo_bucket cookie value that sees the canary (`canary`) or the live release (`live`). */
export function bucketFor(canaryId: string, as: 'canary' | 'live'): number {
  const h = canaryHash(canaryId);
  // (b + h) % 100 === 0 is below every weight ≥ 1; === 99 is at or above every weight ≤ 99.
  return as === 'canary' ? (100 - h) % 100 : (199 - h) % 100;
}

export const samePointer = (a: ReleasePointer | null, b: ReleasePointer | null): boolean =>
  (a === null) === (b === null) &&
  (a === null ||
    (b !== null &&
      a.live === b.live &&
      a.canary === b.canary &&
      (a.weight ?? 0) === (b.weight ?? 0) &&
      (a.spa ?? false) === (b.spa ?? false)));

/** A release as the atomic engine knows it: its id, and its manifest when the artifact is still there. */
export interface AtomicRelease {
  releaseId: string;
  app: string;
  commit: string;
  artifactDigest: string;
  /** null when the artifact is gone (lifecycle rule): its prefix is kept while needed, its assets unknown. */
  manifest: Manifest | null;
}

/** A release the state's live pointer lists. */
export interface RetainedRelease extends AtomicRelease {
  deployId: string;
  releasedAt: string;
}

export interface CanaryRelease extends AtomicRelease {
  /** The deploy id the canary becomes when promoted. */
  deployId: string;
  weight: number;
}

/** Releases a switch took out of the pointer: edges may serve them until `until` (the grace). */
export interface RetiringReleases {
  releases: AtomicRelease[];
  /** The bucket root (an in-place layout) was what edges served before this switch. */
  root: boolean;
  /** Epoch ms. */
  until: number;
}

export interface AtomicLiveState {
  /** Every key in the hosting bucket, with its size. */
  hosting: ReadonlyMap<string, number>;
  /** The KeyValueStore's pointer now (null: none yet, the function serves the bucket root). */
  pointer: ReleasePointer | null;
  /** The state's live pointer's releases, newest (the live one) first; empty before the first deploy. */
  retained: readonly RetainedRelease[];
  canary: CanaryRelease | null;
  /** Releases of unexpired preview links. */
  previews: readonly AtomicRelease[];
  retiring: readonly RetiringReleases[];
  /** The hosting bucket's ETags, by key, where the listing was read for this plan. */
  etags?: ReadonlyMap<string, string>;
  /**
   * Shared assets whose bytes in the hosting bucket were read back and are not their manifest's:
   * replaced there outside FrontendOps. Copied again, though a known release vouches for them.
   */
  replaced?: ReadonlySet<string>;
}

export interface AtomicPlanInput {
  stack: string;
  op: AtomicOp;
  /** The release the operation is about: the one to deploy, roll back to, canary or promote. */
  release: AtomicRelease;
  /**
   * The release's files are known to be in place (its release index): nothing is listed or copied
   * and nothing is pruned — a pure switch, whatever the site's size. `live.hosting` may be empty.
   */
  inPlace?: { files: number; assets: number; indexSha256: string | null };
  live: AtomicLiveState;
  /** sha256 of the live release's index.html (canary-abort verifies that everyone gets it). */
  liveIndexSha256?: string | null;
  /** Canary share (canary-start): engine/canary-share.ts. */
  weight?: number;
  retain: number;
  spa: boolean;
  now: number;
  /** How long edges may still serve a release after the pointer left it. */
  graceMs: number;
  /** Keys under these prefixes are never pruned (state kept in the hosting bucket). */
  keepPrefixes?: readonly string[];
  /**
   * Files an interrupted operation copied (its pending plan): what it wrote is known too, so a
   * re-run does not copy its assets again.
   */
  written?: readonly AtomicCopy[];
  /** Keys under the release's id that nothing vouches for (unvouchedReleaseKeys): planReleaseFiles. */
  unvouched?: ReadonlySet<string>;
}

export interface AtomicCopy extends PlannedCopy {
  /** The artifact the file is copied from (a migration copies several releases' files). */
  app: string;
  commit: string;
}

export interface AtomicPlan extends DeployPlan {
  mode: 'atomic';
  op: AtomicOp;
  releaseId: string;
  copies: AtomicCopy[];
  pointerBefore: ReleasePointer | null;
  pointerAfter: ReleasePointer;
  /** The state's live pointer changes to this deploy (deploy, rollback, promote). */
  liveChanges: boolean;
  /** The canary once done (null: none). */
  canaryAfter: { deployId: string; releaseId: string; weight: number } | null;
  /** Releases (and the bucket root) the switch takes out of the pointer. */
  leaving: { releaseIds: string[]; root: boolean };
  /** What verification fetches through the edge, and as whom. */
  verify: { releaseId: string; indexSha256: string | null; as: 'live' | 'canary' };
  /** A pure switch: the release's files were known to be in place (nothing listed, copied or pruned). */
  inPlace: boolean;
  /** Keys under the release's id its build has no file for, deleted before the switch (planReleaseFiles). */
  stray?: string[];
}

const GROUP_ORDER: Record<FileGroup, number> = { asset: 0, other: 1, html: 2 };

export function planAtomic(input: AtomicPlanInput): AtomicPlan {
  const { live, release, op } = input;
  const before = live.pointer;
  const current = live.retained[0] ?? null;
  const canary = live.canary;
  const spa = input.spa ? { spa: true as const } : {};
  const what = `${release.app}@${release.commit.slice(0, 7)}`;
  assertOwnReleaseId(input.stack, release, keptReleases(live));

  const deployIdOf = (r: AtomicRelease) =>
    deployIdFor({
      stack: input.stack,
      app: r.app,
      commit: r.commit,
      artifactDigest: r.artifactDigest,
      fromDeployId: current?.deployId ?? null,
    });

  let after: ReleasePointer;
  let deployId: string;
  let liveChanges = true;
  let canaryAfter: AtomicPlan['canaryAfter'] = null;
  let verifyAs: 'live' | 'canary' = 'live';
  switch (op) {
    case 'deploy':
    case 'rollback': {
      if (canary) {
        throw new FrontendOpsError(
          'CONFLICT',
          `A canary of ${canary.app}@${canary.commit.slice(0, 7)} runs on ${input.stack} (${canary.weight}% of visitors). Promote it or abort it first; a ${op} now would end it unseen.`,
        );
      }
      after = { live: release.releaseId, ...spa };
      deployId = deployIdOf(release);
      break;
    }
    case 'canary-start': {
      const weight = input.weight ?? 0;
      if (!isCanaryShare(weight)) {
        throw new FrontendOpsError('BAD_INPUT', `A canary share is ${CANARY_SHARE_RULE}, not ${weight}.`);
      }
      if (!before || !current) {
        throw new FrontendOpsError(
          'CONFLICT',
          `Nothing is live on ${input.stack} as an atomic release yet, so there is nothing to compare a canary with. Deploy first.`,
        );
      }
      if (before.live === release.releaseId) {
        throw new FrontendOpsError(
          'BAD_INPUT',
          `${what} is already live on ${input.stack}; a canary must be another build.`,
        );
      }
      if (canary && canary.releaseId !== release.releaseId) {
        throw new FrontendOpsError(
          'CONFLICT',
          `A canary of ${canary.app}@${canary.commit.slice(0, 7)} already runs on ${input.stack} (${canary.weight}%). Promote it or abort it first.`,
        );
      }
      after = { live: before.live, canary: release.releaseId, weight, ...spa };
      deployId = canary?.deployId ?? deployIdOf(release);
      liveChanges = false;
      canaryAfter = { deployId, releaseId: release.releaseId, weight };
      verifyAs = 'canary';
      break;
    }
    case 'canary-promote': {
      if (!canary || canary.releaseId !== release.releaseId) {
        throw new FrontendOpsError(
          'NOT_FOUND',
          `No canary runs on ${input.stack}, so there is nothing to promote.`,
        );
      }
      after = { live: release.releaseId, ...spa };
      deployId = canary.deployId;
      break;
    }
    case 'canary-abort': {
      if (!canary || !before) {
        throw new FrontendOpsError(
          'NOT_FOUND',
          `No canary runs on ${input.stack}, so there is nothing to abort.`,
        );
      }
      after = { live: before.live, ...spa };
      deployId = canary.deployId;
      liveChanges = false;
      break;
    }
    case 'migrate': {
      if (!current || current.releaseId !== release.releaseId) {
        throw new FrontendOpsError(
          'NOT_FOUND',
          `Nothing is deployed to ${input.stack} yet: the first deploy will be atomic.`,
        );
      }
      after = { live: release.releaseId, ...spa };
      deployId = current.deployId;
      liveChanges = false;
      break;
    }
  }

  // What is kept once the switch is done: the last K releases, the canary, open previews, and
  // whatever edges may still serve (the releases this switch and recent ones took out of the pointer).
  const retainedAfter: AtomicRelease[] = liveChanges
    ? [release, ...live.retained.filter((r) => r.releaseId !== release.releaseId)].slice(
        0,
        Math.max(1, input.retain),
      )
    : [...live.retained];
  const named = new Set([after.live, ...(after.canary ? [after.canary] : [])]);
  const leavingIds = before
    ? [before.live, ...(before.canary ? [before.canary] : [])].filter((id) => !named.has(id))
    : [];
  const leavingRoot = before === null;
  const known = knownReleases(live, release);
  // What is in the bucket was written by releases that were deployed (or by the interrupted run):
  // the planned release's own manifest vouches for nothing it has not uploaded yet.
  const writers = [...knownReleases(live, null).values()];
  if (input.written?.length) {
    const files: Manifest['files'] = {};
    for (const c of input.written) {
      files[c.path] = {
        sha256: c.sha256,
        size: c.size,
        contentType: c.contentType,
        cacheControl: c.cacheControl,
      };
    }
    writers.push({
      releaseId: '(interrupted)',
      app: release.app,
      commit: release.commit,
      artifactDigest: '',
      manifest: { app: release.app, commit: release.commit, createdAt: '', files },
    });
  }
  const keep: AtomicRelease[] = [
    ...retainedAfter,
    ...(canaryAfter ? [release] : []),
    ...live.previews,
    ...live.retiring.filter((r) => r.until > input.now).flatMap((r) => r.releases),
    ...(input.graceMs > 0 ? leavingIds.map((id) => known.get(id) ?? idOnly(id)) : []),
    ...[...named].map((id) => known.get(id) ?? idOnly(id)),
  ];
  const keepRoot =
    (leavingRoot && input.graceMs > 0) || live.retiring.some((r) => r.root && r.until > input.now);
  const inPlace = input.inPlace && op !== 'migrate' ? input.inPlace : null;
  if (!inPlace && !release.manifest) {
    throw new FrontendOpsError(
      'NOT_FOUND',
      `The artifact of ${what} is gone from the artifacts bucket, so its files cannot be copied again. Pick a published build.`,
    );
  }
  const prune = inPlace
    ? []
    : planAtomicPrune({
        hosting: live.hosting,
        keep,
        keepRoot,
        ...(input.keepPrefixes ? { keepPrefixes: input.keepPrefixes } : {}),
      });

  const sources = inPlace ? [] : op === 'migrate' ? uniqueReleases([release, ...live.retained]) : [release];
  const copies: AtomicCopy[] = [];
  const planned = new Set<string>();
  let unchanged = inPlace ? inPlace.files + inPlace.assets : 0;
  let stray: string[] = [];
  for (const source of sources) {
    if (!source.manifest) continue;
    const own = source === release;
    const files = planReleaseFiles({
      release: { ...source, manifest: source.manifest },
      hosting: live.hosting,
      known: writers,
      ...(live.replaced ? { replaced: live.replaced } : {}),
      ...(own && input.unvouched ? { unvouched: input.unvouched } : {}),
    });
    for (const copy of files.copies) if (!planned.has(copy.key) && planned.add(copy.key)) copies.push(copy);
    if (own) ({ unchanged, stray } = files);
  }
  copies.sort((a, b) => GROUP_ORDER[a.group] - GROUP_ORDER[b.group] || a.key.localeCompare(b.key));

  const retained = liveChanges
    ? [
        deployId,
        ...live.retained.filter((r) => r.releaseId !== release.releaseId).map((r) => r.deployId),
      ].slice(0, Math.max(1, input.retain))
    : live.retained.map((r) => r.deployId);
  const noop =
    op === 'migrate'
      ? before !== null
      : copies.length === 0 &&
        samePointer(before, after) &&
        (!liveChanges || current?.releaseId === release.releaseId);
  return {
    mode: 'atomic',
    op,
    deployId,
    kind: op === 'rollback' ? 'rollback' : 'deploy',
    stack: input.stack,
    app: release.app,
    commit: release.commit,
    artifactDigest: release.artifactDigest,
    releaseId: release.releaseId,
    ...plannedWork({
      current,
      copies,
      unchanged,
      prune,
      retained,
      before: live.retained,
      artifactDigest: release.artifactDigest,
    }),
    invalidationPaths: [],
    noop,
    pointerBefore: before,
    pointerAfter: after,
    liveChanges,
    canaryAfter,
    leaving: { releaseIds: leavingIds, root: leavingRoot },
    verify:
      op === 'canary-abort'
        ? { releaseId: after.live, indexSha256: input.liveIndexSha256 ?? null, as: 'live' }
        : {
            releaseId: release.releaseId,
            indexSha256: inPlace
              ? inPlace.indexSha256
              : (release.manifest?.files['/index.html']?.sha256 ?? null),
            as: verifyAs,
          },
    inPlace: inPlace !== null,
    ...(stray.length > 0 ? { stray } : {}),
  };
}

/** What two builds with one content-hashed name and other bytes mean, and what to do. */
export const SHARED_ASSET_CLASH =
  'Atomic releases share such files, so one would replace the other. Nothing was changed. Rename it in the build (a content hash in the name), then publish and deploy again.';

/**
 * The copies that make a release servable: its content-hashed assets at their usual keys (only
 * those not there yet, by sha256 from the manifests that wrote them) and its other files under its
 * release prefix (only the missing ones, where its release index or a kept release of this build
 * vouches for the prefix: a content-addressed prefix holds nothing else).
 *
 * `unvouched` (unvouchedReleaseKeys): the prefix holds files no index vouches for, which another
 * build ground to the same id may have left (a deploy of it stopped before its index). Those keys
 * are copied again, and the keys under the prefix this build has no file for are `stray`: deleted
 * before the switch, or the release would serve them as its own.
 */
export function planReleaseFiles(input: {
  release: AtomicRelease & { manifest: Manifest };
  hosting: ReadonlyMap<string, number>;
  /** Releases that were deployed: their manifests say what their assets in the bucket hold. */
  known: readonly AtomicRelease[];
  /** Shared assets found replaced in the hosting bucket (AtomicLiveState.replaced). */
  replaced?: ReadonlySet<string>;
  unvouched?: ReadonlySet<string>;
}): { copies: AtomicCopy[]; unchanged: number; stray: string[] } {
  const { release, hosting, unvouched } = input;
  const copies: AtomicCopy[] = [];
  const own = new Set<string>();
  let unchanged = 0;
  for (const [path, entry] of Object.entries(release.manifest.files)) {
    const group = groupOf(path);
    const source = { app: release.app, commit: release.commit };
    if (group !== 'asset') {
      const key = releaseKeyOf(release.releaseId, path);
      own.add(key);
      if (!hosting.has(key)) copies.push({ path, key, group, ...entry, ...source, reason: 'new' });
      else if (unvouched?.has(key)) copies.push({ path, key, group, ...entry, ...source, reason: 'changed' });
      else unchanged++;
      continue;
    }
    const key = keyOf(path);
    const size = hosting.get(key);
    if (size === undefined) {
      copies.push({ path, key, group, ...entry, ...source, reason: 'new' });
      continue;
    }
    const owner = input.known.find((r) => r.manifest?.files[path]);
    const known = owner?.manifest?.files[path] ?? null;
    if (known && known.sha256 !== entry.sha256) {
      throw new FrontendOpsError(
        'CONFLICT',
        `${path} has other content in ${release.app}@${release.commit.slice(0, 7)} than in ${owner?.app}@${owner?.commit.slice(0, 7)}, which the site still serves, though its name says it is content-hashed. ${SHARED_ASSET_CLASH}`,
      );
    }
    // A shared asset a known release vouches for (same content, and the bucket's size agrees) is never
    // copied again: not even for other headers, which would change what the releases that serve it
    // get (a preview or canary, which changes nothing for visitors, rewriting the live script's type).
    // One whose size disagrees with its manifest, or that no release vouches for, is read back and
    // hashed before anything is written, and not copied when the same (artifact-copy.ts,
    // sharedAssetsToCopy). One found replaced in the bucket (replacedSharedAssets) is copied again.
    const replaced = known !== null && input.replaced?.has(key) === true;
    if (known !== null && known.size === size && !replaced) unchanged++;
    else copies.push({ path, key, group, ...entry, ...source, reason: replaced ? 'changed' : 'unverified' });
  }
  const stray = unvouched
    ? [...hosting.keys()].filter((k) => releaseIdOfKey(k) === release.releaseId && !own.has(k)).sort()
    : [];
  return { copies, unchanged, stray };
}

/**
 * The keys under a release's id (`present`: a listing) that nothing vouches are its build's, when
 * no release index is stored under the id and no kept release has it: all of them, unless the
 * operation stopped there (`interrupted`, its crash-recovery record's plan) was of this very build,
 * whose files are its files too; of those, only the ones it was copying over another's (reason
 * 'changed': they may not have landed). A build ground to the id of a deploy stopped before its
 * index copies its own files over the other's; that deploy's own build run again copies none again.
 */
export function unvouchedReleaseKeys(
  release: ReleaseIdRef,
  present: Iterable<string>,
  interrupted: Pick<AtomicPlan, 'releaseId' | 'artifactDigest' | 'copies'> | null,
): Set<string> {
  const under = [...present].filter((k) => releaseIdOfKey(k) === release.releaseId);
  if (interrupted?.releaseId !== release.releaseId || interrupted.artifactDigest !== release.artifactDigest)
    return new Set(under);
  const over = new Set(interrupted.copies.filter((c) => c.reason === 'changed').map((c) => c.key));
  return new Set(under.filter((k) => over.has(k)));
}

/**
 * Keys nothing needs any more: release prefixes of releases not kept, assets no kept release's
 * manifest names (none while a kept release has no manifest), and (once edges no longer serve it)
 * the bucket root of an in-place layout.
 */
export function planAtomicPrune(input: {
  hosting: ReadonlyMap<string, number>;
  keep: readonly AtomicRelease[];
  keepRoot: boolean;
  keepPrefixes?: readonly string[];
}): string[] {
  const ids = new Set(input.keep.map((r) => r.releaseId));
  // A kept release whose build is gone from the artifacts bucket (a lifecycle rule expired it) names
  // no assets, yet its pages still load them: while one is kept, no shared asset is pruned. (A release
  // named by id alone, such as the pointer's, counts as known when another entry has its manifest.)
  const described = new Set(input.keep.filter((r) => r.manifest !== null).map((r) => r.releaseId));
  const assetsUnknown = input.keep.some((r) => !described.has(r.releaseId));
  const assets = new Set(
    input.keep.flatMap((r) =>
      Object.keys(r.manifest?.files ?? {})
        .filter((p) => groupOf(p) === 'asset')
        .map(keyOf),
    ),
  );
  const keepPrefixes = input.keepPrefixes ?? [];
  return [...input.hosting.keys()]
    .filter((key) => {
      if (keepPrefixes.some((p) => key.startsWith(p))) return false;
      const id = releaseIdOfKey(key);
      if (id !== null) return !ids.has(id);
      if (key.startsWith(RELEASES_KEY_PREFIX)) return false;
      if (groupOf(`/${key}`) === 'asset') return !assetsUnknown && !assets.has(key);
      return !input.keepRoot;
    })
    .sort();
}

/**
 * What may be deleted now, after a switch: everything no kept release needs — kept are the releases
 * the pointer names, the last K (the state's live pointer), the canary, open previews, and whatever
 * a recent switch retired that edges may still serve. The root of an in-place layout is kept while
 * edges may still serve it (no pointer yet, or within the grace of the switch that replaced it).
 */
export function planAtomicPruneNow(input: {
  live: AtomicLiveState;
  now: number;
  keepPrefixes?: readonly string[];
}): string[] {
  const { live, now } = input;
  const named = live.pointer
    ? [live.pointer.live, ...(live.pointer.canary ? [live.pointer.canary] : [])]
    : [];
  const retiring = live.retiring.filter((r) => r.until > now);
  return planAtomicPrune({
    hosting: live.hosting,
    keep: [
      ...live.retained,
      ...(live.canary ? [live.canary] : []),
      ...live.previews,
      ...retiring.flatMap((r) => r.releases),
      ...named.map(idOnly),
    ],
    keepRoot: live.pointer === null || retiring.some((r) => r.root),
    ...(input.keepPrefixes ? { keepPrefixes: input.keepPrefixes } : {}),
  });
}

/** Every release the live state keeps: retained, the canary, open previews, those edges may still serve. */
export function keptReleases(live: AtomicLiveState): AtomicRelease[] {
  return [
    ...live.retained,
    ...(live.canary ? [live.canary] : []),
    ...live.previews,
    ...live.retiring.flatMap((r) => r.releases),
  ];
}

/** A build named by its release id: all a release id is checked against. */
type ReleaseIdRef = Pick<AtomicRelease, 'releaseId' | 'app' | 'commit' | 'artifactDigest'>;

/**
 * A release id names one build: 7 hex of its commit and 48 bits of a hash of its digest, which
 * whoever makes builds could grind to another release's id (with a commit of the same first 7 hex).
 * Such a build would be served as that release, whose files are in place under its id, and recorded
 * as itself: refused, CONFLICT, when a release the stack keeps (`kept`: retained, the canary, a
 * preview, one edges may still serve) or the release index stored under that id (its files still in
 * the hosting bucket: not kept, not yet pruned) has that id and another build. Every path that serves
 * a build by its id asks this: a switch (planAtomic, and prepare in deploy/atomic-apply.ts for an
 * index found under an id not kept) and a preview link (deploy/preview.ts). A release known by its id
 * alone (no digest) is not judged.
 */
export function assertOwnReleaseId(
  stack: string,
  release: ReleaseIdRef,
  kept: readonly ReleaseIdRef[],
): void {
  const other = kept.find(
    (r) =>
      r.releaseId === release.releaseId &&
      typeof r.artifactDigest === 'string' &&
      r.artifactDigest !== '' &&
      r.artifactDigest !== release.artifactDigest,
  );
  if (!other) return;
  throw new FrontendOpsError(
    'CONFLICT',
    `The release id ${release.releaseId} of ${release.app}@${release.commit.slice(0, 7)} (${release.artifactDigest}) is that of ${other.app}@${other.commit.slice(0, 7)}, another build (${other.artifactDigest}), whose files ${stack} keeps under that id: served under it, this build would show that release's files. Nothing was changed. ` +
      'Two builds whose ids agree were made so on purpose, most likely: have the artifacts bucket’s administrators find who published it, and publish the build again under a new commit.',
    { details: { releaseId: release.releaseId } },
  );
}

/** Every release whose manifest is known, by id (with the one being planned, when given). */
export function knownReleases(
  live: AtomicLiveState,
  release: AtomicRelease | null,
): Map<string, AtomicRelease> {
  const all: AtomicRelease[] = [...(release ? [release] : []), ...keptReleases(live)];
  const known = new Map<string, AtomicRelease>();
  for (const r of all) if (!known.get(r.releaseId)?.manifest) known.set(r.releaseId, r);
  return known;
}

function uniqueReleases<R extends AtomicRelease>(releases: readonly R[]): R[] {
  const seen = new Set<string>();
  return releases.filter((r) => !seen.has(r.releaseId) && seen.add(r.releaseId));
}

const idOnly = (releaseId: string): AtomicRelease => ({
  releaseId,
  app: '',
  commit: '',
  artifactDigest: '',
  manifest: null,
});

/** The one sentence for an atomic plan (CLI prompts, MCP results, approvals): names no bucket. */
export function describeAtomicPlan(plan: AtomicPlan): string {
  const what = `${plan.app}@${plan.commit.slice(0, 7)}`;
  const live = plan.fromCommit ? ` (live: ${plan.fromCommit.slice(0, 7)})` : '';
  const n = plan.copies.length;
  const files = `${n} file${n === 1 ? '' : 's'} to copy`;
  const pruned = describePrune(plan);
  const prune = pruned ? `, ${pruned}` : '';
  const k = plan.stray?.length ?? 0;
  const stray = k > 0 ? `, ${k} stray file${k === 1 ? '' : 's'} under its id to delete` : '';
  const tail = `${files}${stray}${prune}, one key write, nothing to invalidate`;
  if (plan.noop) {
    return plan.op === 'migrate'
      ? `${plan.stack} already serves atomic releases: nothing to do`
      : plan.op === 'canary-start'
        ? `${what} already gets ${plan.canaryAfter?.weight}% of ${plan.stack}'s visitors: nothing to do`
        : `${what} is already live on ${plan.stack}: nothing to do`;
  }
  switch (plan.op) {
    case 'deploy':
      return `deploy ${what} to ${plan.stack}${live}: ${tail}`;
    case 'rollback':
      return `roll back ${plan.stack} to ${what}${live}: ${tail}`;
    case 'canary-start':
      return `send ${plan.canaryAfter?.weight}% of ${plan.stack}'s visitors to ${what}${live}: ${tail}`;
    case 'canary-promote':
      return `promote the canary ${what} to live on ${plan.stack}${live}: ${tail}`;
    case 'canary-abort':
      return `end the canary ${what} on ${plan.stack}, everyone back on ${plan.fromCommit?.slice(0, 7) ?? 'the live release'}: ${tail}`;
    case 'migrate':
      return `serve ${plan.stack}'s live ${what} as an atomic release: ${tail}`;
  }
}
