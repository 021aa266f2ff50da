/**
 * The `frontendops` CLI: a thin router. Each command's module registers its options and loads what
 * it needs only when it runs, so `--help` and every command start fast. Errors are caught once,
 * here: a FrontendOpsError is a message for a person (no stack trace); anything else is a bug and
 * shows its stack only with FRONTENDOPS_DEBUG=1.
 */
import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { type CliContext, exitCodeOf } from './context.ts';
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
    )
    .exitOverride();
  // Before any command runs, so every one of them (and the MCP servers the agent spawns) sees the directory.
  program.hook('preAction', async () => {
    const directory = program.opts<{ directory?: string }>().directory;
    if (directory !== undefined) context.io = { ...io, cwd: await workingDirectory(io.cwd, directory) };
  });
  program.addHelpText(
    'after',
    `
Examples:
  $ frontendops dev                                   the local environment: build, publish, deploy
  $ frontendops status                                what is live (the local environment, or --stack)
  $ frontendops deploy --stack prod --commit 3f2c1a9  deploy a published build
  $ frontendops agent "Deploy the latest dashboard"   ask the agent
  $ frontendops -C ~/src/site status                  as if started in ~/src/site
  $ frontendops <command> --help                      more about one command`,
  );
  for (const command of await Promise.all(COMMANDS.map((load) => load()))) command.register(program, context);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return context.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    return reportError(error, io);
  }
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

function reportError(error: unknown, io: CliIo): number {
  const code = exitCodeOf(error);
  const known = error instanceof Error && 'code' in error && error.name === 'FrontendOpsError';
  const message = error instanceof Error ? error.message : String(error);
  io.stderr.write(`error: ${printable(message)}\n`);
  if (!known) {
    if (io.env.FRONTENDOPS_DEBUG && error instanceof Error) io.stderr.write(`${error.stack}\n`);
    else io.stderr.write('(this looks like a bug; run with FRONTENDOPS_DEBUG=1 for details)\n');
  }
  return code;
}

export { processIo } from './io.ts';
