/**
 * planDeploy: what a deploy must do, computed from data alone (the plan/apply split docs/architecture.md describes).
 * Change detection is by sha256 from the manifests of known releases — never mtime or ETag.
 */

import { groupOf } from './cache-policy.ts';
import { deployIdFor } from './ids.ts';
import { keyOf, sitePathOf } from './manifest.ts';
import type { FileGroup, Manifest } from './types.ts';

export interface Release {
  deployId: string;
  app: string;
  commit: string;
  artifactDigest: string;
  manifest: Manifest;
}

export interface LiveState {
  /** Every key in the hosting bucket, with its size. */
  hosting: ReadonlyMap<string, number>;
  /** Releases kept for open tabs, newest (the live one) first; empty before the first deploy. */
  releases: readonly Release[];
  /** Keys an interrupted deploy may have overwritten: their content is unknown, so they are copied again. */
  uncertainKeys: ReadonlySet<string>;
}

export interface PlanInput {
  stack: string;
  kind: 'deploy' | 'rollback';
  manifest: Manifest;
  artifactDigest: string;
  live: LiveState;
  /** How many releases (the new one included) keep their files in the hosting bucket. */
  retain: number;
  /** false: never delete anything from the hosting bucket (a sync command without --delete). */
  prune: boolean;
  /** Keys under these prefixes are never pruned (e.g. state kept in the hosting bucket). */
  keepPrefixes?: readonly string[];
}

export interface PlannedCopy {
  path: string;
  key: string;
  group: FileGroup;
  sha256: string;
  size: number;
  contentType: string;
  cacheControl: string;
  reason: 'new' | 'changed' | 'unverified';
}

export interface DeployPlan {
  deployId: string;
  kind: 'deploy' | 'rollback';
  stack: string;
  app: string;
  commit: string;
  artifactDigest: string;
  fromDeployId: string | null;
  fromCommit: string | null;
  /** In write order: content-hashed assets, other files, HTML last. */
  copies: PlannedCopy[];
  unchanged: number;
  bytesToCopy: number;
  /** Keys no retained release references, deleted after the live pointer moves. */
  prune: string[];
  /** Deploy ids whose files stay, newest first, this one included. */
  retained: string[];
  /**
   * The releases retained before that this change leaves out, newest first: the ones whose files the
   * prune takes (all but those another retained release shares). Absent in plans made before it was.
   */
  unretained?: UnretainedRelease[];
  /** Site paths whose cached copy is wrong once this deploy lands. */
  invalidationPaths: string[];
  /** Nothing to do: this artifact is live and every file is in place. */
  noop: boolean;
  /**
   * The stack whose publish log recorded the build, where it is not this stack's own (one its
   * configuration names in `buildsFrom`): said to whoever approves the change (describePlan).
   */
  publishedIn?: string;
  /**
   * That log's head as the check that found the build there read it ("<seq>:<hash>"): the change's
   * entry names it (publishedInFacts), and `audit verify` holds that log to it.
   */
  publishedInHead?: string;
  /**
   * A promote (of the live release, which changes no file, or of another): the pin it lifts, as read
   * where it was planned (null: none; absent on every other plan). An approval binds it (changeDigest),
   * so an approval to lift one pin never lifts another set after it, nor goes past it.
   */
  clearsPin?: PinLifted | null;
}

/** Which pin a promote lifts, as its approval binds it: the release pinned, who pinned it and when. */
export interface PinLifted {
  deployId: string;
  commit: string;
  by: string;
  at: string;
}

/** A release a change stops retaining (DeployPlan.unretained). */
export interface UnretainedRelease {
  deployId: string;
  app: string;
  commit: string;
}

/**
 * The releases of `before` (newest first) that `retained` (deploy ids) leaves out; one of the same
 * build as the release going live is that release again, not one that goes.
 */
export function unretainedReleases(
  before: readonly (UnretainedRelease & { artifactDigest: string })[],
  retained: readonly string[],
  artifactDigest: string,
): UnretainedRelease[] {
  const kept = new Set(retained);
  return before
    .filter((r) => !kept.has(r.deployId) && r.artifactDigest !== artifactDigest)
    .map((r) => ({ deployId: r.deployId, app: r.app, commit: r.commit }));
}

/**
 * What every plan says alike, in place and atomic (planDeploy, planAtomic), of the work it decided:
 * the release it replaces (`current`: the one live before, null for none), its copies and the bytes
 * they move, its prune, and the releases it retains (deploy ids, newest first) with the ones retained
 * before (`before`) that it leaves out (unretainedReleases, of the build going live: `artifactDigest`),
 * a field left out when there are none.
 */
export function plannedWork<C extends PlannedCopy>(work: {
  current: { deployId: string; commit: string } | null;
  copies: C[];
  unchanged: number;
  prune: string[];
  retained: string[];
  before: readonly (UnretainedRelease & { artifactDigest: string })[];
  artifactDigest: string;
}): Pick<
  DeployPlan,
  'fromDeployId' | 'fromCommit' | 'unchanged' | 'bytesToCopy' | 'prune' | 'retained' | 'unretained'
> & { copies: C[] } {
  const { current, copies, retained } = work;
  const unretained = unretainedReleases(work.before, retained, work.artifactDigest);
  return {
    fromDeployId: current?.deployId ?? null,
    fromCommit: current?.commit ?? null,
    copies,
    unchanged: work.unchanged,
    bytesToCopy: copies.reduce((sum, c) => sum + c.size, 0),
    prune: work.prune,
    retained,
    ...(unretained.length ? { unretained } : {}),
  };
}

/**
 * The plan's prune in words, naming the releases it stops retaining: "3 old files to prune (1a2b3c4
 * is no longer retained)"; "" when it prunes nothing and keeps every release.
 */
export function describePrune(plan: Pick<DeployPlan, 'prune' | 'unretained'>): string {
  const n = plan.prune.length;
  const files = n ? `${n} old file${n === 1 ? '' : 's'} to prune` : '';
  const gone = plan.unretained ?? [];
  if (gone.length === 0) return files;
  const shas = gone.map((r) => r.commit.slice(0, 7));
  const named = shas.length === 1 ? shas[0] : `${shas.slice(0, -1).join(', ')} and ${shas.at(-1)}`;
  const words = `${named} ${shas.length === 1 ? 'is' : 'are'} no longer retained`;
  return files ? `${files} (${words})` : words;
}

/** The fields that name a deploy, shared by its plan, summary and record. */
/** What names one deployment wherever it appears: its summary, its record, its audit entry. */
export interface DeployIdentity {
  deployId: string;
  stack: string;
  kind: 'deploy' | 'rollback';
  app: string;
  commit: string;
  artifactDigest: string;
}

export const deployIdentity = (plan: DeployPlan): DeployIdentity => ({
  deployId: plan.deployId,
  stack: plan.stack,
  kind: plan.kind,
  app: plan.app,
  commit: plan.commit,
  artifactDigest: plan.artifactDigest,
});

const GROUP_ORDER: Record<FileGroup, number> = { asset: 0, other: 1, html: 2 };

export function planDeploy(input: PlanInput): DeployPlan {
  const { manifest, live } = input;
  const current = live.releases[0] ?? null;
  const deployId = deployIdFor({
    stack: input.stack,
    app: manifest.app,
    commit: manifest.commit,
    artifactDigest: input.artifactDigest,
    fromDeployId: current?.deployId ?? null,
  });

  const copies: PlannedCopy[] = [];
  let unchanged = 0;
  for (const [path, entry] of Object.entries(manifest.files)) {
    const key = keyOf(path);
    const reason = copyReason(path, entry, live);
    if (reason === null) {
      unchanged++;
      continue;
    }
    copies.push({ path, key, group: groupOf(path), ...entry, reason });
  }
  copies.sort((a, b) => GROUP_ORDER[a.group] - GROUP_ORDER[b.group] || a.key.localeCompare(b.key));

  // A release of the same artifact is this one again (a redeploy or repair): it does not count twice.
  const retainedReleases = [
    { deployId, manifest },
    ...live.releases.filter((r) => r.deployId !== deployId && r.artifactDigest !== input.artifactDigest),
  ].slice(0, Math.max(1, input.retain));
  const referenced = new Set(retainedReleases.flatMap((r) => Object.keys(r.manifest.files).map(keyOf)));
  const keep = input.keepPrefixes ?? [];
  const prune = input.prune
    ? [...live.hosting.keys()]
        .filter((key) => !referenced.has(key) && !keep.some((p) => key.startsWith(p)))
        .sort()
    : [];

  const invalidationPaths = invalidationPathsFor(copies, prune, live.hosting);
  return {
    deployId,
    kind: input.kind,
    stack: input.stack,
    app: manifest.app,
    commit: manifest.commit,
    artifactDigest: input.artifactDigest,
    ...plannedWork({
      current,
      copies,
      unchanged,
      prune,
      retained: retainedReleases.map((r) => r.deployId),
      before: live.releases,
      artifactDigest: input.artifactDigest,
    }),
    invalidationPaths,
    noop:
      copies.length === 0 &&
      prune.length === 0 &&
      current !== null &&
      current.artifactDigest === input.artifactDigest,
  };
}

/** null when the hosting bucket already holds exactly this file with these headers. */
function copyReason(
  path: string,
  entry: Manifest['files'][string],
  live: LiveState,
): PlannedCopy['reason'] | null {
  const key = keyOf(path);
  const size = live.hosting.get(key);
  if (size === undefined) return 'new';
  if (live.uncertainKeys.has(key)) return 'unverified';
  // The newest retained release that has this path wrote what is there now.
  const known = live.releases.find((r) => r.manifest.files[path])?.manifest.files[path];
  if (!known) return 'unverified';
  const same =
    known.sha256 === entry.sha256 &&
    known.size === size &&
    known.contentType === entry.contentType &&
    known.cacheControl === entry.cacheControl;
  return same ? null : 'changed';
}

/**
 * A cached copy is wrong when its object changed, when it was deleted, and — for files without a
 * content hash — when it is new (the CDN may hold a cached 404 for it). New hashed assets were never
 * requested, so they are never invalidated. index.html is also cached under its directory's path.
 */
function invalidationPathsFor(
  copies: readonly PlannedCopy[],
  prune: readonly string[],
  hosting: ReadonlyMap<string, number>,
): string[] {
  const paths = new Set<string>();
  const add = (key: string) => {
    paths.add(sitePathOf(key));
    if (key === 'index.html' || key.endsWith('/index.html')) {
      const dir = key.slice(0, -'index.html'.length);
      paths.add(`/${dir}`);
      if (dir) paths.add(`/${dir.slice(0, -1)}`);
    }
  };
  for (const copy of copies) {
    if (hosting.has(copy.key) || copy.group !== 'asset') add(copy.key);
  }
  for (const key of prune) {
    if (groupOf(sitePathOf(key)) !== 'asset') add(key);
  }
  return [...paths].sort();
}
