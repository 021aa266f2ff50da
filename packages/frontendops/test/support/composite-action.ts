/**
 * action.yml run as GitHub's runner runs a composite action, without GitHub: each step's `run:`
 * written to a script and run with its `shell:` (bash: `bash --noprofile --norc -eo pipefail <file>`),
 * in its `working-directory:` (relative to GITHUB_WORKSPACE); its `env:` values, its name and the
 * inputs' defaults with their `${{ … }}` expressions evaluated as the runner does (the value spliced
 * into the text, in `run:` too); each step its own GITHUB_OUTPUT and GITHUB_STEP_SUMMARY file, read
 * back as the runner reads them; a failed step fails the action and skips the rest; the action's
 * outputs evaluated from the steps' at the end.
 *
 * Only what action.yml uses is modelled: the expressions `inputs.<name>`, `github.token`,
 * `github.action_path`, `github.workspace` and `steps.<id>.outputs.<name>`, bash steps, and the step
 * keys id, name, shell, run, env and working-directory. Anything else in the file (another context, a
 * function or operator, `if:`, `uses:`, another shell, a node action) is refused with an error naming
 * it, so that an edit of action.yml this runner cannot run as GitHub would never passes unnoticed.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { runTracked } from './processes.ts';

interface Step {
  id?: string;
  name?: string;
  shell?: string;
  run?: string;
  env?: Record<string, unknown>;
  'working-directory'?: string;
}
interface ActionMetadata {
  inputs?: Record<string, { default?: unknown; required?: boolean }>;
  outputs?: Record<string, { value?: unknown }>;
  runs?: { using?: unknown; steps?: Step[]; main?: unknown };
}

export interface CompositeRunOptions {
  /** The action's folder (GITHUB_ACTION_PATH): where action.yml is. */
  actionPath: string;
  /** The text of action.yml to run instead of the folder's own (a test's edited copy). */
  source?: string;
  /** The `with:` of the workflow's step: every name one action.yml declares. */
  with: Record<string, string>;
  /** The job's checkout (GITHUB_WORKSPACE). */
  workspace: string;
  /** The `github` context's token (the default of an input `${{ github.token }}`). */
  githubToken: string;
  /** The job's other variables (GITHUB_SHA, GITHUB_REPOSITORY, the OIDC request, AWS_*, …). */
  env: Record<string, string | undefined>;
}

export interface StepRun {
  id: string | null;
  /** The step's name as the log shows it (its expressions evaluated). */
  name: string;
  code: number | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
}

export interface CompositeRun {
  /** 0 when every step succeeded; else the failed step's exit code. */
  code: number | null;
  /** The steps that ran, in order (those after a failed one are skipped, as on GitHub). */
  steps: StepRun[];
  /** The action's outputs (its `outputs:` evaluated). */
  outputs: Record<string, string>;
  /** The job summary the steps wrote, in order. */
  summary: string;
}

const EXPRESSION = /\$\{\{([\s\S]*?)\}\}/g;
const STEP_KEYS = new Set(['id', 'name', 'shell', 'run', 'env', 'working-directory']);

export class UnmodelledAction extends Error {}
const refuse = (what: string): never => {
  throw new UnmodelledAction(
    `action.yml uses ${what}, which test/support/composite-action.ts does not model as GitHub's runner would: model it there (and test it) before the action's tests can be trusted.`,
  );
};

interface Contexts {
  inputs: Record<string, string>;
  github: Record<string, string>;
  steps: Record<string, { outputs: Record<string, string> }>;
}

/** `text` with each `${{ … }}` replaced by its value, as the runner evaluates the modelled ones. */
function evaluate(text: string, contexts: Contexts): string {
  return text.replace(EXPRESSION, (_, body: string) => {
    const expression = body.trim();
    let match = /^inputs\.([A-Za-z_][\w-]*)$/.exec(expression);
    if (match) {
      const value = contexts.inputs[match[1] as string];
      return value ?? refuse(`the expression "\${{ ${expression} }}", an input it does not declare`);
    }
    match = /^github\.(token|action_path|workspace)$/.exec(expression);
    if (match) return contexts.github[match[1] as string] as string;
    match = /^steps\.([A-Za-z_][\w-]*)\.outputs\.([A-Za-z_][\w-]*)$/.exec(expression);
    if (match) return contexts.steps[match[1] as string]?.outputs[match[2] as string] ?? '';
    return refuse(`the expression "\${{ ${expression} }}"`);
  });
}

/**
 * Every key, shell and expression of the metadata checked before any step runs: what this runner
 * cannot model is refused up front, not halfway through a run.
 */
function checkModelled(metadata: ActionMetadata): void {
  if (metadata.runs?.using !== 'composite') refuse(`runs.using: ${String(metadata.runs?.using)}`);
  const probe: Contexts = {
    inputs: Object.fromEntries(Object.keys(metadata.inputs ?? {}).map((name) => [name, ''])),
    github: { token: '', action_path: '', workspace: '' },
    steps: {},
  };
  const visit = (value: unknown): void => {
    if (typeof value === 'string') evaluate(value, probe);
    else if (value && typeof value === 'object') Object.values(value).forEach(visit);
  };
  for (const step of metadata.runs?.steps ?? []) {
    for (const key of Object.keys(step)) if (!STEP_KEYS.has(key)) refuse(`a step with "${key}:"`);
    if (step.shell !== 'bash') refuse(`a step whose shell is ${String(step.shell)}`);
    if (typeof step.run !== 'string') refuse('a step with no run: script');
  }
  visit([metadata.inputs, metadata.outputs, metadata.runs]);
}

/** A value of the metadata, which must be a string or a scalar YAML reads as one, evaluated. */
function evaluateScalar(value: unknown, where: string, contexts: Contexts): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'object') return refuse(`${where} that is not a string`);
  return evaluate(String(value), contexts);
}

/**
 * A GITHUB_OUTPUT file read as the runner reads it (FileCommandManager): per line, `name=value`, or
 * `name<<DELIMITER` then the value's lines up to a line that is DELIMITER. Anything else is an error
 * there, so it is one here.
 */
export function readOutputFile(text: string): Record<string, string> {
  const found: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line === '') continue;
    const equals = line.indexOf('=');
    const heredoc = line.indexOf('<<');
    if (equals >= 0 && (heredoc < 0 || equals < heredoc)) {
      found[line.slice(0, equals)] = line.slice(equals + 1);
      continue;
    }
    if (heredoc <= 0)
      throw new Error(`GITHUB_OUTPUT: line ${i + 1} is neither name=value nor name<<DELIMITER`);
    const [name, end] = [line.slice(0, heredoc), line.slice(heredoc + 2)];
    const value: string[] = [];
    for (i++; i < lines.length && lines[i] !== end; i++) value.push(lines[i] as string);
    if (i >= lines.length) throw new Error(`GITHUB_OUTPUT: ${name}'s delimiter ${end} never ends it`);
    found[name] = value.join('\n');
  }
  return found;
}

/** Runs the composite action at `options.actionPath` as a workflow step `uses:` it with `options.with`. */
export async function runCompositeAction(options: CompositeRunOptions): Promise<CompositeRun> {
  const metadata = parse(
    options.source ?? (await readFile(join(options.actionPath, 'action.yml'), 'utf8')),
  ) as ActionMetadata;
  checkModelled(metadata);
  const declared = metadata.inputs ?? {};
  for (const name of Object.keys(options.with)) {
    if (!(name in declared)) throw new Error(`with: ${name}: action.yml declares no such input`);
  }
  const github = {
    token: options.githubToken,
    action_path: options.actionPath,
    workspace: options.workspace,
  };
  const contexts: Contexts = { inputs: {}, github, steps: {} };
  for (const [name, input] of Object.entries(declared)) {
    contexts.inputs[name] =
      options.with[name] ?? evaluateScalar(input.default, `input ${name}'s default`, contexts);
  }

  const runnerTemp = await mkdtemp(join(tmpdir(), 'frontendops-runner-'));
  const run: CompositeRun = { code: 0, steps: [], outputs: {}, summary: '' };
  try {
    for (const [index, step] of (metadata.runs?.steps ?? []).entries()) {
      const dir = join(runnerTemp, `step-${index}`);
      await mkdir(dir);
      const files = {
        output: join(dir, 'output'),
        summary: join(dir, 'summary'),
        script: join(dir, 'run.sh'),
      };
      await writeFile(files.output, '');
      await writeFile(files.summary, '');
      await writeFile(files.script, evaluate(step.run as string, contexts));
      const stepEnv: Record<string, string> = {};
      for (const [name, value] of Object.entries(step.env ?? {}))
        stepEnv[name] = evaluateScalar(value, `env ${name}`, contexts);
      // The job's own variables; none the runner sets for a node action (composite steps get no INPUT_*).
      const inherited = Object.fromEntries(
        Object.entries({ ...process.env, ...options.env }).filter(([name]) => !name.startsWith('INPUT_')),
      );
      const ran = await runTracked('bash', ['--noprofile', '--norc', '-eo', 'pipefail', files.script], {
        cwd: resolve(
          options.workspace,
          evaluateScalar(step['working-directory'] ?? '.', 'working-directory', contexts),
        ),
        env: {
          ...inherited,
          // `node` is the one running the tests.
          PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`,
          CI: 'true',
          GITHUB_ACTIONS: 'true',
          GITHUB_ACTION_PATH: options.actionPath,
          GITHUB_WORKSPACE: options.workspace,
          GITHUB_OUTPUT: files.output,
          GITHUB_STEP_SUMMARY: files.summary,
          RUNNER_TEMP: runnerTemp,
          ...stepEnv,
        },
      });
      const outputs = readOutputFile(await readFile(files.output, 'utf8'));
      if (step.id) contexts.steps[step.id] = { outputs };
      run.summary += await readFile(files.summary, 'utf8');
      run.steps.push({
        id: step.id ?? null,
        name: evaluateScalar(step.name ?? step.run, 'name', contexts),
        code: ran.code,
        stdout: ran.stdout,
        stderr: ran.stderr,
        outputs,
      });
      if (ran.code !== 0) {
        run.code = ran.code;
        break;
      }
    }
    for (const [name, output] of Object.entries(metadata.outputs ?? {}))
      run.outputs[name] = evaluateScalar(output.value, `output ${name}`, contexts);
    return run;
  } finally {
    await rm(runnerTemp, { recursive: true, force: true });
  }
}
