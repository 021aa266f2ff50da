import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BIN, waitForStderr } from '../support/cli.ts';
import { createTestRepo, type TestRepo } from '../support/git-repo.ts';
import { type GitHubDouble, startGitHubDouble } from '../support/github-double.ts';
import { spawnTracked } from '../support/processes.ts';
import { receiptFor } from '../support/receipts.ts';
import { cli } from '../support/run-cli.ts';

const ARGS = [BIN];
const DIGEST = `sha256:${'9a'.repeat(32)}`;
const MCP_TOKEN = 'cli-test-token-0123456789';

let repo: TestRepo;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  repo = await createTestRepo();
});
afterAll(() => repo?.cleanup());
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const baseEnv = (): Record<string, string> => {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('GITHUB_') && k !== 'FRONTENDOPS_MCP_TOKEN') env[k] = v;
  }
  return env;
};

async function stdioClient(args: string[], env: Record<string, string> = baseEnv()) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [...ARGS, ...args],
    env,
    stderr: 'pipe',
  });
  // What the server logs, whole once it has exited (the client closed).
  let stderr = '';
  const logged = new Promise<string>((done) => {
    transport.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    transport.stderr?.on('end', () => done(stderr));
  });
  const client = new Client({ name: 'cli-test', version: '0.0.0' });
  await client.connect(transport);
  cleanups.push(() => client.close());
  return Object.assign(client, { logged });
}

/**
 * Runs the CLI in this process to completion, for start-up refusals (no process boundary to show):
 * a server that started anyway is stopped at once, so the run ends and the exit code tells.
 */
async function runToExit(args: string[]) {
  const run = await cli(args, { env: { FRONTENDOPS_MCP_TOKEN: '' }, stopped: Promise.resolve() });
  return { code: run.code, stderr: run.stderr };
}

const structured = async (client: Client, name: string, args: Record<string, unknown> = {}) =>
  (await client.callTool({ name, arguments: args })).structuredContent as Record<string, unknown>;

describe('frontendops mcp git (spawned process)', () => {
  it('serves the local repository over stdio: latest commit, deploy tag created once', async () => {
    const client = await stdioClient(['mcp', 'git', '--repo', repo.dir]);
    expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual([
      'commits_between',
      'create_deploy_tag',
      'get_commit',
      'latest_commit',
      'list_deploy_tags',
    ]);
    const latest = await structured(client, 'latest_commit');
    expect(latest).toMatchObject({ commit: { sha: repo.commits.dashboard2 } });
    const deployId = `${repo.commits.dashboard2.slice(0, 7)}-0000000001`;
    const args = {
      deployId,
      commit: repo.commits.dashboard2,
      // The server process reads the suite's receipt key from its environment, as it would the user's.
      receipt: await receiptFor({
        stack: 'prod',
        deployId,
        commit: repo.commits.dashboard2,
        artifactDigest: DIGEST,
      }),
      artifactDigest: DIGEST,
      request: 'Deploy',
    };
    const first = await structured(client, 'create_deploy_tag', args);
    const second = await structured(client, 'create_deploy_tag', args);
    expect(first).toMatchObject({ created: true });
    expect(second).toMatchObject({ created: false, name: first.name });
    expect((await repo.git(['tag', '-l', 'dashboard-deploy-*'])).trim()).toBe(first.name);
  });

  it('uses GitHub with --github, taking GITHUB_TOKEN and GITHUB_API_URL from the environment', async () => {
    const github: GitHubDouble = await startGitHubDouble({
      owner: 'acme',
      repo: 'dashboard',
      repoDir: repo.dir,
      token: 'ghs_cli_token',
    });
    cleanups.push(() => github.close());
    const env = { ...baseEnv(), GITHUB_TOKEN: 'ghs_cli_token', GITHUB_API_URL: github.url };
    const client = await stdioClient(['mcp', 'git', '--github', 'acme/dashboard'], env);
    expect(await structured(client, 'latest_commit')).toMatchObject({
      commit: { sha: repo.commits.dashboard2 },
    });
    expect(github.requests).toContainEqual(
      expect.objectContaining({
        method: 'GET',
        path: '/repos/acme/dashboard/commits',
        authorization: 'token ghs_cli_token',
      }),
    );
  });

  it("says when GitHub's rate limit lifts, as the tool's error, with no stack", async () => {
    const github: GitHubDouble = await startGitHubDouble({
      owner: 'acme',
      repo: 'dashboard',
      repoDir: repo.dir,
      token: 'ghs_cli_token',
    });
    cleanups.push(() => github.close());
    const env = { ...baseEnv(), GITHUB_TOKEN: 'ghs_cli_token', GITHUB_API_URL: github.url };
    const client = await stdioClient(['mcp', 'git', '--github', 'acme/dashboard'], env);
    // Whole seconds, as x-ratelimit-reset says it; about half an hour from now.
    const reset = new Date(Math.floor(Date.now() / 1000) * 1000 + 30 * 60_000);
    github.limitRate({ kind: 'primary', reset });
    const result = await client.callTool({ name: 'list_deploy_tags', arguments: {} });
    expect(result.isError).toBe(true);
    const text = JSON.stringify(result.content);
    // A backend's own words stay in the server's log (describeForClient); when to try again does not.
    expect(text).toContain(
      `rate limit stopped it (HttpError): try again after ${reset.toISOString().replace('.000Z', 'Z')}.`,
    );
    expect(text).not.toMatch(/ at .*\.(?:ts|js):\d+/);
    expect(text).not.toContain('ghs_cli_token');
  });

  it("logs a GitHub reply's words escaped: none reaches the operator's terminal as a control", async () => {
    const github: GitHubDouble = await startGitHubDouble({
      owner: 'acme',
      repo: 'dashboard',
      repoDir: repo.dir,
      token: 'ghs_cli_token',
    });
    cleanups.push(() => github.close());
    // Whoever answers at GITHUB_API_URL chooses the words: OSC 52 (ended by BEL) writes the
    // operator's clipboard, ESC [2J clears the screen above it.
    github.answerError({
      path: /\/matching-refs\//,
      status: 422,
      message: 'Validation Failed\u001b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\u0007\u001b[2J',
    });
    const env = { ...baseEnv(), GITHUB_TOKEN: 'ghs_cli_token', GITHUB_API_URL: github.url };
    const client = await stdioClient(['mcp', 'git', '--github', 'acme/dashboard'], env);
    const result = await client.callTool({ name: 'list_deploy_tags', arguments: {} });
    expect(result.isError).toBe(true);
    await client.close();
    const log = await client.logged;
    // Logged, with GitHub's words, as text.
    expect(log).toContain('[frontendops mcp] backend failure:');
    expect(log).toContain('Validation Failed\\u001b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\\u0007\\u001b[2J');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
    expect(log).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
  });

  it('serves Streamable HTTP with --http 0 and the token from FRONTENDOPS_MCP_TOKEN', async () => {
    const child = spawnTracked(process.execPath, [...ARGS, 'mcp', 'git', '--repo', repo.dir, '--http', '0'], {
      env: { ...baseEnv(), FRONTENDOPS_MCP_TOKEN: MCP_TOKEN },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const exited = new Promise((done) => child.on('exit', done));
    cleanups.push(async () => {
      child.kill('SIGTERM');
      await exited;
    });
    const [, url = ''] = await waitForStderr(child, /listening on (http:\/\/127\.0\.0\.1:\d+\/mcp)/);
    const client = new Client({ name: 'cli-http-test', version: '0.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(url), {
        requestInit: { headers: { Authorization: `Bearer ${MCP_TOKEN}` } },
      }),
    );
    cleanups.push(() => client.close());
    expect(await structured(client, 'get_commit', { ref: 'main' })).toMatchObject({
      commit: { sha: repo.commits.docs },
    });
    const refused = await fetch(url, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    expect(refused.status).toBe(401);
  });

  it('refuses --http without FRONTENDOPS_MCP_TOKEN, saying how to set it', async () => {
    const { code, stderr } = await runToExit(['mcp', 'git', '--repo', repo.dir, '--http', '0']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/FRONTENDOPS_MCP_TOKEN.*not set/);
  });

  it('refuses a --repo that is not a git repository', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'frontendops-notgit-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const { code, stderr } = await runToExit(['mcp', 'git', '--repo', dir]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/is not a git repository.*--repo/);
  });
});
