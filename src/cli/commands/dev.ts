import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import { deployArtifact } from '../../deploy/deploy.ts';
import { openStack } from '../../environment.ts';
import { startLocalEnvironment } from '../../local/dev.ts';
import { actor } from '../context.ts';
import { createProgressPrinter } from '../progress.ts';

export function registerDevCommand(program: Command): void {
  program
    .command('dev')
    .description(
      'Run the complete local environment (S3 server, CDN edge, stack outputs), build and deploy the dashboard',
    )
    .option('--once', 'do the job and exit (for scripts)')
    .action(async (flags: { once?: boolean }) => {
      const log = (line: string) => process.stderr.write(`${line}\n`);
      const local = await startLocalEnvironment({ log });
      try {
        const config = await loadConfig();
        const env = await openStack(local.env.stack, config);
        try {
          const summary = await deployArtifact(env, {
            app: local.published.app,
            commit: local.published.commit,
            request: {
              text: 'Deploy the latest dashboard.',
              actor: actor(),
              planner: 'cli',
              at: new Date().toISOString(),
            },
            onEvent: createProgressPrinter(),
            waitMs: 30_000,
          });
          log(
            `${summary.outcome === 'noop' ? 'already live' : summary.outcome}: ${summary.app}@${summary.commit.slice(0, 7)} (${summary.deployId})`,
          );
        } finally {
          env.close();
        }
        console.log(`\nSophia Dashboard: ${local.env.edgeUrl}`);
        console.log(`stack outputs:    ${local.env.outputsFile}`);
        if (flags.once) return;
        console.log('Serving until Ctrl-C. From another terminal: npx frontendops status');
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
      } finally {
        await local.close();
      }
    });
}
