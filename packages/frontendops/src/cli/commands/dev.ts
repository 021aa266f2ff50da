/**
 * `frontendops dev` (= `npm start`): the local environment (stack `local`), then "Deploy the latest
 * build." through the agent — the same path a release manager takes (git server → infra server
 * → sync → invalidate → deploy tag) — and the deploy console beside the site. Starting it approves
 * that one deploy, of the embedded environment only. A pin on the stack (a rollback pins it), or
 * uncommitted changes of the app with no build of its commit published, hold that deploy back: dev
 * says why and what to do, and serves what is live (under --once: exit 2, refused).
 */
import { execFileSync } from 'node:child_process';
import type { Command } from 'commander';
import type { LocalEnvironment } from '../../local/dev.ts';
import { actor, type CliContext, loadCliConfig } from '../context.ts';
import { say } from '../io.ts';

// The same words whatever the app is called: an app's name could read as another request ("preview").
const REQUEST = 'Deploy the latest build.';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('dev')
    .description(
      'Run the complete local environment (S3 server, CDN edge, console), build the app and have the agent deploy it',
    )
    .option('--once', 'do the job and exit (for scripts)')
    .option('--no-console', 'do not serve the deploy console')
    .addHelpText(
      'after',
      '\nExamples:\n  $ npm start                 (= frontendops dev)\n  $ frontendops dev --once',
    )
    .action(async (flags: { once?: boolean; console: boolean }) => {
      const [{ startLocalEnvironment }, { runAgentRequest }, { createRenderer }, { FrontendOpsError }] =
        await Promise.all([
          import('../../local/dev.ts'),
          import('../../agent/index.ts'),
          import('../render.ts'),
          import('../../errors.ts'),
        ]);
      const { io } = ctx;
      const log = (line: string) => io.stderr.write(`${line}\n`);
      const env = withGitIdentity(io.env, io.cwd);
      const config = await loadCliConfig(ctx);
      const who = actor(io);
      const local = await startLocalEnvironment({ cwd: io.cwd, config, actor: who, log });
      try {
        // What keeps the latest build from going live is said, and the environment serves what is
        // live; under --once it is a refusal (exit 2): the latest was not deployed, nothing failed.
        const heldBack = await whyNotDeployed(local, Boolean(flags.once));
        if (heldBack) {
          say(io.stdout, heldBack);
        } else {
          log(`\nagent: "${REQUEST}"`);
          const renderer = createRenderer(io.stderr);
          const result = await runAgentRequest(REQUEST, {
            actor: who,
            planner: 'runbook',
            stackRef: local.stack,
            config,
            cwd: io.cwd,
            env,
            ...(io.connectMcp ? { connectMcp: io.connectMcp } : {}),
            // The embedded environment is not protected, so nothing should be asked; refuse anything else.
            approve: async (request) =>
              request.stack === local.stack
                ? { approved: true, by: who, via: 'frontendops dev (the embedded environment)' }
                : {
                    approved: false,
                    by: 'nobody',
                    via: `frontendops dev approves changes of ${local.stack} only`,
                  },
            onEvent: renderer.onEvent,
          });
          io.stdout.write(`${renderer.summary(result)}\n`);
          if (result.outcome === 'failed' || result.outcome === 'refused' || result.outcome === 'declined') {
            throw new FrontendOpsError('UPSTREAM', `The agent could not deploy the app: ${result.message}`);
          }
        }
        say(io.stdout, `\n${config.app}: ${local.env.edgeUrl}`);
        say(io.stdout, `stack: ${local.stack} (commands run in this repository use it without --stack)`);
        if (flags.once) {
          if (heldBack) ctx.exitCode = 2;
          return;
        }
        let served: { close(): Promise<void> } | null = null;
        if (flags.console) {
          const [{ startConsoleWithAgent, printAddress }, { onKeptPort, CONSOLE_PORT }] = await Promise.all([
            import('./console.ts'),
            import('../../local/dev.ts'),
          ]);
          // The console's port of the last run, as the site's: the console is at the same address
          // after a restart (its token is new: the printed sign-in address opens it).
          const consoleServer = await onKeptPort(
            local.env.dataDir,
            CONSOLE_PORT,
            (port) => startConsoleWithAgent({ ...io, env }, config, [local.stack], { port }),
            log,
          );
          printAddress(io, consoleServer.signInAddress(), undefined);
          served = consoleServer;
          // `frontendops console` in a second terminal asks this one for a sign-in address instead of
          // starting another.
          const { writeLocalEnv } = await import('../../stacks/local-env-file.ts');
          await writeLocalEnv(io.cwd, {
            ...local.env,
            consoleUrl: consoleServer.url,
            consoleToken: consoleServer.token,
          });
        }
        say(io.stdout, 'Serving until Ctrl-C. From another terminal: npx frontendops status');
        await io.untilStopped();
        await served?.close();
      } finally {
        await local.close();
      }
    });
}

/**
 * Why the latest build is not deployed at start, or null when it is: the stack is pinned to another
 * release (a rollback pins it), or the working tree has uncommitted changes of the app and no build of
 * its commit is published (startLocalEnvironment said which, and published nothing).
 */
async function whyNotDeployed(local: LocalEnvironment, once: boolean): Promise<string | null> {
  const { app, commit, ready } = local.published;
  const latest = `${app}@${commit.slice(0, 7)}`;
  const where = once
    ? ' (they act on the running environment: start `npx frontendops dev` and run them from another terminal)'
    : ' from another terminal';
  if (local.pin && local.pin.commit !== commit) {
    const { describePin } = await import('../../state/pin.ts');
    // No build of the latest: promote has nothing to deploy yet, so the edits come first.
    if (!ready) {
      return (
        `${local.stack} is pinned to ${describePin(local.pin)}: the site keeps serving that release. ` +
        `The latest commit, ${latest}, has no published build, and the app's uncommitted changes are not its build (see the note above). ` +
        `Commit them (or stash them, \`git stash -u\`) and start dev again; to deploy past the pin then, run \`npx frontendops promote\`, or \`npx frontendops unpin\` and then \`npx frontendops deploy --latest\`${where}.`
      );
    }
    return (
      `${local.stack} is pinned to ${describePin(local.pin)}: the site keeps serving that release, and the latest build, ${latest}, was not deployed. ` +
      `To deploy it, run \`npx frontendops promote\` (live for everyone, and the pin lifted), or \`npx frontendops unpin\` and then \`npx frontendops deploy --latest\`${where}.`
    );
  }
  if (!ready) {
    return `${latest} was not deployed: its build is not published, and the app's uncommitted changes are not its build (see the note above). The site keeps serving what was live.`;
  }
  return null;
}

/** Deploy tags are annotated tags: without a git identity (a fresh machine) give them one. */
function withGitIdentity(env: NodeJS.ProcessEnv, cwd: string): NodeJS.ProcessEnv {
  const configured = (key: string) => {
    try {
      return execFileSync('git', ['config', key], { cwd, encoding: 'utf8', env }).trim() !== '';
    } catch {
      return false;
    }
  };
  return {
    ...env,
    ...(configured('user.name')
      ? {}
      : { GIT_COMMITTER_NAME: env.GIT_COMMITTER_NAME ?? 'FrontendOps (local)' }),
    ...(configured('user.email')
      ? {}
      : { GIT_COMMITTER_EMAIL: env.GIT_COMMITTER_EMAIL ?? 'frontendops@localhost' }),
  };
}
