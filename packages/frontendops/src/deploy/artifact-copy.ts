/**
 * Every copy of a published file into the hosting bucket (a deploy's, a rollback's, an atomic
 * release's, and a stopped deploy putting the live release's files back) goes through here.
 *
 * A published build is immutable by policy (the publisher role may create under its prefix, never
 * replace), but whoever administers the artifacts bucket can still replace a file after publishing.
 * Without a check, the next deploy copied that file, and its record and audit entry named the
 * published build's digest: the site served what nobody published while the audit said otherwise.
 * So each copy asks S3 for the SHA-256 of what it copied (answered in the copy's own response, no
 * extra request) and holds it against the manifest's: another file stops the change, TAMPERED, and
 * says which, and the copy that landed is removed (run again, the release would otherwise count it
 * as copied). A server that answers no checksum (some S3-compatible ones) leaves the copy unchecked,
 * and the operator is told so once; S3 and the embedded server always answer one.
 *
 * A manifest replaced together with its files passes that check: each file is "the manifest's". A
 * build the stack had live is caught another way (assertAsDeployed): the stack recorded its digest
 * when it deployed it, and publish never gives a commit other content, so a manifest whose digest
 * differs now was replaced since.
 */
import { createHash } from 'node:crypto';
import pMap from 'p-map';
import { type AtomicCopy, SHARED_ASSET_CLASH } from '../engine/atomic-plan.ts';
import { groupOf } from '../engine/cache-policy.ts';
import { shortSha } from '../engine/ids.ts';
import { artifactDigest, artifactFileKey, keyOf, shortened } from '../engine/manifest.ts';
import type { FileEntry, Manifest } from '../engine/types.ts';
import { FrontendOpsError } from '../errors.ts';
import type { Site } from '../site.ts';
import { recordName } from '../state/names.ts';
import type { RecordedBuild } from './types.ts';

/** Said once per site when the S3 endpoint answers a copy without its SHA-256. */
export const UNCHECKED_COPIES =
  'The S3 endpoint answered a copy without its SHA-256, so files copied from the artifacts bucket are not checked against their manifest here (S3 and the embedded environment answer one; some S3-compatible servers do not).';

export async function copyArtifactFile(
  site: Site,
  release: { app: string; commit: string },
  path: string,
  key: string,
  file: Pick<FileEntry, 'sha256' | 'contentType' | 'cacheControl'>,
): Promise<void> {
  const copied = await site.hosting.copyFrom(
    { bucket: site.artifacts.bucket, key: artifactFileKey(release.app, release.commit, path) },
    key,
    { contentType: file.contentType, cacheControl: file.cacheControl, metadata: { sha256: file.sha256 } },
  );
  if (copied.sha256 === null) {
    site.notify(UNCHECKED_COPIES);
    return;
  }
  if (copied.sha256 === file.sha256) return;
  // The copy has landed: removed at once, so no run again takes it for this release's file and
  // nothing serves it (a visible file the live release has is then put back by the caller).
  await site.hosting.delete([key]).catch(() => undefined);
  throw new FrontendOpsError(
    'TAMPERED',
    `The file ${shortened(path)} of ${release.app}@${release.commit.slice(0, 7)} in the artifacts bucket is not the one published: ` +
      `its SHA-256 is ${copied.sha256.slice(0, 16)}…, the manifest's ${file.sha256.slice(0, 16)}…. It was replaced after publishing. ` +
      'Ask the artifacts bucket’s administrators who replaced it (its object versions keep the published one), and deploy another published commit meanwhile.',
    { details: { path, expected: file.sha256, found: copied.sha256 } },
  );
}

/**
 * Atomic releases share their content-hashed assets at one key. One already in the hosting bucket
 * that no known release's manifest vouches for (its build expired from the artifacts bucket, or a
 * release FrontendOps no longer knows of wrote it) may be what the live site serves: a copy over it
 * would change a live release's file, even through a change no visitor should see (a preview). So
 * it is read back and hashed first; other content than this build's is refused (CONFLICT) before
 * anything is written. The same content is already in place: it is not copied again, so a build's
 * manifest cannot rewrite the headers a live release serves it with. One found replaced in the
 * bucket (withReplacedAssets) is said (replacedAssetWords). Returns the copies to make.
 * Only asset copies the plan could not vouch for are read: a rare path.
 */
export async function sharedAssetsToCopy<C extends AtomicCopy>(
  site: Site,
  copies: readonly C[],
): Promise<C[]> {
  for (const copy of copies)
    if (copy.group === 'asset' && copy.reason === 'changed')
      site.notify(replacedAssetWords(site.target.stack, copy));
  const unverified = copies.filter((c) => c.group === 'asset' && c.reason === 'unverified');
  const inPlace = new Set<string>();
  await pMap(
    unverified,
    async (copy) => {
      const there = await site.hosting.get(copy.key);
      if (!there) return; // gone since: the copy is what it needs
      const sha256 = createHash('sha256').update(there.body).digest('hex');
      if (sha256 === copy.sha256) {
        inPlace.add(copy.key);
        return;
      }
      throw new FrontendOpsError(
        'CONFLICT',
        `${shortened(copy.path)} has other content in ${copy.app}@${copy.commit.slice(0, 7)} than the hosting bucket holds (SHA-256 ${sha256.slice(0, 16)}…), though its name says it is content-hashed, and no release FrontendOps knows of vouches for what the bucket holds there (its build is no longer in the artifacts bucket, or the file is not what its build says), so the site may be serving it. ` +
          SHARED_ASSET_CLASH,
        { details: { path: copy.path, expected: copy.sha256, found: sha256 } },
      );
    },
    { concurrency: 8 },
  );
  return inPlace.size ? copies.filter((c) => !inPlace.has(c.key)) : [...copies];
}

/**
 * A build's shared assets already in the hosting bucket whose bytes are not its manifest's: replaced
 * there outside FrontendOps (by someone who can write the hosting bucket), though a kept release's
 * manifest vouches for them, so that a plan would leave them served. Each is held first to what the
 * listing says: its size, and its ETag against the published file's (one LIST of the build's files in
 * the artifacts bucket per 1,000); only one that differs there (replaced, or a bucket whose ETags are
 * no digest of the bytes, as with SSE-KMS) is read back and hashed. Returns their keys.
 */
export async function replacedSharedAssets(
  site: Site,
  build: { app: string; commit: string; manifest: Manifest },
  hosting: ReadonlyMap<string, number>,
  etags: ReadonlyMap<string, string>,
): Promise<Set<string>> {
  const { app, commit } = build;
  const there = Object.entries(build.manifest.files).filter(
    ([path]) => groupOf(path) === 'asset' && hosting.has(keyOf(path)),
  );
  if (there.length === 0) return new Set();
  const listed = await site.artifacts.list(artifactFileKey(app, commit, '/'));
  const published = new Map(listed.map((o) => [o.key, o.etag]));
  const differing = there.filter(
    ([path, entry]) =>
      hosting.get(keyOf(path)) !== entry.size ||
      etags.get(keyOf(path)) !== published.get(artifactFileKey(app, commit, path)),
  );
  const replaced = new Set<string>();
  await pMap(
    differing,
    async ([path, entry]) => {
      const object = await site.hosting.get(keyOf(path));
      if (object && createHash('sha256').update(object.body).digest('hex') !== entry.sha256)
        replaced.add(keyOf(path));
    },
    { concurrency: 8 },
  );
  return replaced;
}

/**
 * The live state a plan of `build`'s files reads (planAtomic, planReleaseFiles), with the shared
 * assets of it found replaced in the hosting bucket (replacedSharedAssets), where its listing has the
 * ETags: a deploy and a preview copy those again (sharedAssetsToCopy says so).
 */
export async function withReplacedAssets<
  L extends { hosting: ReadonlyMap<string, number>; etags?: ReadonlyMap<string, string> },
>(
  site: Site,
  build: { app: string; commit: string; manifest: Manifest },
  live: L,
): Promise<L & { replaced?: ReadonlySet<string> }> {
  return live.etags
    ? { ...live, replaced: await replacedSharedAssets(site, build, live.hosting, live.etags) }
    : live;
}

/** Said of a shared asset found replaced in the hosting bucket, which the change copies again. */
export const replacedAssetWords = (stack: string, copy: AtomicCopy): string =>
  `${shortened(copy.path)} (${copy.key}) was replaced in the hosting bucket of ${stack} outside FrontendOps (by someone who can write that bucket): its bytes are not what ${copy.app}@${copy.commit.slice(0, 7)} published under that name, though a kept release vouches for them, so the releases that load it may serve what was written there. This change copies it again from the build before it switches; the bucket's object versions and CloudTrail say who wrote it.`;

/**
 * Refuses (TAMPERED), before anything is written, a manifest of a build the stack recorded with
 * another digest (a retained release, the live one, or the deployment a rollback goes back to).
 */
export function assertAsDeployed(
  site: Site,
  manifest: Manifest,
  recorded: readonly RecordedBuild[],
  /** What the refusal left, when not "nothing" (a stopped deploy putting the live release back). */
  outcome = 'Nothing was changed.',
): void {
  const now = artifactDigest(manifest);
  const then = recorded.find(
    (r) => r.app === manifest.app && r.commit === manifest.commit && r.artifactDigest !== now,
  );
  if (then) throw notAsDeployed(site, then, now, outcome);
}

/** The refusal of a build whose digest now (`now`) is not the one `then` recorded. */
export function notAsDeployed(
  site: Site,
  then: RecordedBuild,
  now: string,
  outcome = 'Nothing was changed.',
): FrontendOpsError {
  const short = (digest: string) => `${digest.slice(0, 19)}…`;
  return new FrontendOpsError(
    'TAMPERED',
    `The manifest of ${then.app}@${then.commit.slice(0, 7)} in the artifacts bucket is not the one deployed to ${site.target.stack}${then.deployId ? ` as ${then.deployId}` : ''} ` +
      `(${short(then.artifactDigest)} then, ${short(now)} now): it was replaced, with its files, after publishing. ${outcome} ` +
      'Ask the artifacts bucket’s administrators who replaced it (its object versions keep the published one; a build deleted by a lifecycle rule and published again that does not reproduce byte for byte reads the same), and deploy or roll back to another release meanwhile.' +
      (then.deployId
        ? ` If \`frontendops audit verify\` reports the record of ${then.deployId} (${recordName(then.deployId)} under the state prefix) as written around the chain, that record is what was forged, not the build: delete it after checking.`
        : ''),
    {
      details: {
        app: then.app,
        commit: then.commit,
        deployId: then.deployId,
        expected: then.artifactDigest,
        found: now,
      },
    },
  );
}

/**
 * A rollback's destination chosen from live.json before the lock: the pointer read there was not yet
 * held to the audit chain (the lock's check does that), so someone who can write the state bucket
 * could have put a build there that the stack never had live, and put the pointer back before the
 * check. Under the lock, the destination must be a build the checked pointer keeps (the same app,
 * commit and digest: a rollback keeps a release under its own new deploy id), CONFLICT otherwise,
 * with nothing of the rollback written; a genuine change of the pointer meanwhile reads the same.
 */
export function keptOrRefused(site: Site, recorded: RecordedBuild, kept: readonly RecordedBuild[]): void {
  if (!recorded.fromPointer) return;
  const same = (r: RecordedBuild) =>
    r.app === recorded.app && r.commit === recorded.commit && r.artifactDigest === recorded.artifactDigest;
  if (kept.some(same)) return;
  throw new FrontendOpsError(
    'CONFLICT',
    `${recorded.app}@${shortSha(recorded.commit)} (${recorded.deployId}), which this rollback chose from the live pointer before it took the lock, is a build the live pointer of ${site.target.stack} no longer keeps: it changed meanwhile. The rollback was not made. Run it again to choose from the releases kept now (\`frontendops status --stack ${site.target.stack}\`).`,
  );
}
