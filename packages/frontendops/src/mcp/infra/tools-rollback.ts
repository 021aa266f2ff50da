/** rollback: a retained release live again, invalidated, in one call (approval on protected stacks). */
import { rollbackRelease } from '../../deploy/deploy.ts';
import { describePlan } from '../../engine/describe.ts';
import { registerContractTool, toolSuccess } from '../tool-result.ts';
import { capitalise, changeResultOf, type InfraToolContext, refuseOtherPlans } from './context.ts';

export function registerRollbackTool(t: InfraToolContext): void {
  const { server, open, requestFor, lockWaitMs, secrecy } = t;

  registerContractTool(
    server,
    'rollback',
    async (args, ctx) => {
      const site = await open(args.stack);
      const request = requestFor(args, ctx, `rollback${args.to ? ` to ${args.to}` : ''}`);
      const to = args.to ? { to: args.to } : {};
      const planned = (await rollbackRelease(site, { ...to, request, dryRun: true })).plan;
      const gate = planned.noop
        ? ({ approved: true, by: 'nobody', via: 'unprotected', use: async () => {} } as const)
        : await t.approve(ctx, site, {
            action: 'rollback',
            deployId: planned.deployId,
            summary: describePlan(planned),
            change: { app: planned.app, commit: planned.commit, ...(args.to ? { to: args.to } : {}) },
            tool: 'rollback',
          });
      if (!gate.approved) return gate.result;
      const summary = await rollbackRelease(site, {
        ...to,
        request,
        waitMs: lockWaitMs,
        authorize: gate.use,
        onEvent: refuseOtherPlans(planned.deployId),
      });
      const data = {
        ...changeResultOf(summary, gate),
        fromCommit: summary.plan.fromCommit,
        invalidationIds: summary.invalidation?.ids ?? [],
        paths: summary.invalidation?.paths ?? [],
        pinned: Boolean(summary.pinned),
      };
      return toolSuccess(
        'rollback',
        data,
        summary.noop
          ? `${capitalise(describePlan(summary.plan))}; nothing was changed.`
          : `Rolled back ${summary.stack} to ${summary.app}@${summary.commit.slice(0, 7)} (deployment ${summary.deployId}): ${data.copied} copied, ${data.pruned} pruned, ${data.paths.length} path(s) invalidated; outcome ${summary.outcome}.${summary.pinned ? ' The stack is now pinned to it: deploys wait until someone promotes a release or unpins.' : ''}`,
      );
    },
    secrecy.guard,
  );
}
