/** rollback: a retained release live again, invalidated, in one call (approval on protected stacks). */
import { rollbackRelease } from '../../deploy/deploy.ts';
import { describePlan } from '../../engine/describe.ts';
import { capitalise } from '../../engine/text.ts';
import { PIN_EFFECT } from '../../read/pin-words.ts';
import { registerContractTool, toolSuccess } from '../tool-result.ts';
import { type InfraToolContext, releaseChangeOf, runApproved } from './context.ts';

export function registerRollbackTool(t: InfraToolContext): void {
  const { server, open, requestFor, secrecy } = t;

  registerContractTool(
    server,
    'rollback',
    async (args, ctx) => {
      const site = await open(args.stack);
      const request = requestFor(args, ctx, `rollback${args.to ? ` to ${args.to}` : ''}`);
      const to = args.to ? { to: args.to } : {};
      const ran = await runApproved(t, ctx, site, {
        tool: 'rollback',
        run: (options) => rollbackRelease(site, { ...to, request, ...options }),
        change: (planned) => ({ app: planned.app, commit: planned.commit, ...to }),
      });
      if (!ran.approved) return ran.result;
      const { summary, gate } = ran;
      const data = {
        ...(await releaseChangeOf(t, site, summary, gate)),
        pinned: Boolean(summary.pinned),
      };
      return toolSuccess(
        'rollback',
        data,
        summary.noop
          ? `${capitalise(describePlan(summary.plan))}; nothing was changed.`
          : `Rolled back ${summary.stack} to ${summary.app}@${summary.commit.slice(0, 7)} (deployment ${summary.deployId}): ${data.copied} copied, ${data.pruned} pruned, ${data.paths.length} path(s) invalidated; outcome ${summary.outcome}.${summary.pinned ? ` The stack is now pinned to it: ${PIN_EFFECT}.` : ''}`,
      );
    },
    secrecy.guard,
  );
}
