/** `frontendops action`: the GitHub Action's entry point (action.yml runs it); see src/github-action/. */
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('action')
    .description(
      'Run as the FrontendOps GitHub Action: publish, deploy, promote or ask the agent (inputs from INPUT_* variables), ' +
        'then set the step outputs, the job summary and a GitHub Deployment status',
    )
    .addHelpText(
      'after',
      `
Examples:
  $ INPUT_COMMAND=deploy INPUT_STACK=dashboard-hosting-prod frontendops action
  $ INPUT_COMMAND=publish INPUT_STACK=dashboard-hosting-prod INPUT_DIRECTORY=apps/sophia-dashboard/dist frontendops action

In a workflow: uses: <owner>/<repo>@<ref> with: { command: deploy, stack: dashboard-hosting-prod } (see action.yml).
Inputs: INPUT_COMMAND (publish|deploy|promote|agent), INPUT_STACK, INPUT_DIRECTORY, INPUT_COMMIT, INPUT_MESSAGE,
INPUT_REQUEST, INPUT_APP, INPUT_ENVIRONMENT, INPUT_GITHUB_TOKEN; GitHub's GITHUB_OUTPUT, GITHUB_STEP_SUMMARY,
GITHUB_REPOSITORY, GITHUB_SHA, GITHUB_API_URL.`,
    )
    .action(async () => {
      const { runAction } = await import('../../github-action/run.ts');
      ctx.exitCode = (await runAction(ctx.io, ctx.runCli)).exitCode;
    });
}
