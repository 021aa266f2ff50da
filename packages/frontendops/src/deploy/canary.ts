/**
 * Canary releases on an atomic site: a sticky share of visitors (by the fo_bucket cookie the
 * viewer-request function sets) gets another release than the live one. Starting uploads the
 * release's missing files like a deploy and writes {live, canary, weight}; promoting writes
 * {live: canary}; aborting writes {live}. Each is one conditional KeyValueStore write under the
 * stack's deploy lock, verified through the edge and audited (canary-start, canary-promote with its
 * deployment record, canary-abort). Approval is the caller's, as for a deploy (the CLI's prompt or
 * --yes, the infra server's gate): these functions take the request it approved.
 */
import type { ReleasePointer } from '../atomic/release-pointer.ts';
import type { Site } from '../site.ts';
import type { CanaryRecord } from '../state/atomic.ts';
import { type AtomicOptions, type AtomicSummary, canaryTarget, runAtomic } from './atomic-apply.ts';
import { buildTarget, pinChecked } from './atomic-deploy.ts';
import { atomicRecordsOf, requireReleaseStore } from './atomic-live.ts';

export interface StartCanaryOptions extends AtomicOptions {
  app: string;
  commit: string;
  /** Share of visitors, 1–99 (engine/canary-share.ts; sticky per browser; raising it keeps the earlier canary visitors). */
  weightPercent: number;
}

/**
 * Sends weightPercent % of visitors to app@commit; the same build again only changes the share.
 * A canary is a deploy to some of the visitors: a pin holds it back as it holds a deploy (PINNED).
 */
export async function startCanary(site: Site, options: StartCanaryOptions): Promise<AtomicSummary> {
  const { app, commit, weightPercent, ...rest } = options;
  const target = buildTarget(site, app, commit, weightPercent);
  return runAtomic(site, 'canary-start', rest.dryRun ? target : pinChecked(site, target, commit), rest);
}

/** The canary becomes the live release for everyone (a deployment record, like a deploy). */
export function promoteCanary(site: Site, options: AtomicOptions): Promise<AtomicSummary> {
  // Past a pin only to the pinned release: a promote of the canary does not lift a freeze.
  return runAtomic(
    site,
    'canary-promote',
    options.dryRun ? canaryTarget : pinChecked(site, canaryTarget),
    options,
  );
}

/** Everyone gets the live release again; the canary's files are pruned after the grace. */
export function abortCanary(site: Site, options: AtomicOptions): Promise<AtomicSummary> {
  return runAtomic(site, 'canary-abort', canaryTarget, options);
}

export interface CanaryStatus {
  stack: string;
  /** What the edge's function is told (the KeyValueStore's pointer). */
  pointer: ReleasePointer | null;
  canary: CanaryRecord | null;
}

/** What runs now (reads only). */
export async function readCanaryStatus(site: Site): Promise<CanaryStatus> {
  const store = requireReleaseStore(site);
  const [read, state] = await Promise.all([store.read(), atomicRecordsOf(site).readState()]);
  return { stack: site.target.stack, pointer: read.value, canary: state.canary };
}
