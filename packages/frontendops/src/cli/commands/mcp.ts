/**
 * `frontendops mcp <server>`: serves one MCP server over stdio (default) or Streamable HTTP
 * (`--http <port>`, 127.0.0.1 unless `--host` says otherwise, bearer token from FRONTENDOPS_MCP_TOKEN).
 * `mcp git` and `mcp infra` are defined here (`registerInfra` in McpCommandOptions replaces the
 * latter, e.g. in tests), both through addServeOptions + serveFromFlags.
 */
import { resolve } from 'node:path';
import type { McpServer } from '@modelcontextprotocol/server';
import type { Command } from 'commander';
import { openLocalGit } from '../../adapters/git-local.ts';
import { createGitHubHost } from '../../adapters/github.ts';
import { loadConfig } from '../../config.ts';
import { badInput } from '../../errors.ts';
import { assertUsableToken, MCP_TOKEN_ENV } from '../../mcp/auth.ts';
import { createGitServer } from '../../mcp/git-server.ts';
import { createHandleSecret } from '../../mcp/infra-handles.ts';
import { createInfraServer } from '../../mcp/infra-server.ts';
import { createStackOpener } from '../../mcp/infra-stacks.ts';
import { serveHttp, serveStdio } from '../../mcp/serve.ts';
import type { GitHost } from '../../ports.ts';
import { resolveStackSource } from '../../stacks/resolve.ts';

export interface McpServeFlags {
  /** Port for Streamable HTTP; absent = stdio. */
  http?: string;
  host?: string;
}

export interface GitServerFlags extends McpServeFlags {
  repo?: string;
  github?: string;
}

export interface McpCommandOptions {
  /**
   * Registers `mcp infra` on the `mcp` command. Written together with the infra server, e.g.
   * `(mcp) => addServeOptions(mcp.command('infra')…).action((flags) => serveFromFlags(() => createInfraServer(…), flags, 'infra'))`.
   */
  registerInfra?: (mcp: Command) => void;
  /** Environment to read tokens and GITHUB_* from; default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** Adds `mcp` and `mcp git` to the program; returns the `mcp` command. */
export function registerMcpCommand(program: Command, options: McpCommandOptions = {}): Command {
  const env = options.env ?? process.env;
  const mcp = program
    .command('mcp')
    .description('Serve a FrontendOps MCP server (stdio by default, Streamable HTTP with --http)');

  addServeOptions(
    mcp
      .command('git')
      .description(
        'Git tools: latest commit of the dashboard, commit details, deploy tags. Backend: the local git ' +
          'repository (cwd or --repo), or GitHub with --github owner/repo (or GITHUB_REPOSITORY + GITHUB_TOKEN).',
      )
      .option('--repo <dir>', 'local git repository (default: the current directory)')
      .option(
        '--github <owner/repo>',
        'use the GitHub REST API (token from GITHUB_TOKEN, API root from GITHUB_API_URL)',
      ),
  ).action(async (flags: GitServerFlags) => {
    const host = await selectGitHost(flags, env);
    await serveFromFlags(() => createGitServer({ host }), flags, 'git', env);
  });

  (options.registerInfra ?? ((command: Command) => registerInfraCommand(command, env)))(mcp);
  return mcp;
}

/**
 * `mcp infra [--stack <ref>]`: the infra tools for the stack named by --stack (a configured name, an
 * outputs JSON file, or the running local environment) and any other configured stack by name. One
 * handle secret and one set of open environments serve every session of the process.
 */
export function registerInfraCommand(mcp: Command, env: NodeJS.ProcessEnv = process.env): Command {
  return addServeOptions(
    mcp
      .command('infra')
      .description(
        'Infra tools: deploy target (opaque signed handle) → run_sync → invalidate_cdn, plan_deploy, get_status, ' +
          'get_history, rollback. Protected stacks need a human approval (elicitation, or `frontendops approve`).',
      )
      .option(
        '--stack <ref>',
        'default stack: a configured stack name or a stack outputs JSON file',
        env.FRONTENDOPS_STACK ?? 'dashboard-hosting-prod',
      ),
  ).action(async (flags: McpServeFlags & { stack: string }) => {
    const config = await loadConfig();
    const { stack } = await resolveStackSource(flags.stack, { config, cwd: process.cwd() });
    const stacks = createStackOpener(config, { aliases: { [stack]: flags.stack } });
    // Fail at start-up, in the operator's terminal, when the stack cannot be opened.
    await stacks.open(stack);
    const secret = createHandleSecret();
    try {
      await serveFromFlags(
        () => createInfraServer({ config, openStack: stacks.open, defaultStack: stack, secret }),
        flags,
        'infra',
        env,
      );
    } finally {
      stacks.close();
    }
  });
}

/** The transport flags every `mcp <server>` command shares. */
export function addServeOptions(command: Command): Command {
  return command
    .option('--http <port>', `serve Streamable HTTP on this port (0 = any free port); needs ${MCP_TOKEN_ENV}`)
    .option('--host <addr>', 'interface for --http (default 127.0.0.1; anything else exposes the server)');
}

/** Serves stdio, or HTTP when --http is given; returns when the stdio client disconnects or on SIGINT/SIGTERM. */
export async function serveFromFlags(
  createServer: () => McpServer,
  flags: McpServeFlags,
  label: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  if (flags.http === undefined) {
    if (flags.host !== undefined) throw badInput('--host only applies with --http <port>.');
    return serveStdio(createServer);
  }
  const port = parsePort(flags.http);
  const token = env[MCP_TOKEN_ENV];
  assertUsableToken(token);
  const serving = await serveHttp(createServer, { port, token, ...(flags.host ? { host: flags.host } : {}) });
  // stdout stays clean for scripting; the address goes to stderr.
  console.error(
    `frontendops ${label} MCP server listening on ${serving.url} (bearer token from ${MCP_TOKEN_ENV})`,
  );
  if (flags.host && !/^(127\.|localhost$|::1$)/.test(flags.host)) {
    console.error(
      `warning: bound to ${flags.host}; anyone who can reach it and holds the token can use the tools.`,
    );
  }
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  await serving.close();
}

/** Which GitHost `mcp git` talks to: --github, else --repo/cwd, else GITHUB_REPOSITORY+GITHUB_TOKEN. */
export async function selectGitHost(flags: GitServerFlags, env: NodeJS.ProcessEnv): Promise<GitHost> {
  if (flags.github && flags.repo)
    throw badInput('Pass either --repo <dir> or --github <owner/repo>, not both.');
  const github = flags.github ?? (!flags.repo && env.GITHUB_TOKEN ? env.GITHUB_REPOSITORY : undefined);
  if (github) {
    const [owner, repo, ...extra] = github.split('/');
    if (!owner || !repo || extra.length > 0) {
      throw badInput(`Invalid --github "${github}": expected owner/repo, e.g. "acme/dashboard".`);
    }
    return createGitHubHost({
      owner,
      repo,
      ...(env.GITHUB_TOKEN ? { token: env.GITHUB_TOKEN } : {}),
      ...(env.GITHUB_API_URL ? { baseUrl: env.GITHUB_API_URL } : {}),
    });
  }
  return openLocalGit({ repoDir: resolve(flags.repo ?? process.cwd()) });
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) {
    throw badInput(
      `Invalid --http port "${value}": expected a number from 0 to 65535 (0 picks a free port).`,
    );
  }
  return port;
}
