/**
 * The seed's three deploy steps: get_deploy_target (plan + signed handle) → run_sync (by handle,
 * approval on protected stacks, refused when the plan went stale) → invalidate_cdn (invalidate,
 * verify, record).
 */

import * as z from 'zod';
import type { DeployEvent } from '../deploy/apply.ts';
import { deployArtifact, finishSyncedDeploy } from '../deploy/deploy.ts';
import { badInput, FrontendOpsError } from '../errors.ts';
import { capitalise, type InfraToolContext, READ_ONLY, refuseOtherPlans, STALE } from './infra-context.ts';
import {
  appArg,
  commitArg,
  deployIdArg,
  describePlan,
  invalidateShape,
  planFields,
  requestArgs,
  stackArg,
  syncShape,
  targetShape,
} from './infra-schemas.ts';
import { toolSuccess } from './tool-result.ts';

export function registerSyncTools(t: InfraToolContext): void {
  const { server, config, defaultStack, guarded, open, requestFor, dryRun, isProtected, signer, lockWaitMs } =
    t;

  server.registerTool(
    'get_deploy_target',
    {
      title: 'Step 1 of 3: get the deploy target (sync plan) for a stack',
      description:
        'Step 1 of the deploy: plan syncing one published build of the app to a stack, and get an opaque handle ' +
        'for it. Returns what the sync would do (files to copy, old files to prune, CDN paths to invalidate) and a ' +
        'handle to pass to run_sync. The handle is signed, expires after 15 minutes, and is valid for this plan ' +
        'on this stack only; it reveals no bucket or credential. Changes nothing. approvalRequired=true means ' +
        'run_sync will need a human approval (protected stack).',
      inputSchema: z.object({
        stack: stackArg(defaultStack),
        app: appArg.optional(),
        commit: commitArg,
      }),
      outputSchema: z.object(targetShape),
      annotations: READ_ONLY,
    },
    guarded(async ({ stack, app = config.app, commit }, ctx) => {
      const env = await open(stack);
      const plan = await dryRun(env, app, commit, requestFor({}, ctx, 'get deploy target'));
      const issued = signer.issue({
        stack: plan.stack,
        app: plan.app,
        commit: plan.commit,
        deployId: plan.deployId,
        artifactDigest: plan.artifactDigest,
      });
      const data = {
        handle: issued.handle,
        expiresAt: issued.expiresAt,
        ...planFields(plan, isProtected(plan.stack)),
      };
      return toolSuccess(
        data,
        `${capitalise(data.description)}.${data.approvalRequired ? ' The stack is protected: run_sync will ask for a human approval.' : ''} Next: run_sync with the handle (valid until ${issued.expiresAt}).`,
      );
    }),
  );

  server.registerTool(
    'run_sync',
    {
      title: 'Step 2 of 3: run the sync by handle',
      description:
        'Step 2 of the deploy: carry out the plan behind a handle from get_deploy_target — server-side copies in ' +
        'a safe order (hashed assets, other files, HTML last), then the live release pointer moves and files no ' +
        'retained release uses are pruned. Overwrites and deletes objects in the hosting bucket. Refused if the ' +
        'live release changed since the plan (get a new target) or the handle expired. On a protected stack a ' +
        'human must approve first (asked through the client, or `frontendops approve`). Calling it again with ' +
        'the same handle changes nothing and returns the same deployId. Next: invalidate_cdn with the deployId.',
      inputSchema: z.object({
        handle: z.string().min(1).max(2000).describe('The handle from get_deploy_target, unchanged'),
        stack: stackArg(defaultStack).describe('Optional: the stack you expect the handle to be for'),
        ...requestArgs,
      }),
      outputSchema: z.object(syncShape),
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    guarded(async (args, ctx) => {
      const claims = signer.verify(args.handle);
      if (args.stack !== undefined && args.stack !== claims.stack) {
        throw badInput(
          `This handle was issued for stack ${claims.stack}, not ${args.stack}; a handle is valid for one stack only. ` +
            `Call get_deploy_target with stack "${args.stack}" for a handle of that stack.`,
        );
      }
      const env = await open(claims.stack);
      if (env.target.stack !== claims.stack) {
        throw badInput(`This handle is for stack ${claims.stack}, which this server does not serve.`);
      }
      const request = requestFor(args, ctx, `sync ${claims.app}@${claims.commit.slice(0, 7)}`);
      const base = { stack: claims.stack, app: claims.app, commit: claims.commit, approvedBy: null };

      const live = (await env.records.readPointer())?.value ?? null;
      if (live?.deployId === claims.deployId) {
        return toolSuccess(
          {
            ...base,
            ...noopCounts(live.releases.map((r) => r.deployId)),
            deployId: claims.deployId,
            outcome: 'noop' as const,
            next: 'invalidate_cdn (if not done yet)',
          },
          `Already synced: deployment ${claims.deployId} is live on ${claims.stack}; nothing was copied this time.`,
        );
      }
      const plan = await dryRun(env, claims.app, claims.commit, request);
      if (plan.deployId !== claims.deployId) throw new FrontendOpsError('CONFLICT', STALE);
      if (plan.noop) {
        const liveId = live?.deployId ?? plan.deployId;
        return toolSuccess(
          {
            ...base,
            ...noopCounts(plan.retained),
            unchanged: plan.unchanged,
            deployId: liveId,
            outcome: 'noop' as const,
            next: 'nothing: this build is already live',
          },
          `${capitalise(describePlan(plan))}; nothing was copied.`,
        );
      }

      const gate = await t.approve(ctx, env, {
        action: 'deploy',
        deployId: plan.deployId,
        summary: describePlan(plan),
        tool: 'run_sync',
      });
      if (!gate.approved) return gate.result;

      const summary = await deployArtifact(env, {
        app: claims.app,
        commit: claims.commit,
        request,
        stopBeforeInvalidation: true,
        waitMs: lockWaitMs,
        onEvent: withProgress(refuseOtherPlans(claims.deployId), ctx),
      });
      const data = {
        ...base,
        deployId: summary.deployId,
        outcome: summary.outcome === 'noop' ? ('noop' as const) : ('synced' as const),
        copied: summary.copied,
        unchanged: summary.unchanged,
        pruned: summary.pruned,
        retained: summary.retained,
        approvedBy: gate.via === 'unprotected' ? null : gate.by,
        next: `invalidate_cdn with deployId ${summary.deployId}`,
      };
      return toolSuccess(
        data,
        `Synced ${claims.app}@${claims.commit.slice(0, 7)} to ${claims.stack} as deployment ${summary.deployId}: ${data.copied} copied, ${data.unchanged} unchanged, ${data.pruned} pruned. The site serves it once the CDN is invalidated: call invalidate_cdn next.`,
      );
    }),
  );

  server.registerTool(
    'invalidate_cdn',
    {
      title: 'Step 3 of 3: invalidate the CDN for a deployment',
      description:
        'Step 3 of the deploy: after run_sync, invalidate exactly the CDN paths the deployment changed, check ' +
        'that the CDN serves the new index.html (when the stack has a site URL), and record the deployment in ' +
        'the history and audit log. Safe to repeat: a finished deployment returns its recorded result and ' +
        'sends nothing new. Deletes nothing.',
      inputSchema: z.object({
        deployId: deployIdArg.describe('The deployId run_sync returned'),
        stack: stackArg(defaultStack),
        ...requestArgs,
      }),
      outputSchema: z.object(invalidateShape),
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    guarded(async (args, ctx) => {
      const env = await open(args.stack);
      const record = await finishSyncedDeploy(env, args.deployId, {
        request: requestFor(args, ctx, `invalidate ${args.deployId}`),
        waitMs: lockWaitMs,
      });
      const data = {
        deployId: record.deployId,
        stack: record.stack,
        invalidationIds: record.invalidation?.ids ?? [],
        paths: record.invalidation?.paths ?? [],
        verification: record.verification && {
          ok: record.verification.ok,
          detail: record.verification.detail,
        },
        outcome: record.outcome,
      };
      return toolSuccess(
        data,
        `Deployment ${record.deployId} of ${record.app}@${record.commit.slice(0, 7)} on ${record.stack}: ${data.paths.length} path(s) invalidated${data.invalidationIds.length ? ` (${data.invalidationIds.join(', ')})` : ''}; ${data.verification ? (data.verification.ok ? 'the CDN serves the new release' : `verification failed: ${data.verification.detail}`) : 'no site URL to verify'}; outcome ${record.outcome}.`,
      );
    }),
  );
}

const noopCounts = (retained: string[]) => ({ copied: 0, unchanged: 0, pruned: 0, retained });

/**
 * Forwards the copy progress as MCP progress notifications when the client asked for them (a
 * progressToken in the request's _meta): the agent shows them as a progress bar.
 */
function withProgress(
  onEvent: (event: DeployEvent) => void,
  ctx: {
    mcpReq: {
      _meta?: { progressToken?: string | number };
      notify: (n: { method: string; params: Record<string, unknown> }) => Promise<void>;
    };
  },
) {
  const token = ctx.mcpReq._meta?.progressToken;
  if (token === undefined) return onEvent;
  let copied = 0;
  let total = 0;
  let lastSent = -1;
  return (event: DeployEvent) => {
    onEvent(event);
    if (event.type === 'plan') total = event.plan.copies.length;
    if (event.type !== 'copy' || total === 0) return;
    copied++;
    // At most ~50 notifications per sync, and always the last one.
    if (copied !== total && copied - lastSent < total / 50) return;
    lastSent = copied;
    void ctx.mcpReq
      .notify({
        method: 'notifications/progress',
        params: {
          progressToken: token,
          progress: copied,
          total,
          message: `copied ${copied}/${total} (${event.group})`,
        },
      })
      .catch(() => undefined);
  };
}
