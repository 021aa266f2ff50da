/**
 * The `pulumi` CLI, when it is installed: `pulumi stack output --json --stack <name>`, run with execFile
 * (argument vector, no shell) and never with --show-secrets, so secret outputs arrive as "[secret]" and
 * only their names are kept. `stack output` only reads; it never selects or creates a stack.
 */
import { execFile } from 'node:child_process';
import { dirname, join, relative, resolve } from 'node:path';
import { FrontendOpsError } from '../errors.ts';
import type { StackOutputs, StackSource } from '../ports.ts';
import { readSmallFile } from '../private-file.ts';
import { checkPulumiName } from './pulumi-deployment.ts';
import { separateSecretOutputs } from './secret-outputs.ts';

export interface PulumiCliOptions {
  /** Qualifies the stack as <organization>/<project>/<stack> when both are given. */
  organization?: string;
  project?: string;
  /** The Pulumi project directory to run in. */
  cwd?: string;
  /** Environment of the child; PATH decides which `pulumi` runs. Default: process.env. */
  env?: NodeJS.ProcessEnv;
  /** Default: "pulumi" looked up on PATH. */
  command?: string;
}

export function createPulumiCliSource(options: PulumiCliOptions = {}): StackSource {
  return {
    async readOutputs(stackName: string): Promise<StackOutputs> {
      const stack = checkPulumiName(stackName, 'Stack');
      const qualified =
        options.organization && options.project
          ? `${checkPulumiName(options.organization, 'Pulumi organization')}/${checkPulumiName(options.project, 'Pulumi project')}/${stack}`
          : stack;
      await refuseProjectBackend(options);
      const stdout = await runPulumi(
        ['stack', 'output', '--json', '--non-interactive', '--stack', qualified],
        options,
      );
      let parsed: unknown;
      try {
        parsed = JSON.parse(stdout);
      } catch (error) {
        throw new FrontendOpsError('UPSTREAM', '`pulumi stack output --json` did not print JSON.', {
          cause: error,
        });
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        throw new FrontendOpsError('UPSTREAM', '`pulumi stack output --json` did not print a JSON object.');
      }
      const { outputs, secretNames } = separateSecretOutputs(parsed as Record<string, unknown>);
      return { stack, outputs, secretNames, source: 'pulumi cli' };
    },
  };
}

// ── helpers ───────────────────────────────────────────────────────────────────────────────────

/** Phrases the CLI uses when a stack does not exist (DIY and Pulumi Cloud backends). */
const UNKNOWN_STACK = /no stack named|stack .* (was )?not found|could not find stack|stack not found/i;

/** The project files the pulumi CLI looks for, in its working directory and each one above it. */
const PROJECT_FILES = ['Pulumi.yaml', 'Pulumi.yml', 'Pulumi.json'];
const MAX_PROJECT_FILE_BYTES = 1024 * 1024;
/**
 * How deeply a project file may nest (a real one nests a few levels): the yaml package's parse takes
 * time and memory beyond the file's length in it (300 000 levels exhaust Node's memory).
 */
const MAX_NESTING = 200;
const NAMES_BACKEND = Symbol('names a backend');

/**
 * The pulumi CLI sends PULUMI_ACCESS_TOKEN to the backend the project file names (its top-level
 * `backend: url:`), unless PULUMI_BACKEND_URL names one. The file is the repository's, which whoever
 * changes its files chooses: one that names a backend, found where the CLI looks, is refused before the
 * CLI runs, where PULUMI_BACKEND_URL (the environment's, which decides over it) is not set; and so is
 * one that could name one unseen (see projectFileProblem).
 */
async function refuseProjectBackend(options: PulumiCliOptions): Promise<void> {
  if ((options.env ?? process.env).PULUMI_BACKEND_URL) return;
  const start = resolve(options.cwd ?? process.cwd());
  for (let dir = start; ; ) {
    let found = false;
    for (const name of PROJECT_FILES) {
      const file = join(dir, name);
      const read = await readSmallFile(file, MAX_PROJECT_FILE_BYTES).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return null;
        throw error;
      });
      if (read === null) continue;
      found = true;
      const problem =
        'text' in read
          ? await projectFileProblem(read.text)
          : read.problem === 'too-large'
            ? 'is larger than 1 MiB'
            : `is ${read.kind}, not a regular file`;
      if (problem === undefined) continue;
      // Named from the working directory: the words reach MCP clients, told no local path (mcp/secrecy.ts).
      const named = `The Pulumi project file ${relative(start, file)}`;
      const todo =
        "Nothing was run: set PULUMI_BACKEND_URL to the backend the stack's state is in (the CLI then uses it, whatever the file says)";
      throw new FrontendOpsError(
        'BAD_INPUT',
        problem === NAMES_BACKEND
          ? `${named} names a Pulumi backend of its own (its top-level "backend"): the pulumi CLI would send PULUMI_ACCESS_TOKEN there. ${todo}, or remove "backend" from the file.`
          : `${named} ${problem}: FrontendOps cannot tell whether it names a Pulumi backend of its own, which the pulumi CLI would send PULUMI_ACCESS_TOKEN to. ${todo}, or make the file plain YAML or JSON (UTF-8, at most 1 MiB, no alias, merge key or tag at its top level).`,
      );
    }
    const parent = dirname(dir);
    if (found || parent === dir) return;
    dir = parent;
  }
}

/**
 * Whether a project file's text names a backend (NAMES_BACKEND), could name one unseen (what is
 * wrong, in words), or names none (undefined). Its top-level keys are read as the CLI parses them
 * (Go's YAML and JSON decoders): a "backend" key spelt in any case (a .json file's keys are matched
 * without case) or escape; an alias, a merge key ("<<") or a tag there could name one without
 * spelling it out. Anything below the top level (a description, a config key) names none.
 */
async function projectFileProblem(text: string): Promise<string | typeof NAMES_BACKEND | undefined> {
  // Invalid UTF-8 (or UTF-16, which the CLI's YAML decoder reads too), or a NUL.
  if (/[\0\uFFFD]/.test(text)) return 'is not UTF-8 text';
  const yaml = await import('yaml');
  if (nestsDeeperThan(MAX_NESTING, text, yaml)) return `nests more than ${MAX_NESTING} levels deep`;
  // Repeated keys are not looked for (the check is quadratic): each key is read below.
  const document = yaml.parseDocument(text, { uniqueKeys: false });
  const [error] = document.errors;
  if (error) return `is not valid YAML (${error.message.split('\n')[0]?.replace(/:$/, '')})`;
  const root = document.contents;
  // A file whose top level is no mapping has no keys: the CLI refuses it itself.
  if (!yaml.isMap(root)) return undefined;
  for (const { key } of root.items) {
    if (yaml.isAlias(key) || (yaml.isNode(key) && key.tag !== undefined))
      return 'uses an alias, a merge key ("<<") or a tag at its top level, which could name a backend';
    if (!yaml.isScalar(key)) continue;
    // YAML 1.1's merge key is a symbol.
    if (typeof key.value === 'symbol' || key.value === '<<')
      return 'uses an alias, a merge key ("<<") or a tag at its top level, which could name a backend';
    if (typeof key.value === 'string' && key.value.toLowerCase() === 'backend') return NAMES_BACKEND;
  }
  return undefined;
}

/**
 * Whether a YAML text may nest deeper than `max`, read from its tokens (linear) up to where it may: an
 * upper bound on its nesting is the flow collections open, plus, outside them, the line's indentation
 * and its block indicators ("- - - x").
 */
function nestsDeeperThan(max: number, text: string, yaml: typeof import('yaml')): boolean {
  let flow = 0;
  let line = 0;
  let previous = '';
  for (const token of new yaml.Lexer().lex(text)) {
    if (previous === yaml.CST.SCALAR) {
      // The scalar's own text (the lexer marks a scalar with a token before it), whatever it holds.
      previous = '';
      continue;
    }
    if (token === '\n' || token === '\r\n') line = 0;
    else if (token === '[' || token === '{') flow++;
    else if (token === ']' || token === '}') flow = Math.max(0, flow - 1);
    else if (flow === 0 && (previous === '\n' || previous === '\r\n') && /^[ \t]+$/.test(token))
      line = token.length;
    else if (flow === 0 && (token === '-' || token === '?' || token === ':')) line++;
    if (flow + line > max) return true;
    previous = token;
  }
  return false;
}

function runPulumi(args: string[], options: PulumiCliOptions): Promise<string> {
  const env = { ...(options.env ?? process.env), PULUMI_SKIP_UPDATE_CHECK: 'true' };
  return new Promise((resolve, reject) => {
    execFile(
      options.command ?? 'pulumi',
      args,
      { cwd: options.cwd, env, timeout: 120_000, maxBuffer: 16 * 1024 * 1024, shell: false },
      (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
          return reject(
            new FrontendOpsError(
              'BAD_INPUT',
              'The pulumi CLI is not on PATH. Install it (https://www.pulumi.com/docs/install/) or configure ' +
                'another backend for this stack in frontendops.config.json.',
            ),
          );
        }
        if (UNKNOWN_STACK.test(stderr)) {
          return reject(
            new FrontendOpsError(
              'NOT_FOUND',
              `The pulumi CLI knows no stack ${args.at(-1)}. Nothing was created. Check the name ` +
                '(`pulumi stack ls`) and the project directory.',
              { cause: error },
            ),
          );
        }
        reject(
          new FrontendOpsError('UPSTREAM', '`pulumi stack output` failed; run it by hand to see why.', {
            cause: new Error(stderr.slice(0, 2000)),
          }),
        );
      },
    );
  });
}
