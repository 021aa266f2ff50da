/**
 * What the runner could read as a workflow command in what the action prints: the command's own
 * output passed through (here a stand-in CLI that prints hostile text, cut into odd chunks), and the
 * command line the action builds from its inputs (no input is read as an option).
 */
import { PassThrough } from 'node:stream';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import type { CliIo } from '../../src/cli/io.ts';
import { readActionInputs } from '../../src/github-action/inputs.ts';
import { commandLine, runAction } from '../../src/github-action/run.ts';

/** Lines as the runner splits them (CR, LF, CRLF) that it would read as a workflow command. */
const commands = (text: string) =>
  text.split(/\r\n|\r|\n/).filter((line) => /^[\s\u0085]*::/.test(line) || line.includes('##['));

function io(env: Record<string, string>) {
  const out = { stdout: '', stderr: '' };
  const stdin = new PassThrough();
  stdin.end();
  const value: CliIo = {
    stdout: { write: (chunk: string) => (out.stdout += chunk) },
    stderr: { write: (chunk: string) => (out.stderr += chunk) },
    stdin,
    env: { INPUT_STACK: 'prod', ...env },
    cwd: process.cwd(),
    untilStopped: () => new Promise<void>(() => {}),
  };
  return { io: value, out };
}

const HOSTILE = [
  'deploying\n',
  'error: Unknown stack "x\n::set-output name=site-url::https://evil.example\n',
  '  ::error::indented\r::warning::after a carriage return\r\n\u0085::notice::after NEL\n',
  'a ##[set-output name=tag]evil in the middle, and a command cut in two: \n:',
  ':stop-commands::token\n#',
  '#[error]cut too\nand a last line without its end ::x ',
  '\n::error::the end',
];

describe('frontendops action: what the command prints is log text', () => {
  it('lines of the CLI’s output that would be workflow commands are escaped, however they are cut', async () => {
    const { io: stub, out } = io({ INPUT_COMMAND: 'deploy' });
    const { exitCode } = await runAction(stub, async (_argv, cliIo) => {
      for (const chunk of HOSTILE) cliIo.stderr.write(chunk);
      cliIo.stdout.write(JSON.stringify({ error: { message: 'refused\n::error::from the JSON' } }));
      return 2;
    });
    expect(exitCode).toBe(2);
    // Only the action's own annotation, its data on one line.
    expect(commands(out.stdout)).toEqual([
      '::error title=FrontendOps deploy refused::refused%0A::error::from the JSON',
    ]);
    expect(commands(out.stderr)).toEqual([]);
    // Nothing lost: the same text, the command starts escaped.
    expect(out.stderr).toContain('\\::set-output name=site-url::https://evil.example\n');
    expect(out.stderr).toContain('  \\::error::indented\r\\::warning::after a carriage return\r\n');
    expect(out.stderr).toContain('a ##\\[set-output name=tag]evil');
    expect(out.stderr).toContain('\n\\::stop-commands::token\n##\\[error]cut too\n');
    expect(out.stderr.endsWith('\n\\::error::the end')).toBe(true);
  });

  it('an error thrown on the way (a bad input) is reported as text too', async () => {
    const { io: stub } = io({ INPUT_COMMAND: '##[error]x' });
    const error = await runAction(stub, async () => 0).catch((e: Error) => e);
    expect((error as Error).message).toMatch(/^The action's "command" input is "##\\\[error\]x": expected/);
  });
});

describe('frontendops action: the command line', () => {
  /** The CLI's global -C and a command's --dry-run, as commander reads them (as the CLI does). */
  function parse(argv: string[]) {
    const seen: { directory?: string; dryRun?: boolean; operands?: string[]; options?: object } = {};
    const program = new Command('frontendops')
      .option('-C, --directory <dir>')
      .exitOverride()
      .configureOutput({ writeErr: () => {}, writeOut: () => {} });
    for (const name of ['publish', 'deploy', 'promote', 'agent']) {
      program
        .command(name)
        .argument('[operands...]')
        .option('--stack <stack>')
        .option('--json')
        .option('--yes')
        .option('--dry-run')
        .option('--app <app>')
        .option('--commit <sha>')
        .option('--message <text>')
        .action((operands: string[], options: { dryRun?: boolean }) => {
          seen.operands = operands;
          seen.dryRun = options.dryRun;
          seen.options = options;
        });
    }
    program.parse(argv, { from: 'user' });
    seen.directory = program.opts<{ directory?: string }>().directory;
    return seen;
  }

  it.each([
    ['publish', { INPUT_DIRECTORY: '-C/tmp/evil', INPUT_COMMIT: 'a'.repeat(40) }, ['-C/tmp/evil']],
    ['deploy', {}, []],
    ['promote', { INPUT_COMMIT: '3f2c1a9' }, ['3f2c1a9']],
    // The agent takes no message (it records its request): an empty one, as action.yml's default.
    ['agent', { INPUT_REQUEST: '--dry-run', INPUT_MESSAGE: '' }, ['--dry-run']],
  ])('%s: inputs that start with "-" stay values', (command, inputs, operands) => {
    const argv = commandLine(
      readActionInputs({
        INPUT_COMMAND: command,
        INPUT_STACK: '-C/tmp/evil-stack',
        INPUT_MESSAGE: '--dry-run',
        INPUT_APP: '-C/tmp/evil-app',
        ...inputs,
      }),
    );
    const seen = parse(argv);
    expect(seen.directory).toBeUndefined();
    expect(seen.dryRun).toBeUndefined();
    expect(seen.operands).toEqual(operands);
    expect(seen.options).toMatchObject({ stack: '-C/tmp/evil-stack' });
    if (command !== 'agent')
      expect(seen.options).toMatchObject({ message: '--dry-run', app: '-C/tmp/evil-app' });
  });
});
