/**
 * `frontendops approve <handle-or-deployId> --stack <stack>`: a person approves one planned deploy or
 * rollback of a protected stack from a terminal (see ../approve-deploy.ts).
 */
import type { Command } from 'commander';
import { actor, type CliContext, cliRequest, printJson, STACK_OPTION_HELP, withSite } from '../context.ts';
import { say } from '../io.ts';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('approve')
    .description(
      'Approve a planned deploy or rollback of a protected stack (for MCP clients that cannot ask): pass the ' +
        'handle from get_deploy_target or the deploy id from the refusal message',
    )
    .argument('<handle-or-deployId>', 'the handle (fo1.…) or deploy id to approve')
    .option('--stack <ref>', STACK_OPTION_HELP)
    .option('--as <name>', 'who approves (recorded in the audit log); default: you')
    .option('--json', 'print the approval record as JSON')
    .addHelpText('after', '\nExamples:\n  $ frontendops approve 3f2c1a9-0123456789 --stack prod')
    .action(async (ref: string, flags: { stack?: string; as?: string; json?: boolean }) => {
      const { approveDeploy } = await import('../approve-deploy.ts');
      await withSite(ctx, flags.stack, async (site) => {
        const result = await approveDeploy(site, {
          ref,
          by: flags.as ?? actor(ctx.io),
          request: cliRequest(ctx.io, `approve ${ref.slice(0, 40)}`),
        });
        if (flags.json) return printJson(ctx, result.record);
        say(
          ctx.io.stdout,
          `Approved: ${result.description} (deploy id ${result.record.deployId}) by ${result.record.approvedBy}, ` +
            `valid until ${result.record.expiresAt}. The agent can now call ${result.record.action === 'rollback' ? 'rollback' : 'run_sync'} again.`,
        );
      });
    });
}
