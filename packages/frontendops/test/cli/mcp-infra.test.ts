/**
 * The infra server as operators run it: `frontendops mcp infra --stack <outputs.json>` over stdio
 * (a spawned process, credentials from the standard AWS environment variables, the CloudFront
 * endpoint from AWS_ENDPOINT_URL_CLOUDFRONT), and Streamable HTTP behind the bearer token — where
 * every request gets a fresh server instance, so handles must verify across instances.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { createInfraServer } from '../../src/mcp/infra/server.ts';
import { serveHttp } from '../../src/mcp/serve.ts';
import { type BucketSnapshot, snapshotStack } from '../support/bucket-snapshot.ts';
import { BIN, runCli, waitForStderr } from '../support/cli.ts';
import { HOSTING, requestBy, STACK } from '../support/deploy-env.ts';
import { APP, COMMITS, type InfraFixture, startInfraFixture, wrapClient } from '../support/mcp-infra.ts';
import { spawnTracked } from '../support/processes.ts';

const TOKEN = 'infra-http-test-token-0123456789';

let f: InfraFixture;
let outputsFile: string;
let configFile: string;
const cleanups: Array<() => Promise<unknown>> = [];
/** The stack as the cases start from it: nothing deployed; COMMITS[0] live. */
let nothingLive: BucketSnapshot;
let firstLive: BucketSnapshot;

beforeAll(async () => {
  f = await startInfraFixture();
  outputsFile = await f.t.writeOutputs({ cdn: true });
  configFile = join(f.t.tmp, 'frontendops.config.json');
  await writeFile(configFile, JSON.stringify({ protected: [] }));
  nothingLive = await snapshotStack(f.t.site);
  await deployArtifact(f.t.site, { app: APP, commit: COMMITS[0], request: requestBy('deploy the first') });
  firstLive = await snapshotStack(f.t.site);
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(() => f?.t.stop());

function cliEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('AWS_') && !k.startsWith('FRONTENDOPS_')) env[k] = v;
  }
  return {
    ...env,
    ...f.t.cliEnv(),
    AWS_EC2_METADATA_DISABLED: 'true',
    FRONTENDOPS_CONFIG: configFile,
    ...extra,
  };
}

describe('frontendops mcp infra (spawned) and over HTTP', () => {
  it('serves the three deploy steps over stdio from an outputs file', async () => {
    await nothingLive.restore();
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, 'mcp', 'infra', '--stack', outputsFile],
      env: cliEnv(),
      stderr: 'pipe',
    });
    const client = new Client({ name: 'stdio-e2e', version: '0.0.0' });
    await client.connect(transport);
    cleanups.push(() => client.close());
    const c = wrapClient(client);
    const invalidations = f.t.cdn.createRequests().length;

    expect((await client.listTools()).tools).toHaveLength(15);
    const target = await c.call('get_deploy_target', { commit: COMMITS[0] });
    expect(target.isError).toBe(false);
    expect(target.structured).toMatchObject({ stack: STACK, approvalRequired: false, filesToCopy: 8 });
    const sync = await c.call('run_sync', { handle: target.structured.handle });
    expect(sync.structured).toMatchObject({ outcome: 'synced', copied: 8 });
    const inv = await c.call('invalidate_cdn', { deployId: sync.structured.deployId });
    expect(inv.structured).toMatchObject({
      outcome: 'succeeded',
      paths: ['/', '/favicon.ico', '/index.html', '/robots.txt'],
    });
    // The real CloudFront adapter reached the double through AWS_ENDPOINT_URL_CLOUDFRONT.
    expect(f.t.cdn.createRequests()).toHaveLength(invalidations + 1);
    const status = await c.call('get_status');
    expect(status.structured).toMatchObject({ live: { deployId: sync.structured.deployId } });
    expect(JSON.stringify(c.seen)).not.toContain(HOSTING);
  });

  it('starts without a stack it can open: the tools are listed, and every call says how to configure one', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, 'mcp', 'infra'],
      env: cliEnv({ FRONTENDOPS_CONFIG: join(f.t.tmp, 'no-stacks.json') }),
      cwd: f.t.tmp,
      stderr: 'pipe',
    });
    await writeFile(join(f.t.tmp, 'no-stacks.json'), JSON.stringify({}));
    const client = new Client({ name: 'claude-desktop-like', version: '0.0.0' });
    await client.connect(transport);
    cleanups.push(() => client.close());
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('get_deploy_target');
    const status = await wrapClient(client).call('get_status');
    expect(status.isError).toBe(true);
    expect(status.text).toMatch(/started without a stack.*Pass "stack".*--stack <name>/);
    const unknown = await wrapClient(client).call('get_status', { stack: 'prod' });
    expect(unknown.isError).toBe(true);
    expect(unknown.text).toMatch(/NOT_FOUND: Unknown stack "prod".*frontendops\.config\.json/);
    // A client names stacks; it is not told to pass a file path, which the tool would refuse.
    expect(unknown.text).toMatch(/Pass one of those names as "stack"/);
    expect(unknown.text).not.toMatch(/outputs JSON file|npx frontendops dev/);
  });

  it("a default stack that names an outputs file in capitals is a file too: its path stays the server's", async () => {
    const dir = join(f.t.tmp, 'capitals');
    await mkdir(dir, { recursive: true });
    const config = join(dir, 'frontendops.config.json');
    await writeFile(config, JSON.stringify({ defaultStack: 'Missing.JSON' }));
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, 'mcp', 'infra'],
      env: cliEnv({ FRONTENDOPS_CONFIG: config }),
      cwd: dir,
      stderr: 'pipe',
    });
    const client = new Client({ name: 'path-blind', version: '0.0.0' });
    await client.connect(transport);
    cleanups.push(() => client.close());
    const status = await wrapClient(client).call('get_status');
    expect(status.isError).toBe(true);
    expect(status.text).toMatch(/NOT_FOUND/);
    expect(status.text).not.toContain(f.t.tmp);
  });

  it("a stack that cannot be opened at start is warned of escaped: the configuration's words are no terminal sequence", async () => {
    // The configuration is a file of the repository: its default stack's file name and a stack's
    // apiUrl are quoted by the warning, and an OSC 52 sequence in them would write the clipboard.
    const clipboard = '\u001b]52;c;cm0gLXJmIH4=\u0007';
    const dir = join(f.t.tmp, 'escapes');
    await mkdir(dir, { recursive: true });
    const config = join(dir, 'frontendops.config.json');
    await writeFile(
      config,
      JSON.stringify({
        defaultStack: `stacks/${clipboard}.json`,
        stacks: {
          prod: {
            backend: 'pulumi-cloud',
            organization: 'acme',
            project: 'dashboard',
            apiUrl: `https://pulumi.example/${clipboard}`,
          },
        },
      }),
    );
    for (const args of [
      ['mcp', 'infra'],
      ['mcp', 'infra', '--stack', 'prod'],
    ]) {
      // stdin closed: the server starts, warns, and ends with its client gone.
      const out = await runCli(args, cliEnv({ FRONTENDOPS_CONFIG: config, PULUMI_BACKEND_URL: '' }), dir);
      expect(out.stderr).toMatch(/^warning: the stack .* cannot be opened yet: /m);
      expect(out.stderr).toContain('\\u001b]52;c;cm0gLXJmIH4=\\u0007');
      const raw = out.stderr.includes('\u001b') || out.stderr.includes('\u0007');
      expect({ args, raw }).toEqual({ args, raw: false });
    }
  });

  it('serves Streamable HTTP with --http 0 behind FRONTENDOPS_MCP_TOKEN', async () => {
    await firstLive.restore();
    const child = spawnTracked(
      process.execPath,
      [BIN, 'mcp', 'infra', '--stack', outputsFile, '--http', '0'],
      {
        env: cliEnv({ FRONTENDOPS_MCP_TOKEN: TOKEN }),
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    const exited = new Promise((done) => child.on('exit', done));
    cleanups.push(async () => {
      child.kill('SIGTERM');
      await exited;
    });
    const [, url = ''] = await waitForStderr(child, /listening on (http:\/\/127\.0\.0\.1:\d+\/mcp)/);
    const refused = await fetch(url, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    expect(refused.status).toBe(401);
    const client = new Client({ name: 'http-e2e', version: '0.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(url), {
        requestInit: { headers: { Authorization: `Bearer ${TOKEN}` } },
      }),
    );
    cleanups.push(() => client.close());
    const status = await wrapClient(client).call('get_status');
    expect(status.structured).toMatchObject({ stack: STACK, live: { commit: COMMITS[0] } });
  });

  it('warns at start of a protected stack whose GitHub job is named by its repository’s name only', async () => {
    const github = { repository: 'sophia/dashboard', environment: 'production' };
    const firstWords = async (ids: Record<string, string>) => {
      const config = join(f.t.tmp, `github-${Object.keys(ids).length}.json`);
      await writeFile(
        config,
        JSON.stringify({ protected: [STACK], approval: { github: { ...github, ...ids } } }),
      );
      const child = spawnTracked(process.execPath, [BIN, 'mcp', 'infra', '--http', '0'], {
        env: cliEnv({ FRONTENDOPS_MCP_TOKEN: TOKEN, FRONTENDOPS_CONFIG: config }),
        cwd: f.t.tmp,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const exited = new Promise((done) => child.on('exit', done));
      try {
        const [said = ''] = await waitForStderr(child, /warning: approval\.github[^\n]*\n|listening on/);
        return said;
      } finally {
        child.kill('SIGTERM');
        await exited;
      }
    };
    expect(await firstWords({})).toMatch(
      new RegExp(
        `^warning: approval\\.github of ${STACK} names sophia/dashboard without repositoryId or ownerId: a repository deleted and created again under that name.*Add "repositoryId" and "ownerId" to it in frontendops\\.config\\.json \\(\`gh api repos/sophia/dashboard --jq '\\.id, \\.owner\\.id'\``,
      ),
    );
    expect(await firstWords({ repositoryId: '700100200', ownerId: '600100200' })).toBe('listening on');
  });

  it('over HTTP (serveHttp): no token → 401; a handle from one request works in the next (shared secret)', async () => {
    await firstLive.restore();
    const secret = randomBytes(32);
    let instances = 0;
    const serving = await serveHttp(
      () => {
        instances++;
        return createInfraServer({
          config: f.config(),
          openSite: async () => f.t.site,
          defaultStack: STACK,
          secret,
        });
      },
      { port: 0, token: TOKEN },
    );
    cleanups.push(() => serving.close());

    const wrongToken = await fetch(serving.url, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json', authorization: 'Bearer not-the-token-at-all' },
    });
    expect(wrongToken.status).toBe(401);
    const anonymous = new Client({ name: 'anonymous', version: '0.0.0' });
    await expect(
      anonymous.connect(new StreamableHTTPClientTransport(new URL(serving.url))),
    ).rejects.toThrow();

    const client = new Client({ name: 'http-test', version: '0.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(serving.url), {
        requestInit: { headers: { Authorization: `Bearer ${TOKEN}` } },
      }),
    );
    cleanups.push(() => client.close());
    const c = wrapClient(client);
    const target = await c.call('get_deploy_target', { commit: COMMITS[1] });
    const before = instances;
    const sync = await c.call('run_sync', { handle: target.structured.handle });
    expect(instances).toBeGreaterThan(before); // a different server instance verified the handle
    expect(sync.structured).toMatchObject({ outcome: 'synced', deployId: target.structured.deployId });
    const inv = await c.call('invalidate_cdn', { deployId: sync.structured.deployId });
    expect(inv.structured.outcome).toBe('succeeded');
  });

  it('over HTTP a protected stack is refused with how to approve when the client cannot be asked', async () => {
    await firstLive.restore();
    const secret = randomBytes(32);
    const serving = await serveHttp(
      () =>
        createInfraServer({
          config: f.config([STACK]),
          openSite: async () => ({
            ...f.t.site,
            protected: true,
            approval: { approvers: { Ada: `ed25519:${'A'.repeat(43)}` }, trustElicitation: false },
          }),
          defaultStack: STACK,
          secret,
        }),
      { port: 0, token: TOKEN },
    );
    cleanups.push(() => serving.close());
    const client = new Client({ name: 'http-test', version: '0.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(serving.url), {
        requestInit: { headers: { Authorization: `Bearer ${TOKEN}` } },
      }),
    );
    cleanups.push(() => client.close());
    const c = wrapClient(client);
    const live = (await f.t.site.records.readPointer())?.value.deployId;
    const target = await c.call('get_deploy_target', { commit: COMMITS[2] });
    const sync = await c.call('run_sync', { handle: target.structured.handle });
    expect(sync.isError).toBe(true);
    expect(sync.text).toContain(`frontendops approve ${target.structured.deployId} --stack ${STACK}`);
    expect((await f.t.site.records.readPointer())?.value.deployId).toBe(live);
  });

  it('over HTTP on the 2026-07-28 protocol, a client with elicitation is asked and its accept approves', async () => {
    await firstLive.restore();
    const secret = randomBytes(32);
    const serving = await serveHttp(
      () =>
        createInfraServer({
          config: f.config([STACK]),
          // This stack trusts its clients' answers: what is under test is the 2026 round trip.
          openSite: async () => ({
            ...f.t.site,
            protected: true,
            approval: { approvers: {}, trustElicitation: true },
          }),
          defaultStack: STACK,
          secret,
        }),
      { port: 0, token: TOKEN },
    );
    cleanups.push(() => serving.close());
    const client = new Client(
      { name: 'modern-agent', version: '0.0.0' },
      { capabilities: { elicitation: { form: {} } }, versionNegotiation: { mode: { pin: '2026-07-28' } } },
    );
    const asked: string[] = [];
    client.setRequestHandler('elicitation/create', async (request) => {
      asked.push((request.params as { message: string }).message);
      return { action: 'accept', content: { confirm: true, approver: 'HTTP Approver' } };
    });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(serving.url), {
        requestInit: { headers: { Authorization: `Bearer ${TOKEN}` } },
      }),
    );
    cleanups.push(() => client.close());
    const c = wrapClient(client);
    const target = await c.call('get_deploy_target', { commit: COMMITS[2] });
    const sync = await c.call('run_sync', { handle: target.structured.handle });
    expect(sync.structured).toMatchObject({
      outcome: 'synced',
      approvedBy: expect.stringMatching(/^HTTP Approver \(/),
    });
    expect(asked).toHaveLength(1);
    expect(asked[0]).toContain(target.structured.description as string);
  });
});
