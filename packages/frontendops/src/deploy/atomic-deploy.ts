/**
 * deployArtifact and rollbackRelease on an atomic site: the build's missing files go up under its
 * release prefix, then one conditional KeyValueStore write makes it live. A release that is kept
 * (one of the last K, the canary, an open preview) is switched to without listing, copying or
 * reading its manifest: the same few requests for 20 files or 20,000.
 */
import { releaseIdFor } from '../engine/atomic-plan.ts';
import { artifactDigest } from '../engine/manifest.ts';
import { type AtomicOptions, type AtomicSummary, type ChooseTarget, runAtomic } from './atomic-apply.ts';
import { keptRefs } from './atomic-live.ts';
import { requireManifest } from './live.ts';
import { validateArtifactId } from './publish.ts';

export interface AtomicDeployOptions extends AtomicOptions {
  app: string;
  commit: string;
  kind?: 'deploy' | 'rollback';
}

export function deployAtomic(
  site: Parameters<typeof runAtomic>[0],
  options: AtomicDeployOptions,
): Promise<AtomicSummary> {
  const { app, commit, kind, ...rest } = options;
  return runAtomic(site, kind === 'rollback' ? 'rollback' : 'deploy', buildTarget(site, app, commit), rest);
}

/** The published build app@commit: a kept release by its id, else its manifest (NOT_FOUND when unpublished). */
export function buildTarget(
  site: Parameters<typeof runAtomic>[0],
  app: string,
  commit: string,
  weight?: number,
): ChooseTarget {
  return async (ctx) => {
    validateArtifactId(app, commit);
    const extra = weight !== undefined ? { weight } : {};
    const kept = [...keptRefs(ctx).values()].find((r) => r.app === app && r.commit === commit);
    if (kept) return { release: kept, ...extra };
    const manifest = await requireManifest(site, app, commit);
    const digest = artifactDigest(manifest);
    return {
      release: {
        releaseId: releaseIdFor({ commit, artifactDigest: digest }),
        app,
        commit,
        artifactDigest: digest,
      },
      ...extra,
    };
  };
}
