/**
 * The read models, defined once: what is live (status), what happened (history), and what a plan
 * would do. The CLI prints them, the infra MCP server returns them as structured results, the
 * console shows them. They copy named fields only, so a field added to a record later (say, one
 * holding a bucket name) never leaks by accident. Types only for the browser; zod for MCP.
 */
import * as z from 'zod';
import { isCanaryEvent } from '../engine/canary-event.ts';
import { describeFinish, describePlan } from '../engine/describe.ts';
import type { DeployPlan } from '../engine/plan.ts';
import type { StoppedChange } from '../engine/stopped-change.ts';
import type { DeploymentRecord, ReleaseRef, RequestInfo } from '../state/records.ts';
import { PIN_EFFECT } from './pin-words.ts';

export const requestView = z.object({
  text: z.string().describe('The words of the request'),
  actor: z.string().describe('Who asked (as recorded; a client-supplied name is a claim)'),
  planner: z.string(),
  at: z.string(),
  message: z.string().optional().describe('What the person said about the change'),
});
export type RequestView = z.infer<typeof requestView>;

export const releaseView = z.object({
  deployId: z.string(),
  app: z.string(),
  commit: z.string(),
  releasedAt: z.string(),
});
export type ReleaseView = z.infer<typeof releaseView>;

/** Which release a pin holds, who set it, why and when: a pin's fields, and those of the one it replaced. */
const pinnedView = z.object({
  deployId: z.string(),
  app: z.string(),
  commit: z.string(),
  by: z.string().describe('Who pinned'),
  reason: z.string().nullable().describe('Why, in their words'),
  at: z.string(),
});

export const pinView = pinnedView.extend({
  cause: z.enum(['rollback', 'pin']).describe('A rollback pins by itself; "pin" is on purpose'),
  replaces: pinnedView
    .optional()
    .describe("A rollback's pin: the pin someone had set on purpose that it replaced"),
});
export type PinView = z.infer<typeof pinView>;

export const canaryView = z.object({
  deployId: z.string().describe('The deploy id the canary gets when promoted'),
  app: z.string(),
  commit: z.string(),
  percent: z.number().int().describe('Share of visitors, %'),
  startedAt: z.string(),
  by: z.string().describe('Who started it'),
});
export type CanaryView = z.infer<typeof canaryView>;

/** The canary in words, the same in the CLI, the MCP result and the agent's answer. */
export const describeCanary = (canary: CanaryView): string =>
  `a canary of ${canary.app}@${canary.commit.slice(0, 7)} gets ${canary.percent}% of visitors ` +
  `(since ${canary.startedAt}, by ${canary.by}; it becomes ${canary.deployId} when promoted)`;

export const previewView = z.object({
  app: z.string(),
  commit: z.string(),
  expiresAt: z.string(),
  by: z.string().describe('Who asked for the link'),
});
export type PreviewView = z.infer<typeof previewView>;

/** A release the CDN serves, as the release store names it; what FrontendOps knows of it. */
export const servedReleaseView = z.object({
  releaseId: z.string().describe('The release id the CDN release store names'),
  app: z.string().nullable(),
  commit: z
    .string()
    .nullable()
    .describe('null: no release FrontendOps knows of has this id (the edge then finds no files for it)'),
  deployId: z.string().nullable().describe('The deployment that made it live, when one did'),
});
export type ServedReleaseView = z.infer<typeof servedReleaseView>;

export const servedView = z.object({
  state: z
    .enum(['as-recorded', 'changed-outside', 'switching', 'unknown'])
    .describe(
      'as-recorded: the CDN serves what FrontendOps recorded (live, canary and share); changed-outside: its release ' +
        'store names something else, written outside FrontendOps: visitors get that, not the recorded release; ' +
        'switching: an interrupted (or running) operation switched it and has not recorded it yet; unknown: the ' +
        'store could not be read, or the atomic state is not what the audit log records, so this was not checked',
    ),
  live: servedReleaseView
    .nullable()
    .describe(
      'What every visitor outside the canary gets; null: no valid release pointer (edges serve the bucket root), or unknown',
    ),
  canary: servedReleaseView.extend({ percent: z.number().int().describe('Share of visitors, %') }).nullable(),
  note: z
    .string()
    .nullable()
    .describe('Unless as-recorded: what is served against what was recorded, and what to do, in words'),
});
export type ServedView = z.infer<typeof servedView>;

export const statusView = z.object({
  stack: z.string(),
  protected: z.boolean().describe('true: deploys and rollbacks need a human approval'),
  siteUrl: z.string().nullable().describe('The public URL of the site'),
  live: releaseView
    .extend({
      kind: z.enum(['deploy', 'rollback']).nullable(),
      request: requestView
        .nullable()
        .describe('The request that made it live; null when its record is missing'),
      tag: z.string().nullable().describe('The git deploy tag, when the reader knows the git host'),
    })
    .nullable(),
  releases: z.array(releaseView).describe('Retained releases, newest (live) first'),
  pending: z
    .object({
      deployId: z.string(),
      op: z
        .enum(['deploy', 'rollback', 'canary-start', 'canary-promote', 'canary-abort', 'migrate'])
        .optional()
        .describe('What was interrupted (atomic stacks: a canary change or a migration too)'),
      app: z.string().optional(),
      commit: z.string(),
      percent: z.number().int().optional().describe('canary-start: the share of visitors it sends, %'),
      startedAt: z.string(),
      pointerMoved: z
        .boolean()
        .describe(
          'true: it went live (the pointer, or on atomic stacks the CDN release store, names it) and is not recorded yet',
        ),
    })
    .nullable()
    .describe(
      'A deploy (or, on atomic stacks, a rollback, canary change or migration) that was interrupted, or synced and ' +
        'waiting to be finished; running the same change again finishes it',
    ),
  pin: pinView.nullable().default(null).describe(`The pin: the live release stays, and ${PIN_EFFECT}`),
  mode: z
    .enum(['atomic', 'in-place'])
    .default('in-place')
    .describe(
      'atomic: releases switch by one key write at the edge; in-place: files are synced into the bucket',
    ),
  canary: canaryView
    .nullable()
    .default(null)
    .describe('Atomic stacks: the release a sticky share of visitors gets before it is promoted or aborted'),
  previews: z
    .array(previewView)
    .default([])
    .describe(
      'Atomic stacks: preview links still open (the links themselves go only to whoever asked for them)',
    ),
  recorded: z
    .object({
      state: z
        .enum(['as-recorded', 'unfinished', 'changed-outside', 'unknown'])
        .describe(
          "The live pointer and the live release's record against the audit log. as-recorded; unfinished: an " +
            'interrupted change names it (running it again, or the next change, records it); changed-outside: ' +
            'written around the log, not believed; unknown: not checked (the log could not be read, or its chain began ' +
            'before entries bound the pointer)',
        ),
      note: z.string().nullable().describe('Unless as-recorded: what differs and what to do, in words'),
    })
    // An answer without it (a server from before status checked the log) checked nothing: not as-recorded.
    .default({
      state: 'unknown',
      note: 'This answer does not say whether the live pointer and its record are what the audit log records. `frontendops audit verify` says.',
    }),
  served: servedView
    .nullable()
    .default(null)
    .describe(
      "Atomic stacks: what the CDN's release store names, read at each status, against what was recorded; " +
        'null on in-place stacks',
    ),
});
export type StatusView = z.infer<typeof statusView>;

export const historyItem = z.object({
  deployId: z
    .string()
    .describe(
      "The deployment's id; a canary-start or canary-abort row has an id of its own (the canary's is `canary.deployId`)",
    ),
  kind: z
    .enum(['deploy', 'rollback', 'canary-start', 'canary-promote', 'canary-abort'])
    .describe(
      'canary-start: a share of visitors got the build (nothing else changed); canary-promote: the canary went live ' +
        'for everyone; canary-abort: the canary ended, everyone kept the live release',
    ),
  app: z.string(),
  commit: z.string(),
  outcome: z.string().describe('succeeded, failed or superseded'),
  startedAt: z.string(),
  finishedAt: z.string(),
  durationMs: z.number(),
  copied: z.number().int(),
  deleted: z.number().int(),
  invalidationIds: z.array(z.string()),
  request: requestView,
  live: z
    .boolean()
    .describe(
      'The release the live pointer names, as the audit log binds it (a log that never bound one cannot say)',
    ),
  tag: z.string().nullable(),
  approvedBy: z
    .string()
    .nullable()
    .describe('Who approved it (a protected stack), as its record names the approval it used; else null'),
  canary: z
    .object({
      deployId: z.string().describe('The deploy id the canary has, and keeps when promoted'),
      percent: z.number().int().optional().describe('canary-start: the share of visitors it sent, %'),
    })
    .optional()
    .describe('Canary rows only'),
});
export type HistoryItem = z.infer<typeof historyItem>;

/**
 * A deployment's time in a history listing: when it finished (went live, or stopped), UTC to the
 * second. The CLI's table and the agent's answer list the same time, the one `released` and
 * "yesterday's version" go by.
 */
export const historyTime = (item: Pick<HistoryItem, 'finishedAt'>): string =>
  item.finishedAt.replace('T', ' ').slice(0, 19);

export const policyChangeItem = z.object({
  seq: z.number().int().describe('The audit entry that records it'),
  at: z.string(),
  by: z.string().describe('Who ran `frontendops approvers adopt`, or the approver whose approval adopted it'),
  deployId: z
    .string()
    .nullable()
    .describe('The change whose approval adopted it; null: `frontendops approvers adopt`'),
  description: z
    .string()
    .describe(
      'Who adopted it, and what it changed: each approver added or removed, GitHub, trustElicitation',
    ),
});
export type PolicyChangeItem = z.infer<typeof policyChangeItem>;

export const historyPage = z.object({
  stack: z.string(),
  deployments: z.array(historyItem).describe('Newest first'),
  policyChanges: z
    .array(policyChangeItem)
    .describe(
      "Changes of who approves the stack's changes (its approval policy) the audit log records in the time this page spans, newest first: each an entry the chain holds",
    ),
  unrecorded: z
    .number()
    .int()
    .optional()
    .describe(
      'Rows of this page left out: deployments whose record, and changes of who approves whose entry, no audit entry the chain holds records as read (written or changed outside FrontendOps, or by a change stopped before recording it), so what they say is not believed. `frontendops audit verify` says which',
    ),
  next: z.string().nullable().describe('Pass as `before` for the next (older) page; null at the end'),
});
export type HistoryPage = z.infer<typeof historyPage>;

const groupChanges = z.object({
  added: z.number().int(),
  changed: z.number().int(),
  removed: z.number().int(),
  paths: z
    .object({ added: z.array(z.string()), changed: z.array(z.string()), removed: z.array(z.string()) })
    .describe('Up to 25 site paths of each kind, sorted'),
});

/** What is in a release besides its commits: the files that differ from the live release, and the CDN refresh. */
export const planContents = z.object({
  files: z
    .object({ html: groupChanges, asset: groupChanges, other: groupChanges })
    .describe('Files that differ from the live release: HTML, content-hashed assets, other files'),
  invalidation: z.string().describe('What the CDN refresh does, in words'),
});
export type PlanContents = z.infer<typeof planContents>;

export const commitView = z.object({
  sha: z.string().describe('Full commit sha'),
  shortSha: z.string(),
  message: z.string(),
  author: z.string(),
  date: z.string().describe('Author date, ISO 8601 UTC'),
});
export type CommitView = z.infer<typeof commitView>;

/** The commits between the live release and another one, touching the app's directory. */
export const releaseCommits = z.object({
  direction: z
    .enum(['forward', 'back', 'first', 'same', 'unknown'])
    .describe(
      "forward: the commits the release adds; back: the ones a rollback takes away; first: nothing is live yet (the release's own commit); same: it is live; unknown: the git host could not say",
    ),
  commits: z.array(commitView).describe('Newest first'),
  truncated: z.boolean(),
  note: z.string().optional().describe('Why no commits are shown, when none are'),
  otherWay: z
    .object({ commits: z.array(commitView), truncated: z.boolean() })
    .optional()
    .describe(
      "Only when history was rewritten (e.g. a force-push): forward, the live release's commits this one does not have; back, the commits a rollback brings that the live release does not have",
    ),
});
export type ReleaseCommits = z.infer<typeof releaseCommits>;

export const planView = z.object({
  stack: z.string(),
  kind: z.enum(['deploy', 'rollback']),
  app: z.string(),
  commit: z.string(),
  deployId: z.string().describe('The id the deployment will have if nothing goes live before it'),
  artifactDigest: z.string(),
  description: z.string().describe('One sentence for people: what the change will do'),
  filesToCopy: z.number().int(),
  bytesToCopy: z.number().int(),
  unchanged: z.number().int(),
  toPrune: z.number().int(),
  unretained: z
    .array(z.object({ deployId: z.string(), app: z.string(), commit: z.string() }))
    .default([])
    .describe(
      'The releases retained now that this change no longer retains, newest first: the ones whose files its ' +
        'prune takes (the description names them too)',
    ),
  invalidationPaths: z.array(z.string()).describe('Site paths whose cached copy the change makes wrong'),
  fromCommit: z.string().nullable().describe('The commit live now, or null before the first deploy'),
  noop: z.boolean().describe('true when this build is already live and every file is in place'),
  protected: z.boolean().describe('true: a human must approve the change'),
  refusedBy: z
    .object({ code: z.string(), message: z.string() })
    .optional()
    .describe(
      'A dry run only: the refusal its run gives now (PINNED: the pin, or the one a stopped rollback it finishes first sets), in its words',
    ),
  contents: planContents
    .optional()
    .describe('The files that differ from the live release, grouped, and the CDN refresh in words'),
});
export type PlanView = z.infer<typeof planView>;

export const toPinView = (pin: PinView): PinView => ({
  deployId: pin.deployId,
  app: pin.app,
  commit: pin.commit,
  by: pin.by,
  reason: pin.reason,
  at: pin.at,
  cause: pin.cause,
  ...(pin.replaces ? { replaces: { ...pin.replaces } } : {}),
});

export const toRequestView = (request: RequestInfo): RequestView => ({
  text: request.text,
  actor: request.actor,
  planner: request.planner,
  at: request.at,
  ...(request.message ? { message: request.message } : {}),
});

export const toReleaseView = (release: ReleaseRef): ReleaseView => ({
  deployId: release.deployId,
  app: release.app,
  commit: release.commit,
  releasedAt: release.releasedAt,
});

export function toHistoryItem(
  record: DeploymentRecord,
  context: { liveDeployId: string | null; tag: string | null },
): HistoryItem {
  // Only the ops a canary row has; a record written before them (or by hand) is what its kind says.
  const op = record.op;
  const canaryOp = isCanaryEvent(op) || op === 'canary-promote';
  return {
    deployId: record.deployId,
    kind: canaryOp ? op : record.kind,
    app: record.app,
    commit: record.commit,
    outcome: record.outcome,
    startedAt: record.startedAt,
    finishedAt: record.finishedAt,
    durationMs: record.durationMs,
    copied: record.copied.length,
    deleted: record.deleted.length,
    invalidationIds: record.invalidation?.ids ?? [],
    request: toRequestView(record.request),
    live: record.deployId === context.liveDeployId,
    tag: context.tag,
    approvedBy: record.approval?.by ?? null,
    ...(canaryOp && typeof record.canary?.deployId === 'string'
      ? {
          canary: {
            deployId: record.canary.deployId,
            ...(typeof record.canary.percent === 'number' ? { percent: record.canary.percent } : {}),
          },
        }
      : {}),
  };
}

/** What a plan view says beside the plan itself (toPlanView). */
export interface PlanViewOptions {
  /** The stopped change of this release the run finishes, with nothing else to do (DeploySummary finishes). */
  finishes?: StoppedChange | undefined;
  /** A stopped change of another release that the run finishes before this plan (DeploySummary finishesFirst). */
  finishesFirst?: StoppedChange | undefined;
  /** A promote: describeFinish's liftsPin. */
  liftsPin?: boolean;
}

/**
 * A dry run's plan as every surface shows it (plan_deploy, get_deploy_target, the console): with
 * nothing else to do, a run that finishes a stopped change (DeploySummary finishes) says that, not
 * "already live".
 */
export function toPlanView(
  plan: DeployPlan,
  isProtected: boolean,
  { finishes, finishesFirst, liftsPin = false }: PlanViewOptions = {},
): PlanView {
  return {
    stack: plan.stack,
    kind: plan.kind,
    app: plan.app,
    commit: plan.commit,
    deployId: plan.deployId,
    artifactDigest: plan.artifactDigest,
    description: finishes
      ? describeFinish(finishes, plan.stack, liftsPin)
      : finishesFirst
        ? `first ${describeFinish(finishesFirst, plan.stack, liftsPin)}; then ${describePlan(plan)}`
        : describePlan(plan),
    filesToCopy: plan.copies.length,
    bytesToCopy: plan.bytesToCopy,
    unchanged: plan.unchanged,
    toPrune: plan.prune.length,
    unretained: (plan.unretained ?? []).map((r) => ({ deployId: r.deployId, app: r.app, commit: r.commit })),
    invalidationPaths: [...plan.invalidationPaths],
    fromCommit: plan.fromCommit,
    noop: plan.noop,
    protected: isProtected,
  };
}
