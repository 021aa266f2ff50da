/**
 * An MCP configuration naming a server that never answers the handshake (a command that is no MCP
 * server, a URL that holds the request open): the agent says so, naming the entry, in the time it
 * was given rather than the SDK's 60 s, and stops the process it spawned.
 */

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { connectAgentClients, type McpConfig } from '../../src/agent/mcp-clients.ts';
import { isFrontendOpsError } from '../../src/errors.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'frontendops-handshake-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A process that reads its stdin and never answers, having written its pid to `file`. */
const silent = (file: string) => ({
  command: process.execPath,
  args: [
    '-e',
    `require('fs').writeFileSync(${JSON.stringify(file)}, String(process.pid)); process.stdin.resume()`,
  ],
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

it('a stdio server that never answers: UPSTREAM naming the entry and its command, and the process is stopped', async () => {
  const pids = { infra: join(dir, 'infra.pid'), git: join(dir, 'git.pid') };
  const config = { mcpServers: { infra: silent(pids.infra), git: silent(pids.git) } } as McpConfig;
  const started = Date.now();
  const error = await connectAgentClients(config, { stderr: 'ignore', handshakeMs: 400 }).then(
    () => {
      throw new Error('it connected');
    },
    (e: unknown) => e,
  );
  expect(Date.now() - started).toBeLessThan(15_000);
  expect(isFrontendOpsError(error, 'UPSTREAM')).toBe(true);
  expect((error as Error).message).toMatch(
    /^The (infra|git) MCP server \(`.*node.* -e .*`\) did not answer the MCP handshake within 0\.4 s, so it was stopped and nothing was asked of it\. Check mcpServers\.(infra|git) in the MCP configuration/,
  );
  // Both were spawned at once; neither is left running. close() ends the child: wait for its exit.
  for (const file of Object.values(pids)) {
    const pid = Number(await readFile(file, 'utf8'));
    await expect.poll(() => alive(pid), { timeout: 10_000, interval: 50 }).toBe(false);
  }
});

it('a Streamable HTTP server that holds the request open: UPSTREAM naming its URL, the request given up', async () => {
  const held: Array<() => void> = [];
  let given = 0;
  let givenUp = 0;
  const server = createServer((_req, res) => {
    given++;
    res.on('close', () => givenUp++);
    held.push(() => res.destroy());
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  try {
    const config = { mcpServers: { infra: { url }, git: { url } } } as McpConfig;
    const error = await connectAgentClients(config, { handshakeMs: 400 }).then(
      () => {
        throw new Error('it connected');
      },
      (e: unknown) => e,
    );
    expect(isFrontendOpsError(error, 'UPSTREAM')).toBe(true);
    expect((error as Error).message).toMatch(
      new RegExp(
        `^The (infra|git) MCP server \\(${url.replace(/\./g, '\\.')}\\) did not answer the MCP handshake within 0\\.4 s`,
      ),
    );
    // The client gave up the requests it had open: none is left to the server.
    expect(given).toBeGreaterThan(0);
    await expect.poll(() => givenUp, { timeout: 10_000, interval: 50 }).toBe(given);
  } finally {
    for (const end of held) end();
    server.closeAllConnections();
    await new Promise<void>((done) => server.close(() => done()));
  }
});
