/**
 * `frontendops pin`, `unpin` and `promote`: what a release manager does after a rollback. A rollback
 * pins the environment; deploys are refused until someone promotes a release (live for everyone,
 * pin cleared) or unpins. Promote is a deploy: on a protected stack it needs --yes or the prompt.
 */
import type { Command } from 'commander';
import { notPinned, PIN_EFFECT, unpinnedSentence } from '../../read/pin-words.ts';
import {
  APP_OPTION_HELP,
  type CliContext,
  cliRequest,
  lockWait,
  printJson,
  STACK_OPTION_HELP,
  WAIT_OPTION,
  withSite,
} from '../context.ts';
import { say } from '../io.ts';
import { addCommon, type DeployFlags } from './deploy.ts';

interface PinFlags {
  stack?: string;
  to?: string;
  message?: string;
  json?: boolean;
  wait: string;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('pin')
    .description(`Keep the live release: ${PIN_EFFECT}`)
    .option('--to <deployId|commit>', 'the release you mean to pin; refused unless it is the live one')
    .option('--message <text>', 'why (recorded with the pin and in the audit log)')
    .option('--stack <ref>', STACK_OPTION_HELP)
    .option('--json', 'print the pin as JSON')
    .option(...WAIT_OPTION)
    .addHelpText(
      'after',
      `
Examples:
  $ frontendops pin --stack prod --message "release freeze until the audit"
  $ frontendops pin --stack prod --to 3f2c1a9       only if 3f2c1a9 is what is live

A rollback pins by itself. Lift it with \`frontendops promote\` or \`frontendops unpin\`.`,
    )
    .action(async (flags: PinFlags) => {
      const { pinRelease } = await import('../../deploy/pin.ts');
      await withSite(ctx, flags.stack, async (site) => {
        const { pin, created } = await pinRelease(site, {
          ...(flags.to ? { to: flags.to } : {}),
          request: cliRequest(ctx.io, 'pin the live release', flags.message),
          waitMs: await lockWait(ctx, flags),
        });
        if (flags.json) return printJson(ctx, { stack: site.target.stack, pin, created });
        const { describePin } = await import('../../state/pin.ts');
        say(
          ctx.io.stdout,
          created
            ? `Pinned ${site.target.stack} to ${describePin(pin)}. Deploys of other releases are refused until \`frontendops promote\` or \`frontendops unpin\`.`
            : `${site.target.stack} is already pinned to ${describePin(pin)}; nothing changed${
                flags.message
                  ? ' (--message was not recorded: the pin keeps its own reason; unpin and pin again to give another)'
                  : ''
              }.`,
        );
      });
    });

  program
    .command('unpin')
    .description('Lift the pin: deploys go through again (what is live does not change)')
    .option('--message <text>', 'why (recorded in the audit log)')
    .option('--stack <ref>', STACK_OPTION_HELP)
    .option('--json', 'print the lifted pin (or null) as JSON')
    .option(...WAIT_OPTION)
    .addHelpText(
      'after',
      '\nExamples:\n  $ frontendops unpin --stack prod --message "fixed forward in 9e8d7c6"\n  $ frontendops unpin',
    )
    .action(async (flags: Omit<PinFlags, 'to'>) => {
      const [{ unpinRelease }, { assertJobMayUnpin }] = await Promise.all([
        import('../../deploy/pin.ts'),
        import('./deploy.ts'),
      ]);
      await withSite(ctx, flags.stack, async (site) => {
        await assertJobMayUnpin(ctx, site);
        const { cleared } = await unpinRelease(site, {
          request: cliRequest(ctx.io, 'unpin', flags.message),
          waitMs: await lockWait(ctx, flags),
        });
        if (flags.json) return printJson(ctx, { stack: site.target.stack, unpinned: cleared });
        say(
          ctx.io.stdout,
          cleared ? unpinnedSentence(site.target.stack, cleared) : notPinned(site.target.stack),
        );
      });
    });

  addCommon(
    program
      .command('promote')
      .description(
        'Make a release live for everyone and clear the pin (default: the latest build); a deploy, approved like one',
      )
      .argument(
        '[release]',
        'commit (a short sha is enough), deploy id or tag (a deploy tag, a release tag) from the history; default: the latest',
      )
      .option('--app <name>', APP_OPTION_HELP),
    'promote',
  )
    .addHelpText(
      'after',
      `
Examples:
  $ frontendops promote --stack prod                   the latest build, for everyone; clears the pin
  $ frontendops promote 3f2c1a9 --stack prod --message "v3 fixes the totals"
  $ frontendops promote 3f2c1a9-0123456789 --yes --json  a release from the history, in CI`,
    )
    .action(async (ref: string | undefined, flags: DeployFlags) => {
      const [deploy, { promoteRelease, resolveRelease }, { DEPLOY_ID }] = await Promise.all([
        import('./deploy.ts'),
        import('../../deploy/pin.ts'),
        import('../../engine/ids.ts'),
      ]);
      await withSite(ctx, flags.stack, async (site, config) => {
        const app = flags.app ?? config.app;
        let release: { app: string; commit: string };
        const git = await deploy.openGit(ctx, flags);
        // A tag (a deploy tag `history` shows, a release tag) names the commit it points at, as for rollback --to.
        const named =
          ref === undefined
            ? undefined
            : await deploy.releaseNamed(ref, git, { command: 'promote', stack: site.target.stack });
        if (named && DEPLOY_ID.test(named)) {
          release = await resolveRelease(site, app, named);
        } else {
          const flagsWithRef = { ...flags, ...(named ? { commit: named } : {}) };
          const { commit } = await deploy.chooseCommit(ctx, site, config, app, flagsWithRef, git);
          release = { app, commit };
        }
        await deploy.assertTaggable(ctx, flags, git, release.commit);
        const request = cliRequest(
          ctx.io,
          `promote ${release.app}@${release.commit.slice(0, 7)}`,
          flags.message,
        );
        const common = {
          ...release,
          request,
          waitMs: await lockWait(ctx, flags),
          ...(flags.json || flags.dryRun
            ? {}
            : { onEvent: await deploy.progressPrinter(ctx, flags.verbose) }),
        };
        const approved = await deploy.approveIfProtected(
          ctx,
          site,
          flags,
          'promote',
          git,
          () => promoteRelease(site, { ...common, dryRun: true, onEvent: () => {} }),
          'promote (and clear the pin)',
        );
        const summary = await promoteRelease(site, { ...common, ...approved, dryRun: Boolean(flags.dryRun) });
        await deploy.finish(ctx, site, summary, flags, git, 'promote');
      });
    });
}
