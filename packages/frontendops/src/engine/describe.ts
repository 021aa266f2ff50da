/**
 * The one sentence that says what a plan will do, for people and models alike (CLI prompts, MCP
 * results, approval questions, the console). It names the app, commits, stack and counts: never a
 * bucket or an endpoint.
 */
import { finishedRollbackPin } from '../read/pin-words.ts';
import { type AtomicPlan, describeAtomicPlan } from './atomic-plan.ts';
import { type DeployPlan, describePrune } from './plan.ts';
import type { Outcome } from './types.ts';

/** "deploy sophia-dashboard@3f2c1a9 to prod (live: 1a2b3c4): 8 files to copy, 4 paths to invalidate" */
export function describePlan(
  plan: Pick<
    DeployPlan,
    | 'kind'
    | 'app'
    | 'commit'
    | 'stack'
    | 'fromCommit'
    | 'noop'
    | 'copies'
    | 'prune'
    | 'unretained'
    | 'invalidationPaths'
    | 'publishedIn'
  >,
): string {
  const described =
    (plan as Partial<AtomicPlan>).mode === 'atomic'
      ? describeAtomicPlan(plan as AtomicPlan)
      : describeInPlacePlan(plan);
  return plan.publishedIn ? `${described}; published to ${plan.publishedIn}'s log` : described;
}

/**
 * A promote's plan in words: of the live release with a pin to lift, it changes no file, but it is
 * not "nothing to do" (the pin goes, which the approver is asked and the client told).
 */
export function promotePlanWords(plan: Parameters<typeof describePlan>[0], liftsPin: boolean): string {
  if (plan.noop && liftsPin)
    return `${plan.app}@${plan.commit.slice(0, 7)} is already live on ${plan.stack}: no file changes`;
  return describePlan(plan);
}

/**
 * A promote as a person approves it: its plan, and the pin it clears, if any; one refused (`refused`,
 * a GitHub job's --yes its policy does not cover) says what it would have done.
 */
export function describePromote(
  plan: Parameters<typeof describePlan>[0],
  pin: { commit: string; by: string } | null,
  refused = false,
): string {
  const lifted = pin
    ? `; the pin (${pin.commit.slice(0, 7)}, by ${pin.by}) ${refused ? 'would be' : 'is'} cleared`
    : '';
  return `promote: ${promotePlanWords(plan, pin !== null)}${lifted}`;
}

/**
 * A change a GitHub job's --yes was refused for, as the refusal says first what it would have done:
 * a promote with the pin it would clear (describePromote), any other change its plan (describePlan).
 */
export const describeRefusedChange = (
  action: string,
  plan: Parameters<typeof describePlan>[0],
  pin: { commit: string; by: string } | null,
): string => (action === 'promote' ? describePromote(plan, pin, true) : describePlan(plan));

function describeInPlacePlan(plan: Parameters<typeof describePlan>[0]): string {
  const what = `${plan.app}@${plan.commit.slice(0, 7)}`;
  if (plan.noop) return `${what} is already live on ${plan.stack}: nothing to do`;
  const live = plan.fromCommit ? ` (live: ${plan.fromCommit.slice(0, 7)})` : '';
  const head =
    plan.kind === 'rollback'
      ? `roll back ${plan.stack} to ${what}${live}`
      : `deploy ${what} to ${plan.stack}${live}`;
  const pruned = describePrune(plan);
  const parts = [
    count(plan.copies.length, 'file', 'to copy'),
    ...(pruned ? [pruned] : []),
    count(plan.invalidationPaths.length, 'path', 'to invalidate'),
  ];
  return `${head}: ${parts.join(', ')}`;
}

/**
 * What a change's run does when an earlier run of it went live and stopped before it was verified
 * and recorded: it finishes that one. Said by its dry run (`deploy --dry-run`, `rollback --dry-run`,
 * plan_deploy, get_deploy_target) as the run will do it.
 */
export function describeFinish(
  stopped: { deployId: string; kind: string; app: string; commit: string; pins?: true },
  stack: string,
  /** A promote: it lifts the pin a rollback it finishes sets, so that pin is not said to stay. */
  liftsPin = false,
): string {
  const release = `${stopped.app}@${stopped.commit.slice(0, 7)}`;
  const pin = stopped.pins && !liftsPin ? `; ${finishedRollbackPin(stack, release, false)}` : '';
  return `finish ${changeNoun(stopped.kind)} ${stopped.deployId} of ${release} on ${stack}: it went live, but it was interrupted before it was verified and recorded${pin}`;
}

/**
 * What a run says it did when it finished such a stopped change (DeploySummary finishedInterrupted,
 * finishedFirst): the change named as what it was (a rollback, a canary promote…), and what its
 * finish recorded: a finish the CDN did not serve (its verification failed) as failed, any outcome
 * but succeeded as that outcome (none given: succeeded).
 */
export function describeFinished(stopped: { deployId: string; kind: string; outcome?: string }): string {
  const { outcome } = stopped;
  const recorded =
    outcome === 'failed'
      ? 'recorded now as failed (the CDN did not serve it)'
      : outcome && outcome !== 'succeeded'
        ? `recorded now as ${outcome.replace('-', ' ')}`
        : 'recorded now';
  return `finished the interrupted ${changeNoun(stopped.kind)} ${stopped.deployId}, which had made it live; ${recorded}`;
}

/**
 * What a run whose summary names a stopped change it finished before its own (finishedFirst) says
 * first, as a sentence with its trailing space ("First finished the interrupted …. "); '' for none.
 */
export const finishedFirstSentence = (summary: {
  finishedFirst?: { deployId: string; kind: string; outcome?: string } | undefined;
}): string => (summary.finishedFirst ? `First ${describeFinished(summary.finishedFirst)}. ` : '');

/** A change's kind (deploy, rollback) or atomic operation (canary-promote…) as a noun. */
export const changeNoun = (kind: string) => (kind === 'deploy' ? 'deployment' : operationWords(kind));

/**
 * An atomic operation in the words its command says (deploy, rollback, canary start / promote /
 * abort, migration), where a message names it by what the user ran ("nothing of this canary start").
 */
export const operationWords = (op: string) => (op === 'migrate' ? 'migration' : op.replace('-', ' '));

const count = (n: number, noun: string, what: string) => `${n} ${noun}${n === 1 ? '' : 's'} ${what}`;

/**
 * A stopped change a run finished first (DeploySummary finishedFirst), as describeFinished says it:
 * its outcome where its finish recorded anything but succeeded.
 */
export const finishedFirst = (finished: {
  deployId: string;
  kind: string;
  outcome: Outcome;
}): FinishedFirst => ({
  deployId: finished.deployId,
  kind: finished.kind,
  ...(finished.outcome !== 'succeeded' ? { outcome: finished.outcome } : {}),
});

/** A stopped change a run finished first (DeploySummary finishedFirst). */
export interface FinishedFirst {
  deployId: string;
  kind: string;
  /** What its finish recorded, but succeeded (none). */
  outcome?: Exclude<Outcome, 'succeeded'>;
}
