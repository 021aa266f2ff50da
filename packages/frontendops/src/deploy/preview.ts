/**
 * Preview links: any published build — a retained release, the canary, or a build never deployed —
 * opened at the site's own URL before (or without) it going live, through a signed, expiring link
 * (atomic/preview-token.ts; the viewer-request function checks it against the secret in the
 * KeyValueStore). The release's missing files are uploaded first, as a deploy would, without
 * touching the pointer; the open preview is recorded so that pruning keeps it until it expires.
 */
import { PREVIEW_HOURS, previewSeconds } from '../atomic/preview-hours.ts';
import {
  MAX_PREVIEW_SECONDS,
  PREVIEW_COOKIE,
  PREVIEW_PARAM,
  previewUrl,
  signPreviewToken,
} from '../atomic/preview-token.ts';
import {
  assertOwnReleaseId,
  planReleaseFiles,
  releaseIdFor,
  unvouchedReleaseKeys,
} from '../engine/atomic-plan.ts';
import { checkDeployId, shortSha } from '../engine/ids.ts';
import { artifactDigest } from '../engine/manifest.ts';
import type { DeployPlan } from '../engine/plan.ts';
import { badInput, FrontendOpsError, holding } from '../errors.ts';
import type { Site } from '../site.ts';
import type { ReleaseNameRef } from '../state/atomic.ts';
import { digestOrNull, stateDigest } from '../state/audit.ts';
import { ATOMIC_STATE, releaseIndexName } from '../state/names.ts';
import { assertReadAsRecorded } from '../state/recorded-state.ts';
import { appendOwnEntry, publishedInFacts } from './apply.ts';
import { assertAsDeployed, sharedAssetsToCopy, withReplacedAssets } from './artifact-copy.ts';
import {
  type AtomicOptions,
  copyFiles,
  missingFiles,
  nowOf,
  readStoreHeldToAnchor,
  releaseIndexOf,
  releaseKeysPresent,
  settleAtomic,
  sharedAssetsNotInPlace,
} from './atomic-apply.ts';
import {
  keptRefs,
  loadAtomicLiveState,
  manifestCache,
  readAtomicContext,
  writeAtomicStateOver,
} from './atomic-live.ts';
import { verifyReleaseServed } from './atomic-verify.ts';
import { takeDeployLockReading } from './deploy-lock.ts';
import { publishedBuild, requireManifest } from './live.ts';
import { resolvePublishedCommit } from './publish.ts';
import type { Verification } from './verify.ts';

export interface PreviewOptions
  extends Omit<AtomicOptions, 'dryRun' | 'stopBeforeInvalidation' | 'rollbackOnFailure'> {
  /** A deployment of this stack (its id, as history shows it)… */
  deployId?: string;
  /** …or a published commit (a short sha is enough) of `app`. */
  commit?: string;
  app?: string;
  /** How long the link works (default one day, at most seven). */
  ttlSeconds?: number;
  /** Fetch the site through the link until it shows the release (default: when the stack has a site URL). */
  verify?: boolean;
}

export interface PreviewLink {
  url: string;
  releaseId: string;
  app: string;
  commit: string;
  /** The deployment it was chosen by, when one was named. */
  deployId: string | null;
  expiresAt: string;
  /** Files uploaded to make the release servable (0 when it was in place). */
  copied: number;
  verification: Verification | null;
}

export async function previewLink(site: Site, options: PreviewOptions): Promise<PreviewLink> {
  const siteUrl = site.target.siteUrl;
  if (!siteUrl) {
    throw badInput(
      `${site.target.stack} has no siteUrl output, so there is no address to preview a release at.`,
    );
  }
  const ttl = options.ttlSeconds ?? previewSeconds(PREVIEW_HOURS.default);
  if (!Number.isFinite(ttl) || ttl < 60 || ttl > MAX_PREVIEW_SECONDS) {
    throw badInput(`A preview link lives from 60 seconds to ${PREVIEW_HOURS.max} hours, not ${ttl} seconds.`);
  }
  if ((options.deployId === undefined) === (options.commit === undefined)) {
    throw badInput('Name the release to preview by its deploy id or by a published commit (one of them).');
  }
  if (options.deployId !== undefined)
    checkDeployId(options.deployId, 'See `frontendops history` for deploy ids. Nothing was changed.');
  // A log the preview's own append would refuse, or a chain cut back past the head the store
  // anchors, stops it with the lock, before a stopped change is finished and before its copies and state.
  const { lock, first } = await takeDeployLockReading(
    site,
    options,
    async () => undefined,
    () => readStoreHeldToAnchor(site),
  );
  return holding(lock, async () => {
    const { served } = first ?? (await readStoreHeldToAnchor(site));
    // A change stopped past its switch is finished first, as every atomic operation finishes it: its
    // prune then runs before this preview may hold a release that prune names (which would leave the
    // finish refusing, and every change with it, until the preview expired). One that never switched
    // stays for the next change to settle.
    const { finished } = await settleAtomic(site, { ...options, lock }, served);
    // A change the settle finished may have written the store: read again.
    const ctx = await readAtomicContext(site, nowOf(options), finished ? undefined : { served });
    if (!ctx.kvs.value) {
      throw new FrontendOpsError(
        'CONFLICT',
        `${site.target.stack} serves no atomic release yet, and the release router shows previews only beside one. Deploy (or run \`frontendops migrate --to atomic\`) first.`,
      );
    }
    const { publishedIn, publishedInHead, ...ref } = await chooseRelease(site, ctx, options);
    const manifests = manifestCache(site);
    let copied = 0;
    const [stored, present] = await Promise.all([
      ctx.atomic.readReleaseIndex(ref.releaseId),
      releaseKeysPresent(site, ref.releaseId),
    ]);
    // The link shows what is under the release's id: a build ground to the id of a kept release, or
    // of one whose index (and files) are still stored under it, would be previewed with that
    // release's files under its own name. Refused as a switch to it is, before anything is written.
    assertOwnReleaseId(site.target.stack, ref, [...keptRefs(ctx).values(), ...(stored ? [stored] : [])]);
    // An index says every file of the release is in place: one whose files are not all under the
    // release's prefix (deleted since, or an index written around FrontendOps) is made again, its
    // files copied first, rather than vouched for. So is one whose shared assets are not as its build
    // published them (held to the bucket as a deploy or a rollback of it holds them): copied again.
    const whole = stored && missingFiles(stored, present).length === 0 ? stored : null;
    const judged = whole ? await sharedAssetsNotInPlace(site, ctx, ref, manifests) : null;
    let index = whole && !judged?.length ? whole : null;
    const bound: Record<string, string> = {};
    if (index) {
      // An index found is bound again when it is the one the build's manifest gives (bound twice with
      // one digest, nothing changes; an older version wrote it before its entry, so a preview of that
      // version stopped there is finished by asking again), while an index edited since stays
      // unbound, for verify to report.
      const manifest = await manifests(ref);
      const found = digestOrNull(index); // what was read: it may hold what no digest can be made of
      if (manifest && found === stateDigest(releaseIndexOf(ref, manifest, index.uploadedAt))) {
        bound[releaseIndexName(index.releaseId)] = found;
      }
    } else {
      const [listed, manifest] = await Promise.all([
        loadAtomicLiveState(site, ctx, { full: true, manifests }),
        requireManifest(site, ref.app, ref.commit),
      ]);
      // The release it names went out (or was chosen) with this digest: a manifest replaced since is refused.
      assertAsDeployed(site, manifest, [ref]);
      // Judged once: what the check of the release in place found is what is copied again.
      const live = judged?.length
        ? { ...listed, replaced: new Set(judged) }
        : await withReplacedAssets(site, { ...ref, manifest }, listed);
      const known = [
        ...live.retained,
        ...live.previews,
        ...(live.canary ? [live.canary] : []),
        ...live.retiring.flatMap((r) => r.releases),
      ];
      // Files under the id with no index stored: held to what a stopped run of this build wrote (as a
      // deploy holds them), read only when some are there. A stopped run of another build with this
      // id is refused: its record would vouch for what this preview copies over its files.
      const stopped = !stored && present.size > 0 ? ((await ctx.atomic.readPending())?.plan ?? null) : null;
      if (stopped?.releaseId === ref.releaseId && stopped.artifactDigest !== ref.artifactDigest) {
        throw new FrontendOpsError(
          'CONFLICT',
          `A ${stopped.op} of ${stopped.app}@${stopped.commit.slice(0, 7)}, another build with the release id ${ref.releaseId} of ${ref.app}@${ref.commit.slice(0, 7)}, stopped before it finished, and its files are under that id. Nothing was changed. Run any change on ${site.target.stack} first (a deploy or a rollback settles the stopped one), then ask for the preview again; a build ground to another's id on purpose is a matter for the artifacts bucket’s administrators.`,
          { details: { releaseId: ref.releaseId } },
        );
      }
      const unvouched = !stored && present.size > 0 ? unvouchedReleaseKeys(ref, present, stopped) : undefined;
      const files = planReleaseFiles({
        release: { ...ref, manifest },
        hosting: live.hosting,
        known,
        ...(live.replaced ? { replaced: live.replaced } : {}),
        ...(unvouched ? { unvouched } : {}),
      });
      const copies = await sharedAssetsToCopy(site, files.copies);
      await copyFiles(site, copies, options, files.stray);
      copied = copies.length;
      index = releaseIndexOf(ref, manifest, new Date(ctx.now).toISOString());
      // Written after the entry that binds it, as the state is (below).
      bound[releaseIndexName(index.releaseId)] = stateDigest(index);
    }

    // A holder that lost its lock would write the state over what the one that took it over wrote.
    await lock.assertHeld();
    const secret = await ctx.store.previewSecret();
    const expiresAt = new Date(Math.floor((ctx.now + ttl * 1000) / 1000) * 1000);
    const token = signPreviewToken({ releaseId: ref.releaseId, expiresAt, secret }, ctx.now);
    const { state, etag, stored: stateRead } = await ctx.atomic.readStateVersion();
    // Read after the copies, and written back with this preview in it: held to the chain as the
    // lock's check held it, so an edit made meanwhile is not carried into what the entry binds.
    await assertReadAsRecorded(
      site,
      { [ATOMIC_STATE]: stateRead },
      'This preview wrote no state (the files it copied are served by no release)',
    );
    const earlier = state.previews.find(
      (p) => p.releaseId === ref.releaseId && Date.parse(p.expiresAt) > ctx.now,
    );
    const until = new Date(Math.max(expiresAt.getTime(), earlier ? Date.parse(earlier.expiresAt) : 0));
    const next = {
      ...state,
      previews: [
        ...state.previews.filter((p) => p.releaseId !== ref.releaseId && Date.parse(p.expiresAt) > ctx.now),
        {
          releaseId: ref.releaseId,
          app: ref.app,
          commit: ref.commit,
          artifactDigest: ref.artifactDigest,
          expiresAt: until.toISOString(),
          createdAt: new Date(ctx.now).toISOString(),
          actor: options.request.actor,
        },
      ],
    };
    const url = previewUrl(siteUrl, token);
    // The entry first, then the release index and the state it binds (as a pin does). A preview
    // stopped after its entry leaves atomic/state.json as the chain bound it before, and its new
    // index unwritten: `audit verify` calls both unfinished, asking again finishes them, and the next
    // change writes the state over. In the other order it left a state no entry bound, which every
    // change must refuse (state/recorded-state.ts), and an index verify called written around the chain.
    // Its own entry: one that slept past its lease here, while the lock's next holder changed the
    // stack, binds no state after that one's entries (LOCKED, nothing written).
    await appendOwnEntry(site, {
      type: 'preview',
      data: {
        stack: site.target.stack,
        app: ref.app,
        commit: ref.commit,
        artifactDigest: ref.artifactDigest,
        releaseId: ref.releaseId,
        deployId: options.deployId ?? null,
        expiresAt: expiresAt.toISOString(),
        copied,
        request: options.request,
        mode: 'atomic',
        ...publishedInFacts({ publishedIn, publishedInHead }),
      },
      objects: { ...bound, [ATOMIC_STATE]: stateDigest(next) },
    });
    // The index this preview made (not the one it found).
    if (index !== stored) await ctx.atomic.writeReleaseIndex(index);
    await writeAtomicStateOver(site, next, { etag });
    options.onEvent?.({
      type: 'step',
      step: 'record',
      detail: `preview of ${ref.app}@${ref.commit.slice(0, 7)} until ${expiresAt.toISOString()}`,
    });

    let verification: Verification | null = null;
    if (options.verify !== false && index.indexSha256) {
      verification = await verifyReleaseServed(
        siteUrl,
        {
          indexSha256: index.indexSha256,
          // And under the link's name, which a function deployed before PREVIEW_COOKIE still reads
          // (the tool upgraded, the distribution not yet): the check is the tool's own request.
          cookie: `${PREVIEW_COOKIE}=${token}; ${PREVIEW_PARAM}=${token}`,
          as: 'preview',
        },
        {
          ...(options.verifyTimeoutMs !== undefined ? { timeoutMs: options.verifyTimeoutMs } : {}),
          ...(options.fetch ? { fetch: options.fetch } : {}),
        },
      );
      options.onEvent?.({ type: 'step', step: 'verify', detail: verification.detail });
    }
    return {
      url,
      releaseId: ref.releaseId,
      app: ref.app,
      commit: ref.commit,
      deployId: options.deployId ?? null,
      expiresAt: expiresAt.toISOString(),
      copied,
      verification,
    };
  });
}

async function chooseRelease(
  site: Site,
  ctx: Awaited<ReturnType<typeof readAtomicContext>>,
  options: PreviewOptions,
): Promise<ReleaseNameRef & Pick<DeployPlan, 'publishedIn' | 'publishedInHead'>> {
  const pick = ({
    app,
    commit,
    artifactDigest: digest,
  }: {
    app: string;
    commit: string;
    artifactDigest: string;
  }) => ({
    releaseId: releaseIdFor({ commit, artifactDigest: digest }),
    app,
    commit,
    artifactDigest: digest,
  });
  if (options.deployId !== undefined) {
    const retained = ctx.statePointer?.value.releases.find((r) => r.deployId === options.deployId);
    if (retained) return pick(retained);
    if (ctx.state.canary?.deployId === options.deployId) return pick(ctx.state.canary);
    const record = await site.records.readRelease(
      options.deployId,
      {
        stack: site.target.stack,
        asked: 'preview',
        instead: (commit) => `To preview that build, name its commit (${shortSha(commit)}).`,
      },
      site.releases,
    );
    if (record) return pick(record);
    throw new FrontendOpsError(
      'NOT_FOUND',
      `No deployment ${options.deployId} is known for ${site.target.stack}. See \`frontendops history\` for deploy ids.`,
    );
  }
  const app = options.app;
  if (!app) throw badInput('Name the app of the commit to preview.');
  const commit = await resolvePublishedCommit(site.artifacts, app, options.commit ?? '');
  const kept = [...keptRefs(ctx).values()].find((r) => r.app === app && r.commit === commit);
  if (kept) return pick(kept);
  // A build the stack had live once: its manifest must be the one it went out with.
  const [{ manifest, ...published }, earlier] = await Promise.all([
    publishedBuild(site, app, commit),
    site.records.recordsOf(app, commit),
  ]);
  assertAsDeployed(site, manifest, earlier);
  return {
    ...pick({ app, commit, artifactDigest: artifactDigest(manifest) }),
    ...publishedInFacts(published),
  };
}
