/**
 * deployArtifact and rollbackRelease on an atomic site: the build's missing files go up under its
 * release prefix, then one conditional KeyValueStore write makes it live. A release that is kept
 * (one of the last K, the canary, an open preview) is switched to without copying, reading its
 * manifest or listing the bucket — one LIST of its own prefix checks that the files its release
 * index names are still there: the same few requests for 20 files or 20,000. One whose files were
 * deleted outside FrontendOps is refused by a rollback (nothing changed) and copied again by a
 * deploy of that commit (deploy/atomic-apply.ts, prepare).
 */
import { releaseIdFor } from '../engine/atomic-plan.ts';
import { artifactDigest } from '../engine/manifest.ts';
import { settleAll } from '../settle-all.ts';
import type { Site } from '../site.ts';
import { assertDeployAllowed, readPin } from '../state/pin.ts';
import { assertAsDeployed, keptOrRefused, notAsDeployed } from './artifact-copy.ts';
import { type AtomicOptions, type AtomicSummary, type ChooseTarget, runAtomic } from './atomic-apply.ts';
import { keptRefs } from './atomic-live.ts';
import { type PublishedBuild, publishedBuild, requireManifest } from './live.ts';
import { validateArtifactId } from './publish.ts';
import type { RecordedBuild } from './types.ts';

export interface AtomicDeployOptions extends AtomicOptions {
  app: string;
  commit: string;
  kind?: 'deploy' | 'rollback';
  /** Refused if a pin holds another release (read under the lock: see pinChecked). */
  checkPin?: boolean;
  /** The build as the stack recorded it (a rollback's destination): a manifest read must still have its digest. */
  recorded?: RecordedBuild;
}

export function deployAtomic(site: Site, options: AtomicDeployOptions): Promise<AtomicSummary> {
  const { app, commit, kind, checkPin, recorded, ...rest } = options;
  const target = buildTarget(site, app, commit, undefined, recorded);
  return runAtomic(site, kind ?? 'deploy', checkPin ? pinChecked(site, target, commit) : target, rest);
}

/**
 * The target, chosen under the deploy lock with the pin read there too: a deploy or canary that
 * waited for the lock behind a rollback sees the pin that rollback set (read before taking the lock,
 * it went live past it). `commit`, when known, is checked before the target is chosen; otherwise the
 * chosen release's (the canary being promoted).
 */
export function pinChecked(site: Site, choose: ChooseTarget, commit?: string): ChooseTarget {
  return async (ctx) => {
    if (commit !== undefined) assertDeployAllowed(await readPin(site), site.target.stack, commit);
    const target = await choose(ctx);
    if (commit === undefined)
      assertDeployAllowed(await readPin(site), site.target.stack, target.release.commit);
    return target;
  };
}

/**
 * The published build app@commit: a kept release by its id, else its manifest (NOT_FOUND when
 * unpublished; TAMPERED when it is not the one `recorded` says the stack had live).
 */
export function buildTarget(
  site: Site,
  app: string,
  commit: string,
  weight?: number,
  recorded?: RecordedBuild,
): ChooseTarget {
  return async (ctx) => {
    validateArtifactId(app, commit);
    const extra = weight !== undefined ? { weight } : {};
    if (recorded) keptOrRefused(site, recorded, ctx.statePointer?.value.releases ?? []);
    const kept = [...keptRefs(ctx).values()].find((r) => r.app === app && r.commit === commit);
    // Kept under another digest than the deployment it goes back to recorded: a preview or canary of
    // the build made from a manifest replaced since. Not that release.
    if (kept && recorded && kept.artifactDigest !== recorded.artifactDigest)
      throw notAsDeployed(site, recorded, kept.artifactDigest);
    if (kept) return { release: kept, ...extra };
    // A build the stack had live once (the deployment records of that commit): its manifest must be
    // the one it went out with.
    const [{ manifest, publishedIn, publishedInHead }, earlier] = await settleAll([
      recorded
        ? requireManifest(site, app, commit).then(
            (m): Omit<PublishedBuild, 'publishHead'> => ({ manifest: m }),
          )
        : publishedBuild(site, app, commit),
      recorded ? Promise.resolve([]) : site.records.recordsOf(app, commit),
    ]);
    assertAsDeployed(site, manifest, recorded ? [recorded] : earlier);
    const digest = artifactDigest(manifest);
    return {
      release: {
        releaseId: releaseIdFor({ commit, artifactDigest: digest }),
        app,
        commit,
        artifactDigest: digest,
      },
      ...extra,
      ...(publishedIn ? { publishedIn } : {}),
      ...(publishedInHead ? { publishedInHead } : {}),
    };
  };
}
