import { request } from 'node:http';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { CallToolResult } from '@modelcontextprotocol/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createLocalGit } from '../../src/adapters/git-local.ts';
import { badInput, isFrontendOpsError } from '../../src/errors.ts';
import { createGitServer } from '../../src/mcp/git-server.ts';
import { createSecrecy } from '../../src/mcp/secrecy.ts';
import { type HttpServing, serveHttp } from '../../src/mcp/serve.ts';
import { toolFailure, toolSuccess } from '../../src/mcp/tool-result.ts';
import type { GitHost } from '../../src/ports.ts';
import { createTestRepo, type TestRepo } from '../support/git-repo.ts';
import { receiptFor } from '../support/receipts.ts';

const TOKEN = 'test-token-0123456789abcdef';
const DIGEST = `sha256:${'ef'.repeat(32)}`;

let repo: TestRepo;
let serving: HttpServing;
let hostCalls = 0;

beforeAll(async () => {
  repo = await createTestRepo();
  const real = createLocalGit({ repoDir: repo.dir });
  // Counts every backend call, so a refused request can be shown to have run nothing.
  const counted: GitHost = {
    latestCommit: counting(real.latestCommit),
    getCommit: counting(real.getCommit),
    commitsBetween: counting(real.commitsBetween),
    createTag: counting(real.createTag),
    listTags: counting(real.listTags),
    readTag: counting(real.readTag),
  };
  serving = await serveHttp(() => createGitServer({ host: counted, defaultPath: 'apps/sophia-dashboard' }), {
    port: 0,
    token: TOKEN,
  });
});
afterAll(async () => {
  await serving?.close();
  await repo?.cleanup();
});

function counting<A extends unknown[], R>(fn: (...args: A) => Promise<R>) {
  return (...args: A) => {
    hostCalls++;
    return fn(...args);
  };
}

const connect = async (headers: Record<string, string>) => {
  const client = new Client({ name: 'http-test', version: '0.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(serving.url), { requestInit: { headers } }));
  return client;
};

// A raw JSON-RPC tools/call, as any HTTP client could send it.
const rawToolCall = async (headers: Record<string, string>) => {
  const deployId = `${repo.commits.docs.slice(0, 7)}-0000000001`;
  const receipt = await receiptFor({
    stack: 'prod',
    deployId,
    commit: repo.commits.docs,
    artifactDigest: DIGEST,
  });
  return fetch(serving.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2025-06-18',
      ...headers,
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: {
        name: 'create_deploy_tag',
        arguments: {
          deployId,
          commit: repo.commits.docs,
          artifactDigest: DIGEST,
          request: 'raw',
          receipt,
        },
      },
    }),
  });
};

/** A POST to `url` with the token and a Host header of our choice (a rebound DNS name sends its own); its status. */
function postWithHost(url: string, host: string): Promise<number> {
  const at = new URL(url);
  return new Promise<number>((resolve, reject) => {
    const req = request(
      {
        host: at.hostname,
        port: at.port,
        path: at.pathname,
        method: 'POST',
        headers: { host, authorization: `Bearer ${TOKEN}` },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end('{}');
  });
}

describe('serveHttp (Streamable HTTP on loopback, bearer token)', () => {
  it('binds 127.0.0.1 on a free port by default', () => {
    expect(serving.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    expect(serving.url).not.toMatch(/:0\//);
  });

  it('serves the tools to a real MCP client that sends the right token', async () => {
    const client = await connect({ Authorization: `Bearer ${TOKEN}` });
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toContain('latest_commit');
      const result = await client.callTool({ name: 'latest_commit', arguments: {} });
      expect(result.structuredContent).toMatchObject({ commit: { sha: repo.commits.dashboard2 } });
    } finally {
      await client.close();
    }
  });

  it('refuses a client without a token or with a wrong one (401), and no tool runs', async () => {
    const before = hostCalls;
    await expect(connect({})).rejects.toThrow();
    await expect(connect({ Authorization: `Bearer ${TOKEN}x` })).rejects.toThrow();

    const attempts: Array<Record<string, string>> = [
      {},
      { authorization: 'Bearer wrong' },
      { authorization: TOKEN },
      { authorization: `Basic ${TOKEN}` },
    ];
    for (const headers of attempts) {
      const response = await rawToolCall(headers);
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await response.text()).not.toContain(TOKEN);
    }
    expect(hostCalls).toBe(before);
    expect((await repo.git(['tag', '-l'])).trim()).toBe('');
  });

  it('the same raw call with the right token does run the tool (so the 401 test can fail)', async () => {
    const response = await rawToolCall({ authorization: `Bearer ${TOKEN}` });
    expect(response.status).toBe(200);
    expect((await repo.git(['tag', '-l'])).trim()).toMatch(/^dashboard-deploy-\d{8}-1$/);
  });

  it('answers 404 off the MCP path and 403 to a foreign Host or Origin header (DNS rebinding)', async () => {
    const other = await fetch(serving.url.replace('/mcp', '/other'), {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(other.status).toBe(404);
    const status = await postWithHost(serving.url, 'evil.example');
    expect(status).toBe(403);
    const fromWebPage = await fetch(serving.url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${TOKEN}`,
        origin: 'http://evil.example',
        'content-type': 'application/json',
      },
      body: '{}',
    });
    expect(fromWebPage.status).toBe(403);
  });

  it('bound to another loopback address, answers at the address it printed; other names and origins stay refused', async () => {
    // `--host 127.0.0.2` printed http://127.0.0.2:<port>/mcp, which answered 403 to every request:
    // the Host check knew only localhost, 127.0.0.1 and [::1].
    const git = createLocalGit({ repoDir: repo.dir });
    const other = await serveHttp(
      () => createGitServer({ host: git, defaultPath: 'apps/sophia-dashboard' }),
      {
        port: 0,
        token: TOKEN,
        host: '127.0.0.2',
      },
    );
    try {
      expect(other.url).toMatch(/^http:\/\/127\.0\.0\.2:\d+\/mcp$/);
      const client = new Client({ name: 'http-test', version: '0.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(other.url), {
          requestInit: { headers: { authorization: `Bearer ${TOKEN}` } },
        }),
      );
      expect((await client.listTools()).tools.map((t) => t.name)).toContain('latest_commit');
      await client.close();
      const port = new URL(other.url).port;
      for (const host of [`evil.example:${port}`, `127.0.0.2.evil.example:${port}`, `127.0.0.3:${port}`]) {
        expect(await postWithHost(other.url, host), host).toBe(403);
      }
      const fromAnotherPort = await fetch(other.url, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${TOKEN}`,
          origin: `http://127.0.0.2:${Number(port) + 1}`,
          'content-type': 'application/json',
        },
        body: '{}',
      });
      expect(fromAnotherPort.status).toBe(403);
    } finally {
      await other.close();
    }
  });

  it('refuses to start without a usable token', async () => {
    const factory = () =>
      createGitServer({ host: createLocalGit({ repoDir: repo.dir }), defaultPath: 'apps/sophia-dashboard' });
    await expect(serveHttp(factory, { port: 0, token: '' })).rejects.toSatisfy((e) =>
      isFrontendOpsError(e, 'BAD_INPUT'),
    );
    await expect(serveHttp(factory, { port: 0, token: 'short' })).rejects.toSatisfy((e) =>
      isFrontendOpsError(e, 'BAD_INPUT'),
    );
  });
});

describe('tool results (shared by every FrontendOps MCP server)', () => {
  it('toolSuccess carries structuredContent and the same data as text after a summary', () => {
    const result = toolSuccess('record_request', { seq: 1, hash: 'h' }, 'One thing.');
    expect(result.structuredContent).toEqual({ seq: 1, hash: 'h' });
    expect(result.content).toEqual([
      { type: 'text', text: 'One thing.\n\n{\n  "seq": 1,\n  "hash": "h"\n}' },
    ]);
    expect(result.isError).toBeUndefined();
  });

  it('toolFailure explains FrontendOpsError and zod failures without stack traces', () => {
    const bad = toolFailure(badInput('Invalid ref "-x": expected a branch.'));
    expect(bad).toEqual({
      isError: true,
      content: [
        {
          type: 'text',
          text: 'BAD_INPUT: Invalid ref "-x": expected a branch. Nothing was changed; fix the arguments and call the tool again.',
        },
      ],
    });
    const parsed = z
      .object({ commit: z.string().regex(/^[0-9a-f]+$/, 'expected a hex sha') })
      .safeParse({ commit: 'x' });
    const zodText = textOf(toolFailure(parsed.error));
    expect(zodText).toMatch(
      /^BAD_INPUT: Invalid arguments — the argument "commit": expected a hex sha\. Nothing was changed; call the tool again with "commit" fixed\.$/,
    );
    expect(zodText).not.toMatch(/\n\s+at /);
  });

  it('a guarded handler turns an unexpected error into a generic isError result that leaks nothing', async () => {
    const logged: string[] = [];
    const original = process.stderr.write;
    process.stderr.write = ((chunk: string | Uint8Array) => {
      logged.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      const result = (await createSecrecy({}).guard(async () => {
        throw new Error('connect ECONNREFUSED s3://secret-hosting-bucket AKIAEXAMPLE');
      })) as CallToolResult;
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/^INTERNAL: It failed unexpectedly \(Error\)/);
      expect(textOf(result)).not.toMatch(/secret-hosting-bucket|AKIA/);
      // The detail went to the server's stderr instead, once.
      expect(logged.filter((line) => line.includes('secret-hosting-bucket'))).toHaveLength(1);
    } finally {
      process.stderr.write = original;
    }
  });
});

const textOf = (result: CallToolResult) =>
  result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
