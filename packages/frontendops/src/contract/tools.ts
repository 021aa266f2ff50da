/**
 * The tool contract, declared once: every tool of the infra and git MCP servers with the server that
 * holds it, what it can change, whether it acts on a stack, and its input and output schemas. The
 * servers register from it, the agent's gate validates against it, and planners and the console read
 * results parsed by its output schemas. Adding a field here changes every side at once.
 */

import * as z from 'zod';
import { PREVIEW_HOURS } from '../atomic/preview-hours.ts';
import { CANARY_SHARE_RULE } from '../engine/canary-share.ts';
import type { ApprovalAction } from '../ports.ts';
import { HISTORY_PAGE_MAX } from '../read/history-page-max.ts';
import { PIN_EFFECT } from '../read/pin-words.ts';
import { historyPage, pinView, planView, statusView } from '../read/views.ts';
import { AUDIT_HEAD_TEXT } from './audit-head.ts';
import {
  appName,
  artifactDigest,
  canaryPercent,
  commitRef,
  deployId,
  gitRef,
  handle,
  plainText,
  releaseRef,
  repoPath,
  requestArgs,
  requestText,
  stackName,
} from './fields.ts';

export type ServerName = 'infra' | 'git';
/** read: changes nothing. write: adds (a tag, an invalidation, an audit entry). destructive: overwrites or deletes what is served. */
export type ToolImpact = 'read' | 'write' | 'destructive';

export interface ToolContract<I extends z.ZodObject = z.ZodObject, O extends z.ZodObject = z.ZodObject> {
  name: string;
  server: ServerName;
  impact: ToolImpact;
  /** Repeating the call with the same arguments changes nothing more. */
  idempotent: boolean;
  /**
   * An infra tool taking a `stack` argument: the gate pins it to the request's stack. (The git
   * server knows no stacks: a deploy tag's `stack` only names whose audit head it carries.)
   */
  stackScoped: boolean;
  /** Offered to planners; false for tools only the agent's own code calls (the audit entry). */
  offered: boolean;
  /**
   * The approval a change by this tool needs on a protected stack (destructive tools only): what the
   * infra server asks for and the agent's gate and `--yes` name, read from here by both.
   */
  approval?: ApprovalAction;
  title: string;
  description: string;
  input: I;
  output: O;
}

const tool = <I extends z.ZodObject, O extends z.ZodObject>(
  spec: Omit<ToolContract<I, O>, 'stackScoped' | 'offered'> & { offered?: boolean },
): ToolContract<I, O> => ({
  ...spec,
  offered: spec.offered ?? true,
  stackScoped: spec.server === 'infra' && 'stack' in spec.input.shape,
});

const stackArg = stackName.optional().describe("The stack (environment) name; default: the server's stack");
/** A path commits are looked for under (latest_commit, commits_between). */
const appPathArgument = repoPath
  .optional()
  .describe("Repository-relative directory or file; default: the app's directory");
const verification = z
  .object({ ok: z.boolean(), detail: z.string() })
  .nullable()
  .describe('Whether the CDN serves the new index.html; null when the stack has no site URL');
const auditHead = z
  .object({ seq: z.number().int(), hash: z.string() })
  .nullable()
  .describe('The audit chain head after this change: carry it into the deploy tag, which anchors it');
const commitView = z.object({
  sha: z.string().describe('Full commit sha'),
  shortSha: z.string(),
  message: z.string(),
  author: z.string(),
  date: z.string().describe('Author date, ISO 8601 UTC'),
});
const tagView = z.object({
  name: z.string().describe('Tag name, dashboard-deploy-YYYYMMDD-N'),
  sha: z.string().describe('The commit the tag points at'),
  message: z.string(),
  date: z.string().optional(),
  deployId: z.string().optional(),
  artifactDigest: z.string().optional(),
  auditHead: z.string().optional().describe('"<seq>:<hash>" of the audit chain the deploy left'),
  stack: z.string().optional().describe('The stack deployed to'),
});
const changeResult = {
  deployId: z.string(),
  stack: z.string(),
  app: z.string(),
  commit: z.string(),
  artifactDigest: z.string().describe("The artifact's digest (for the deploy tag)"),
  copied: z.number().int(),
  unchanged: z.number().int(),
  pruned: z.number().int(),
  retained: z.array(z.string()).describe('Deploy ids whose files stay in place, newest first'),
  approvedBy: z.string().nullable().describe('Who approved (protected stacks), and how; else null'),
};

/** What create_deploy_tag takes to tag a deployment: the infra server's word that it happened. */
const receipt = z
  .string()
  .nullable()
  .describe(
    'The infra server vouching for this deployment: pass it unchanged to create_deploy_tag; null when there is nothing to tag (nothing changed, a canary not yet live for everyone, or a change that failed because the CDN did not serve it)',
  );

/**
 * The words a deploy tag carries of the request that made a deployment: the infra server's, which
 * knows the stack's sensitive values and hides them (the git server knows no stack, and every later
 * model reads the tags).
 */
const tagWords = z
  .string()
  .describe(
    "The words of the request that made it, as its deploy tag carries them (the stack's sensitive values hidden): pass them to create_deploy_tag as request",
  );

/** A change the CDN did not serve is put back at once: the deployment that did it. */
const rolledBackTo = z
  .string()
  .nullable()
  .describe(
    'When the CDN did not serve the change (outcome failed): the deployment that put the previous release back, automatically; else null',
  );

/** A change that ran to the end: what it did, how the check through the CDN went, the audit head after. */
const finishedChange = {
  ...changeResult,
  outcome: z.string(),
  verification,
  auditHead,
  receipt,
  request: tagWords.nullable().describe(`${tagWords.description}; null where receipt is null`),
  rolledBackTo,
};

/** A deploy-like change of an in-place or atomic stack (rollback, promote_release). */
const releaseChange = {
  ...finishedChange,
  fromCommit: z.string().nullable(),
  invalidationIds: z.array(z.string()),
  paths: z.array(z.string()),
};

/** A change of an atomic stack's KeyValueStore pointer (the canary tools). */
const atomicChange = { ...finishedChange, releaseId: z.string() };

const reasonArg = requestText
  .optional()
  .describe("Why, in the person's words (recorded with the pin and in the audit log)");

export const TOOLS = {
  get_deploy_target: tool({
    name: 'get_deploy_target',
    server: 'infra',
    impact: 'read',
    idempotent: true,
    title: 'Step 1 of 3: get the deploy target (sync plan) for a stack',
    description:
      'Step 1 of the deploy: plan syncing one published build of the app to a stack, and get an opaque handle ' +
      'for it. Returns what the sync would do (files to copy, old files to prune, CDN paths to invalidate) and a ' +
      'handle to pass to run_sync. The handle is signed, expires after 15 minutes, and is valid for this plan ' +
      'on this stack only; it reveals no bucket or credential. Changes nothing. approvalRequired=true means ' +
      'run_sync needs a human approval (protected stack).',
    input: z.strictObject({ stack: stackArg, app: appName.optional(), commit: commitRef }),
    output: planView.extend({
      handle: z.string().describe('Opaque, signed handle for run_sync; expires; valid for this plan only'),
      expiresAt: z.string(),
      approvalRequired: z.boolean().describe('true on a protected stack: run_sync needs a human approval'),
      adopts: z
        .string()
        .nullable()
        .optional()
        .describe(
          'Where approving it would also adopt the approval policy in frontendops.config.json: what it adopts, in the words the approver is shown; else null',
        ),
    }),
  }),
  plan_deploy: tool({
    name: 'plan_deploy',
    server: 'infra',
    impact: 'read',
    idempotent: true,
    title: 'Plan a deploy (dry run)',
    description:
      'Dry run: what deploying a published build of the app to a stack would do — files to copy, unchanged, ' +
      'to prune, CDN paths to invalidate — without a handle and without changing anything; on a pinned stack ' +
      'it also says a deploy of another release is refused (PINNED). Use get_deploy_target instead when you ' +
      'intend to deploy.',
    input: z.strictObject({ stack: stackArg, app: appName.optional(), commit: commitRef }),
    output: planView,
  }),
  run_sync: tool({
    name: 'run_sync',
    server: 'infra',
    impact: 'destructive',
    approval: 'deploy',
    idempotent: true,
    title: 'Step 2 of 3: run the sync by handle',
    description:
      'Step 2 of the deploy: carry out the plan behind a handle from get_deploy_target — server-side copies in ' +
      'a safe order (hashed assets, other files, HTML last), then the live release pointer moves and files no ' +
      'retained release uses are pruned. Overwrites and deletes objects in the hosting bucket. Refused if the ' +
      'live release changed since the plan (get a new target) or the handle expired. On a protected stack a ' +
      'human must approve first. Calling it again with the same handle changes nothing and returns the same ' +
      'deployId. Next: invalidate_cdn with the deployId.',
    input: z.strictObject({
      handle: handle.describe('The handle from get_deploy_target, unchanged'),
      stack: stackArg.describe('Optional: the stack you expect the handle to be for'),
      ...requestArgs,
    }),
    output: z.object({
      ...changeResult,
      outcome: z.enum(['synced', 'noop']),
      finishedFirst: z
        .string()
        .optional()
        .describe(
          'The deploy id of a stopped change of another release (it went live, then was interrupted before it was verified and recorded) that this run finished and recorded before its sync, as get_deploy_target said it would',
        ),
      finishedFirstChange: z
        .object({
          deployId: z.string(),
          commit: z.string(),
          artifactDigest: z.string(),
          auditHead,
          request: tagWords,
          receipt: receipt.unwrap(),
        })
        .optional()
        .describe(
          "The change finishedFirst names, where its finish made a release live for everyone: what create_deploy_tag takes to tag it (its own values, request words and receipt), called before this run's own tag",
        ),
      next: z.string().describe('What to call next'),
    }),
  }),
  invalidate_cdn: tool({
    name: 'invalidate_cdn',
    server: 'infra',
    impact: 'write',
    idempotent: true,
    title: 'Step 3 of 3: invalidate the CDN for a deployment',
    description:
      'Step 3 of the deploy: after run_sync, invalidate exactly the CDN paths the deployment changed, check ' +
      'that the CDN serves the new index.html (when the stack has a site URL), and record the deployment in ' +
      'the history and audit log. Safe to repeat: a finished deployment returns its recorded result and ' +
      'sends nothing new. Deletes nothing.',
    input: z.strictObject({
      deployId: deployId.describe('The deployId run_sync returned'),
      stack: stackArg,
      ...requestArgs,
    }),
    output: z.object({
      deployId: z.string(),
      stack: z.string(),
      app: z.string(),
      commit: z.string(),
      artifactDigest: z.string(),
      invalidationIds: z.array(z.string()),
      paths: z.array(z.string()),
      pruned: z
        .number()
        .int()
        .describe(
          "Files the deployment deleted, as recorded: an atomic release's prune comes after its switch, so here",
        ),
      verification,
      outcome: z.string().describe('The recorded outcome: succeeded, failed, superseded'),
      auditHead,
      receipt,
      request: finishedChange.request,
      rolledBackTo,
    }),
  }),
  get_status: tool({
    name: 'get_status',
    server: 'infra',
    impact: 'read',
    idempotent: true,
    title: 'What is live on a stack',
    description:
      'The release live on a stack (deploy id, app, commit, when, by which request), the retained releases that ' +
      'rollback can return to, whether a deploy is pending (interrupted, or synced but not yet invalidated), ' +
      'whether the stack is protected, and the public site URL; `recorded` says whether the live pointer and ' +
      "that release's record are what the audit log records (where they are not, the request is not told). Changes nothing.",
    input: z.strictObject({ stack: stackArg }),
    output: statusView,
  }),
  get_history: tool({
    name: 'get_history',
    server: 'infra',
    impact: 'read',
    idempotent: true,
    title: 'Deployment history of a stack',
    description:
      'Recorded deployments and rollbacks of a stack, newest first, a page at a time: deploy id, commit, ' +
      'outcome, times, how many files were copied and deleted, the CDN invalidation ids, and the request ' +
      '(words, who, planner). Changes nothing.',
    input: z.strictObject({
      stack: stackArg,
      limit: z
        .number()
        .int()
        .min(1)
        .max(HISTORY_PAGE_MAX.model)
        .optional()
        .describe('How many, newest first; default 20'),
      before: z.string().max(64).optional().describe('The `next` of the previous page, for older entries'),
    }),
    output: historyPage,
  }),
  rollback: tool({
    name: 'rollback',
    server: 'infra',
    impact: 'destructive',
    approval: 'rollback',
    idempotent: false,
    title: 'Roll back a stack to a retained release',
    description:
      'Make an earlier release live again — by default the one before the live one, or the deploy id / commit ' +
      'given in "to" — and invalidate the CDN, in one call. Moves only the files that differ; overwrites and ' +
      'deletes objects in the hosting bucket. On a protected stack a human must approve first. See ' +
      'get_status for the retained releases.',
    input: z.strictObject({
      stack: stackArg,
      to: releaseRef
        .optional()
        .describe('Deploy id or commit to return to; default: the release before the live one'),
      ...requestArgs,
    }),
    output: z.object({
      ...releaseChange,
      pinned: z
        .boolean()
        .optional()
        .describe(`true: the stack is now pinned to this release (${PIN_EFFECT})`),
    }),
  }),
  pin_release: tool({
    name: 'pin_release',
    server: 'infra',
    impact: 'write',
    idempotent: true,
    title: 'Pin the live release',
    description:
      `Keep the live release of a stack live: ${PIN_EFFECT} (PINNED). A rollback pins by itself.` +
      ' "to" (optional) names the release you mean to ' +
      'pin, as a check: it must be the live one. Changes no file; recorded in the audit log. Pinning what is ' +
      'already pinned returns the existing pin.',
    input: z.strictObject({
      stack: stackArg,
      to: releaseRef
        .optional()
        .describe('Deploy id or commit you expect to be live; refused if another release is live'),
      reason: reasonArg,
      ...requestArgs,
    }),
    output: z.object({
      stack: z.string(),
      pin: pinView,
      created: z.boolean().describe('false: it was already pinned to this release'),
    }),
  }),
  unpin_release: tool({
    name: 'unpin_release',
    server: 'infra',
    impact: 'write',
    idempotent: true,
    title: 'Unpin a stack',
    description:
      'Lift the pin of a stack so deploys go through again. Changes no file (what is live stays live); ' +
      'recorded in the audit log. Returns the pin that was lifted, or null when the stack was not pinned. ' +
      'Refused on a protected stack: a person unpins there, at a terminal (or promote_release, which a person approves).',
    input: z.strictObject({ stack: stackArg, reason: reasonArg, ...requestArgs }),
    output: z.object({
      stack: z.string(),
      unpinned: pinView.nullable().describe('The pin that was lifted; null: nothing was pinned'),
    }),
  }),
  promote_release: tool({
    name: 'promote_release',
    server: 'infra',
    impact: 'destructive',
    approval: 'promote',
    idempotent: true,
    title: 'Promote a release: live for everyone, pin cleared',
    description:
      'Make one published release live for everyone and clear any pin, in one call: a deploy of that release ' +
      '(copies in safe order, live pointer, prune, CDN invalidation, verification, record) that also lifts the ' +
      'pin. "to" is the commit (from latest_commit, or a short sha) or a deploy id from the history. Overwrites ' +
      'and deletes objects in the hosting bucket; on a protected stack a human must approve first, as for a ' +
      'deploy. Promoting what is live only lifts the pin.',
    input: z.strictObject({
      stack: stackArg,
      app: appName.optional(),
      to: releaseRef.describe('Commit (full or short sha) or deploy id of the release'),
      reason: reasonArg,
      ...requestArgs,
    }),
    output: z.object({
      ...releaseChange,
      unpinned: pinView.nullable().describe('The pin this promote lifted; null: nothing was pinned'),
    }),
  }),
  start_canary: tool({
    name: 'start_canary',
    server: 'infra',
    impact: 'destructive',
    approval: 'canary',
    idempotent: true,
    title: 'Send a share of visitors to a build first (atomic stacks)',
    description:
      'On a stack with atomic releases: a sticky share of visitors (by cookie) gets the published build of ' +
      '"commit" while everyone else keeps the live release. Uploads the build\'s missing files under its own ' +
      'release prefix, then one key write; nothing is invalidated. The same build again only changes the share. ' +
      'On a protected stack a human must approve first. End it with promote_canary or abort_canary.',
    input: z.strictObject({
      stack: stackArg,
      app: appName.optional(),
      commit: commitRef.describe('The published commit to try (a short sha is enough)'),
      percent: canaryPercent.describe(`Share of visitors: ${CANARY_SHARE_RULE}`),
      ...requestArgs,
    }),
    output: z.object({
      ...atomicChange,
      percent: z.number().int(),
    }),
  }),
  promote_canary: tool({
    name: 'promote_canary',
    server: 'infra',
    impact: 'destructive',
    approval: 'promote',
    idempotent: false,
    title: 'Make the canary live for everyone (atomic stacks)',
    description:
      'The release the canary shares becomes the live release for every visitor: one key write, no copies, no ' +
      'invalidation, recorded as a deployment. On a protected stack a human must approve first.',
    input: z.strictObject({ stack: stackArg, ...requestArgs }),
    output: z.object({
      ...atomicChange,
    }),
  }),
  abort_canary: tool({
    name: 'abort_canary',
    server: 'infra',
    impact: 'destructive',
    approval: 'abort',
    idempotent: false,
    title: 'End the canary: everyone back on the live release (atomic stacks)',
    description:
      "Every visitor gets the live release again: one key write; the canary's files are pruned after a grace. " +
      'On a protected stack a human must approve first.',
    input: z.strictObject({ stack: stackArg, ...requestArgs }),
    output: z.object({
      ...atomicChange,
    }),
  }),
  preview_release: tool({
    name: 'preview_release',
    server: 'infra',
    impact: 'write',
    idempotent: false,
    title: 'A link to look at a build before it is live (atomic stacks)',
    description:
      'A signed, expiring link that shows a published build — a retained release, the canary, or one never ' +
      "deployed — at the site's own address, without changing what visitors get. Uploads the build's " +
      'missing files under its release prefix first. Name it by deploy id or by commit.',
    input: z.strictObject({
      stack: stackArg,
      app: appName.optional(),
      commit: commitRef.optional().describe('A published commit (a short sha is enough)'),
      deployId: deployId.optional().describe('Or a deployment of this stack, as the history shows it'),
      hours: z
        .number()
        .int()
        .min(PREVIEW_HOURS.min)
        .max(PREVIEW_HOURS.max)
        .optional()
        .describe(`How long the link works; default ${PREVIEW_HOURS.default}`),
    }),
    output: z.object({
      url: z.string().describe('The preview link, for a person to open'),
      releaseId: z.string(),
      app: z.string(),
      commit: z.string(),
      deployId: z.string().nullable(),
      expiresAt: z.string(),
      copied: z.number().int(),
    }),
  }),
  record_request: tool({
    name: 'record_request',
    server: 'infra',
    impact: 'write',
    idempotent: false,
    offered: false,
    title: 'Record an agent request in the audit log',
    description:
      "The agent's own bookkeeping, not for planners: appends one agent-request entry to the stack's audit " +
      'chain with the words, the planner, each tool call and the outcome. Who asked is recorded as the ' +
      "client's claim, beside the server's own view of the client.",
    input: z.strictObject({
      stack: stackArg,
      request: requestText,
      requestedBy: requestArgs.requestedBy,
      planner: requestArgs.planner.unwrap(),
      // What is recorded is read later, in a terminal or a page: printable words only (plainText).
      intent: z.string().max(40).superRefine(plainText('intent')),
      outcome: z.enum(['succeeded', 'noop', 'answered', 'planned', 'refused', 'declined', 'failed']),
      message: z.string().max(2000).superRefine(plainText('message')),
      dryRun: z.boolean(),
      calls: z
        .array(
          z.object({
            tool: z.string().max(100).superRefine(plainText('tool')),
            status: z.enum(['ok', 'error', 'refused', 'skipped']),
            summary: z.string().max(500).superRefine(plainText('summary')),
          }),
        )
        .max(64),
      deployId: deployId.optional(),
      commit: commitRef.optional(),
      tag: z.string().max(200).superRefine(plainText('tag')).optional(),
    }),
    output: z.object({ seq: z.number().int(), hash: z.string() }),
  }),
  latest_commit: tool({
    name: 'latest_commit',
    server: 'git',
    impact: 'read',
    idempotent: true,
    title: 'Latest commit touching a path',
    description:
      "Find the newest commit that changed a directory or file (default: the app's directory). Use it to " +
      'answer "what is the latest version?" before deploying. Returns commit: null when no commit on the ref ' +
      'touches the path.',
    input: z.strictObject({
      path: appPathArgument,
      ref: gitRef.optional().describe('Branch, tag or sha to search from; default: the default branch'),
    }),
    output: z.object({
      path: z.string(),
      ref: z.string().describe('The ref searched, or "(default branch)"'),
      commit: commitView.nullable(),
    }),
  }),
  get_commit: tool({
    name: 'get_commit',
    server: 'git',
    impact: 'read',
    idempotent: true,
    title: 'Commit details',
    description:
      'Look up one commit by full or short sha, tag or branch name: its full sha, message, author and ' +
      'date. Use it to confirm a commit someone named exists before deploying or tagging it.',
    input: z.strictObject({ ref: gitRef.describe('Commit sha (7–40 hex), tag or branch') }),
    output: z.object({ commit: commitView }),
  }),
  commits_between: tool({
    name: 'commits_between',
    server: 'git',
    impact: 'read',
    idempotent: true,
    title: 'Commits between two releases',
    description:
      'What a release contains: the commits reachable from "head" but not from "base" that touch a path (default: ' +
      "the app's directory), newest first, with subject and author. Use base = the live commit and head = the " +
      'commit to deploy, then swap them: what the live release has that it does not (history rewritten, e.g. ' +
      'force-pushed; for a rollback, what leaves). Changes nothing.',
    input: z.strictObject({
      base: gitRef.describe('The older end, e.g. the commit live now'),
      head: gitRef.describe('The newer end, e.g. the commit to deploy'),
      path: appPathArgument,
      limit: z.number().int().min(1).max(100).optional().describe('At most this many; default 20'),
    }),
    output: z.object({
      base: z.string(),
      head: z.string(),
      path: z.string(),
      commits: z.array(commitView).describe('Newest first'),
      truncated: z.boolean().describe('true: more commits than `limit` lie between'),
    }),
  }),
  create_deploy_tag: tool({
    name: 'create_deploy_tag',
    server: 'git',
    impact: 'write',
    idempotent: true,
    title: 'Create the deploy tag',
    description:
      'Record a finished deployment in git: creates an annotated tag dashboard-deploy-YYYYMMDD-N on the ' +
      'deployed commit, its message carrying the deploy id, the artifact digest, the audit chain head and the ' +
      'request. Call it once per deployment, after the deploy succeeded. Safe to retry: the same deployId ' +
      'returns the tag created the first time (created: false) and creates nothing.',
    input: z.strictObject({
      deployId: deployId.describe('The deployment id from the infra server'),
      commit: commitRef.describe('The deployed commit sha'),
      artifactDigest: artifactDigest.describe("The deployed artifact's digest"),
      request: requestText.describe('The words of the request that started the deploy'),
      auditHead: z
        .union(
          [
            z.string().regex(AUDIT_HEAD_TEXT),
            z.strictObject({
              seq: z.number().int().min(0).max(999_999_999_999),
              hash: z.string().regex(/^sha256:[0-9a-f]{64}$/),
            }),
          ],
          {
            error:
              'expected the auditHead the infra server returned: as it returned it, {"seq": <n>, "hash": "sha256:<64 hex>"}, or as "<seq>:sha256:<64 hex>"',
          },
        )
        .optional()
        .describe(
          'The auditHead the infra server returned: as it returned it ({seq, hash}), or as "<seq>:<hash>"',
        ),
      stack: stackName
        .optional()
        .describe('The stack deployed to (whose audit chain the auditHead belongs to)'),
      receipt: z
        .string()
        .min(1)
        .max(4000)
        .describe(
          'The receipt the infra server returned when this deployment finished (invalidate_cdn, rollback, promote_release, promote_canary), unchanged',
        ),
    }),
    output: tagView.extend({
      created: z.boolean().describe('false when this deploy id was already tagged and that tag is returned'),
    }),
  }),
  list_deploy_tags: tool({
    name: 'list_deploy_tags',
    server: 'git',
    impact: 'read',
    idempotent: true,
    title: 'List deploy tags',
    description:
      'List the deploy tags (dashboard-deploy-YYYYMMDD-N), newest first, each with its commit, deploy id, ' +
      'artifact digest and audit head. Use it to see what was deployed when.',
    input: z.strictObject({}),
    output: z.object({ tags: z.array(tagView) }),
  }),
} as const;

export type ToolName = keyof typeof TOOLS;
export type ToolInput<N extends ToolName> = z.input<(typeof TOOLS)[N]['input']>;
export type ToolArgs<N extends ToolName> = z.output<(typeof TOOLS)[N]['input']>;
export type ToolOutput<N extends ToolName> = z.output<(typeof TOOLS)[N]['output']>;

export const isToolName = (name: string): name is ToolName => Object.hasOwn(TOOLS, name);

/** The approval a change by this tool needs on a protected stack; only destructive tools have one. */
export function approvalOf(name: ToolName): ApprovalAction {
  const action = TOOLS[name].approval;
  if (!action) throw new Error(`${name} makes no change that needs an approval`);
  return action;
}

export const toolsOf = (server: ServerName) =>
  (Object.values(TOOLS) as ToolContract[]).filter((t) => t.server === server);

/** MCP annotations, true to what each tool does. */
export function annotationsOf(contract: ToolContract) {
  return {
    readOnlyHint: contract.impact === 'read',
    destructiveHint: contract.impact === 'destructive',
    idempotentHint: contract.idempotent,
    openWorldHint: false,
  };
}

/** A tool's structured result, parsed by its output schema: typed data, or an error naming the tool. */
export function parseResult<N extends ToolName>(name: N, structured: unknown): ToolOutput<N> {
  return TOOLS[name].output.parse(structured) as ToolOutput<N>;
}
