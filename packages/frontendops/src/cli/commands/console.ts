/**
 * `frontendops console [--stack <ref>…] [--port <n>] [--host <addr>]`: serves the deploy console for
 * the given stacks on 127.0.0.1 (unless --host says otherwise) and prints a sign-in address (one use;
 * a new one each time one is refused). Serves until Ctrl-C.
 */
import type { Command } from 'commander';
import type { Config } from '../../config.ts';
import { SIGN_IN_TTL_MS } from '../../console/auth.ts';
import type { ConsoleServer } from '../../console/server.ts';
import { badInput, FrontendOpsError } from '../../errors.ts';
import { isLoopbackName } from '../../loopback.ts';
import { actor, type CliContext, chooseStack, loadCliConfig, parsePort } from '../context.ts';
import type { CliIo } from '../io.ts';
import { say } from '../io.ts';

interface ConsoleFlags {
  stack?: string[];
  port: string;
  host?: string;
  new?: boolean;
  signOutAll?: boolean;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('console')
    .description(
      'Serve the deploy console (live release, history, audit, deploy/rollback, chat) on 127.0.0.1',
    )
    .option(
      '--stack <ref>',
      'stack name, `local` or an outputs JSON file; repeat for several (default: FRONTENDOPS_STACK, else `local` when it runs)',
      collect,
    )
    .option('--port <n>', 'port to listen on (0 = any free port)', '0')
    .option('--host <addr>', 'interface to listen on (default 127.0.0.1; anything else exposes the console)')
    .option('--new', 'start another console even when `npm start` already serves one for this directory')
    .option(
      '--sign-out-all',
      'end every browser session of the console `npm start` serves for this directory (its token does it)',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ frontendops console                 the local environment (or the console `npm start` serves)\n  $ frontendops console --stack prod --stack staging --port 8400',
    )
    .action(async (flags: ConsoleFlags) => {
      if (flags.signOutAll) {
        if (flags.stack || flags.port !== '0' || flags.host || flags.new)
          throw badInput(
            '--sign-out-all starts no console, so it takes no --stack, --port, --host or --new: run `frontendops console --sign-out-all` alone.',
          );
        return signOutAll(ctx);
      }
      const port = parsePort(flags.port, '--port');
      if (await printRunningConsole(ctx, flags)) return;
      const config = await loadCliConfig(ctx);
      const stacks = flags.stack ?? [await chooseStack(ctx, undefined, config)];
      // An unknown stack is refused now, as every other command refuses it, not on the first page.
      const { resolveStackSource } = await import('../../stacks/resolve.ts');
      for (const ref of stacks) await resolveStackSource(ref, { config, cwd: ctx.io.cwd, env: ctx.io.env });
      const served = await startConsoleWithAgent(ctx.io, config, stacks, {
        port,
        ...(flags.host ? { host: flags.host } : {}),
      });
      printAddress(ctx.io, served.signInAddress(), flags.host);
      await ctx.io.untilStopped();
      await served.close();
    });
}

/**
 * The console with the real agent behind its chat — the infra and git MCP servers in this process,
 * connected once per stack and kept open across turns (see console/agent-sessions.ts) — and deploy
 * tags and "the latest" read from the git repository in the working directory.
 */
export async function startConsoleWithAgent(
  io: CliIo,
  config: Config,
  stacks: string[],
  options: { port?: number; host?: string } = {},
): Promise<ConsoleServer> {
  const [
    { createAgentSessions },
    { startConsole },
    { openLocalGit },
    { loadConfig },
    { createConfigReader },
  ] = await Promise.all([
    import('../../console/agent-sessions.ts'),
    import('../../console/server.ts'),
    import('../../adapters/git-local.ts'),
    import('../../config.ts'),
    import('../../console/config-reader.ts'),
  ]);
  // The configuration file is read again at each request and each chat turn: a stack made protected
  // in it is shown, and held to, at once (console/config-reader.ts).
  const reload = () => loadConfig(io.cwd, io.env);
  const git = await openLocalGit({ repoDir: io.cwd }).catch(() => undefined);
  // A model that cannot work turns the chat off with the reason, instead of failing every turn.
  const chatReason = await modelProblem(io.env);
  const sessions = chatReason
    ? null
    : createAgentSessions({
        config,
        readConfig: createConfigReader(config, reload),
        cwd: io.cwd,
        env: io.env,
        git: git ?? null,
      });
  const served = await startConsole({
    config,
    loadConfig: reload,
    stacks,
    cwd: io.cwd,
    env: io.env,
    ...options,
    ...(sessions ? { agent: sessions.agent } : { chatReason: `The chat is off: ${chatReason}` }),
    ...(git ? { git } : {}),
    actor: `${actor(io)} (console)`,
    onRefusedSignIn: (address) =>
      say(io.stdout, `A sign-in address was refused (used, stale or wrong). A new one: ${address}`),
  }).catch(async (error: unknown) => {
    // Not served (e.g. the port is in use): nothing may keep the process up.
    await sessions?.close();
    throw error;
  });
  return {
    ...served,
    async close() {
      await served.close();
      await sessions?.close();
    },
  };
}

async function modelProblem(env: NodeJS.ProcessEnv): Promise<string | null> {
  const { readModelSpec, requireModelKey } = await import('../../agent/model-provider.ts');
  try {
    const spec = readModelSpec(env);
    if (spec) requireModelKey(spec, env);
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * `npm start` serves a console for the local environment and records its address and token in
 * .frontendops/env.json, its owner's only (findLocalEnv refuses one another user could have written):
 * `frontendops console` for that environment asks it for a new sign-in address and prints that,
 * instead of starting a second console.
 */
async function printRunningConsole(ctx: CliContext, flags: ConsoleFlags): Promise<boolean> {
  const wantsLocal = !flags.stack || (flags.stack.length === 1 && flags.stack[0] === 'local');
  if (flags.new || !wantsLocal || flags.port !== '0' || flags.host || ctx.io.env.FRONTENDOPS_STACK)
    return false;
  const { findLocalEnv } = await import('../../stacks/local-env-file.ts');
  const running = await findLocalEnv(ctx.io.cwd);
  if (!running?.consoleUrl || !running.consoleToken) return false;
  const address = await askSignInAddress(running.consoleUrl, running.consoleToken).catch((error: unknown) => {
    throw new FrontendOpsError(
      'UPSTREAM',
      `The console \`npm start\` serves for this directory (pid ${running.pid}, ${running.consoleUrl}) did not give a sign-in address: ${(error as Error).message}. ` +
        'Restart `npm start`, or start another console with `frontendops console --new`.',
    );
  });
  printAddress(ctx.io, address, undefined);
  say(
    ctx.io.stdout,
    `It is served by the local environment (\`npm start\`, pid ${running.pid}) for this directory. (--new starts another console.)`,
  );
  return true;
}

/**
 * `console --sign-out-all`: every browser session of the console `npm start` serves for this
 * directory ends now (POST /api/sign-out {"all": true} with its token, from env.json); their ids are
 * refused from then on, wherever they were seen. A console `frontendops console` serves keeps its
 * token to itself: stopping it ends its sessions.
 */
async function signOutAll(ctx: CliContext): Promise<void> {
  const { findLocalEnv } = await import('../../stacks/local-env-file.ts');
  const running = await findLocalEnv(ctx.io.cwd);
  if (!running?.consoleUrl || !running.consoleToken)
    throw badInput(
      'No console `npm start` serves for this directory: --sign-out-all ends the sessions of that console, whose token .frontendops/env.json holds. ' +
        'A console started with `frontendops console` ends every session when it stops (Ctrl-C in its terminal).',
    );
  const { consoleUrl, consoleToken, pid } = running;
  const body = await postToConsole(consoleUrl, consoleToken, 'api/sign-out', { all: true }).catch(
    (error: unknown) => {
      throw new FrontendOpsError(
        'UPSTREAM',
        `The console \`npm start\` serves for this directory (pid ${pid}, ${consoleUrl}) did not end its sessions: ${(error as Error).message}. ` +
          'Stopping `npm start` ends them too.',
      );
    },
  );
  say(
    ctx.io.stdout,
    `Ended every browser session of the console \`npm start\` serves (${typeof body.sessions === 'number' ? body.sessions : 0} live): their ids are refused from now on. \`frontendops console\` prints a new sign-in address.`,
  );
}

/** A new sign-in address from a running console, asked with its token (POST /api/sign-in-address). */
async function askSignInAddress(consoleUrl: string, token: string): Promise<string> {
  const body = await postToConsole(consoleUrl, token, 'api/sign-in-address', {});
  // Its own address only: an answer naming another server is no sign-in of this console.
  if (typeof body.address === 'string' && body.address.startsWith(`${consoleUrl}?signin=`))
    return body.address;
  throw new Error('it answered no sign-in address of its own');
}

/** A JSON POST to a running console with its token: the answer's body, or an error saying what it answered. */
async function postToConsole(
  consoleUrl: string,
  token: string,
  path: string,
  payload: unknown,
): Promise<Record<string, unknown>> {
  const res = await fetch(new URL(path, consoleUrl), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(payload),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json().catch(() => null)) as Record<string, unknown> | null;
  if (res.ok && body !== null && typeof body === 'object') return body;
  throw new Error(
    `it answered ${res.status}${typeof body?.message === 'string' ? ` (${body.message})` : ''}`,
  );
}

export function printAddress(io: CliIo, address: string, host: string | undefined): void {
  say(io.stdout, `FrontendOps console: ${address}`);
  say(
    io.stdout,
    `Open that address to sign this browser tab in. It works once, within ${SIGN_IN_TTL_MS / 60_000} minutes; a refused one makes this console print a new one.`,
  );
  // Warned by what the name is, not what it is answered as: "127.evil.example" may be anywhere.
  if (host && !isLoopbackName(host))
    say(io.stdout, `warning: listening on ${host}, not only on this machine.`);
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
