/**
 * The infra tools' argument and result shapes, and the one-line descriptions of plans. Every field
 * here is safe to show a model: names of the app and stack, commits, deploy ids, counts, site paths,
 * the public site URL.
 */
import * as z from 'zod';
import type { DeployPlan } from '../engine/plan.ts';
import { DEPLOY_ID } from './infra-approvals.ts';
import { stackNameSchema } from './infra-stacks.ts';

export const DEFAULT_STACK = 'dashboard-hosting-prod';

export const commitArg = z
  .string()
  .regex(/^[0-9a-f]{7,64}$/, {
    message: "expected the full commit sha (40 lower-case hex digits) from the git server's latest_commit",
  })
  .describe('The commit whose published build to deploy: the full 40-hex sha from latest_commit');

export const appArg = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,99}$/, { message: 'expected an app name such as "sophia-dashboard"' })
  .describe('The app whose build to deploy; default: the configured app (sophia-dashboard)');

export const stackArg = (defaultStack: string) =>
  stackNameSchema.optional().describe(`The stack (environment) name; default "${defaultStack}"`);

export const deployIdArg = z
  .string()
  .regex(DEPLOY_ID, { message: 'expected a deploy id as returned by run_sync, e.g. "3f2c1a9-0123456789"' });

/** Who asked and in what words: goes into the deployment record and the audit log. */
export const requestArgs = {
  request: z
    .string()
    .min(1)
    .max(2000)
    .optional()
    .describe('The words of the request that started this, e.g. "Deploy the latest dashboard" (recorded)'),
  requestedBy: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe('Who asked (recorded); default: the MCP client'),
  planner: z
    .string()
    .regex(/^[a-z][a-z0-9:._/-]{0,99}$/, { message: 'expected e.g. "runbook" or "model:openai:gpt-4.1"' })
    .optional()
    .describe('What planned this call, e.g. "runbook" or "model:<provider:model>" (recorded)'),
};

export const planShape = {
  stack: z.string(),
  app: z.string(),
  commit: z.string(),
  deployId: z.string().describe('The id the deployment will have if nothing goes live before it'),
  artifactDigest: z.string(),
  description: z.string().describe('One line for people: what the sync will do'),
  filesToCopy: z.number().int(),
  bytesToCopy: z.number().int(),
  unchanged: z.number().int(),
  toPrune: z.number().int(),
  pathsToInvalidate: z.number().int(),
  invalidationPaths: z.array(z.string()).describe('Site paths whose cached copy the sync makes wrong'),
  fromCommit: z.string().nullable().describe('The commit live now, or null before the first deploy'),
  noop: z.boolean().describe('true when this build is already live and every file is in place'),
  approvalRequired: z.boolean().describe('true on a protected stack: run_sync will ask a human first'),
};

export const targetShape = {
  handle: z.string().describe('Opaque, signed handle for run_sync; expires; valid for this plan only'),
  expiresAt: z.string(),
  ...planShape,
};

export const syncShape = {
  deployId: z.string(),
  stack: z.string(),
  app: z.string(),
  commit: z.string(),
  outcome: z.enum(['synced', 'noop']),
  copied: z.number().int(),
  unchanged: z.number().int(),
  pruned: z.number().int(),
  retained: z.array(z.string()).describe('Deploy ids whose files stay in place, newest first'),
  approvedBy: z.string().nullable().describe('Who approved (protected stacks), else null'),
  next: z.string().describe('What to call next'),
};

export const verificationSchema = z
  .object({ ok: z.boolean(), detail: z.string() })
  .nullable()
  .describe('Whether the CDN serves the new index.html; null when the stack has no site URL');

export const invalidateShape = {
  deployId: z.string(),
  stack: z.string(),
  invalidationIds: z.array(z.string()),
  paths: z.array(z.string()),
  verification: verificationSchema,
  outcome: z.string().describe('The recorded outcome: succeeded, failed, rolled-back, superseded'),
};

export const rollbackShape = {
  deployId: z.string(),
  stack: z.string(),
  app: z.string(),
  commit: z.string().describe('The commit that is live after the rollback'),
  artifactDigest: z.string().describe('Digest of the artifact now live (for the deploy tag)'),
  fromCommit: z.string().nullable(),
  outcome: z.string(),
  copied: z.number().int(),
  unchanged: z.number().int(),
  pruned: z.number().int(),
  retained: z.array(z.string()),
  invalidationIds: z.array(z.string()),
  paths: z.array(z.string()),
  verification: verificationSchema,
  approvedBy: z.string().nullable(),
};

const releaseSchema = z.object({
  deployId: z.string(),
  app: z.string(),
  commit: z.string(),
  releasedAt: z.string(),
});

export const statusShape = {
  stack: z.string(),
  live: releaseSchema.nullable(),
  releases: z.array(releaseSchema).describe('Retained releases, newest (live) first'),
  pending: z.boolean().describe('true when a deploy was interrupted or awaits its invalidation'),
  pendingDeployId: z.string().nullable(),
  protected: z.boolean(),
  siteUrl: z.string().optional().describe('The public URL of the site'),
};

export const historyShape = {
  stack: z.string(),
  deployments: z.array(
    z.object({
      deployId: z.string(),
      kind: z.string(),
      app: z.string(),
      commit: z.string(),
      outcome: z.string(),
      startedAt: z.string(),
      finishedAt: z.string(),
      copied: z.number().int(),
      deleted: z.number().int(),
      invalidationIds: z.array(z.string()),
      request: z.string(),
      actor: z.string(),
      planner: z.string(),
    }),
  ),
};

/** "sync sophia-dashboard@3f2c1a9 to dashboard-hosting-prod: 40 files to copy, 3 paths to invalidate" */
export function describePlan(plan: DeployPlan): string {
  const what = `${plan.app}@${plan.commit.slice(0, 7)}`;
  if (plan.noop) return `${what} is already live on ${plan.stack}: nothing to copy or invalidate`;
  const verb = plan.kind === 'rollback' ? 'roll back' : 'sync';
  const parts = [
    `${plan.copies.length} ${plural(plan.copies.length, 'file')} to copy`,
    ...(plan.prune.length ? [`${plan.prune.length} old ${plural(plan.prune.length, 'file')} to prune`] : []),
    `${plan.invalidationPaths.length} ${plural(plan.invalidationPaths.length, 'path')} to invalidate`,
  ];
  return `${verb} ${plan.kind === 'rollback' ? `${plan.stack} to ${what}` : `${what} to ${plan.stack}`}: ${parts.join(', ')}`;
}

export function planFields(plan: DeployPlan, approvalRequired: boolean) {
  return {
    stack: plan.stack,
    app: plan.app,
    commit: plan.commit,
    deployId: plan.deployId,
    artifactDigest: plan.artifactDigest,
    description: describePlan(plan),
    filesToCopy: plan.copies.length,
    bytesToCopy: plan.bytesToCopy,
    unchanged: plan.unchanged,
    toPrune: plan.prune.length,
    pathsToInvalidate: plan.invalidationPaths.length,
    invalidationPaths: plan.invalidationPaths,
    fromCommit: plan.fromCommit,
    noop: plan.noop,
    approvalRequired: approvalRequired && !plan.noop,
  };
}

const plural = (n: number, word: string) => (n === 1 ? word : `${word}s`);
