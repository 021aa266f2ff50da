/** `frontendops publish <dir>`: upload a build as an immutable artifact (what CI runs after the build). */
import type { Command } from 'commander';
import {
  APP_OPTION_HELP,
  type CliContext,
  cliRequest,
  loadCliConfig,
  printJson,
  STACK_OPTION_HELP,
  withSite,
} from '../context.ts';
import { say } from '../io.ts';

interface PublishFlags {
  app?: string;
  commit: string;
  stack?: string;
  json?: boolean;
  message?: string;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('publish <dir>')
    .description('Upload a build directory as an immutable artifact (what CI runs after the build)')
    .requiredOption('--commit <sha>', 'the commit the build was made from (full sha)')
    .option('--app <name>', APP_OPTION_HELP)
    .option('--stack <ref>', STACK_OPTION_HELP)
    .option('--message <text>', 'a note recorded with the publish in the audit log')
    .option('--json', 'print one JSON object')
    .addHelpText(
      'after',
      `
Examples:
  $ frontendops publish apps/sophia-dashboard/dist --commit $(git rev-parse HEAD)
  $ frontendops publish dist --commit $GITHUB_SHA --stack prod --json`,
    )
    .action(async (dir: string, flags: PublishFlags) => {
      const [{ publishBuild, uncommittedAppFiles, uncommittedError, commitUnknownHere }, { FULL_COMMIT }] =
        await Promise.all([import('../../deploy/publish.ts'), import('../../engine/ids.ts')]);
      if (!FULL_COMMIT.test(flags.commit)) {
        const { badInput } = await import('../../errors.ts');
        throw badInput(
          `publish needs the full commit sha (40 lower-case hex, e.g. from \`git rev-parse HEAD\`), got "${flags.commit.slice(0, 80)}": an artifact is named by its commit for good, and a short sha may one day name two commits. (deploy, rollback and promote take short shas.)`,
        );
      }
      // An artifact is named by its commit for good: a sha this repository does not know (a typo, a
      // sha of another repository) would publish a build no deploy can ever find the commit of.
      if (await commitUnknownHere(ctx.io.cwd, flags.commit)) {
        const { badInput } = await import('../../errors.ts');
        throw badInput(
          `publish: this repository has no commit ${flags.commit}. Give the sha the build was made from (\`git rev-parse HEAD\`); in a shallow clone, fetch that commit first. Nothing was published.`,
        );
      }
      // HEAD's sha on a build of edits not committed would name that build for good (artifacts are
      // immutable) and keep the commit's own build out: refused before anything is opened or read.
      const config = await loadCliConfig(ctx);
      if ((flags.app ?? config.app) === config.app) {
        const files = await uncommittedAppFiles({
          root: ctx.io.cwd,
          appPath: config.appPath,
          commit: flags.commit,
          build: config.build,
        });
        if (files?.length) {
          throw uncommittedError({ app: config.app, commit: flags.commit, appPath: config.appPath, files });
        }
      }
      await withSite(ctx, flags.stack, async (site) => {
        const app = flags.app ?? config.app;
        const result = await publishBuild(
          site,
          { dir, app, commit: flags.commit, repository: ctx.io.cwd },
          cliRequest(ctx.io, `publish ${app}@${flags.commit}`, flags.message),
        );
        if (flags.json) return printJson(ctx, result);
        say(
          ctx.io.stdout,
          result.published
            ? `published ${result.app}@${result.commit.slice(0, 7)}: ${result.files} file${result.files === 1 ? '' : 's'}, ${result.bytes} bytes (${result.artifactDigest})`
            : `${result.app}@${result.commit.slice(0, 7)} is already published with this content (${result.artifactDigest}); nothing uploaded`,
        );
      });
    });
}
