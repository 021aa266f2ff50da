/**
 * Serving the infra server over stdio as `frontendops mcp infra` does (src/mcp/serve.ts), while a
 * run_sync copies: when the client closes the server's stdin (it went away), or the server is told to
 * stop (Ctrl-C, SIGTERM), the sync stops at its next safe point, before its switch, and serving ends
 * only once it has — the process neither goes on deploying for a client that is gone nor leaves in
 * the middle of a write.
 */
import { PassThrough } from 'node:stream';
import {
  Client,
  type JSONRPCMessage,
  ReadBuffer,
  serializeMessage,
  type Transport,
} from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployArtifact } from '../../../src/deploy/deploy.ts';
import { serveStdio } from '../../../src/mcp/serve.ts';
import { holdCopies } from '../../support/hold-copies.ts';
import { APP, COMMITS, type InfraFixture, startInfraFixture } from '../../support/mcp-infra.ts';

let f: InfraFixture;

beforeAll(async () => {
  f = await startInfraFixture({ stack: 'interrupt-stdio' });
  await deployArtifact(f.t.site, {
    app: APP,
    commit: COMMITS[0],
    request: { text: 'first', actor: 'test', planner: 'cli', at: new Date().toISOString() },
  });
});
afterAll(async () => {
  await f?.t.stop();
});

/** A client's end of the server's stdin and stdout, as a parent process holds them. */
class PipeTransport implements Transport {
  onmessage?: (message: JSONRPCMessage) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  private readonly buffer = new ReadBuffer();
  constructor(
    private readonly stdin: PassThrough,
    private readonly stdout: PassThrough,
  ) {}
  async start() {
    this.stdout.on('data', (chunk: Buffer) => {
      this.buffer.append(chunk);
      for (let m = this.buffer.readMessage(); m; m = this.buffer.readMessage()) this.onmessage?.(m);
    });
  }
  async send(message: JSONRPCMessage) {
    this.stdin.write(serializeMessage(message));
  }
  async close() {
    this.stdin.end();
    this.onclose?.();
  }
}

/** Serves over a pair of pipes and starts a run_sync of COMMITS[1] through a client on them. */
async function syncOverStdio() {
  const held = holdCopies(f.t.site, { only: 'every' });
  const notes: string[] = [];
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  let stop = () => {};
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  let ended = false;
  const serving = serveStdio(
    () => f.server({ openSite: async () => held.site, onNotice: (n) => notes.push(n) }),
    { stdin, stdout, stopped },
  ).then(() => {
    ended = true;
  });
  const client = new Client({ name: 'stdio-parent', version: '0.0.0' });
  await client.connect(new PipeTransport(stdin, stdout));
  const target = await client.callTool({ name: 'get_deploy_target', arguments: { commit: COMMITS[1] } });
  const handle = (target.structuredContent as { handle: string }).handle;
  const sync = client.callTool({ name: 'run_sync', arguments: { handle } });
  sync.catch(() => {});
  await held.reached;
  return { held, notes, client, stdin, stop, serving, ended: () => ended };
}

async function expectStoppedBeforeSwitch(run: Awaited<ReturnType<typeof syncOverStdio>>) {
  try {
    await expect.poll(() => run.notes.join('\n')).toMatch(/stops at its next safe point/);
    // Serving has not ended: the sync is still stopping (its copies are held).
    expect(run.ended()).toBe(false);
  } finally {
    run.held.release();
  }
  await run.serving;
  expect(run.notes.join('\n')).toMatch(/stopped before the switch: nothing went live/);
  expect(run.held.copied.filter((key) => key.endsWith('.html'))).toEqual([]);
  expect((await f.t.site.records.readPointer())?.value.commit).toBe(COMMITS[0]);
  expect((await f.t.site.records.readPending())?.stoppedBy).toMatchObject({ code: 'INTERRUPTED' });
}

describe('the infra server over stdio, its sync in flight', () => {
  it('its client closes stdin: the sync stops before its switch, and serving ends once it has', async () => {
    const run = await syncOverStdio();
    run.stdin.end();
    await expectStoppedBeforeSwitch(run);
    await run.client.close();
  });

  it('it is told to stop (Ctrl-C, SIGTERM): the same', async () => {
    const run = await syncOverStdio();
    run.stop();
    await expectStoppedBeforeSwitch(run);
    await run.client.close();
  });
});
