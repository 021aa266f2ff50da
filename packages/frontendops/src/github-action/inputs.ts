/**
 * The action's inputs, as the composite action (action.yml at the repository root) hands them over:
 * INPUT_<NAME> environment variables, plus what GitHub Actions sets for every step (GITHUB_SHA,
 * GITHUB_REPOSITORY, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, …). Checked here, once.
 */
import { COMMIT_REF, DEPLOY_ID, FULL_COMMIT } from '../engine/ids.ts';
import { clip, escapeOnOneLine } from '../engine/text.ts';
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
  /** agent: the words (default "Deploy the latest build.", as dev's: no app's name). */
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
  // One-line values: a line break (or any control character) in them is a mistake, and printed in
  // the job log it would start a line of its own, which the runner could read as a workflow command.
  for (const name of ['command', 'stack', 'directory', 'commit', 'app', 'environment'] as const) {
    const value = input(name.toUpperCase());
    if (value !== null && /[\p{Cc}\u2028\u2029]/u.test(value)) {
      throw badInput(
        `The action's "${name}" input is ${shown(value)}: it contains a line break or another control character, and it is one value on one line. Check the workflow's "with: ${name}:" (a YAML block scalar such as "|" adds a line break).`,
      );
    }
  }
  const command = (input('COMMAND') ?? 'deploy') as ActionCommand;
  if (!COMMANDS.includes(command)) {
    throw badInput(`The action's "command" input is ${shown(command)}: expected ${COMMANDS.join(', ')}.`);
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
  const commit = input('COMMIT');
  if (commit !== null && command !== 'agent') checkCommit(command, commit);
  const message = input('MESSAGE');
  // The agent records its request's words as the why; a message it would not record is refused,
  // never shown in the summary as if it had been.
  if (message !== null && command === 'agent') {
    throw badInput(
      'The action\'s "message" input is not used with command: agent, which records its "request" as the reason. Put the reason in "request", or leave "message" out.',
    );
  }
  const server = env.GITHUB_SERVER_URL ?? 'https://github.com';
  const repository = env.GITHUB_REPOSITORY ?? null;
  return {
    command,
    stack,
    directory,
    commit,
    message,
    request: input('REQUEST') ?? 'Deploy the latest build.',
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

/**
 * The commit input is a commit sha (publish: the full one), or for promote a deploy id: never a
 * branch, a tag or anything that could be read as an option of the command it is passed to. (The
 * agent takes no commit: it finds the release from the request's words.)
 */
function checkCommit(command: ActionCommand, commit: string): void {
  const ok =
    command === 'publish'
      ? FULL_COMMIT.test(commit)
      : COMMIT_REF.test(commit) || (command === 'promote' && DEPLOY_ID.test(commit));
  if (ok) return;
  const expected =
    command === 'publish'
      ? "the full commit sha the build was made from (40 lower-case hex characters, or 64 in a SHA-256 repository, as git rev-parse HEAD prints it); leave it empty for the workflow's commit (GITHUB_SHA)"
      : `a commit sha (7 to 64 lower-case hex characters, e.g. 3f2c1a9)${command === 'promote' ? ' or a deploy id from the history (e.g. 3f2c1a9-0123456789)' : ''}; leave it empty for the latest published build`;
  throw badInput(
    `The action's "commit" input is ${shown(commit)}: expected ${expected}. A branch or tag name is not taken: pass the commit it points at.`,
  );
}

/** An input's value in a message: quoted, clipped, every control character (newlines too) escaped. */
export const shown = (value: string): string =>
  `"${escapeOnOneLine(value.length > 80 ? `${clip(value, 80)}…` : value)}"`;
