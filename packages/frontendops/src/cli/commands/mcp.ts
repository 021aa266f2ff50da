/**
 * `frontendops mcp infra|git`: serves one MCP server over stdio (default) or Streamable HTTP
 * (`--http <port>`, 127.0.0.1 unless `--host` says otherwise, bearer token from FRONTENDOPS_MCP_TOKEN).
 * A server starts even when its stack cannot be opened yet: an MCP client then sees the tools, and
 * each call says what to configure, instead of "server disconnected".
 */
import type { McpServer } from '@modelcontextprotocol/server';
import type { Command } from 'commander';
import type { GitHostFlags } from '../../adapters/git-host.ts';
import { noteLine } from '../../engine/text.ts';
import { isLoopbackName } from '../../loopback.ts';
import type { CliContext } from '../context.ts';
import { loadCliConfig, parsePort, parseSeconds, stackGiven } from '../context.ts';
import { say } from '../io.ts';

export interface McpServeFlags {
  /** Port for Streamable HTTP; absent = stdio. */
  http?: string;
  host?: string;
}

export function register(program: Command, ctx: CliContext): void {
  const mcp = program
    .command('mcp')
    .description('Serve a FrontendOps MCP server (stdio by default, Streamable HTTP with --http)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ frontendops mcp infra --stack prod\n  $ frontendops mcp git --repo .\n  $ FRONTENDOPS_MCP_TOKEN=… frontendops mcp infra --stack prod --http 8931',
    );

  addServeOptions(
    mcp
      .command('git')
      .description(
        'Git tools: latest commit of the app, commit details, deploy tags. Backend: the local git repository ' +
          '(working directory or --repo), or GitHub with --github owner/repo (or GITHUB_REPOSITORY + GITHUB_TOKEN).',
      )
      .option('--repo <dir>', 'local git repository (default: the working directory)')
      .option(
        '--github <owner/repo>',
        'use the GitHub REST API (token from GITHUB_TOKEN, API root from GITHUB_API_URL)',
      )
      .addHelpText(
        'after',
        '\nExamples:\n  $ frontendops mcp git --repo .\n  $ FRONTENDOPS_MCP_TOKEN=… frontendops mcp git --http 8932',
      ),
  ).action(async (flags: GitHostFlags & McpServeFlags) => {
    const [{ selectGitHost }, { createGitServer }, { resolve }] = await Promise.all([
      import('../../adapters/git-host.ts'),
      import('../../mcp/git-server.ts'),
      import('node:path'),
    ]);
    const config = await loadCliConfig(ctx);
    const host = await selectGitHost(flags, ctx.io.env, ctx.io.cwd);
    const hide = [resolve(ctx.io.cwd, flags.repo ?? '.'), ctx.io.cwd];
    await serveFromFlags(
      ctx,
      () => createGitServer({ host, defaultPath: config.appPath, app: config.app, hide, env: ctx.io.env }),
      flags,
      'git',
    );
  });

  addServeOptions(
    mcp
      .command('infra')
      .description(
        'Infra tools: deploy target (opaque signed handle) → run_sync → invalidate_cdn, plan_deploy, get_status, ' +
          'get_history, rollback. Protected stacks need a human approval.',
      )
      .option('--stack <ref>', 'default stack: a configured name, `local` or a stack outputs JSON file')
      .option(
        '--wait <seconds>',
        "how long a tool call that changes a stack waits for another's deploy of it to finish",
        '10',
      )
      .addHelpText(
        'after',
        '\nExamples:\n  $ frontendops mcp infra --stack prod\n  $ FRONTENDOPS_MCP_TOKEN=… frontendops mcp infra --stack prod --http 8931',
      ),
  ).action(async (flags: McpServeFlags & { stack?: string; wait: string }) => {
    const lockWaitMs = await parseSeconds(flags.wait, '--wait');
    const [
      { createInfraServer },
      { createHandleSecret },
      { createStackOpener },
      { createSecrecy },
      { resolveStackSource },
      { isOutputsFileRef },
    ] = await Promise.all([
      import('../../mcp/infra/server.ts'),
      import('../../mcp/infra/handles.ts'),
      import('../../mcp/infra/stacks.ts'),
      import('../../mcp/secrecy.ts'),
      import('../../stacks/resolve.ts'),
      import('../../stacks/outputs-file.ts'),
    ]);
    const { io } = ctx;
    const config = await loadCliConfig(ctx);
    const { unboundJobWarnings } = await import('../../state/approval-policy.ts');
    for (const warning of unboundJobWarnings(config)) io.stderr.write(`warning: ${warning}\n`);
    const secrecy = createSecrecy(io.env);
    const ref = await defaultStackRef(ctx, flags.stack, config);
    let defaultStack: string | null = null;
    const aliases: Record<string, string> = {};
    if (ref) {
      // A file's path is this machine's business: learnt first, it is hidden from every answer.
      if (isOutputsFileRef(ref)) {
        const { basename, resolve } = await import('node:path');
        secrecy.learn(resolve(io.cwd, ref), ref, basename(ref));
      }
      try {
        defaultStack = (await resolveStackSource(ref, { config, cwd: io.cwd, env: io.env })).stack;
        aliases[defaultStack] = ref;
      } catch (error) {
        // Serve anyway: every call tries again and says what is wrong (without the path) and how to fix it.
        // The reference and the refusal quote the configuration (a file of the repository): printable.
        say(io.stderr, `warning: the stack ${ref} cannot be opened yet: ${(error as Error).message}`);
        defaultStack = ref;
      }
    }
    const stacks = createStackOpener(config, {
      aliases,
      cwd: io.cwd,
      env: io.env,
      onNotice: (n) => io.stderr.write(noteLine(n)),
      // Every stack read, one a call reads but never opens by name (a `buildsFrom`) included.
      onTarget: secrecy.learnTarget,
    });
    const secret = createHandleSecret();
    try {
      await serveFromFlags(
        ctx,
        // The command's environment: a job's (GITHUB_ACTIONS, its OIDC request variables) decides its
        // approvals, and what it hides of the configuration is read as its stacks are opened (same cwd, env).
        () =>
          createInfraServer({
            config,
            openSite: stacks.open,
            defaultStack,
            secret,
            secrecy,
            lockWaitMs,
            cwd: io.cwd,
            env: io.env,
          }),
        flags,
        'infra',
      );
    } finally {
      stacks.close();
    }
  });
}

/** --stack, FRONTENDOPS_STACK, the running local environment, or the config's default; else none. */
async function defaultStackRef(
  ctx: CliContext,
  flag: string | undefined,
  config: Awaited<ReturnType<typeof loadCliConfig>>,
): Promise<string | null> {
  const given = stackGiven(ctx.io, flag);
  if (given) return given;
  const { findLocalEnv } = await import('../../stacks/local-env-file.ts');
  if (await findLocalEnv(ctx.io.cwd)) return 'local';
  return config.defaultStack ?? null;
}

/** The transport flags every `mcp <server>` command shares. */
function addServeOptions(command: Command): Command {
  return command
    .option(
      '--http <port>',
      'serve Streamable HTTP on this port (0 = any free port); needs FRONTENDOPS_MCP_TOKEN',
    )
    .option('--host <addr>', 'interface for --http (default 127.0.0.1; anything else exposes the server)');
}

/** Serves stdio, or HTTP when --http is given; returns when the stdio client disconnects or on Ctrl-C. */
async function serveFromFlags(
  ctx: CliContext,
  createServer: () => McpServer,
  flags: McpServeFlags,
  label: string,
): Promise<void> {
  const [{ serveHttp, serveStdio }, auth, { badInput }] = await Promise.all([
    import('../../mcp/serve.ts'),
    import('../../mcp/auth.ts'),
    import('../../errors.ts'),
  ]);
  const { MCP_TOKEN_ENV } = auth;
  const { io } = ctx;
  if (flags.http === undefined) {
    if (flags.host !== undefined) throw badInput('--host only applies with --http <port>.');
    return serveStdio(createServer, { stdin: io.stdin, stdout: io.stdout, stopped: io.untilStopped() });
  }
  const port = parsePort(flags.http, '--http');
  const token = auth.usableToken(io.env[MCP_TOKEN_ENV]);
  const serving = await serveHttp(createServer, { port, token, ...(flags.host ? { host: flags.host } : {}) });
  // stdout stays clean for scripting; the address goes to stderr.
  io.stderr.write(
    `frontendops ${label} MCP server listening on ${serving.url} (bearer token from ${MCP_TOKEN_ENV})\n`,
  );
  // Warned by what the name is (isLoopbackName): "127.evil.example" may resolve anywhere.
  if (flags.host && !isLoopbackName(flags.host)) {
    io.stderr.write(
      `warning: bound to ${flags.host}; anyone who can reach it and holds the token can use the tools.\n`,
    );
  }
  await io.untilStopped();
  await serving.close();
}
