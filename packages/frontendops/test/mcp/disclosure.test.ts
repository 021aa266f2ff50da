/**
 * What an MCP client learns from errors, and who may reach the HTTP endpoint. Attacks: make the
 * servers fail (a missing or broken outputs file, the server's or one the configuration names, a
 * repository gone from under the git server) and read the local paths out of the messages; call the
 * HTTP endpoint from a page on another local port.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalGit } from '../../src/adapters/git-local.ts';
import { defaultConfig } from '../../src/config.ts';
import { createGitServer } from '../../src/mcp/git-server.ts';
import { createInfraServer } from '../../src/mcp/infra/server.ts';
import { serveHttp } from '../../src/mcp/serve.ts';
import { BIN } from '../support/cli.ts';
import { createTestRepo, type TestRepo } from '../support/git-repo.ts';
import { connectInfra, wrapClient } from '../support/mcp-infra.ts';

let dir: string;
let repo: TestRepo;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'frontendops-disclosure-'));
  repo = await createTestRepo();
});
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  await repo.cleanup();
  await rm(dir, { recursive: true, force: true });
});

async function spawnServer(args: string[]) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, 'mcp', ...args],
    env: { PATH: process.env.PATH ?? '', HOME: dir, AWS_EC2_METADATA_DISABLED: 'true' },
    cwd: dir,
    stderr: 'pipe',
  });
  const client = new Client({ name: 'curious-client', version: '0.0.0' });
  await client.connect(transport);
  cleanups.push(() => client.close());
  return wrapClient(client);
}

describe('errors name no local path to an MCP client', () => {
  it('the infra server, over an outputs file that is missing, then broken', async () => {
    const missing = join(dir, 'secret-place', 'prod-outputs.json');
    const broken = join(dir, 'broken-outputs.json');
    await writeFile(broken, '{ "artifactsBucket": ');
    for (const file of [missing, broken]) {
      const c = await spawnServer(['infra', '--stack', file]);
      const status = await c.call('get_status');
      expect(status.isError, file).toBe(true);
      expect(status.text).toMatch(/outputs file/);
      for (const leak of [file, dir, 'secret-place', 'prod-outputs.json', 'broken-outputs']) {
        expect(JSON.stringify(c.seen), leak).not.toContain(leak);
      }
    }
  });

  it('the infra server, over a configured stack whose outputs file or state directory cannot be read', async () => {
    // The configuration names them, not the server's --stack: refused as the --stack file is, unnamed.
    const outputs = join(dir, 'ops-private', 'qa-outputs.json');
    const stateDir = join(dir, 'ops-private', 'pulumi-state');
    const config = {
      ...defaultConfig(),
      stacks: {
        qa: { backend: 'outputs', file: outputs },
        staging: { backend: `file://${stateDir}`, project: 'sophia' },
      },
    } as Parameters<typeof createInfraServer>[0]['config'];
    const c = await connectInfra(createInfraServer({ config, cwd: dir }));
    cleanups.push(() => c.close());
    const answers = [];
    for (const stack of ['qa', 'staging']) {
      answers.push(await c.call('get_status', { stack }));
      answers.push(await c.call('plan_deploy', { stack, commit: 'abcdef1' }));
    }
    for (const answer of answers) expect(answer.isError).toBe(true);
    expect(answers[0]?.text).toMatch(/^NOT_FOUND: The stack outputs file .* does not exist/);
    for (const leak of [dir, 'ops-private', 'qa-outputs.json', 'pulumi-state']) {
      expect(JSON.stringify(c.seen), leak).not.toContain(leak);
    }
  });

  it("the infra server, over an `env:` backend read from the environment it was given, not the process's", async () => {
    // The server's env names the state directory; the process's has no such variable. The stack is
    // opened from the one the server was given, and what it hides is read from that one too.
    const name = 'FRONTENDOPS_DISCLOSURE_STATE_URL';
    expect(process.env[name]).toBeUndefined();
    const stateDir = join(dir, 'env-private', 'pulumi-state');
    const config = {
      ...defaultConfig(),
      stacks: { staging: { backend: `env:${name}`, project: 'sophia' } },
    } as Parameters<typeof createInfraServer>[0]['config'];
    const c = await connectInfra(
      createInfraServer({ config, cwd: dir, env: { [name]: `file://${stateDir}` } }),
    );
    cleanups.push(() => c.close());
    const answer = await c.call('get_status', { stack: 'staging' });
    expect(answer.isError).toBe(true);
    expect(answer.text).not.toMatch(/is not set/);
    for (const leak of [dir, 'env-private', 'pulumi-state']) {
      expect(JSON.stringify(c.seen), leak).not.toContain(leak);
    }
  });

  it('the infra server, over a pulumi-cli stack whose project file is refused', async () => {
    // The refusal names the project file the pulumi CLI would read: where the server runs, not the client's.
    const cwd = join(dir, 'ops-private', 'infra');
    await mkdir(cwd, { recursive: true });
    await writeFile(join(cwd, 'Pulumi.yaml'), 'name: sophia\nbackend:\n  url: https://pulumi.example.test\n');
    const config = { ...defaultConfig(), stacks: { prod: { backend: 'pulumi-cli' } } } as Parameters<
      typeof createInfraServer
    >[0]['config'];
    const c = await connectInfra(createInfraServer({ config, cwd }));
    cleanups.push(() => c.close());
    const answer = await c.call('get_status', { stack: 'prod' });
    expect(answer.isError).toBe(true);
    expect(answer.text).toMatch(
      /^BAD_INPUT: The Pulumi project file Pulumi\.yaml names a Pulumi backend of its own/,
    );
    for (const leak of [dir, 'ops-private']) expect(JSON.stringify(c.seen), leak).not.toContain(leak);
  });

  it("the infra server hides its environment's secrets from answers quoting them, read from the env it was given", async () => {
    // Each secret variable the server (or the pulumi CLI it runs) reads, planted where an error
    // quotes the configuration's words: the stacks it knows, which an unknown stack's refusal lists.
    const secrets = {
      PULUMI_ACCESS_TOKEN: 'pul-0123456789abcdef0123456789abcdef',
      PULUMI_CONFIG_PASSPHRASE: 'passphrase-of-the-stack-config',
      FRONTENDOPS_MCP_TOKEN: 'mcp-bearer-token-0123456789abcdef',
      FRONTENDOPS_RECEIPT_KEY: 'receipt-key-0123456789abcdef0123456789',
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'oidc-request-token-0123456789abcdef',
      FRONTENDOPS_APPROVER_PASSPHRASE: 'approver-key-passphrase-0123',
      FRONTENDOPS_MODEL_API_KEY: 'model-api-key-0123456789abcdef',
    };
    // Not the test process's values: they are read from the environment the server was given.
    for (const [name, value] of Object.entries(secrets)) expect(process.env[name], name).not.toBe(value);
    const config = {
      ...defaultConfig(),
      stacks: Object.fromEntries(
        Object.values(secrets).map((value) => [value, { backend: 'outputs', file: 'stack.json' }]),
      ),
    } as Parameters<typeof createInfraServer>[0]['config'];
    const c = await connectInfra(createInfraServer({ config, cwd: dir, env: { ...secrets } }));
    cleanups.push(() => c.close());
    const answer = await c.call('get_status', { stack: 'prod' });
    expect(answer.isError).toBe(true);
    expect(answer.text).toMatch(/^NOT_FOUND: Unknown stack "prod" \(this server knows: \[hidden\]/);
    for (const [name, value] of Object.entries(secrets)) {
      expect({ name, shown: JSON.stringify(c.seen).includes(value) }).toEqual({ name, shown: false });
    }
  });

  it("the git server hides its environment's secrets from answers quoting them, read from the env it was given", async () => {
    // A token pasted into a commit message: latest_commit quotes the message. The token is the
    // environment's the server was given (the command's), not the test process's.
    const secrets = {
      GITHUB_TOKEN: 'ghp_0123456789abcdef0123456789abcdef',
      FRONTENDOPS_RECEIPT_KEY: 'receipt-key-0123456789abcdef0123456789',
      FRONTENDOPS_MCP_TOKEN: 'mcp-bearer-token-0123456789abcdef',
    };
    for (const [name, value] of Object.entries(secrets)) expect(process.env[name], name).not.toBe(value);
    const own = await createTestRepo();
    cleanups.push(() => own.cleanup());
    await writeFile(join(own.dir, 'ci.yml'), 'on: push\n');
    await own.git(['add', 'ci.yml']);
    await own.git(['commit', '--quiet', '-m', `ci: try ${Object.values(secrets).join(' ')}`]);
    const c = await connectInfra(
      createGitServer({ host: createLocalGit({ repoDir: own.dir }), defaultPath: '.', env: { ...secrets } }),
    );
    cleanups.push(() => c.close());
    const answer = await c.call('latest_commit');
    expect(answer.isError).toBe(false);
    expect(answer.text).toContain('"ci: try [hidden]');
    for (const [name, value] of Object.entries(secrets)) {
      expect({ name, shown: JSON.stringify(c.seen).includes(value) }).toEqual({ name, shown: false });
    }
  });

  it('the git server, when its repository disappears under it', async () => {
    const c = await spawnServer(['git', '--repo', repo.dir]);
    expect((await c.call('latest_commit', { path: 'apps/sophia-dashboard' })).isError).toBe(false);
    await rm(join(repo.dir, '.git'), { recursive: true, force: true });
    const failed = await c.call('latest_commit', { path: 'apps/sophia-dashboard' });
    expect(failed.isError).toBe(true);
    expect(JSON.stringify(c.seen)).not.toContain(repo.dir);
    expect(JSON.stringify(c.seen)).not.toContain(tmpdir());
  });
});

describe('the HTTP endpoint answers its own origin only', () => {
  it('refuses a page on another port of the same host, and takes its own', async () => {
    const other = await createTestRepo();
    cleanups.push(() => other.cleanup());
    const token = 'a-long-enough-test-token-0123456789';
    const serving = await serveHttp(
      () =>
        createGitServer({
          host: createLocalGit({ repoDir: other.dir }),
          defaultPath: 'apps/sophia-dashboard',
        }),
      { port: 0, token },
    );
    cleanups.push(() => serving.close());
    const { port } = new URL(serving.url);
    const post = (origin: string) =>
      fetch(serving.url, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          origin,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: {
            protocolVersion: '2025-06-18',
            capabilities: {},
            clientInfo: { name: 'page', version: '0' },
          },
        }),
      });
    expect((await post(`http://127.0.0.1:${Number(port) + 1}`)).status).toBe(403);
    expect((await post(`http://localhost:${port}`)).status).toBe(403);
    expect((await post(`http://127.0.0.1:${port}`)).status).toBe(200);
  });
});
