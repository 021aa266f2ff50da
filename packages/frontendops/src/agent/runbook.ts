/**
 * The runbook planner: each intent is a fixed sequence of tool calls through the gate — the seed's
 * deploy workflow (latest commit → deploy target → approval → sync → invalidate → tag) and its
 * siblings. Results are read as the contract types them. A failed step stops the sequence; its
 * words become the answer.
 */
import { callAgain } from '../contract/approval-question.ts';
import { formatAuditHead } from '../contract/audit-head.ts';
import { parseResult, TOOLS, type ToolInput, type ToolName, type ToolOutput } from '../contract/tools.ts';
import { NOT_SWITCHED_BACK, switchedBack } from '../deploy/switch-back-words.ts';
import { wentLiveForEveryone } from '../engine/canary-event.ts';
import { canaryRowRefused } from '../engine/canary-row-words.ts';
import { FULL_COMMIT, shortSha } from '../engine/ids.ts';
import { capitalise, touching } from '../engine/text.ts';
import { codeOf, type ErrorCode } from '../errors.ts';
import { readReleaseCommits } from '../read/contents.ts';
import { releaseContentsLines } from '../read/contents-text.ts';
import { notPinned, PIN_EFFECT, protectedUnpin, unpinnedSentence } from '../read/pin-words.ts';
import { describeServed } from '../read/served-words.ts';
import {
  describeCanary,
  type HistoryItem,
  historyTime,
  type PlanView,
  type ReleaseCommits,
  type ReleaseView,
} from '../read/views.ts';
import type { GateCall, ToolGate } from './gate.ts';
import type { Intent } from './intents.ts';
import type { PlannerOutcome } from './types.ts';

export interface RunbookContext {
  gate: ToolGate;
  /** The request's words (they go into the deploy tag). */
  text: string;
  /** The stack named in answers (null: the server's own). */
  stack: string | null;
  app: string;
  appPath: string;
  dryRun: boolean;
  now: Date;
}

/** Thrown inside a sequence when a step did not succeed; becomes the outcome. */
class StepStopped extends Error {
  constructor(readonly call: GateCall) {
    super(call.record.summary);
  }
}

/**
 * Thrown when what the words name does not exist (a commit, a deploy): the request is refused with
 * what to do, as bad input is (exit 2), not reported as a failure. Nothing was changed.
 */
class WordsRefused extends Error {}

/** A tool's error answer read back: its code and message (errors.ts codeOf); null for any other. */
const errorOf = (call: GateCall) => (call.record.status === 'error' ? codeOf(call.text) : null);

/**
 * A tool's answer that the request cannot be done as asked: NOT_FOUND, BAD_INPUT, or CONFLICT with
 * what exists (a canary runs), its code and message; else null. The CLI refuses the same (exit 2).
 */
const inputErrorOf = (call: GateCall) => {
  const error = errorOf(call);
  return error && INPUT_ERRORS.has(error.code) ? error : null;
};
const INPUT_ERRORS: ReadonlySet<ErrorCode> = new Set(['NOT_FOUND', 'BAD_INPUT', 'CONFLICT']);

/**
 * A step the server refused for what it was asked (NOT_FOUND, BAD_INPUT, CONFLICT: a commit with no
 * published build, a release the stack never had, a deploy while a canary runs) is the request's mistake: refused in the server's words (exit
 * 2), not a failure. Anything else goes on as it was.
 */
function refuseInputError(error: unknown): never {
  const refused = error instanceof StepStopped ? inputErrorOf(error.call) : null;
  if (!refused) throw error;
  throw new WordsRefused(`${refused.message} Nothing was changed.`);
}

export async function runRunbook(intent: Intent, ctx: RunbookContext): Promise<PlannerOutcome> {
  try {
    switch (intent.kind) {
      case 'deploy':
        return await (ctx.dryRun ? planDeploySteps(ctx, intent.ref, true) : deploy(ctx, intent.ref));
      case 'plan':
        return await planDeploySteps(ctx, intent.ref, false);
      case 'rollback':
        return await rollback(ctx, intent.to);
      case 'status':
        return await status(ctx);
      case 'history':
        return await history(ctx, intent.limit);
      case 'invalidate':
        return await invalidate(ctx, intent.deployId);
      case 'promote':
        return await promote(ctx, intent.ref, intent.canary === true);
      case 'canary':
        return await canary(ctx, intent.ref, intent.percent);
      case 'abort-canary':
        return await abortCanary(ctx);
      case 'preview':
        return await preview(ctx, intent.ref);
      case 'pin':
        return await pin(ctx, intent.ref);
      case 'unpin':
        return await unpin(ctx);
      case 'refuse':
      case 'unknown':
        return { outcome: 'refused', message: intent.reason };
    }
  } catch (error) {
    if (error instanceof WordsRefused) return { outcome: 'refused', message: error.message };
    if (!(error instanceof StepStopped)) throw error;
    const { call } = error;
    if (call.declined) {
      return {
        outcome: 'declined',
        message: `Nothing was changed: ${call.record.tool} on ${where(ctx)} was not approved: ${call.record.summary.replace(/^Not approved: /, '')}`,
      };
    }
    // The pin is a refusal with its reasons, not a failure: say it as the server said it.
    const answered = errorOf(call);
    if (answered?.code === 'PINNED') return { outcome: 'refused', message: answered.message };
    // A protected stack whose approval this request does not have (an approver's signature, a
    // GitHub environment's): not approved (exit 2), not a failure. The server's words say how to get it.
    if (answered?.code === 'APPROVAL_REQUIRED') {
      return {
        outcome: 'declined',
        message: `Not approved yet: ${call.record.tool} needs an approval this request does not have, so nothing was changed. The infra server says: ${call.text.replace(callAgain(call.record.tool), 'then ask the agent again, in the same words')}`,
      };
    }
    // A server's "that input is wrong" (BAD_INPUT, NOT_FOUND, CONFLICT) before this request changed anything is
    // a refusal, as the CLI says the same answer (exit 2); after a change, what was done is the news.
    const refused = inputErrorOf(call);
    if (refused && !changedBefore(ctx.gate, call))
      return { outcome: 'refused', message: `${refused.message} Nothing was changed.` };
    return { outcome: 'failed', message: `${call.record.tool} failed: ${call.text || call.record.summary}` };
  }
}

/** Whether a call before `call` in this request changed something (a tool that is not read-only ran). */
function changedBefore(gate: ToolGate, call: GateCall): boolean {
  const before = gate.calls.slice(0, Math.max(0, gate.calls.indexOf(call.record)));
  return before.some(
    (c) => c.status === 'ok' && (c.tool in TOOLS ? TOOLS[c.tool as ToolName].impact !== 'read' : true),
  );
}

/** The release that was live at the end of yesterday: the newest successful one finished before today. */
export function pickYesterdaysRelease(deployments: readonly HistoryItem[], now: Date): HistoryItem | null {
  const startOfToday = new Date(now);
  startOfToday.setHours(0, 0, 0, 0);
  return (
    [...deployments]
      .filter(
        (d) =>
          d.outcome === 'succeeded' &&
          wentLiveForEveryone(d) &&
          Date.parse(d.finishedAt) < startOfToday.getTime(),
      )
      .sort((a, b) => b.finishedAt.localeCompare(a.finishedAt))[0] ?? null
  );
}

// ── intents ──────────────────────────────────────────────────────────────────────────────────────

async function deploy(ctx: RunbookContext, ref: string | null): Promise<PlannerOutcome> {
  const commit = await resolveCommit(ctx, ref);
  const target = await step(ctx, 'get_deploy_target', {
    ...stackArg(ctx),
    app: ctx.app,
    commit: commit.sha,
  }).catch(refuseInputError);
  if (target.noop) {
    return {
      outcome: 'noop',
      commit: commit.sha,
      message: `${ctx.app} ${shortSha(commit.sha)} is already live on ${target.stack}; nothing to do.`,
    };
  }
  const sync = await step(ctx, 'run_sync', { handle: target.handle });
  const cdn = await step(ctx, 'invalidate_cdn', { deployId: sync.deployId, ...stackArg(ctx) });
  // A stopped change the sync finished first is a deployment like any: its tag first, as the CLI's.
  const first = sync.finishedFirstChange;
  // Its tag not made (refused, the git server down) is said, and never keeps the run's own from being made.
  const firstTag = first
    ? await tagRelease(ctx, { ...first, stack: sync.stack }).then(
        ({ name }) => ({
          name,
          line: `First finished ${first.deployId} (${shortSha(first.commit)}); its tag: ${name}.`,
        }),
        (error: unknown) => {
          if (!(error instanceof StepStopped)) throw error;
          return {
            name: null,
            line: `First finished ${first.deployId} (${shortSha(first.commit)}); its tag could not be made: ${error.message}`,
          };
        },
      )
    : null;
  const failed = notServed(
    cdn,
    `Deployed ${ctx.app} ${shortSha(commit.sha)} ("${commit.subject}") to ${sync.stack}`,
  );
  if (failed) return firstTag ? { ...failed, message: `${firstTag.line}\n${failed.message}` } : failed;
  const tag = await tagRelease(ctx, {
    ...sync,
    commit: commit.sha,
    auditHead: cdn.auditHead,
    receipt: cdn.receipt,
  });
  const siteUrl = await readSiteUrl(ctx);
  return {
    outcome: 'succeeded',
    deployId: sync.deployId,
    commit: commit.sha,
    tag: tag.name,
    filesChanged: sync.copied + cdn.pruned,
    invalidationIds: cdn.invalidationIds,
    ...(siteUrl ? { siteUrl } : {}),
    ...(firstTag?.name ? { finishedFirstTag: firstTag.name } : {}),
    message: [
      firstTag?.line ?? '',
      `Deployed ${ctx.app} ${shortSha(commit.sha)} ("${commit.subject}") to ${sync.stack} as ${sync.deployId}.`,
      // What was pruned is the record's: an atomic release prunes after its switch, past run_sync.
      `Files: ${sync.copied} copied, ${sync.unchanged} unchanged, ${cdn.pruned} pruned.`,
      `Invalidation: ${cdn.invalidationIds.length ? cdn.invalidationIds.join(', ') : 'none needed'}${verificationNote(cdn.verification)}.`,
      `Tag: ${tag.name}.`,
      siteUrl ? `Live at ${siteUrl}` : '',
    ]
      .filter(Boolean)
      .join('\n'),
  };
}

/** --dry-run of a deploy, and "what would change": read-only calls only, the rest listed. */
async function planDeploySteps(
  ctx: RunbookContext,
  ref: string | null,
  listWrites: boolean,
): Promise<PlannerOutcome> {
  const commit = await resolveCommit(ctx, ref);
  const plan = await step(ctx, 'plan_deploy', { ...stackArg(ctx), app: ctx.app, commit: commit.sha });
  if (listWrites) {
    ctx.gate.skip(
      'get_deploy_target',
      { ...stackArg(ctx), app: ctx.app, commit: commit.sha },
      'Dry run: would get a deploy handle.',
    );
    ctx.gate.skip(
      'run_sync',
      { handle: '<from get_deploy_target>' },
      'Dry run: would sync (after approval on protected stacks).',
    );
    ctx.gate.skip(
      'invalidate_cdn',
      { deployId: '<from run_sync>', ...stackArg(ctx) },
      'Dry run: would invalidate changed paths.',
    );
    ctx.gate.skip(
      'create_deploy_tag',
      {
        deployId: '<from run_sync>',
        commit: commit.sha,
        artifactDigest: plan.artifactDigest,
        request: ctx.text,
      },
      'Dry run: would tag the deployed commit.',
    );
  }
  const commits = plan.noop ? null : await releaseCommitsOf(ctx, plan);
  return {
    outcome: 'planned',
    commit: commit.sha,
    data: { ...plan, ...(commits ? { commits } : {}) },
    message: [
      `${plan.noop ? 'Nothing would change: ' : 'Would '}${plan.description}`,
      ...(plan.noop ? [] : releaseContentsLines({ commits, contents: plan.contents ?? null })),
    ].join('\n'),
  };
}

/**
 * The commits between the live release and the planned one (git server), read as every other surface
 * reads them (readReleaseCommits): both ways where history was rewritten, so a plan also names the
 * commits of the live release a force-pushed build leaves out. null when the git server cannot say.
 */
async function releaseCommitsOf(
  ctx: RunbookContext,
  plan: Pick<PlanView, 'fromCommit' | 'commit' | 'kind'>,
): Promise<ReleaseCommits | null> {
  if (!plan.fromCommit || plan.fromCommit === plan.commit) return null;
  let answered = true;
  const asked = async <T extends 'commits_between' | 'get_commit'>(name: T, args: ToolInput<T>) => {
    const call = await ctx.gate.call(name, args);
    answered &&= call.ok;
    if (!call.ok) throw new Error(`${name} was not answered`);
    return parseResult(name, call.structured);
  };
  const found = await readReleaseCommits(
    {
      commitsBetween: (base, head, path, limit) => asked('commits_between', { base, head, path, limit }),
      getCommit: async (ref) => (await asked('get_commit', { ref })).commit,
    },
    { from: plan.fromCommit, to: plan.commit, path: ctx.appPath, kind: plan.kind },
  );
  return answered ? found : null;
}

async function rollback(
  ctx: RunbookContext,
  to: Extract<Intent, { kind: 'rollback' }>['to'],
): Promise<PlannerOutcome> {
  const before = await step(ctx, 'get_status', stackArg(ctx));
  const { live } = before;
  let target: string | undefined;
  if (to.type === 'deploy') target = to.deployId;
  if (to.type === 'commit')
    target = FULL_COMMIT.test(to.ref) ? to.ref : (await resolveCommit(ctx, to.ref)).sha;
  if (to.type === 'yesterday') {
    // Read back until yesterday's release is among the rows: today's may be many, canary rows too.
    const past = await historyUntil(ctx, (rows) => pickYesterdaysRelease(rows, ctx.now) !== null);
    const release = pickYesterdaysRelease(past, ctx.now);
    if (!release) {
      return {
        outcome: 'refused',
        message: `No release of ${before.stack} finished before today, so there is no yesterday's version to roll back to. Nothing was changed. "show the deploy history" lists the releases it can go back to.`,
      };
    }
    if (live && release.deployId === live.deployId) {
      return {
        outcome: 'noop',
        message: `Yesterday's release ${release.deployId} is still live; nothing to do.`,
      };
    }
    target = release.deployId;
  }
  // Name the release a person approves: "the previous release" is the one after the live one.
  let destination: Pick<ReleaseView, 'app' | 'commit' | 'deployId'> | null = target
    ? (before.releases.find((r) => r.deployId === target || r.commit === target) ?? null)
    : (before.releases.find((r) => r.deployId !== live?.deployId && r.commit !== live?.commit) ?? null);
  // On a protected stack a person is asked before the rollback runs: a release the stack never had
  // is refused first, not put to them (the server looks in the same history).
  if (target && !destination && before.protected) destination = await pastRelease(ctx, before.stack, target);
  const args = { ...stackArg(ctx), ...(target ? { to: target } : {}) };
  const approvalSummary = `roll back ${before.stack} from ${describeRelease(live)} to ${
    destination ? describeRelease(destination) : (target ?? 'the previous release')
  }`;
  if (ctx.dryRun) {
    ctx.gate.skip('rollback', args, `Dry run: would ${approvalSummary}.`);
    return { outcome: 'planned', message: `Would ${approvalSummary}.` };
  }
  // On a protected stack the approval names the planned deploy id, so it approves this plan only.
  const planned =
    before.protected && destination
      ? await step(ctx, 'plan_deploy', { ...stackArg(ctx), app: destination.app, commit: destination.commit })
      : null;
  const result = await step(ctx, 'rollback', args, {
    approvalSummary,
    ...(planned ? { deployId: planned.deployId } : {}),
  }).catch((error: unknown) => {
    // The release the words name is not one the stack can go back to: their mistake, said as the server says it.
    if (to.type === 'deploy' || to.type === 'commit') refuseInputError(error);
    throw error;
  });
  const failed = notServed(result, `Rolled back ${result.stack} to ${shortSha(result.commit)}`);
  if (failed) return failed;
  // Nothing changed (the release "roll back" goes to is the live one, e.g. a rollback's own): say so,
  // with the live release's deploy id, never the id of a deployment that did not happen.
  if (result.outcome === 'noop') {
    return {
      outcome: 'noop',
      commit: result.commit,
      ...(live ? { deployId: live.deployId } : {}),
      message: [
        `${describeRelease(live)} is already live on ${result.stack}, and it is what "roll back" goes to: nothing changed.`,
        'To go further back, name the release: "roll back to <deploy id or commit>"; "show the deploy history" lists them.',
      ].join('\n'),
    };
  }
  const tag = await tagRelease(ctx, result);
  const siteUrl = await readSiteUrl(ctx);
  return {
    ...madeLive(result, tag, siteUrl),
    message: [
      `Rolled back ${result.stack} from ${describeRelease(live)} to ${shortSha(result.commit)} as ${result.deployId}.`,
      `Files: ${result.copied} copied, ${result.pruned} pruned. Invalidation: ${result.invalidationIds.join(', ') || 'none needed'}.`,
      result.pinned ? `${result.stack} is now pinned to ${shortSha(result.commit)}: ${PIN_EFFECT}.` : '',
      tag ? `Tag: ${tag.name}.` : '',
      siteUrl ? `Live at ${siteUrl}` : '',
    ]
      .filter(Boolean)
      .join('\n'),
  };
}

async function status(ctx: RunbookContext): Promise<PlannerOutcome> {
  const result = await step(ctx, 'get_status', stackArg(ctx));
  const { live, siteUrl } = result;
  const by = live?.request ? ` by ${live.request.actor}` : '';
  // What the CDN serves, when it is not what was recorded, comes first (as `frontendops status` says it).
  const served = describeServed(result.served);
  return {
    outcome: 'answered',
    data: result,
    ...(live ? { deployId: live.deployId, commit: live.commit } : {}),
    ...(siteUrl ? { siteUrl } : {}),
    message:
      (served ? `${served}\n` : '') +
      (live
        ? `Live on ${result.stack}: ${describeRelease(live)}, released ${live.releasedAt}${by}` +
          `${result.pending ? ' (a deploy is in progress)' : ''}.${siteUrl ? ` Site: ${siteUrl}` : ''}` +
          (result.pin
            ? `\nPinned to ${shortSha(result.pin.commit)} by ${result.pin.by} since ${result.pin.at}${result.pin.reason ? ` ("${result.pin.reason}")` : ''}: ${PIN_EFFECT}.`
            : '') +
          (result.canary ? `\nMeanwhile ${describeCanary(result.canary)}.` : '')
        : `Nothing is live on ${result.stack} yet.`),
  };
}

async function history(ctx: RunbookContext, limit: number): Promise<PlannerOutcome> {
  const result = await step(ctx, 'get_history', { ...stackArg(ctx), limit });
  const lines = result.deployments.map(
    (d) =>
      `${historyTime(d)}  ${d.kind}  ${shortSha(d.commit)}  ${d.deployId}  ${d.outcome}  by ${d.request.actor}${d.request.message ? ` — "${d.request.message}"` : ''}`,
  );
  return {
    outcome: 'answered',
    data: result,
    message: lines.length
      ? [`Last ${lines.length} deployment(s) of ${result.stack} (finished, UTC):`, ...lines].join('\n')
      : `No deployments of ${result.stack} yet.`,
  };
}

async function invalidate(ctx: RunbookContext, deployId: string | null): Promise<PlannerOutcome> {
  let id = deployId;
  if (!id) {
    const current = await step(ctx, 'get_status', stackArg(ctx));
    if (!current.live)
      return {
        outcome: 'refused',
        message: `Nothing is live on ${current.stack}, so there is nothing to invalidate. Nothing was changed.`,
      };
    id = current.live.deployId;
  }
  if (ctx.dryRun) {
    ctx.gate.skip(
      'invalidate_cdn',
      { deployId: id, ...stackArg(ctx) },
      `Dry run: would invalidate the paths of ${id}.`,
    );
    return {
      outcome: 'planned',
      deployId: id,
      message: `Would invalidate the CDN paths of ${id} on ${where(ctx)}.`,
    };
  }
  const result = await step(ctx, 'invalidate_cdn', { deployId: id, ...stackArg(ctx) });
  const failed = notServed(result, `Invalidated the CDN paths of ${id}`);
  if (failed) return failed;
  return {
    outcome: 'succeeded',
    deployId: id,
    invalidationIds: result.invalidationIds,
    message: `Invalidated ${result.paths.length} path(s) for ${id}: ${result.invalidationIds.join(', ') || 'nothing needed'}${verificationNote(result.verification)}.`,
  };
}

/** "promote the latest": deploy it for everyone and clear the pin, after showing what is in it. */
async function promote(
  ctx: RunbookContext,
  ref: string | null,
  canaryWords: boolean,
): Promise<PlannerOutcome> {
  // A running canary is what "promote" means, unless the words name another release.
  const running = (await step(ctx, 'get_status', stackArg(ctx))).canary;
  if (running && (!ref || running.commit.startsWith(ref.toLowerCase()))) return promoteCanary(ctx, running);
  // Words that say "canary" ask for the canary's promote, never a release's (which would make
  // another release live for everyone and lift any pin).
  if (canaryWords) {
    throw new WordsRefused(
      running
        ? `The canary on ${where(ctx)} runs ${running.app}@${shortSha(running.commit)}, not ${ref}: nothing was changed. To promote the canary, say "promote the canary"; to make ${ref} live for everyone, say "promote ${ref}".`
        : `No canary runs on ${where(ctx)}, so there is no canary to promote. Nothing was changed. To make a release live for everyone, say "promote the latest" (or name its commit).`,
    );
  }
  const commit = await resolveCommit(ctx, ref);
  const [plan, status] = [
    await step(ctx, 'plan_deploy', { ...stackArg(ctx), app: ctx.app, commit: commit.sha }),
    await step(ctx, 'get_status', stackArg(ctx)),
  ];
  const { pin } = status;
  const what = `${ctx.app} ${shortSha(commit.sha)} ("${commit.subject}")`;
  if (plan.noop && !pin) {
    return {
      outcome: 'noop',
      commit: commit.sha,
      message: `${what} is already live on ${plan.stack} and nothing is pinned; nothing to do.`,
    };
  }
  const lifting = pin ? ` and clear the pin (${shortSha(pin.commit)}, by ${pin.by})` : '';
  const approvalSummary = `promote ${ctx.app}@${shortSha(commit.sha)} on ${plan.stack}${lifting}: ${plan.description}`;
  const args = { ...stackArg(ctx), to: commit.sha };
  if (ctx.dryRun) {
    ctx.gate.skip('promote_release', args, `Dry run: would ${approvalSummary}.`);
    const commits = plan.noop ? null : await releaseCommitsOf(ctx, plan);
    return {
      outcome: 'planned',
      commit: commit.sha,
      message: [
        `Would ${approvalSummary}.`,
        ...releaseContentsLines({ commits, contents: plan.contents ?? null }),
      ].join('\n'),
    };
  }
  const result = await step(ctx, 'promote_release', args, { approvalSummary, deployId: plan.deployId });
  const failed = notServed(result, `Promoted ${what} on ${result.stack}`);
  if (failed) return failed;
  const tag = result.outcome === 'noop' ? null : await tagRelease(ctx, result);
  const siteUrl = await readSiteUrl(ctx);
  const unpinned = result.unpinned
    ? `The pin (${shortSha(result.unpinned.commit)}, by ${result.unpinned.by}) is cleared: deploys go through again.`
    : 'Nothing was pinned.';
  return {
    ...madeLive(result, tag, siteUrl),
    message: [
      result.outcome === 'noop'
        ? `${what} was already live on ${result.stack}.`
        : `Promoted ${what} on ${result.stack} as ${result.deployId}: live for everyone.`,
      unpinned,
      result.outcome === 'noop'
        ? ''
        : `Files: ${result.copied} copied, ${result.unchanged} unchanged, ${result.pruned} pruned. Invalidation: ${result.invalidationIds.join(', ') || 'none needed'}${verificationNote(result.verification)}.`,
      tag ? `Tag: ${tag.name}.` : '',
      siteUrl ? `Live at ${siteUrl}` : '',
    ]
      .filter(Boolean)
      .join('\n'),
  };
}

/** "deploy to 10% first": a sticky share of visitors gets the release; the rest keep the live one. */
async function canary(ctx: RunbookContext, ref: string | null, percent: number): Promise<PlannerOutcome> {
  const commit = await resolveCommit(ctx, ref);
  const plan = await step(ctx, 'plan_deploy', { ...stackArg(ctx), app: ctx.app, commit: commit.sha });
  const what = `${ctx.app} ${shortSha(commit.sha)} ("${commit.subject}")`;
  const approvalSummary = `send ${percent}% of visitors on ${plan.stack} to ${ctx.app}@${shortSha(commit.sha)} (canary): ${plan.description}`;
  const args = { ...stackArg(ctx), app: ctx.app, commit: commit.sha, percent };
  const commits = plan.noop ? null : await releaseCommitsOf(ctx, plan);
  const contents = releaseContentsLines({ commits, contents: plan.contents ?? null });
  if (ctx.dryRun) {
    ctx.gate.skip('start_canary', args, `Dry run: would ${approvalSummary}.`);
    return {
      outcome: 'planned',
      commit: commit.sha,
      message: [`Would ${approvalSummary}.`, ...contents].join('\n'),
    };
  }
  const result = await step(ctx, 'start_canary', args, { approvalSummary, deployId: plan.deployId });
  const failed = notServed(result, `Sent ${result.percent}% of visitors on ${result.stack} to ${what}`);
  if (failed) return failed;
  const siteUrl = await readSiteUrl(ctx);
  return {
    outcome: 'succeeded',
    deployId: result.deployId,
    commit: result.commit,
    filesChanged: result.copied,
    ...(siteUrl ? { siteUrl } : {}),
    message: [
      `${result.percent}% of visitors on ${result.stack} now get ${what}; everyone else keeps the live release.`,
      `Files: ${result.copied} copied; nothing invalidated${verificationNote(result.verification)}.`,
      'Next: "promote" makes it live for everyone; "abort the canary" ends it.',
      ...contents,
    ].join('\n'),
  };
}

/** Promote the running canary: its release becomes live for everyone, by one key write. */
async function promoteCanary(
  ctx: RunbookContext,
  running: NonNullable<ToolOutput<'get_status'>['canary']>,
): Promise<PlannerOutcome> {
  const approvalSummary = `promote the canary on ${ctx.stack ?? "the server's stack"}: ${running.app}@${shortSha(running.commit)} live for everyone (it gets ${running.percent}% now)`;
  if (ctx.dryRun) {
    ctx.gate.skip('promote_canary', stackArg(ctx), `Dry run: would ${approvalSummary}.`);
    return { outcome: 'planned', commit: running.commit, message: `Would ${approvalSummary}.` };
  }
  const result = await step(
    ctx,
    'promote_canary',
    { ...stackArg(ctx) },
    { approvalSummary, deployId: running.deployId },
  );
  const failed = notServed(
    result,
    `Promoted the canary on ${result.stack} (${running.app} ${shortSha(result.commit)})`,
  );
  if (failed) return failed;
  const tag = await tagRelease(ctx, result);
  const siteUrl = await readSiteUrl(ctx);
  return {
    outcome: 'succeeded',
    deployId: result.deployId,
    commit: result.commit,
    tag: tag.name,
    ...(siteUrl ? { siteUrl } : {}),
    message: [
      `Promoted the canary on ${result.stack}: ${running.app} ${shortSha(result.commit)} is live for everyone as ${result.deployId} (one key write, nothing invalidated${verificationNote(result.verification)}).`,
      `Tag: ${tag.name}.`,
      siteUrl ? `Live at ${siteUrl}` : '',
    ]
      .filter(Boolean)
      .join('\n'),
  };
}

/** "abort the canary": everyone back on the live release. */
async function abortCanary(ctx: RunbookContext): Promise<PlannerOutcome> {
  const running = (await step(ctx, 'get_status', stackArg(ctx))).canary;
  if (!running) {
    return { outcome: 'noop', message: `No canary runs on ${where(ctx)}; nothing to abort.` };
  }
  const approvalSummary = `abort the canary on ${ctx.stack ?? "the server's stack"}: the ${running.percent}% on ${running.app}@${shortSha(running.commit)} go back to the live release`;
  if (ctx.dryRun) {
    ctx.gate.skip('abort_canary', stackArg(ctx), `Dry run: would ${approvalSummary}.`);
    return { outcome: 'planned', commit: running.commit, message: `Would ${approvalSummary}.` };
  }
  const result = await step(
    ctx,
    'abort_canary',
    { ...stackArg(ctx) },
    { approvalSummary, deployId: running.deployId },
  );
  const failed = notServed(result, `Aborted the canary on ${result.stack}`);
  if (failed) return failed;
  return {
    outcome: 'succeeded',
    commit: running.commit,
    message: `Aborted the canary on ${result.stack}: everyone gets the live release again (one key write${verificationNote(result.verification)}). Its files are pruned after a grace.`,
  };
}

/** "give me a preview of the latest build": a signed, expiring link; visitors see no change. */
async function preview(ctx: RunbookContext, ref: string | null): Promise<PlannerOutcome> {
  const commit = await resolveCommit(ctx, ref);
  const args = { ...stackArg(ctx), app: ctx.app, commit: commit.sha };
  if (ctx.dryRun) {
    ctx.gate.skip('preview_release', args, 'Dry run: would make a preview link.');
    return {
      outcome: 'planned',
      commit: commit.sha,
      message: `Would make a preview link of ${ctx.app} ${shortSha(commit.sha)}.`,
    };
  }
  const link = await step(ctx, 'preview_release', args);
  return {
    outcome: 'answered',
    commit: link.commit,
    data: link,
    message: `Preview of ${link.app} ${shortSha(link.commit)} ("${commit.subject}"), until ${link.expiresAt}: ${link.url}\nVisitors still get the live release; the link works for whoever has it until it expires.`,
  };
}

async function pin(ctx: RunbookContext, ref: string | null): Promise<PlannerOutcome> {
  // A release the words name is pinned only if it is the live one: the server checks `to`.
  const named = ref ? await resolveCommit(ctx, ref) : null;
  const args = { ...stackArg(ctx), ...(named ? { to: named.sha } : {}) };
  const what = named ? `${shortSha(named.sha)}, if it is the live release` : 'the live release';
  if (ctx.dryRun) {
    ctx.gate.skip('pin_release', args, `Dry run: would pin ${what}.`);
    return { outcome: 'planned', message: `Would pin ${what} of ${where(ctx)}.` };
  }
  const result = await step(ctx, 'pin_release', args).catch((error: unknown) => {
    // The words named a release that is not live: their mistake, said in the agent's words.
    if (named && error instanceof StepStopped && errorOf(error.call)?.code === 'CONFLICT') {
      const short = shortSha(named.sha);
      throw new WordsRefused(
        `${short} is not the live release of ${where(ctx)}, and a pin keeps what is live. Nothing was pinned. To go back to ${short} and keep it, say "roll back to ${short}" (a rollback pins).`,
      );
    }
    throw error;
  });
  const { pin: p } = result;
  return {
    outcome: result.created ? 'succeeded' : 'noop',
    deployId: p.deployId,
    commit: p.commit,
    message: result.created
      ? `Pinned ${result.stack} to ${p.app} ${shortSha(p.commit)} (${p.deployId}). ${capitalise(PIN_EFFECT)}.`
      : `${result.stack} was already pinned to ${p.app} ${shortSha(p.commit)} by ${p.by} since ${p.at}; nothing changed.`,
  };
}

async function unpin(ctx: RunbookContext): Promise<PlannerOutcome> {
  if (ctx.dryRun) {
    // On a protected stack the infra server refuses the agent's unpin: its dry run says so, not that it would.
    const status = await step(ctx, 'get_status', stackArg(ctx));
    if (status.protected)
      return { outcome: 'declined', message: `Would not unpin: ${protectedUnpin(status.stack)}` };
    ctx.gate.skip('unpin_release', stackArg(ctx), 'Dry run: would unpin.');
    return { outcome: 'planned', message: `Would unpin ${where(ctx)}.` };
  }
  const result = await step(ctx, 'unpin_release', stackArg(ctx));
  const was = result.unpinned;
  return {
    outcome: was ? 'succeeded' : 'noop',
    message: was ? unpinnedSentence(result.stack, was) : notPinned(result.stack),
  };
}

// ── private helpers ──────────────────────────────────────────────────────────────────────────────

/** One call through the gate; its typed result, or StepStopped with the call. */
async function step<N extends ToolName>(
  ctx: RunbookContext,
  tool: N,
  args: ToolInput<N>,
  hints: { approvalSummary?: string; deployId?: string } = {},
): Promise<ToolOutput<N>> {
  const call = await ctx.gate.call(tool, args, hints);
  if (!call.ok) throw new StepStopped(call);
  return parseResult(tool, call.structured);
}

const stackArg = (ctx: RunbookContext) => (ctx.stack ? { stack: ctx.stack } : {});
const where = (ctx: RunbookContext) => ctx.stack ?? "the server's stack";

/**
 * A change the CDN did not serve (outcome failed): a failure (exit 1), saying what happened and
 * where the site is now; never tagged, as the CLI and the console do not tag it either. null when
 * the change did not fail.
 */
function notServed(
  result: {
    outcome: string;
    deployId: string;
    commit: string;
    verification: { ok: boolean; detail: string } | null;
    rolledBackTo: string | null;
  },
  what: string,
): PlannerOutcome | null {
  if (result.outcome !== 'failed') return null;
  const why = result.verification?.ok === false ? result.verification.detail : 'it was recorded as failed';
  return {
    outcome: 'failed',
    deployId: result.deployId,
    commit: result.commit,
    message: [
      `${what} as ${result.deployId}, but the CDN did not serve it (${why}).`,
      result.rolledBackTo
        ? `${capitalise(switchedBack(result.rolledBackTo))}.`
        : `${capitalise(NOT_SWITCHED_BACK)}: check the CDN, or say "roll back".`,
      'It is recorded as failed in the audit log, with no deploy tag.',
    ].join('\n'),
  };
}

/** What every answer about a release made live (a rollback, a promote) reports beside its words. */
function madeLive(
  result: {
    outcome: string;
    deployId: string;
    commit: string;
    copied: number;
    pruned: number;
    invalidationIds: string[];
  },
  tag: { name: string } | null,
  siteUrl: string | undefined,
): Omit<PlannerOutcome, 'message'> {
  return {
    outcome: result.outcome === 'noop' ? 'noop' : 'succeeded',
    deployId: result.deployId,
    commit: result.commit,
    ...(tag ? { tag: tag.name } : {}),
    filesChanged: result.copied + result.pruned,
    invalidationIds: result.invalidationIds,
    ...(siteUrl ? { siteUrl } : {}),
  };
}

/**
 * The deploy tag of a deployment this request made live: it names the commit, the artifact, the
 * stack and the audit head the infra server reported (the tag anchors the audit chain), with the
 * infra server's receipt for them.
 */
function tagRelease(
  ctx: RunbookContext,
  made: {
    deployId: string;
    commit: string;
    artifactDigest: string;
    stack: string;
    auditHead?: { seq: number; hash: string } | null;
    /** The infra server's receipt for it: the git server tags only what one vouches for. */
    receipt: string | null;
  },
) {
  return step(ctx, 'create_deploy_tag', {
    deployId: made.deployId,
    commit: made.commit,
    artifactDigest: made.artifactDigest,
    // The gate puts the words of the request that made it here (a change finished first: that one's).
    request: ctx.text,
    stack: made.stack,
    ...(made.auditHead ? { auditHead: formatAuditHead(made.auditHead) } : {}),
    // The gate puts the infra server's receipt here in any case (agent/gate.ts); none: it refuses.
    receipt: made.receipt ?? '',
  });
}

async function resolveCommit(
  ctx: RunbookContext,
  ref: string | null,
): Promise<{ sha: string; subject: string }> {
  const commit = ref
    ? await namedCommit(ctx, ref)
    : (await step(ctx, 'latest_commit', { path: ctx.appPath })).commit;
  if (!commit) {
    ctx.gate.refuse('latest_commit', {}, `no commit${touching(ctx.appPath)} was found.`);
    throw new WordsRefused(
      `No commit${touching(ctx.appPath)} was found (the app's path is ${ctx.appPath}: "appPath" in frontendops.config.json), so there is no build of ${ctx.app} to deploy. Nothing was changed. Check "appPath", or commit the app first.`,
    );
  }
  return { sha: commit.sha, subject: commit.message.split('\n')[0] ?? '' };
}

/** The commit the words name; refused (not failed) when the repository has none by that name. */
async function namedCommit(ctx: RunbookContext, ref: string): Promise<ToolOutput<'get_commit'>['commit']> {
  const call = await ctx.gate.call('get_commit', { ref });
  const refused = inputErrorOf(call);
  const found = call.ok ? parseResult('get_commit', call.structured).commit : null;
  if (found) return found;
  if (!call.ok && !refused) throw new StepStopped(call);
  const what =
    refused?.code === 'BAD_INPUT'
      ? `"${ref}" cannot be looked up in the repository (${refused.message})`
      : `"${ref}" names no commit, branch or tag in the repository`;
  throw new WordsRefused(
    `${what}. Nothing was changed. Check the sha or tag and ask again; "show the deploy history" lists the released ones.`,
  );
}

async function readSiteUrl(ctx: RunbookContext): Promise<string | undefined> {
  const call = await ctx.gate.call('get_status', stackArg(ctx));
  return call.ok ? (parseResult('get_status', call.structured).siteUrl ?? undefined) : undefined;
}

/** What the CDN was found serving, as the end of a clause: true of a deploy, a promote and an abort alike. */
function verificationNote(v: { ok: boolean; detail: string } | null): string {
  if (!v) return '';
  return v.ok ? '; verified: the CDN serves it' : `; verification failed: ${v.detail}`;
}

/** How many releases back a rollback's destination is looked for: the rollback tool's 200 (deploy/deploy.ts). */
const ROLLBACK_RELEASES = 200;
/** The most pages of history (get_history calls, 100 rows each) the runbook reads for one answer. */
const HISTORY_PAGES = 10;

/**
 * The stack's history, newest first, read a page at a time until `enough` of it is read, the
 * history ends, or HISTORY_PAGES pages. Pages are of rows, and a canary's start and abort rows are
 * no release: a reader counts releases (wentLiveForEveryone), never rows, to know how far it looked.
 */
async function historyUntil(
  ctx: RunbookContext,
  enough: (rows: readonly HistoryItem[]) => boolean,
): Promise<HistoryItem[]> {
  const rows: HistoryItem[] = [];
  let before: string | undefined;
  for (let page = 0; page < HISTORY_PAGES; page++) {
    const found = await step(ctx, 'get_history', {
      ...stackArg(ctx),
      limit: 100,
      ...(before ? { before } : {}),
    });
    rows.push(...found.deployments);
    if (!found.next || enough(rows)) break;
    before = found.next;
  }
  return rows;
}

/** The rows up to the `count`th release (wentLiveForEveryone) among them, newest first. */
function upToReleases(rows: readonly HistoryItem[], count: number): HistoryItem[] {
  let releases = 0;
  const end = rows.findIndex((d) => wentLiveForEveryone(d) && ++releases === count);
  return end < 0 ? [...rows] : rows.slice(0, end + 1);
}

/**
 * The release a deploy id or commit names in the stack's recorded history (its newest 200 releases,
 * as the rollback tool looks); refused, saying what to do, when there is none.
 */
async function pastRelease(
  ctx: RunbookContext,
  stack: string,
  target: string,
): Promise<Pick<ReleaseView, 'app' | 'commit' | 'deployId'>> {
  const names = (d: HistoryItem) => d.deployId === target || d.commit.startsWith(target);
  // A rollback goes to a release the stack had (the server's rule, deploy/deploy.ts): a deployment
  // that went live, not one that failed its verification or was superseded before it did.
  const went = (d: HistoryItem) => names(d) && wentLiveForEveryone(d) && d.outcome === 'succeeded';
  const rows = upToReleases(
    await historyUntil(
      ctx,
      (read) => read.some(went) || read.filter(wentLiveForEveryone).length >= ROLLBACK_RELEASES,
    ),
    ROLLBACK_RELEASES,
  );
  const matching = rows.filter(names);
  const hit = matching.find(went);
  if (hit) return hit;
  // A canary's start or abort row is no release the stack had live for everyone.
  const other = matching.find(wentLiveForEveryone);
  const canary = matching.find((d) => !wentLiveForEveryone(d));
  if (other) {
    throw new WordsRefused(
      `Deployment ${other.deployId} (${other.app}@${shortSha(other.commit)}) did not go live on ${stack} (it is recorded ${other.outcome}), so it is no release to roll back to, and nobody was asked to approve it. Nothing was changed. To make that build live, ask to deploy it: "deploy ${shortSha(other.commit)}".`,
    );
  }
  if (canary) {
    throw new WordsRefused(
      canaryRowRefused({
        row: { ...canary, event: canary.kind === 'canary-start' ? 'canary-start' : 'canary-abort' },
        named: target,
        stack,
        asked: 'roll back to',
        unasked: true,
        instead: (commit) => `To make that build live, ask to deploy it: "deploy ${shortSha(commit)}".`,
      }),
    );
  }
  throw new WordsRefused(
    `No deployment or commit "${target}" is known for ${stack}, so nobody was asked to approve it. Nothing was changed. "show the deploy history" lists the deploy ids and commits it can go back to.`,
  );
}

const describeRelease = (release: Pick<ReleaseView, 'commit' | 'deployId'> | null): string =>
  release ? `${shortSha(release.commit)} (${release.deployId})` : 'nothing';
