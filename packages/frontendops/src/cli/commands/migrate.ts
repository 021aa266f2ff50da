/**
 * `frontendops migrate --to atomic`: an in-place stack whose outputs now name a release store is
 * moved to atomic releases with no broken-page moment (see deploy/migrate.ts).
 */
import type { Command } from 'commander';
import {
  type CliContext,
  cliRequest,
  lockWait,
  STACK_OPTION_HELP,
  WAIT_OPTION,
  withSite,
} from '../context.ts';
import { approveIfProtected, finish, progressPrinter } from './deploy.ts';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('migrate')
    .description('Move an in-place stack to atomic releases (its outputs must name the release store)')
    .requiredOption('--to <mode>', 'the mode to move to: atomic')
    .option('--stack <ref>', STACK_OPTION_HELP)
    .option('--dry-run', 'print the plan and change nothing')
    .option('--yes', 'approve the migration of a protected environment without asking')
    .option('--message <text>', 'why (recorded in the audit log)')
    .option('--json', 'print one JSON summary object')
    .option(...WAIT_OPTION)
    .addHelpText('after', '\nExamples:\n  $ frontendops migrate --to atomic --stack prod')
    .action(
      async (flags: {
        to: string;
        stack?: string;
        dryRun?: boolean;
        yes?: boolean;
        message?: string;
        json?: boolean;
        wait: string;
      }) => {
        if (flags.to !== 'atomic') {
          const { badInput } = await import('../../errors.ts');
          throw badInput(`--to takes "atomic" (the one mode to migrate to), got "${flags.to}".`);
        }
        const { migrateToAtomic } = await import('../../deploy/migrate.ts');
        await withSite(ctx, flags.stack, async (site) => {
          const common = {
            request: cliRequest(ctx.io, 'migrate to atomic releases', flags.message),
            waitMs: await lockWait(ctx, flags),
            ...(flags.json || flags.dryRun ? {} : { onEvent: await progressPrinter(ctx) }),
          };
          const approved = await approveIfProtected(ctx, site, flags, 'deploy', null, () =>
            migrateToAtomic(site, { ...common, dryRun: true, onEvent: () => {} }),
          );
          const summary = await migrateToAtomic(site, {
            ...common,
            ...approved,
            dryRun: Boolean(flags.dryRun),
          });
          await finish(ctx, site, summary, { ...flags, tag: false }, null);
        });
      },
    );
}
