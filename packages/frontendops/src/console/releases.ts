/**
 * The console's release actions beyond "deploy the latest" and "roll back": redeploy or roll back to
 * any release of the history, promote (live for everyone, pin cleared), pin and unpin — and what a
 * confirm dialog shows of a plan (the commits since the live release, the files by kind, the CDN
 * refresh in words, the pin). Every change the console makes gets its deploy tag, with the request in
 * words, as the CLI's and the agent's do.
 */
import type { Config } from '../config.ts';
import { type DeployOptions, type DeploySummary, deployArtifact, rollbackRelease } from '../deploy/deploy.ts';
import { promoteRelease, resolveRelease } from '../deploy/pin.ts';
import { asItRuns, pinnedAhead, refusedByView } from '../deploy/pin-ahead.ts';
import type { DeployPlan } from '../engine/plan.ts';
import type { DeployTarget } from '../engine/types.ts';
import {
  alsoSaid,
  badInput,
  FrontendOpsError,
  isFrontendOpsError,
  logError,
  nothingMore,
  saidAfterChanging,
} from '../errors.ts';
import { createDeployTag, finishedFirstTag, taggedChange, tagRequest } from '../git/deploy-tag.ts';
import type { GitHost } from '../ports.ts';
import { readPlanContents, readReleaseCommits } from '../read/contents.ts';
import { pinnedRefusal } from '../read/pin-words.ts';
import { toPinView } from '../read/views.ts';
import type { Site } from '../site.ts';
import { describePin } from '../state/pin.ts';
import { readPinAsRecorded } from '../state/recorded-state.ts';
import type { RequestInfo } from '../state/records.ts';
import type { PlanAction, PlanView } from './types.ts';
import { toConsolePlan } from './views.ts';

export interface ReleaseContext {
  config: Config;
  git?: GitHost;
  /** The latest build (read/latest.ts), refused when none is published. */
  latest(site: Site): Promise<{ app: string; commit: string }>;
}

/** The release an action makes live (null: a rollback, which the engine picks from what is retained). */
async function releaseOf(
  site: Site,
  context: ReleaseContext,
  action: PlanAction,
  to: string | undefined,
): Promise<{ app: string; commit: string } | null> {
  if (action === 'rollback') return null;
  if (action === 'redeploy' && !to) {
    throw badInput('Redeploy which release? Pass "to": a deploy id or commit from the history.');
  }
  if (to && action !== 'deploy-latest') return resolveRelease(site, context.config.app, to);
  return context.latest(site);
}

/** Runs (or, with dryRun, plans) one console action. */
export async function runAction(
  site: Site,
  context: ReleaseContext,
  action: PlanAction,
  options: Omit<DeployOptions, 'app' | 'commit' | 'kind' | 'pin'> & { to?: string },
): Promise<DeploySummary> {
  const { to, ...rest } = options;
  const release = await releaseOf(site, context, action, to);
  if (!release) return rollbackRelease(site, { ...rest, ...(to ? { to } : {}) });
  if (action === 'promote') return promoteRelease(site, { ...rest, ...release });
  return deployArtifact(site, { ...rest, ...release });
}

/** The plan of an action, with what a person decides on: commits, files by kind, CDN refresh, pin. */
export async function describeAction(
  site: Site,
  context: ReleaseContext,
  plan: DeployPlan,
  action: PlanAction,
  to: string | undefined,
  /**
   * The stopped change the run finishes (the dry run's DeploySummary finishes), or finishes first,
   * before this plan (finishesFirst).
   */
  stopped: Pick<DeploySummary, 'finishes' | 'finishesFirst'> = {},
): Promise<PlanView> {
  const [contents, commits, pin, ahead] = await Promise.all([
    readPlanContents(site, plan),
    readReleaseCommits(context.git, {
      from: plan.fromCommit,
      to: plan.commit,
      path: context.config.appPath,
      kind: plan.kind,
    }),
    readPinAsRecorded(site),
    // The refusal the run gives (a promote goes past the pin), in the page's words.
    action === 'promote' ? null : pinnedAhead(site, { kind: plan.kind, commit: plan.commit, ...stopped }),
  ]);
  const refusedBy = refusedByView(ahead && (pinnedForThePage(ahead.refusal) as FrontendOpsError | null));
  // What the run finishes: none when it is refused before it finishes one (asItRuns).
  const { finishes, finishesFirst } = asItRuns(stopped, ahead);
  return {
    ...toConsolePlan(plan, action, site.protected, { finishes, finishesFirst }),
    ...(finishes ? { finishes } : {}),
    ...(finishesFirst ? { finishesFirst } : {}),
    ...(refusedBy ? { refusedBy } : {}),
    ...(to ? { to } : {}),
    contents,
    commits,
    pin: pin && toPinView(pin),
  };
}

/** What the deployment record says was asked: words a person reads, naming who confirmed. */
export function requestWords(action: PlanAction, to: string | undefined, person: string): string {
  // A deploy id starts with its commit's 7 hex: either way people read the short sha.
  const named = to && /^[0-9a-f]{7}/.test(to) ? to.slice(0, 7) : to;
  const what: Record<PlanAction, string> = {
    'deploy-latest': 'Deploy the latest build',
    rollback: named ? `Roll back to ${named}` : 'Roll back to the previous release',
    redeploy: `Redeploy ${named ?? 'a release'}`,
    promote: `Promote ${named ?? 'the latest build'} for everyone and clear the pin`,
  };
  return `${what[action]} (confirmed in the console by ${person})`;
}

/**
 * The deploy tag of a change the console made, or of the interrupted one a no-op run of it finished
 * (taggedChange); null when nothing went live or there is no git host.
 */
export async function tagChange(
  git: GitHost | undefined,
  summary: DeploySummary,
  request: RequestInfo,
  /** The stack's: its sensitive values are hidden in the tag's words (tagRequest). */
  target: DeployTarget,
): Promise<string | null> {
  const tagged = summary.noop ? summary.finishedInterrupted !== undefined : summary.outcome === 'succeeded';
  if (!git || summary.dryRun || !tagged) return null;
  return madeTag(() =>
    createDeployTag(git, {
      sha: summary.commit,
      request: tagRequest(request, target),
      app: summary.app,
      // The stack and audit head make the tag an anchor `audit verify` checks the chain against.
      stack: summary.stack,
      ...taggedChange(summary),
    }),
  );
}

/**
 * The deploy tag of the stopped change a console change finished before its own (DeploySummary
 * finishedFirstRecord), as its own run would have made it; null when none is due or no git host.
 */
export async function tagFinishedFirst(
  git: GitHost | undefined,
  summary: DeploySummary,
  /** The stack's: its sensitive values are hidden in the tag's words (tagRequest). */
  target: DeployTarget,
): Promise<string | null> {
  const input = summary.dryRun ? null : finishedFirstTag(summary, target);
  return git && input ? madeTag(() => createDeployTag(git, input)) : null;
}

/** A tag's name once made, or null: the change happened; a tag that cannot be made is logged, never undoes it. */
async function madeTag(make: () => Promise<{ name: string }>): Promise<string | null> {
  try {
    return (await make()).name;
  } catch (error) {
    logError('[frontendops console] could not create the deploy tag:', (error as Error).message);
    return null;
  }
}

/**
 * A PINNED refusal in the page's words: the buttons are the ways forward, not CLI commands. What
 * else the refusal said (letting the lock go failed too, the stopped change its run finished first)
 * is kept.
 */
export function pinnedForThePage(error: unknown): unknown {
  if (!isFrontendOpsError(error, 'PINNED')) return error;
  const pin = error.details?.pin as Parameters<typeof describePin>[0] | undefined;
  if (!pin) return error;
  const also = alsoSaid(error);
  // Said after a stopped change its run finished first: nothing more was changed (nothingMore).
  const words = pinnedRefusal(`This stack is pinned to ${describePin(pin)}`);
  return new FrontendOpsError(
    'PINNED',
    `${saidAfterChanging(error) ? nothingMore(words) : words}${also ? ` ${also}` : ''}`,
  );
}
