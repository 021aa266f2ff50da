/**
 * The console's actions on atomic stacks: start a canary (a share of visitors on a build first),
 * promote it (everyone gets it: one key write, no invalidation) or abort it (everyone back on the
 * live release), and a signed, expiring preview link to a release of the history. They run the
 * engine's own functions (deploy/canary.ts, deploy/preview.ts), which take the stack's deploy lock,
 * verify through the edge and write the audit log, as the CLI and the infra server do.
 *
 * As with the console's other changes, a confirmation names what the page showed: the deploy id of
 * the canary (or of the deploy plan a canary starts from). If the engine, under the lock, plans
 * anything else, it is stopped before its first write and nothing changes.
 */
import { PREVIEW_HOURS, previewSeconds } from '../atomic/preview-hours.ts';
import type { Config } from '../config.ts';
import type { DeployEvent } from '../deploy/apply.ts';
import type { AtomicSummary } from '../deploy/atomic-apply.ts';
import { abortCanary, promoteCanary, startCanary } from '../deploy/canary.ts';
import { type PreviewLink, previewLink } from '../deploy/preview.ts';
import { resolvePublishedCommit } from '../deploy/publish.ts';
import { CANARY_SHARE_FULL, CANARY_SHARE_RULE, isCanaryShare } from '../engine/canary-share.ts';
import { shortSha } from '../engine/ids.ts';
import type { DeployPlan } from '../engine/plan.ts';
import { FrontendOpsError, isFrontendOpsError } from '../errors.ts';
import type { Site } from '../site.ts';
import { createAtomicRecords } from '../state/atomic.ts';
import type { RequestInfo } from '../state/records.ts';
import type { CanaryAction } from './types.ts';

/** Refused on a stack that updates its files in place, saying how to move it to atomic releases. */
export function requireAtomic(site: Site, stack: string, what: string): void {
  if (site.mode === 'atomic') return;
  throw new FrontendOpsError(
    'CONFLICT',
    `${stack} updates its files in place, and ${what} need atomic releases (each release under its own prefix, ` +
      'switched by one key write at the edge). Nothing was changed. To move the stack, update it with the ' +
      `Pulumi program of this repository (its outputs then name the release store) and run \`frontendops migrate --to atomic --stack ${stack}\`.`,
  );
}

/** The stack changed between what the page showed and the confirmation: nothing was applied. */
export class CanaryChangedError extends FrontendOpsError {
  constructor(message: string) {
    super('CONFLICT', message);
  }
}

export interface CanaryInput {
  /** The deploy id the page showed (the canary's, or the deploy plan's for a start); optional. */
  deployId?: string;
  /** canary-start: the published commit (default: the latest build) and the share of visitors. */
  commit?: string;
  percent?: number;
  request: (words: string) => RequestInfo;
  onEvent: (event: DeployEvent) => void;
  /** How long the edge is asked before the change counts as not served (the console's option). */
  verifyTimeoutMs?: number;
}

/** Runs one canary action; `latest` picks the newest published build when a start names none. */
export async function runCanaryAction(
  site: Site,
  stack: string,
  action: CanaryAction,
  input: CanaryInput,
  context: { config: Config; latest: (site: Site) => Promise<{ app: string; commit: string }> },
): Promise<{ summary: AtomicSummary; request: RequestInfo }> {
  requireAtomic(site, stack, 'canaries');
  let run: (options: Parameters<typeof promoteCanary>[1]) => Promise<AtomicSummary>;
  let words: string;
  if (action === 'canary-start') {
    const percent = input.percent ?? 0;
    if (!isCanaryShare(percent)) {
      throw new FrontendOpsError(
        'BAD_INPUT',
        `A canary's share is ${CANARY_SHARE_RULE} (${CANARY_SHARE_FULL}), not ${input.percent}. Nothing was changed.`,
      );
    }
    const app = context.config.app;
    const commit = input.commit
      ? await resolvePublishedCommit(site.artifacts, app, input.commit)
      : (await context.latest(site)).commit;
    // The pin holds a canary back as it holds a deploy: startCanary refuses it (PINNED → 409).
    words = `Deploy ${app}@${shortSha(commit)} to ${percent}% of visitors first`;
    run = (options) => startCanary(site, { ...options, app, commit, weightPercent: percent });
  } else {
    const { canary } = await createAtomicRecords(site.state, site.target.statePrefix).readState();
    if (!canary) throw noCanary(stack, action);
    const what = `${canary.app}@${shortSha(canary.commit)}`;
    words =
      action === 'canary-promote'
        ? `Promote the canary ${what} to everyone`
        : `Abort the canary ${what}: everyone back on the live release`;
    run = (options) => (action === 'canary-promote' ? promoteCanary : abortCanary)(site, options);
  }
  const request = input.request(words);
  const seen: { changed?: DeployPlan } = {};
  try {
    const summary = await run({
      request,
      ...(input.verifyTimeoutMs !== undefined ? { verifyTimeoutMs: input.verifyTimeoutMs } : {}),
      onEvent: (event) => {
        if (event.type === 'plan' && input.deployId && event.plan.deployId !== input.deployId) {
          seen.changed = event.plan;
          throw new FrontendOpsError('CONFLICT', 'plan changed');
        }
        input.onEvent(event);
      },
    });
    return { summary, request };
  } catch (error) {
    if (seen.changed) {
      throw new CanaryChangedError(
        `What runs on ${stack} changed since the page showed it (now: ${describeChanged(seen.changed)}). Nothing was changed. Look again and confirm again.`,
      );
    }
    // Another operator ended the canary between the read above and the lock.
    if (isFrontendOpsError(error, 'NOT_FOUND') && /No canary runs/.test(error.message)) {
      throw noCanary(stack, action);
    }
    throw error;
  }
}

function noCanary(stack: string, action: CanaryAction): FrontendOpsError {
  const verb = action === 'canary-promote' ? 'promote' : 'abort';
  return new FrontendOpsError(
    'CONFLICT',
    `No canary runs on ${stack}, so there is nothing to ${verb}. Nothing was changed. Everyone gets the live release.`,
  );
}

const describeChanged = (plan: DeployPlan) =>
  `${plan.app}@${shortSha(plan.commit)}${plan.fromCommit ? ` beside the live ${shortSha(plan.fromCommit)}` : ''}, plan ${plan.deployId}`;

export interface PreviewInput {
  deployId?: string;
  commit?: string;
  hours?: number;
  request: RequestInfo;
  onEvent: (event: DeployEvent) => void;
}

/** A signed, expiring link to a release, for whoever asked: the link is not recorded anywhere it could be read back. */
export async function runPreview(
  site: Site,
  stack: string,
  input: PreviewInput,
  config: Config,
): Promise<PreviewLink> {
  requireAtomic(site, stack, 'preview links');
  if ((input.deployId === undefined) === (input.commit === undefined)) {
    throw new FrontendOpsError(
      'BAD_INPUT',
      'Name the release to preview: "deployId" (from the history) or "commit" (a published build), one of them.',
    );
  }
  return previewLink(site, {
    ...(input.deployId !== undefined ? { deployId: input.deployId } : {}),
    ...(input.commit !== undefined ? { commit: input.commit } : {}),
    app: config.app,
    ttlSeconds: previewSeconds(input.hours ?? PREVIEW_HOURS.default),
    request: input.request,
    onEvent: input.onEvent,
  });
}
