/**
 * `frontendops console --stack <ref> [--stack <ref>…] [--port <n>] [--host <addr>]`: serves the deploy
 * console for the given stacks on 127.0.0.1 (unless --host says otherwise) and prints the address
 * with its access token. Serves until Ctrl-C.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { openLocalGit } from '../../adapters/git-local.ts';
import { runAgentRequest } from '../../agent/index.ts';
import { type Config, loadConfig } from '../../config.ts';
import { isLoopback } from '../../console/auth.ts';
import { type ConsoleAgent, type ConsoleServer, startConsole } from '../../console/server.ts';
import { badInput } from '../../errors.ts';
import { actor, DEFAULT_STACK } from '../context.ts';

interface ConsoleFlags {
  stack?: string[];
  port: string;
  host?: string;
}

const portSchema = z.coerce.number().int().min(0).max(65535);

export function registerConsoleCommand(program: Command): Command {
  return program
    .command('console')
    .description(
      'Serve the deploy console (live release, history, audit, deploy/rollback, chat) on 127.0.0.1',
    )
    .option(
      '--stack <ref>',
      `stack name, outputs JSON file or the local environment's stack; repeat for several (default: ${DEFAULT_STACK})`,
      collect,
    )
    .option('--port <n>', 'port to listen on (0 = any free port)', '0')
    .option('--host <addr>', 'interface to listen on (default 127.0.0.1; anything else exposes the console)')
    .action(async (flags: ConsoleFlags) => {
      const port = portSchema.safeParse(flags.port);
      if (!port.success)
        throw badInput(`--port "${flags.port}" is not a port: expected 0–65535 (0 = any free port).`);
      const config = await loadConfig();
      const served = await startConsoleWithAgent(config, flags.stack ?? [DEFAULT_STACK], {
        port: port.data,
        ...(flags.host ? { host: flags.host } : {}),
      });
      printAddress(served.url, served.token, flags.host);
      await untilSignalled();
      await served.close();
    });
}

/**
 * The console with the real agent behind its chat (MCP servers spawned as usual, on the stack
 * selected in the page) and deploy tags read from the git repository in the working directory.
 */
export async function startConsoleWithAgent(
  config: Config,
  stacks: string[],
  options: { port?: number; host?: string } = {},
): Promise<ConsoleServer> {
  const agent: ConsoleAgent = (text, o) =>
    runAgentRequest(text, {
      actor: o.actor,
      approve: o.approve,
      onEvent: o.onEvent,
      stackRef: o.stack,
      config,
    });
  const git = await openLocalGit({ repoDir: process.cwd() }).catch(() => undefined);
  return startConsole({
    config,
    stacks,
    ...options,
    agent,
    ...(git ? { git } : {}),
    actor: `${actor()} (console)`,
  });
}

export function printAddress(url: string, token: string, host: string | undefined): void {
  console.log(`FrontendOps console: ${url}?token=${token}`);
  console.log('Open that address once; this browser then stays signed in. Anyone with the token can deploy.');
  if (host && !isLoopback(host)) console.log(`warning: listening on ${host}, not only on this machine.`);
}

function untilSignalled(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
