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
import {
  type AtomicCopy,
  type AtomicLiveState,
  knownReleases,
  SHARED_ASSET_CLASH,
} from '../engine/atomic-plan.ts';
import { groupOf } from '../engine/cache-policy.ts';
import { shortSha } from '../engine/ids.ts';
import { artifactDigest, artifactFileKey, keyOf, shortened } from '../engine/manifest.ts';
import type { FileEntry, Manifest } from '../engine/types.ts';
import { FrontendOpsError } from '../errors.ts';
import type { ObjectHead, ObjectSummary } from '../ports.ts';
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

/** The HEADs of shared assets sent at once (as many as a deploy's copies). */
const HEADS_AT_ONCE = 32;

/** The headers a build gives a file (its manifest's): a shared asset served with others was rewritten. */
type Headers = Pick<FileEntry, 'contentType' | 'cacheControl'>;

/**
 * What a HEAD of a shared asset in the hosting bucket says of it against its manifest entry:
 * `replaced` (other headers than any known build gives it, a Content-Encoding, which no build gives,
 * another size, or another SHA-256 as the server keeps it), `as-published` (the server's SHA-256 is
 * the manifest's, or, where it keeps none, the ETag is the published file's), or `read-back` (only its
 * bytes can tell: an ETag that is no digest of the bytes, as on an SSE-KMS bucket, where the server
 * keeps no SHA-256). `publishedEtag` undefined: not listed yet (asked for only when needed).
 */
export function sharedAssetVerdict(
  head: Pick<ObjectHead, 'size' | 'etag' | 'contentType' | 'cacheControl' | 'contentEncoding' | 'sha256'>,
  entry: Pick<FileEntry, 'sha256' | 'size'>,
  accepted: readonly Headers[],
  publishedEtag: string | undefined,
): 'replaced' | 'as-published' | 'read-back' {
  if (head.contentEncoding) return 'replaced';
  if (!accepted.some((h) => h.contentType === head.contentType && h.cacheControl === head.cacheControl))
    return 'replaced';
  if (head.size !== entry.size) return 'replaced';
  if (head.sha256) return head.sha256 === entry.sha256 ? 'as-published' : 'replaced';
  return publishedEtag !== undefined && head.etag === publishedEtag ? 'as-published' : 'read-back';
}

/**
 * A build's shared assets in the hosting bucket that are not as its manifest says: replaced there
 * outside FrontendOps (by someone who can write the hosting bucket), bytes or headers, though a kept
 * release's manifest vouches for them, so that a plan or a switch would leave them served.
 *
 * A plan (`hosting`: the keys it listed, with their `etags`) and a switch to a release in place
 * (`listed`: its shared assets as a listing of their folders shows them) hold each to its size and
 * ETag as the listing shows them, so that a deploy or a rollback stays a few requests whatever the
 * site's size, and ask for one (a HEAD: sharedAssetVerdict, its headers and the SHA-256 S3 keeps) only
 * where those do not tell (an SSE-KMS ETag, or one not the published file's); for a switch an asset
 * gone counts too. Headers rewritten in place (same bytes, size and ETag) are seen only on such a
 * HEAD: a HEAD of every asset would cost a deploy one request per asset (ten times the requests of an
 * incremental deploy of 800 files). A plan whose listing has no ETags asks for each one there.
 * Where no SHA-256 answers, the ETag is held to the published file's (one LIST of the build's files
 * in the artifacts bucket per 1,000), and only one whose ETag differs is read back and hashed.
 * `known`: the manifests of the other known releases, asked for only when an asset's headers are
 * not this build's (an older build may have written it with its own; where one is null, its build
 * pruned from the artifacts bucket, those headers are not judged). Returns their keys.
 */
export async function replacedSharedAssets(
  site: Site,
  build: { app: string; commit: string; manifest: Manifest },
  present:
    | { hosting: ReadonlyMap<string, number>; etags?: ReadonlyMap<string, string> }
    | { listed: ReadonlyMap<string, ObjectSummary> },
  known: () => Promise<readonly (Manifest | null)[]>,
): Promise<Set<string>> {
  const { app, commit } = build;
  const listed = 'listed' in present ? present.listed : null;
  const hosting = 'hosting' in present ? present.hosting : null;
  const etags = 'hosting' in present ? present.etags : undefined;
  /** What the listing read for this plan or switch shows of a key: its size and ETag. */
  const summaryOf = (key: string): ObjectSummary | undefined => {
    if (listed) return listed.get(key);
    const [size, etag] = [hosting?.get(key), etags?.get(key)];
    return size !== undefined && etag !== undefined ? { key, size, etag } : undefined;
  };
  const there = Object.entries(build.manifest.files).filter(
    ([path]) => groupOf(path) === 'asset' && (hosting === null || hosting.has(keyOf(path))),
  );
  const replaced = new Set<string>();
  if (there.length === 0) return replaced;
  let published: Promise<Map<string, string>> | undefined;
  const publishedEtag = async (path: string) => {
    published ??= site.artifacts
      .list(artifactFileKey(app, commit, '/'))
      .then((all) => new Map(all.map((o) => [o.key, o.etag])));
    return (await published).get(artifactFileKey(app, commit, path));
  };
  let others: Promise<readonly (Manifest | null)[]> | undefined;
  /** The headers known builds give `path`; null where a known release's build is gone (pruned). */
  const headersOf = async (path: string): Promise<Headers[] | null> => {
    others ??= known();
    const manifests = await others;
    if (manifests.includes(null)) return null;
    return manifests.flatMap((m) => (m?.files[path] ? [m.files[path]] : []));
  };
  const judge = async (path: string, entry: FileEntry, head: Parameters<typeof sharedAssetVerdict>[0]) => {
    // Headers other than this build's may be another known build's, which wrote it first. Where a
    // known release's build is gone from the artifacts bucket, nothing says which it gave: its bytes
    // decide (and a Content-Encoding, which no build gives).
    const same = head.contentType === entry.contentType && head.cacheControl === entry.cacheControl;
    const theirs = same ? [] : await headersOf(path);
    const accepted = [entry, ...(theirs ?? [])];
    const judged = theirs
      ? head
      : { ...head, contentType: entry.contentType, cacheControl: entry.cacheControl };
    const verdict = sharedAssetVerdict(judged, entry, accepted, undefined);
    return verdict === 'read-back'
      ? sharedAssetVerdict(judged, entry, accepted, await publishedEtag(path))
      : verdict;
  };
  // A HEAD carries no body: asked for as many at once as copies are; a read back, 8 at once.
  const readBack: (readonly [string, FileEntry])[] = [];
  await pMap(
    there,
    async ([path, entry]) => {
      const key = keyOf(path);
      const summary = summaryOf(key);
      let verdict: ReturnType<typeof sharedAssetVerdict> | null = null;
      if (listed && !summary) verdict = 'replaced';
      else if (summary) {
        // A listing shows no headers: its size and ETag, as if its headers were the manifest's.
        verdict = await judge(path, entry, {
          ...summary,
          contentType: entry.contentType,
          cacheControl: entry.cacheControl,
        });
      }
      if (verdict === null || (summary && verdict === 'read-back')) {
        const head = await site.hosting.head(key);
        if (!head) verdict = listed ? 'replaced' : null;
        else verdict = await judge(path, entry, head);
      }
      if (verdict === 'replaced') replaced.add(key);
      if (verdict === 'read-back') readBack.push([path, entry]);
    },
    { concurrency: HEADS_AT_ONCE },
  );
  await pMap(
    readBack,
    async ([path, entry]) => {
      const object = await site.hosting.get(keyOf(path));
      if (object ? createHash('sha256').update(object.body).digest('hex') !== entry.sha256 : listed !== null)
        replaced.add(keyOf(path));
    },
    { concurrency: 8 },
  );
  return replaced;
}

/**
 * The shared assets of `manifest` as listings of their folders show them (one LIST per folder per
 * 1,000 keys; an asset at the root is listed by its own key): what a switch holds them to.
 */
export async function listedSharedAssets(
  site: Site,
  manifest: Manifest,
): Promise<Map<string, ObjectSummary>> {
  const keys = Object.keys(manifest.files)
    .filter((p) => groupOf(p) === 'asset')
    .map(keyOf);
  const prefixes = new Set(keys.map((k) => (k.includes('/') ? k.slice(0, k.lastIndexOf('/') + 1) : k)));
  const wanted = new Set(keys);
  const listings = await Promise.all([...prefixes].map((p) => site.hosting.list(p)));
  return new Map(listings.flat().flatMap((o) => (wanted.has(o.key) ? [[o.key, o] as const] : [])));
}

/**
 * The live state a plan of `build`'s files reads (planAtomic, planReleaseFiles), with the shared
 * assets of it found replaced in the hosting bucket (replacedSharedAssets): a deploy and a preview
 * copy those again (sharedAssetsToCopy says so).
 */
export async function withReplacedAssets<L extends AtomicLiveState>(
  site: Site,
  build: { app: string; commit: string; manifest: Manifest },
  live: L,
): Promise<L & { replaced?: ReadonlySet<string> }> {
  const manifests = async () => [...knownReleases(live, null).values()].map((r) => r.manifest);
  const present = { hosting: live.hosting, ...(live.etags ? { etags: live.etags } : {}) };
  return { ...live, replaced: await replacedSharedAssets(site, build, present, manifests) };
}

/** Said of a shared asset found replaced in the hosting bucket, which the change copies again. */
export const replacedAssetWords = (stack: string, copy: AtomicCopy): string =>
  `${shortened(copy.path)} (${copy.key}) was replaced in the hosting bucket of ${stack} outside FrontendOps (by someone who can write that bucket): its bytes or headers are not what ${copy.app}@${copy.commit.slice(0, 7)} published under that name, though a kept release vouches for them, so the releases that load it may serve what was written there. This change copies it again from the build before it switches; the bucket's object versions and CloudTrail say who wrote it.`;

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
