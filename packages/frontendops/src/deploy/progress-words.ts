/**
 * A deploy's progress in people's words, for the CLI and the console alike: each engine event
 * becomes a headline a release manager reads ("Copying HTML, last", "Visitors now get …") and the
 * engine's own words kept as the detail (deploy ids, pointer, invalidation ids), shown one click
 * away in the console and with --verbose in the CLI.
 */
import type { AtomicPlan } from '../engine/atomic-plan.ts';
import { changeNoun } from '../engine/describe.ts';
import type { FileGroup } from '../engine/types.ts';
import type { DeployEvent } from './apply.ts';

export interface ProgressWords {
  headline: string;
  /** The engine's detail: ids and terms for whoever looks closer. */
  detail: string;
}

export const COPY_LABEL: Record<FileGroup, string> = {
  asset: 'Copying hashed assets',
  other: 'Copying other files',
  html: 'Copying HTML, last, so no page points at a file that is not there yet',
};

const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

export function describeDeployEvent(event: DeployEvent): ProgressWords {
  switch (event.type) {
    case 'plan': {
      const p = event.plan;
      if (p.noop) return { headline: 'Already live: nothing to do.', detail: `plan ${p.deployId}` };
      const atomic = (p as Partial<AtomicPlan>).mode === 'atomic' ? (p as AtomicPlan) : null;
      const detail = `plan ${p.deployId} (from ${p.fromDeployId ?? 'nothing live'})`;
      const canary = atomic && canaryHeadline(atomic);
      if (canary) return { headline: canary, detail };
      const parts = [
        `copy ${plural(p.copies.length, 'file')}`,
        `keep ${p.unchanged} unchanged`,
        ...(p.prune.length ? [`remove ${plural(p.prune.length, 'old file')}`] : []),
        atomic
          ? 'switch with one key write, nothing to refresh on the CDN'
          : `refresh ${plural(p.invalidationPaths.length, 'path')} on the CDN`,
      ];
      return {
        headline: `${p.kind === 'rollback' ? 'Rolling back' : 'Deploying'} ${p.app} ${p.commit.slice(0, 7)}: ${parts.join(', ')}.`,
        detail,
      };
    }
    case 'copy':
      return {
        headline: `${COPY_LABEL[event.group]} (${event.done}/${event.total})`,
        detail: `${event.group}: ${event.done}/${event.total} server-side copies`,
      };
    case 'step':
      return { headline: stepHeadline(event.step, event.detail), detail: `${event.step}: ${event.detail}` };
  }
}

/** The canary's plans, in words: who gets what, one key write. */
function canaryHeadline(plan: AtomicPlan): string | null {
  const what = `${plan.app}@${plan.commit.slice(0, 7)}`;
  const live = plan.fromCommit ? plan.fromCommit.slice(0, 7) : 'the live release';
  switch (plan.op) {
    case 'canary-start':
      return `Sending ${plan.canaryAfter?.weight}% of visitors to ${what} first: copy ${plural(plan.copies.length, 'file')}, then one key write; the rest keep ${live}.`;
    case 'canary-promote':
      return `Promoting the canary ${what}: everyone gets it with one key write, nothing to refresh on the CDN.`;
    case 'canary-abort':
      return `Aborting the canary ${what}: everyone goes back to ${live} with one key write.`;
    default:
      return null;
  }
}

function stepHeadline(step: Extract<DeployEvent, { type: 'step' }>['step'], detail: string): string {
  const count = Number(/^(\d+)/.exec(detail)?.[1] ?? 0);
  switch (step) {
    case 'resume': {
      // The engine's detail: "found interrupted <kind> <deploy id>" (deploy/apply.ts, atomic-apply.ts).
      const kind = /^found interrupted (\S+) /.exec(detail)?.[1] ?? 'deploy';
      return `Finishing a ${changeNoun(kind)} that was interrupted, first.`;
    }
    case 'pointer': {
      // Atomic switches (deploy/atomic-apply.ts) say what the one key write did.
      const share = /^(\S+) serves (\d+)% of visitors/.exec(detail);
      if (share) return `${share[2]}% of visitors now get ${share[1]}; the rest keep the live release.`;
      const ended = /^canary (\S+) ended/.exec(detail);
      if (ended) return `The canary ${ended[1]} ended: everyone gets the live release again.`;
      return `Visitors now get ${detail.replace(/ is live( \(.*\))?$/, '')}.`;
    }
    case 'prune':
      return `Removed ${plural(count, 'old file')} that no kept release uses.`;
    case 'invalidate':
      return `Asked the CDN to refresh ${plural(count, 'path')}.`;
    case 'verify':
      return /serves the new/.test(detail)
        ? 'Checked: the CDN serves the new page.'
        : `The CDN does not serve the new page: ${detail}.`;
    case 'record':
      return 'Recorded in the history and the audit log.';
    case 'rollback':
      return `The new page was not served in time: going back (${detail.replace(/^verification failed: /, '')}).`;
  }
}
