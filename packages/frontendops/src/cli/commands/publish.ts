import type { Command } from 'commander';
import { publishArtifact } from '../../deploy/publish.ts';
import { appendAudit } from '../../state/audit.ts';
import { cliRequest, DEFAULT_STACK, printJson, withStack } from '../context.ts';

export function registerPublishCommand(program: Command): void {
  program
    .command('publish <dir>')
    .description('Upload a build directory as an immutable artifact (what CI runs after the build)')
    .requiredOption('--app <name>', 'app name, e.g. sophia-dashboard')
    .requiredOption('--commit <sha>', 'the commit the build was made from')
    .option('--stack <ref>', 'stack name or outputs JSON file', DEFAULT_STACK)
    .option('--json', 'print one JSON object')
    .action(async (dir: string, flags: { app: string; commit: string; stack: string; json?: boolean }) => {
      await withStack(flags.stack, async (env) => {
        const result = await publishArtifact(env.artifacts, { dir, app: flags.app, commit: flags.commit });
        if (result.published) {
          await appendAudit(env.state, env.target.statePrefix, env.locker, {
            type: 'publish',
            data: { ...result, request: cliRequest(`publish ${flags.app}@${flags.commit}`) },
          });
        }
        if (flags.json) return printJson(result);
        console.log(
          result.published
            ? `published ${result.app}@${result.commit.slice(0, 7)}: ${result.files} files, ${result.bytes} bytes (${result.artifactDigest})`
            : `${result.app}@${result.commit.slice(0, 7)} is already published with this content (${result.artifactDigest}); nothing uploaded`,
        );
      });
    });
}
