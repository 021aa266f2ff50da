/**
 * The `pulumi` CLI, when it is installed: `pulumi stack output --json --stack <name>`, run with execFile
 * (argument vector, no shell) and never with --show-secrets, so secret outputs arrive as "[secret]" and
 * only their names are kept. `stack output` only reads; it never selects or creates a stack.
 */
import { execFile } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
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
/**
 * What could name a backend in a project file, read as text rather than parsed: the word in any case
 * (a JSON key is matched without case), or a way to spell it otherwise (an escape, a YAML tag such as
 * !!binary, another encoding).
 */
const MAY_NAME_BACKEND = /backend|\\|!\S|\0|\uFFFD/i;

/**
 * The pulumi CLI sends PULUMI_ACCESS_TOKEN to the backend the project file names (`backend: url:`),
 * unless PULUMI_BACKEND_URL names one. The file is the repository's, which whoever changes its files
 * chooses: one that may name a backend, found where the CLI looks, is refused before the CLI runs,
 * where PULUMI_BACKEND_URL (the environment's, which decides over it) is not set.
 */
async function refuseProjectBackend(options: PulumiCliOptions): Promise<void> {
  if ((options.env ?? process.env).PULUMI_BACKEND_URL) return;
  for (let dir = resolve(options.cwd ?? process.cwd()); ; ) {
    let found = false;
    for (const name of PROJECT_FILES) {
      const file = join(dir, name);
      const read = await readSmallFile(file, 1024 * 1024).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return null;
        throw error;
      });
      if (read === null) continue;
      found = true;
      if ('text' in read && !MAY_NAME_BACKEND.test(read.text)) continue;
      throw new FrontendOpsError(
        'BAD_INPUT',
        `${file} may name a Pulumi backend of its own (its "backend"): the pulumi CLI would send PULUMI_ACCESS_TOKEN there. Nothing was run: set PULUMI_BACKEND_URL to the backend the stack's state is in (the CLI then uses it, whatever the file says), or remove "backend" from the file (a plain file: no escapes, tags or another encoding either).`,
      );
    }
    const parent = dirname(dir);
    if (found || parent === dir) return;
    dir = parent;
  }
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
