/**
 * The `frontendops` CLI: a thin router. Each command's module registers its options and loads what
 * it needs only when it runs, so `--help` and every command start fast. Errors are caught once,
 * here: a FrontendOpsError is a message for a person (no stack trace); anything else is a bug and
 * shows its stack only with FRONTENDOPS_DEBUG=1.
 */
import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { closest } from '../engine/closest.ts';
import { FrontendOpsError, isFrontendOpsError } from '../errors.ts';
import {
  actFromProjectRoot,
  type CliContext,
  exitCodeOf,
  refuseEmptyValues,
  refuseRepeated,
  refuseRepeatedOptions,
} from './context.ts';
import { type CliIo, printable } from './io.ts';

const COMMANDS = [
  () => import('./commands/publish.ts'),
  () => import('./commands/deploy.ts'),
  () => import('./commands/pin.ts'),
  () => import('./commands/status.ts'),
  () => import('./commands/approve.ts'),
  () => import('./commands/agent.ts'),
  () => import('./commands/console.ts'),
  () => import('./commands/dev.ts'),
  () => import('./commands/mcp.ts'),
  () => import('./commands/canary.ts'),
  () => import('./commands/migrate.ts'),
  () => import('./commands/action.ts'),
];

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

/** Runs one command line (without `node` and the script) and returns its exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const context: CliContext = { io, exitCode: 0, runCli };
  const program = new Command('frontendops')
    .description('Deploy a static web app to S3 + CloudFront, safely, fast and traceably, with an AI agent')
    .version(version, '-V, --version', 'print the version')
    .showHelpAfterError('(run frontendops --help for the commands)')
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .option(
      '-C, --directory <dir>',
      'run as if started in <dir>: its frontendops.config.json, its local environment, its git repository',
      refuseRepeated('-C', 'the directory to act in'),
    )
    .helpCommand(false)
    .exitOverride();
  // Before any command runs: an empty value ("", "  ", an unset variable) is a mistake, never "not given".
  program.hook('preAction', (_program, command) => refuseEmptyValues(command));
  // Before any command runs, so every one of them (and the MCP servers the agent spawns) acts for the
  // project root found from where it was started, or from -C <dir>: see actFromProjectRoot.
  program.hook('preAction', async (_program, command) => {
    const directory = program.opts<{ directory?: string }>().directory;
    const startedIn = directory !== undefined ? await workingDirectory(io.cwd, directory) : io.cwd;
    context.io = await actFromProjectRoot(io, startedIn, command);
  });
  program.addHelpText(
    'after',
    `
Examples:
  $ frontendops dev                                   the local environment: build, publish, deploy
  $ frontendops status                                what is live (the local environment, or --stack)
  $ frontendops deploy --stack prod --commit 3f2c1a9  deploy a published build
  $ frontendops agent "Deploy the latest build"   ask the agent
  $ frontendops -C ~/src/site status                  as if started in ~/src/site
  $ frontendops <command> --help                      more about one command`,
  );
  for (const command of await Promise.all(COMMANDS.map((load) => load()))) command.register(program, context);
  addHelpCommand(program);
  refuseRepeatedOptions(program);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return context.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return 0;
      // Commander said what was wrong on stderr; --json promises the one object on stdout too.
      if (wantsJson(argv)) writeJsonError(io, 'BAD_INPUT', error.message.replace(/^error: /, ''), 2);
      return 2;
    }
    return reportError(withWaitHint(error, context), io, wantsJson(argv));
  }
}

/**
 * `help [command...]`: the help of the program or of a (sub)command, e.g. `help canary promote`. Not
 * commander's own help command, which shows the whole help (exit 1) for a name it does not know: a
 * name that is no command is an error that says so, with the name meant when it is close to one.
 */
function addHelpCommand(program: Command): void {
  program
    .command('help')
    .description('display help for command')
    .argument('[command...]', 'the command (and subcommand) to explain')
    .action((names: string[]) => {
      let command: Command = program;
      for (const [i, name] of names.entries()) {
        const found = command.commands.find((c) => c.name() === name || c.aliases().includes(name));
        if (!found) {
          const known = command.commands.map((c) => c.name()).filter((n) => n !== 'help');
          const suggestion = closest(name, known);
          command.error(
            `error: unknown command '${names.slice(0, i + 1).join(' ')}'${suggestion ? `\n(Did you mean ${suggestion}?)` : ''}`,
            { code: 'commander.unknownCommand' },
          );
        }
        command = found;
      }
      command.help();
    });
}

/** -C <dir>, resolved against where the command was started; it must be a directory. */
async function workingDirectory(from: string, directory: string): Promise<string> {
  const [{ stat }, { resolve }, { badInput }] = await Promise.all([
    import('node:fs/promises'),
    import('node:path'),
    import('../errors.ts'),
  ]);
  const dir = resolve(from, directory);
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) {
    throw badInput(
      `-C ${directory}: ${dir} is not a directory. Pass the directory of the repository to act for (where its frontendops.config.json is).`,
    );
  }
  return dir;
}

/**
 * The error on stderr, with the exit code. With --json, stdout gets it too, as the one object a
 * script reads: `{"error": {"code", "message", "exitCode"}}` (a script that parses stdout otherwise
 * found nothing there).
 */
function reportError(error: unknown, io: CliIo, json: boolean): number {
  const exitCode = exitCodeOf(error);
  const known = error instanceof Error && 'code' in error && error.name === 'FrontendOpsError';
  const message = error instanceof Error ? error.message : String(error);
  io.stderr.write(`error: ${printable(message)}\n`);
  if (!known) {
    if (io.env.FRONTENDOPS_DEBUG && error instanceof Error) io.stderr.write(`${error.stack}\n`);
    else io.stderr.write('(this looks like a bug; run with FRONTENDOPS_DEBUG=1 for details)\n');
  }
  if (json) {
    const code = known ? String((error as { code: unknown }).code) : 'INTERNAL';
    writeJsonError(io, code, known ? message : 'It failed unexpectedly: see stderr.', exitCode);
  }
  return exitCode;
}

/**
 * Another deploy held the lock past this command's --wait: the engine's words say to try again; a
 * command that takes --wait (only the CLI's do) says how to wait longer. A lost lock is no such case.
 */
function withWaitHint(error: unknown, context: CliContext): unknown {
  if (!context.waitsForLock || !isFrontendOpsError(error, 'LOCKED') || error.details?.lost) return error;
  return new FrontendOpsError('LOCKED', `${error.message} Pass --wait <seconds> to wait longer.`, {
    cause: error,
    ...(error.details ? { details: error.details } : {}),
  });
}

/** A failure as `--json` prints it: one object on stdout. */
const writeJsonError = (io: CliIo, code: string, message: string, exitCode: number) =>
  io.stdout.write(`${JSON.stringify({ error: { code, message, exitCode } }, null, 2)}\n`);

/** --json among the options (not among words after `--`). */
const wantsJson = (argv: readonly string[]) => {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
};

export { processIo } from './io.ts';
