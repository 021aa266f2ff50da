/** rollback: a retained release live again, invalidated, in one call (approval on protected stacks). */
import * as z from 'zod';
import { rollbackRelease } from '../deploy/deploy.ts';
import { capitalise, type InfraToolContext, refuseOtherPlans } from './infra-context.ts';
import { describePlan, requestArgs, rollbackShape, stackArg } from './infra-schemas.ts';
import { toolSuccess } from './tool-result.ts';

export function registerRollbackTool(t: InfraToolContext): void {
  const { server, defaultStack, guarded, open, requestFor, lockWaitMs } = t;

  server.registerTool(
    'rollback',
    {
      title: 'Roll back a stack to a retained release',
      description:
        'Make an earlier release live again — by default the one before the live one, or the deploy id / commit ' +
        'given in "to" — and invalidate the CDN, in one call. Moves only the files that differ; overwrites and ' +
        'deletes objects in the hosting bucket. On a protected stack a human must approve first. See ' +
        'get_status for the retained releases.',
      inputSchema: z.object({
        stack: stackArg(defaultStack),
        to: z
          .string()
          .regex(/^([0-9a-f]{7}-[0-9a-f]{10}|[0-9a-f]{7,64})$/, {
            message: 'expected a deploy id (e.g. "3f2c1a9-0123456789") or a commit sha (7–40 hex digits)',
          })
          .optional()
          .describe('Deploy id or commit to return to; default: the release before the live one'),
        ...requestArgs,
      }),
      outputSchema: z.object(rollbackShape),
      annotations: {
        readOnlyHint: false,
        destructiveHint: true,
        idempotentHint: false,
        openWorldHint: false,
      },
    },
    guarded(async (args, ctx) => {
      const env = await open(args.stack);
      const request = requestFor(args, ctx, `rollback${args.to ? ` to ${args.to}` : ''}`);
      const to = args.to ? { to: args.to } : {};
      const planned = (await rollbackRelease(env, { ...to, request, dryRun: true })).plan;
      const gate = planned.noop
        ? ({ approved: true, by: 'nobody', via: 'unprotected' } as const)
        : await t.approve(ctx, env, {
            action: 'rollback',
            deployId: planned.deployId,
            summary: describePlan(planned),
            tool: 'rollback',
          });
      if (!gate.approved) return gate.result;
      const summary = await rollbackRelease(env, {
        ...to,
        request,
        waitMs: lockWaitMs,
        onEvent: refuseOtherPlans(planned.deployId),
      });
      const data = {
        deployId: summary.deployId,
        stack: summary.stack,
        app: summary.app,
        commit: summary.commit,
        artifactDigest: summary.artifactDigest,
        fromCommit: summary.plan.fromCommit,
        outcome: summary.outcome,
        copied: summary.copied,
        unchanged: summary.unchanged,
        pruned: summary.pruned,
        retained: summary.retained,
        invalidationIds: summary.invalidation?.ids ?? [],
        paths: summary.invalidation?.paths ?? [],
        verification: summary.verification && {
          ok: summary.verification.ok,
          detail: summary.verification.detail,
        },
        approvedBy: gate.via === 'unprotected' ? null : gate.by,
      };
      return toolSuccess(
        data,
        summary.noop
          ? `${capitalise(describePlan(summary.plan))}; nothing was changed.`
          : `Rolled back ${summary.stack} to ${summary.app}@${summary.commit.slice(0, 7)} (deployment ${summary.deployId}): ${data.copied} copied, ${data.pruned} pruned, ${data.paths.length} path(s) invalidated; outcome ${summary.outcome}.`,
      );
    }),
  );
}
