/**
 * `frontendops action`: what action.yml runs. It runs one FrontendOps command (publish, deploy,
 * promote, or the agent) in this process through the CLI itself — same checks, messages and exit
 * codes — with its progress in the job log, and then tells GitHub what happened: step outputs
 * (site-url, deploy-id, tag, commit, outcome), a job summary, and a GitHub Deployment with its status
 * and environment URL. Protected stacks are approved by the job's GitHub Environment (its required
 * reviewers approve before the job starts), so deploys run with --yes.
 */
import { randomBytes } from 'node:crypto';
import { appendFile } from 'node:fs/promises';
import type { CliContext } from '../cli/context.ts';
import type { CliIo } from '../cli/io.ts';
import { FULL_COMMIT } from '../engine/ids.ts';
import { escapeControlCharacters } from '../engine/text.ts';
import { isFrontendOpsError } from '../errors.ts';
import { type DeploymentReporter, startDeployment } from './deployment.ts';
import { type ActionInputs, readActionInputs } from './inputs.ts';
import {
  commandLineText,
  commandSafeOutput,
  withoutWorkflowCommands,
  workflowCommandData,
} from './workflow-commands.ts';

export interface ActionOutcome {
  exitCode: number;
  outputs: Record<string, string>;
}

/**
 * `runCli`: the CLI that runs the step's command (passed in: the CLI is what calls this). Everything
 * printed on the way, the command's own output included, is log text, never a workflow command
 * (workflow-commands.ts); the only commands are the action's own ::warning and ::error annotations.
 */
export async function runAction(io: CliIo, runCli: CliContext['runCli']): Promise<ActionOutcome> {
  const stderr = commandSafeOutput(io.stderr);
  try {
    return await run({ ...io, stderr }, runCli);
  } catch (error) {
    // Reported by the CLI's error handler (on the step's stderr): a message naming an input stays text.
    if (error instanceof Error) error.message = withoutWorkflowCommands(error.message);
    // An input the action refuses is shown on the run's page too, as its other errors are, and is
    // the step's outcome: "refused" (exit 2), as a refusal by the command is.
    if (isFrontendOpsError(error, 'BAD_INPUT')) {
      stderr.flush();
      io.stdout.write(`::error title=FrontendOps input refused::${workflowCommandData(error.message)}\n`);
      if (io.env.GITHUB_OUTPUT) await writeOutputs(io.env.GITHUB_OUTPUT, outputsOf(null, null, 2));
      if (io.env.GITHUB_STEP_SUMMARY)
        await appendFile(io.env.GITHUB_STEP_SUMMARY, refusedInputMarkdown(error.message));
    }
    throw error;
  } finally {
    stderr.flush();
  }
}

async function run(io: CliIo & { stderr: { flush(): void } }, runCli: CliContext['runCli']) {
  const inputs = readActionInputs(io.env);
  const argv = commandLine(inputs);
  io.stderr.write(`frontendops ${commandLineText(argv)}\n`);
  const annotate = (line: string) => {
    io.stderr.flush();
    io.stdout.write(`${line}\n`);
  };

  const reportsDeployment = inputs.command !== 'publish' && inputs.github.token && inputs.github.repository;
  const report = (ref: string) =>
    startDeployment({
      token: inputs.github.token as string,
      repository: inputs.github.repository as string,
      apiUrl: inputs.github.apiUrl,
      ref,
      environment: inputs.environment,
      description: `FrontendOps ${inputs.command} to ${inputs.stack}`,
      logUrl: inputs.github.runUrl,
      warn: (message) => annotate(`::warning title=FrontendOps::${workflowCommandData(message)}`),
    });
  // A GitHub Deployment names the commit it deploys, for good. Known up front (a full sha given),
  // it is made before the run and shown in progress; otherwise (the latest build, a short sha, a
  // deploy id, the agent's words) it is made once the run says which commit went live.
  const knownRef = inputs.commit && FULL_COMMIT.test(inputs.commit) ? inputs.commit : null;
  let deployment: DeploymentReporter | null = null;
  if (reportsDeployment && knownRef) {
    deployment = await report(knownRef);
    await deployment?.status('in_progress', { description: `${inputs.command} to ${inputs.stack}` });
  }

  let json = '';
  const code = await runCli(argv, {
    ...io,
    // Recorded as the request's channel: `status` and `history` say the Action made the change.
    channel: 'github-action',
    // The deploy tag goes to the run's repository with the action's token (adapters/git-host.ts).
    // A job's --yes is held to approval.github.actions (cli/commands/deploy.ts, approveIfProtected):
    // said here too, so the action's run is held to it wherever it runs.
    env: {
      ...io.env,
      GITHUB_ACTIONS: 'true',
      ...(inputs.github.token ? { GITHUB_TOKEN: inputs.github.token } : {}),
    },
    stdout: { write: (chunk: string) => (json += chunk) },
  });
  io.stderr.flush();
  const result = parseResult(json);
  const outputs = outputsOf(inputs, result, code);
  const failed = code !== 0;
  const error = failed ? errorOf(result) : null;
  // Exit 2 is a refusal (nothing changed: pinned, not approved, bad input), not a failure.
  const ended = code === 2 ? 'refused' : 'failed';

  if (reportsDeployment && !knownRef) {
    const live = outputs.commit && FULL_COMMIT.test(outputs.commit) ? outputs.commit : null;
    deployment = await report(live ?? inputs.github.sha ?? 'HEAD');
  }
  await deployment?.status(failed ? 'failure' : 'success', {
    description: failed
      ? `${ended}: ${error ?? `exit code ${code}`}`.slice(0, 140)
      : `${describeOutcome(inputs, outputs)}`,
    environmentUrl: failed ? null : outputs['site-url'] || null,
  });
  if (inputs.outputFile) await writeOutputs(inputs.outputFile, outputs);
  if (inputs.summaryFile)
    await appendFile(inputs.summaryFile, summaryMarkdown(inputs, outputs, result, code));
  if (failed)
    annotate(
      `::error title=FrontendOps ${inputs.command} ${ended}::${workflowCommandData(error ?? `exit code ${code}`)}`,
    );
  return { exitCode: code, outputs };
}

/**
 * The CLI command the inputs ask for; always --json (parsed here), --yes where a person's approval
 * applies. Option values are written --name=value and operands (the build directory, the release,
 * the request) come after "--": no input, whatever it starts with, is read as an option (-C <dir>,
 * --dry-run, …) by the CLI or by the command.
 */
export function commandLine(inputs: ActionInputs): string[] {
  const common = [
    `--stack=${inputs.stack}`,
    '--json',
    ...(inputs.app ? [`--app=${inputs.app}`] : []),
    ...(inputs.message ? [`--message=${inputs.message}`] : []),
  ];
  switch (inputs.command) {
    case 'publish':
      return [
        'publish',
        `--commit=${inputs.commit ?? inputs.github.sha ?? ''}`,
        ...common,
        '--',
        inputs.directory as string,
      ];
    case 'deploy':
      return ['deploy', ...(inputs.commit ? [`--commit=${inputs.commit}`] : []), '--yes', ...common];
    case 'promote':
      return ['promote', '--yes', ...common, ...(inputs.commit ? ['--', inputs.commit] : [])];
    case 'agent':
      return ['agent', '--yes', `--stack=${inputs.stack}`, '--json', '--', inputs.request];
  }
}

type CliResult = Record<string, unknown> | null;

function parseResult(stdout: string): CliResult {
  try {
    const value = JSON.parse(stdout) as unknown;
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

const text = (value: unknown) => (typeof value === 'string' ? value : '');

/** The step outputs (OUTPUT_NAMES); `inputs` null when the action refused them. */
function outputsOf(inputs: ActionInputs | null, result: CliResult, code: number): Record<string, string> {
  return {
    'site-url': text(result?.siteUrl),
    'deploy-id': text(result?.deployId),
    tag: text(result?.tag),
    commit: text(result?.commit),
    // A workflow branches on it: "refused" (exit 2: nothing changed) and "failed" are said too.
    outcome:
      text(result?.outcome) ||
      (code === 2 ? 'refused' : code !== 0 ? 'failed' : '') ||
      (inputs?.command === 'publish' && result ? (result.published ? 'published' : 'already published') : ''),
  };
}

function errorOf(result: CliResult): string | null {
  const error = result?.error as { message?: unknown } | undefined;
  return text(error?.message) || text(result?.message) || null;
}

function describeOutcome(inputs: ActionInputs, outputs: Record<string, string>): string {
  const what = outputs.commit ? outputs.commit.slice(0, 7) : inputs.command;
  return `${what} ${outputs.outcome || 'done'} on ${inputs.stack}${outputs.tag ? ` (${outputs.tag})` : ''}`;
}

/** `name<<delimiter` blocks, as GitHub documents for values that could hold newlines. */
async function writeOutputs(file: string, outputs: Record<string, string>): Promise<void> {
  const delimiter = `frontendops_${randomBytes(8).toString('hex')}`;
  const blocks = Object.entries(outputs).map(
    ([name, value]) => `${name}<<${delimiter}\n${value}\n${delimiter}\n`,
  );
  await appendFile(file, blocks.join(''));
}

/**
 * The job summary, markdown GitHub renders on the run's page. Its values are text from outside (the
 * message input, often a commit message; the stack input; the agent's request and answer; what the
 * command reports): each is shown as code, as it was, so none becomes a link, an image GitHub
 * fetches, HTML or a heading there.
 */
function summaryMarkdown(
  inputs: ActionInputs,
  outputs: Record<string, string>,
  result: CliResult,
  code: number,
): string {
  // GitHub splits a table row into cells at each "|" before it reads code spans, and may split it
  // at a "\|" after a backslash too: a value's "|" is written "\|" between code spans.
  const cell = (value: string) =>
    value
      .split('|')
      .map((part) => (part ? codeSpan(part) : ''))
      .join('\\|');
  const ok = code === 0;
  const rows: Array<[string, string]> = [
    ['Stack', inputs.stack],
    ['Outcome', outputs.outcome || (ok ? 'done' : 'failed')],
    ['Commit', outputs.commit ? outputs.commit.slice(0, 7) : ''],
    ['Deploy id', outputs['deploy-id'] ?? ''],
    ['Deploy tag', outputs.tag ?? ''],
    ['Site', outputs['site-url'] ?? ''],
    ['Files copied', typeof result?.copied === 'number' ? String(result.copied) : ''],
    ['CDN invalidation', invalidationOf(result)],
    ['Why', inputs.message ?? (inputs.command === 'agent' ? inputs.request : '')],
  ];
  const lines = [
    `### ${ok ? '✅' : '❌'} FrontendOps ${inputs.command}: ${codeSpan(inputs.stack)}`,
    '',
    '| | |',
    '| --- | --- |',
    ...rows.filter(([, value]) => value).map(([label, value]) => `| ${label} | ${cell(value)} |`),
    '',
  ];
  const message = inputs.command === 'agent' ? text(result?.message) : '';
  const error = ok ? '' : (errorOf(result) ?? `exit code ${code}: see the step's log`);
  if (message) lines.push(codeBlock(message), '');
  if (error && error !== message) lines.push(`> ${codeSpan(error)}`, '');
  return `${lines.join('\n')}\n`;
}

/**
 * The job summary of an input the action refused, before anything ran: the refusal (it quotes the
 * input, text from outside: a code span) and what to do.
 */
function refusedInputMarkdown(message: string): string {
  return [
    '### ❌ FrontendOps input refused',
    '',
    `> ${codeSpan(message)}`,
    '',
    "Nothing ran and nothing changed. Fix the input in this step's `with:` in the workflow (action.yml lists the inputs), then run the job again.",
    '',
    '',
  ].join('\n');
}

/** The longest run of backticks in `text` (0 for none). */
const backticks = (text: string) =>
  (text.match(/`+/g) ?? []).reduce((longest, run) => Math.max(longest, run.length), 0);

/**
 * `value` as one markdown code span, shown as it is: on one line (control characters escaped, line
 * breaks as spaces), between more backticks than any run in it, a space inside each end where it
 * begins or ends with a backtick or a space (CommonMark takes one such space off each end).
 */
function codeSpan(value: string): string {
  const line = escapeControlCharacters(value).replace(/\n/g, ' ');
  const fence = '`'.repeat(backticks(line) + 1);
  const pad = /^[` ]|[` ]$/.test(line) ? ' ' : '';
  return `${fence}${pad}${line}${pad}${fence}`;
}

/** `text` as a fenced code block, its lines kept: the fence longer than any run of backticks in it. */
function codeBlock(text: string): string {
  const body = escapeControlCharacters(text.replace(/\r\n?/g, '\n'));
  const fence = '`'.repeat(Math.max(3, backticks(body) + 1));
  return `${fence}text\n${body}\n${fence}`;
}

function invalidationOf(result: CliResult): string {
  const inv = result?.invalidation as { paths?: unknown; ids?: unknown } | undefined;
  const ids = Array.isArray(inv?.ids)
    ? inv.ids
    : Array.isArray(result?.invalidationIds)
      ? result.invalidationIds
      : [];
  const paths = Array.isArray(inv?.paths) ? inv.paths : [];
  if (ids.length === 0) return '';
  return `${ids.join(', ')}${paths.length ? ` (${paths.length} path${paths.length === 1 ? '' : 's'})` : ''}`;
}
