/**
 * Moving an in-place stack to atomic releases, with no moment a visitor gets a broken page. The
 * stack's outputs already name the release store (the Pulumi program created it and put the
 * release router in front of the cache); with no pointer in the store the router serves the bucket
 * root, so the in-place site keeps working. Migrating uploads the live release's (and the retained
 * releases') non-asset files under their release prefixes — their assets are already at their
 * keys — then writes the pointer naming the live release: from then on the router serves that same
 * release from its prefix. The root's old files are pruned once no edge can serve them any more.
 */
import { releaseIdFor } from '../engine/atomic-plan.ts';
import { FrontendOpsError } from '../errors.ts';
import type { Site } from '../site.ts';
import { type AtomicOptions, type AtomicSummary, runAtomic } from './atomic-apply.ts';

export function migrateToAtomic(site: Site, options: AtomicOptions): Promise<AtomicSummary> {
  return runAtomic(
    site,
    'migrate',
    async (ctx) => {
      const live = ctx.statePointer?.value;
      if (!live) {
        throw new FrontendOpsError(
          'NOT_FOUND',
          `Nothing is deployed to ${site.target.stack} yet, so there is nothing to migrate: its first deploy will be atomic.`,
        );
      }
      const { app, commit, artifactDigest } = live;
      return { release: { releaseId: releaseIdFor(live), app, commit, artifactDigest } };
    },
    options,
  );
}
