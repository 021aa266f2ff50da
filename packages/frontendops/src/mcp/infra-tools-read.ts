/** The tools that change nothing: plan_deploy (dry run), get_status, get_history. */
import * as z from 'zod';
import { type InfraToolContext, READ_ONLY } from './infra-context.ts';
import {
  appArg,
  commitArg,
  historyShape,
  planFields,
  planShape,
  stackArg,
  statusShape,
} from './infra-schemas.ts';
import { toolSuccess } from './tool-result.ts';

export function registerReadTools(t: InfraToolContext): void {
  const { server, config, defaultStack, guarded, open, requestFor, dryRun, isProtected } = t;

  server.registerTool(
    'plan_deploy',
    {
      title: 'Plan a deploy (dry run)',
      description:
        'Dry run: what deploying a published build of the app to a stack would do — files to copy, unchanged, ' +
        'to prune, CDN paths to invalidate — without a handle and without changing anything. Use ' +
        'get_deploy_target instead when you intend to deploy.',
      inputSchema: z.object({ stack: stackArg(defaultStack), app: appArg.optional(), commit: commitArg }),
      outputSchema: z.object(planShape),
      annotations: READ_ONLY,
    },
    guarded(async ({ stack, app = config.app, commit }, ctx) => {
      const env = await open(stack);
      const plan = await dryRun(env, app, commit, requestFor({}, ctx, 'plan deploy'));
      const data = planFields(plan, isProtected(plan.stack));
      return toolSuccess(data, `Dry run: ${data.description}. Nothing was changed.`);
    }),
  );

  server.registerTool(
    'get_status',
    {
      title: 'What is live on a stack',
      description:
        'The release live on a stack (deploy id, app, commit, when), the retained releases that rollback can ' +
        'return to, whether a deploy is pending (interrupted, or synced but not yet invalidated), whether the ' +
        'stack is protected, and the public site URL. Changes nothing.',
      inputSchema: z.object({ stack: stackArg(defaultStack) }),
      outputSchema: z.object(statusShape),
      annotations: READ_ONLY,
    },
    guarded(async ({ stack }) => {
      const env = await open(stack);
      const pointer = (await env.records.readPointer())?.value ?? null;
      const pending = await env.records.readPending();
      const release = (r: { deployId: string; app: string; commit: string; releasedAt: string }) => ({
        deployId: r.deployId,
        app: r.app,
        commit: r.commit,
        releasedAt: r.releasedAt,
      });
      const data = {
        stack: env.target.stack,
        live: pointer && release(pointer),
        releases: (pointer?.releases ?? []).map(release),
        pending: pending !== null,
        pendingDeployId: pending?.plan.deployId ?? null,
        protected: isProtected(env.target.stack),
        ...(env.target.siteUrl ? { siteUrl: env.target.siteUrl } : {}),
      };
      return toolSuccess(
        data,
        pointer
          ? `${data.stack}: ${pointer.app}@${pointer.commit.slice(0, 7)} live since ${pointer.releasedAt} (${pointer.deployId}); ${data.releases.length} retained release(s)${pending ? `; deploy ${pending.plan.deployId} is pending` : ''}.`
          : `${data.stack}: nothing deployed yet.`,
      );
    }),
  );

  server.registerTool(
    'get_history',
    {
      title: 'Deployment history of a stack',
      description:
        'Recorded deployments and rollbacks of a stack, newest first: deploy id, commit, outcome, times, how many ' +
        'files were copied and deleted, the CDN invalidation ids, and the request (words, who, planner). Changes nothing.',
      inputSchema: z.object({
        stack: stackArg(defaultStack),
        limit: z.number().int().min(1).max(100).optional().describe('How many, newest first; default 20'),
      }),
      outputSchema: z.object(historyShape),
      annotations: READ_ONLY,
    },
    guarded(async ({ stack, limit = 20 }) => {
      const env = await open(stack);
      const records = await env.records.listRecords(limit);
      const deployments = records.map((r) => ({
        deployId: r.deployId,
        kind: r.kind,
        app: r.app,
        commit: r.commit,
        outcome: r.outcome,
        startedAt: r.startedAt,
        finishedAt: r.finishedAt,
        copied: r.copied.length,
        deleted: r.deleted.length,
        invalidationIds: r.invalidation?.ids ?? [],
        request: r.request.text,
        actor: r.request.actor,
        planner: r.request.planner,
      }));
      const newest = deployments[0];
      return toolSuccess(
        { stack: env.target.stack, deployments },
        newest
          ? `${deployments.length} deployment(s) of ${env.target.stack}; newest ${newest.deployId} (${newest.commit.slice(0, 7)}, ${newest.outcome}).`
          : `No deployments of ${env.target.stack} yet.`,
      );
    }),
  );
}
