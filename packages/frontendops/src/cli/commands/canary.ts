/**
 * `frontendops canary status|promote|abort` (atomic stacks): what the canary started by
 * `deploy --canary <percent>` is doing, and ending it — live for everyone, or back to the live
 * release. Each change is one key write, approved like a deploy on a protected stack.
 * `frontendops preview`: a signed, expiring link to look at a published build before it is live.
 */

import type { Command } from 'commander';
import { PREVIEW_HOURS, previewSeconds } from '../../atomic/preview-hours.ts';
import {
  APP_OPTION_HELP,
  type CliContext,
  cliRequest,
  lockWait,
  parseWholeNumber,
  printJson,
  STACK_OPTION_HELP,
  WAIT_OPTION,
  withSite,
} from '../context.ts';
import { say } from '../io.ts';
import { approveIfProtected, chooseCommit, finish, progressPrinter } from './deploy.ts';

interface CanaryFlags {
  stack?: string;
  yes?: boolean;
  json?: boolean;
  dryRun?: boolean;
  wait: string;
  message?: string;
  tag: boolean;
  repo?: string;
  github?: string;
}

export function register(program: Command, ctx: CliContext): void {
  const canary = program
    .command('canary')
    .description(
      'The canary of an atomic stack (started by `deploy --canary <percent>`): status, promote, abort',
    );

  canary
    .command('status')
    .description('Which release is live, which is the canary and for what share of visitors')
    .option('--stack <ref>', STACK_OPTION_HELP)
    .option('--json', 'print one JSON object')
    .action(async (flags: { stack?: string; json?: boolean }) => {
      const [{ readCanaryStatus }, { readStatus }, { describeServed }] = await Promise.all([
        import('../../deploy/canary.ts'),
        import('../../read/status.ts'),
        import('../../read/served-words.ts'),
      ]);
      await withSite(ctx, flags.stack, async (site) => {
        // What the CDN serves, against what was recorded, as `status` tells it: a store changed
        // outside FrontendOps is what visitors get, whatever the recorded canary says.
        const [status, { served }] = await Promise.all([readCanaryStatus(site), readStatus(site)]);
        if (served?.state === 'changed-outside') ctx.exitCode = 1; // as `status` does
        if (flags.json) return printJson(ctx, { ...status, served });
        const { canary, pointer } = status;
        if (!canary || !pointer?.canary) {
          say(ctx.io.stdout, `${status.stack}: no canary${pointer ? ` (everyone on ${pointer.live})` : ''}`);
        } else {
          say(
            ctx.io.stdout,
            `${status.stack}: ${pointer.weight ?? 0}% of visitors on ${canary.app}@${canary.commit.slice(0, 7)} (release ${canary.releaseId}, since ${canary.startedAt}), the rest on ${pointer.live}`,
          );
        }
        const servedWords = describeServed(served);
        if (servedWords) say(ctx.io.stdout, `  ${servedWords}`);
      });
    });

  for (const [name, description, verb] of [
    ['promote', 'Make the canary live for everyone (one key write)', 'promote'],
    ['abort', 'End the canary: everyone back on the live release (one key write)', 'abort'],
  ] as const) {
    canary
      .command(name)
      .description(description)
      .option('--stack <ref>', STACK_OPTION_HELP)
      .option('--dry-run', 'print the plan and change nothing')
      .option('--yes', `approve the ${verb} on a protected environment without asking`)
      .option('--message <text>', 'why (recorded in the audit log)')
      .option('--json', 'print one JSON summary object')
      .option('--no-tag', 'do not create the git deploy tag (promote)')
      .option('--repo <dir>', 'git repository for the deploy tag (default: the working directory)')
      .option('--github <owner/repo>', 'create the deploy tag on GitHub (token from GITHUB_TOKEN)')
      .option(...WAIT_OPTION)
      .action(async (flags: CanaryFlags) => {
        const { promoteCanary, abortCanary } = await import('../../deploy/canary.ts');
        const run = name === 'promote' ? promoteCanary : abortCanary;
        await withSite(ctx, flags.stack, async (site) => {
          const common = {
            request: cliRequest(ctx.io, `${verb} the canary`, flags.message),
            waitMs: await lockWait(ctx, flags),
            ...(flags.json || flags.dryRun ? {} : { onEvent: await progressPrinter(ctx) }),
          };
          const approved = await approveIfProtected(ctx, site, flags, name, null, () =>
            run(site, { ...common, dryRun: true, onEvent: () => {} }),
          );
          const summary = await run(site, { ...common, ...approved, dryRun: Boolean(flags.dryRun) });
          await finish(ctx, site, summary, { ...flags, tag: name === 'promote' && flags.tag }, null);
        });
      });
  }

  program
    .command('preview')
    .description(
      "A signed, expiring link that shows a published build at the site's address before it is live (atomic stacks); visitors keep the live release",
    )
    .option(
      '--commit <sha>',
      'a published commit (a short sha is enough; default: the latest build of the app)',
    )
    .option('--deploy-id <id>', 'or a deployment of this stack, as history shows it')
    .option('--app <name>', APP_OPTION_HELP)
    .option(
      '--hours <n>',
      `how long the link works (${PREVIEW_HOURS.min}–${PREVIEW_HOURS.max})`,
      String(PREVIEW_HOURS.default),
    )
    .option('--stack <ref>', STACK_OPTION_HELP)
    .option('--open', 'open the link in your browser')
    .option('--json', 'print one JSON object')
    .addHelpText(
      'after',
      '\nExamples:\n  $ frontendops preview --commit 3f2c1a9\n  $ frontendops preview --deploy-id 3f2c1a9-0123456789 --hours 2 --open',
    )
    .action(
      async (flags: {
        commit?: string;
        deployId?: string;
        app?: string;
        hours: string;
        stack?: string;
        open?: boolean;
        json?: boolean;
      }) => {
        const hours = parseWholeNumber(flags.hours, '--hours', {
          min: PREVIEW_HOURS.min,
          max: PREVIEW_HOURS.max,
          example: String(PREVIEW_HOURS.default),
        });
        const { previewLink } = await import('../../deploy/preview.ts');
        await withSite(ctx, flags.stack, async (site, config) => {
          const app = flags.app ?? config.app;
          // A short sha is the commit git resolves it to, as for a deploy.
          const commit = flags.commit
            ? (await chooseCommit(ctx, site, config, app, { commit: flags.commit })).commit
            : flags.deployId
              ? undefined
              : await latestPublished(ctx, site, config, app);
          const link = await previewLink(site, {
            ...(commit ? { commit } : {}),
            ...(flags.deployId ? { deployId: flags.deployId } : {}),
            app,
            ttlSeconds: previewSeconds(hours),
            request: cliRequest(ctx.io, `preview ${flags.deployId ?? flags.commit ?? commit ?? app}`),
          });
          if (flags.json) printJson(ctx, link);
          else {
            say(
              ctx.io.stdout,
              `Preview of ${link.app}@${link.commit.slice(0, 7)} on ${site.target.stack}, until ${link.expiresAt}:`,
            );
            say(ctx.io.stdout, link.url);
          }
          if (flags.open) await ctx.io.openUrl?.(link.url);
        });
      },
    );
}

/** The newest commit of the app's directory that has a published build (as `deploy --latest`). */
async function latestPublished(
  ctx: CliContext,
  site: Parameters<Parameters<typeof withSite>[2]>[0],
  config: Parameters<Parameters<typeof withSite>[2]>[1],
  app: string,
): Promise<string> {
  const [{ selectGitHost }, { requireLatestPublished }] = await Promise.all([
    import('../../adapters/git-host.ts'),
    import('../../read/latest.ts'),
  ]);
  const git = await selectGitHost({}, ctx.io.env, ctx.io.cwd);
  return (await requireLatestPublished({ git, artifacts: site.artifacts, app, appPath: config.appPath })).sha;
}
