/**
 * `frontendops console --stack <ref> [--stack <ref>…] [--port <n>] [--host <addr>]`: serves the deploy
 * console for the given stacks on 127.0.0.1 (unless --host says otherwise) and prints the address
 * with its access token. Serves until Ctrl-C.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { openLocalGit } from '../../adapters/git-local.ts';
import { loadConfig } from '../../config.ts';
import { isLoopback } from '../../console/auth.ts';
import { type ConsoleAgent, startConsole } from '../../console/server.ts';
import { badInput } from '../../errors.ts';
import { actor, DEFAULT_STACK } from '../context.ts';

interface ConsoleFlags {
  stack: string[];
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
    .option('--stack <ref>', 'stack name, outputs JSON file or "local"; repeat for several', collect, [])
    .option('--port <n>', 'port to listen on (0 = any free port)', '0')
    .option('--host <addr>', 'interface to listen on (default 127.0.0.1; anything else exposes the console)')
    .action(async (flags: ConsoleFlags) => {
      const port = portSchema.safeParse(flags.port);
      if (!port.success)
        throw badInput(`--port "${flags.port}" is not a port: expected 0–65535 (0 = any free port).`);
      const config = await loadConfig();
      const agent = await loadAgent();
      const git = await openLocalGit({ repoDir: process.cwd() }).catch(() => undefined);
      const served = await startConsole({
        config,
        stacks: flags.stack.length > 0 ? flags.stack : [DEFAULT_STACK],
        port: port.data,
        ...(flags.host ? { host: flags.host } : {}),
        ...(agent ? { agent } : {}),
        ...(git ? { git } : {}),
        actor: `${actor()} (console)`,
      });
      printAddress(served.url, served.token, flags.host);
      if (!agent) console.log('The agent is not available here, so the chat box is off.');
      await untilSignalled();
      await served.close();
    });
}

export function printAddress(url: string, token: string, host: string | undefined): void {
  console.log(`FrontendOps console: ${url}?token=${token}`);
  console.log('Open that address once; this browser then stays signed in. Anyone with the token can deploy.');
  if (host && !isLoopback(host)) console.log(`warning: listening on ${host}, not only on this machine.`);
}

/**
 * The agent, when src/agent/index.ts provides runAgentRequest. Loaded by a computed specifier so this
 * command keeps working (chat off) while the agent module is absent.
 */
async function loadAgent(): Promise<ConsoleAgent | undefined> {
  const specifier = '../../agent/index.ts';
  try {
    const module = (await import(specifier)) as { runAgentRequest?: ConsoleAgent };
    return typeof module.runAgentRequest === 'function' ? module.runAgentRequest : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw error;
  }
}

function untilSignalled(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
