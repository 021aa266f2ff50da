/**
 * The action's inputs, as the composite action (action.yml at the repository root) hands them over:
 * INPUT_<NAME> environment variables, plus what GitHub Actions sets for every step (GITHUB_SHA,
 * GITHUB_REPOSITORY, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, …). Checked here, once.
 */
import { badInput } from '../errors.ts';

export const COMMANDS = ['publish', 'deploy', 'promote', 'agent'] as const;
/** The action's inputs (action.yml) and the variables they arrive in. */
export const INPUT_NAMES = [
  'command',
  'stack',
  'directory',
  'commit',
  'message',
  'request',
  'app',
  'environment',
  'github-token',
] as const;
export const inputVariable = (name: (typeof INPUT_NAMES)[number]) =>
  `INPUT_${name.toUpperCase().replaceAll('-', '_')}`;
/** The step outputs the action sets (GITHUB_OUTPUT). */
export const OUTPUT_NAMES = ['site-url', 'deploy-id', 'tag', 'commit', 'outcome'] as const;
export type ActionCommand = (typeof COMMANDS)[number];

export interface ActionInputs {
  command: ActionCommand;
  stack: string;
  /** publish: the build directory. */
  directory: string | null;
  /** publish: the commit built (default GITHUB_SHA); deploy / promote: the release (default: the latest). */
  commit: string | null;
  message: string | null;
  /** agent: the words (default "Deploy the latest dashboard."). */
  request: string;
  app: string | null;
  /** The GitHub Deployment's environment name (default: the stack). */
  environment: string;
  github: {
    token: string | null;
    repository: string | null;
    apiUrl: string | null;
    sha: string | null;
    /** Where the run's log is: the Deployment status links to it. */
    runUrl: string | null;
  };
  outputFile: string | null;
  summaryFile: string | null;
}

export function readActionInputs(env: NodeJS.ProcessEnv): ActionInputs {
  const input = (name: string) => {
    const value = env[`INPUT_${name}`]?.trim();
    return value ? value : null;
  };
  const command = (input('COMMAND') ?? 'deploy') as ActionCommand;
  if (!COMMANDS.includes(command)) {
    throw badInput(`The action's "command" input is "${command}": expected ${COMMANDS.join(', ')}.`);
  }
  const stack = input('STACK');
  if (!stack) {
    throw badInput(
      'The action needs the "stack" input: the stack to act on, e.g. dashboard-hosting-prod (a name in frontendops.config.json).',
    );
  }
  const directory = input('DIRECTORY');
  if (command === 'publish' && !directory) {
    throw badInput(
      'command: publish needs the "directory" input: the build to publish, e.g. apps/sophia-dashboard/dist.',
    );
  }
  const server = env.GITHUB_SERVER_URL ?? 'https://github.com';
  const repository = env.GITHUB_REPOSITORY ?? null;
  return {
    command,
    stack,
    directory,
    commit: input('COMMIT'),
    message: input('MESSAGE'),
    request: input('REQUEST') ?? 'Deploy the latest dashboard.',
    app: input('APP'),
    environment: input('ENVIRONMENT') ?? stack,
    github: {
      token: input('GITHUB_TOKEN') ?? env.GITHUB_TOKEN ?? null,
      repository,
      apiUrl: env.GITHUB_API_URL ?? null,
      sha: env.GITHUB_SHA ?? null,
      runUrl:
        repository && env.GITHUB_RUN_ID ? `${server}/${repository}/actions/runs/${env.GITHUB_RUN_ID}` : null,
    },
    outputFile: env.GITHUB_OUTPUT ?? null,
    summaryFile: env.GITHUB_STEP_SUMMARY ?? null,
  };
}
