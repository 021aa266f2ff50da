/**
 * `frontendops dev` (= `npm start`): the local environment, then "Deploy the latest dashboard."
 * through the agent — the same path a release manager takes (git server → infra server → sync →
 * invalidate → deploy tag) — and the deploy console beside the site. Starting it is the operator's
 * approval for that one deploy of the local stack.
 */
import { execFileSync } from 'node:child_process';
import type { Command } from 'commander';
import { runAgentRequest } from '../../agent/index.ts';
import { createRenderer } from '../../agent/render.ts';
import { loadConfig } from '../../config.ts';
import { FrontendOpsError } from '../../errors.ts';
import { startLocalEnvironment } from '../../local/dev.ts';
import { actor } from '../context.ts';
import { printAddress, startConsoleWithAgent } from './console.ts';

const REQUEST = 'Deploy the latest dashboard.';

export function registerDevCommand(program: Command): void {
  program
    .command('dev')
    .description(
      'Run the complete local environment (S3 server, CDN edge, console), build the dashboard and have the agent deploy it',
    )
    .option('--once', 'do the job and exit (for scripts)')
    .option('--no-console', 'do not serve the deploy console')
    .action(async (flags: { once?: boolean; console: boolean }) => {
      const log = (line: string) => process.stderr.write(`${line}\n`);
      ensureGitIdentity();
      const config = await loadConfig();
      const local = await startLocalEnvironment({ config, log });
      try {
        const who = actor();
        log(`\nagent: "${REQUEST}"`);
        const renderer = createRenderer(process.stderr);
        const result = await runAgentRequest(REQUEST, {
          actor: who,
          planner: 'runbook',
          stackRef: local.env.stack,
          config,
          approve: async () => ({ approved: true, by: who, via: 'frontendops dev' }),
          onEvent: renderer.onEvent,
        });
        process.stdout.write(`${renderer.summary(result)}\n`);
        if (result.outcome === 'failed' || result.outcome === 'refused' || result.outcome === 'declined') {
          throw new FrontendOpsError(
            'UPSTREAM',
            `The agent could not deploy the dashboard: ${result.message}`,
          );
        }
        console.log(`\nSophia Dashboard: ${local.env.edgeUrl}`);
        console.log(`stack outputs:    ${local.env.outputsFile}`);
        if (flags.once) return;
        const served = flags.console ? await serveConsole(config, local.env.stack) : null;
        console.log('Serving until Ctrl-C. From another terminal: npx frontendops status');
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        await served?.close();
      } finally {
        await local.close();
      }
    });
}

async function serveConsole(config: Awaited<ReturnType<typeof loadConfig>>, stack: string) {
  const served = await startConsoleWithAgent(config, [stack]);
  printAddress(served.url, served.token, undefined);
  return served;
}

/** Deploy tags are annotated tags: without a git identity (a fresh machine) give them one. */
function ensureGitIdentity(): void {
  const configured = (key: string) => {
    try {
      return execFileSync('git', ['config', key], { encoding: 'utf8' }).trim() !== '';
    } catch {
      return false;
    }
  };
  if (!configured('user.name')) process.env.GIT_COMMITTER_NAME ??= 'FrontendOps (local)';
  if (!configured('user.email')) process.env.GIT_COMMITTER_EMAIL ??= 'frontendops@localhost';
}
