/**
 * No request waits forever (src/adapters/http.ts). Each SDK client of the tool — S3, CloudFront,
 * CloudFront KeyValueStore — is pointed at a server that takes the connection and then goes silent,
 * as a stalled proxy or a half-open connection does: every attempt ends after the idle bound, is
 * retried, and the call fails with an error that says it timed out, instead of hanging (and holding
 * the deploy lock) until someone kills it. A server that stops in the middle of a body is cut too.
 */
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createCloudFrontCdn } from '../../src/adapters/cloudfront.ts';
import { createCloudFrontReleaseStore } from '../../src/adapters/cloudfront-kvs.ts';
import { CONNECT_TIMEOUT_MS, IDLE_TIMEOUT_MS, requestHandler } from '../../src/adapters/http.ts';
import { createS3Store } from '../../src/adapters/s3.ts';

const IDLE_MS = 150;
const credentials = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
};

interface Stalling {
  endpoint: string;
  /** Connections the server took (one per attempt: a timed-out connection is not reused). */
  connections: number;
  server: Server;
}

const servers: Stalling[] = [];
const sockets = new Set<Socket>();
afterEach(async () => {
  for (const socket of sockets) socket.destroy();
  sockets.clear();
  await Promise.all(servers.splice(0).map(({ server }) => new Promise((r) => server.close(r))));
});

/** A TCP server that reads what it is sent and answers `answer` (by default nothing), then goes silent. */
async function stallingServer(answer = ''): Promise<Stalling> {
  const stalling: Stalling = { endpoint: '', connections: 0, server: createServer() };
  stalling.server.on('connection', (socket) => {
    stalling.connections++;
    sockets.add(socket);
    let answered = false;
    socket.on('data', () => {
      if (answer && !answered) socket.write(answer);
      answered = true;
    });
    socket.on('error', () => undefined);
  });
  stalling.server.listen(0, '127.0.0.1');
  await once(stalling.server, 'listening');
  const address = stalling.server.address() as { port: number };
  stalling.endpoint = `http://127.0.0.1:${address.port}`;
  servers.push(stalling);
  return stalling;
}

async function failureOf(work: () => Promise<unknown>): Promise<{ message: string; ms: number }> {
  const started = performance.now();
  try {
    await work();
  } catch (error) {
    const cause = (error as { cause?: Error }).cause;
    return {
      message: `${(error as Error).message} ${cause?.message ?? ''}`,
      ms: performance.now() - started,
    };
  }
  throw new Error('the call succeeded against a server that never answers');
}

/** Both attempts (one connection each) ended on the idle bound, soon, and the error says so. */
function expectTwoTimedOutAttempts(failure: { message: string; ms: number }, server: Stalling) {
  expect(failure.message).toMatch(/timed out after 150 ms of inactivity/);
  expect(server.connections).toBe(2);
  expect(failure.ms).toBeLessThan(5_000);
}

describe('every AWS client of the tool bounds a silent connection', () => {
  it('defaults: 10 s to connect, 60 s of silence', () => {
    const handler = requestHandler();
    expect(handler.connectionTimeout).toBe(CONNECT_TIMEOUT_MS);
    expect(handler.socketTimeout).toBe(IDLE_TIMEOUT_MS);
    expect([CONNECT_TIMEOUT_MS, IDLE_TIMEOUT_MS]).toEqual([10_000, 60_000]);
  });

  it('S3: a server that never answers fails the read after each attempt timed out', async () => {
    const server = await stallingServer();
    const store = createS3Store({
      bucket: 'site',
      endpoint: server.endpoint,
      credentials,
      maxAttempts: 2,
      idleTimeoutMs: IDLE_MS,
    });
    const failure = await failureOf(() => store.get('index.html'));
    expectTwoTimedOutAttempts(failure, server);
    expect(failure.message).toMatch(/site/);
  });

  it('S3: a server that stops in the middle of a body is cut, not waited on', async () => {
    const server = await stallingServer(
      'HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1000\r\nETag: "e"\r\n\r\n<!doctype html>',
    );
    const store = createS3Store({
      bucket: 'site',
      endpoint: server.endpoint,
      credentials,
      maxAttempts: 1,
      readAttempts: 2,
      idleTimeoutMs: IDLE_MS,
    });
    const failure = await failureOf(() => store.get('index.html'));
    // readAttempts: 2 reads of the body, each cut after the bound.
    expectTwoTimedOutAttempts(failure, server);
    expect(failure.message).toMatch(/site/);
  });

  it('CloudFront: an invalidation sent to a silent server fails, saying it timed out', async () => {
    const server = await stallingServer();
    const cdn = createCloudFrontCdn({
      distributionId: 'E2EXAMPLE',
      endpoint: server.endpoint,
      credentials,
      maxAttempts: 2,
      idleTimeoutMs: IDLE_MS,
    });
    const failure = await failureOf(() =>
      cdn.invalidate({ callerReference: 'deploy-1', paths: ['/index.html'] }),
    );
    expectTwoTimedOutAttempts(failure, server);
  });

  it('CloudFront KeyValueStore: reading the release pointer from a silent server fails, saying so', async () => {
    const server = await stallingServer();
    const store = createCloudFrontReleaseStore({
      kvsArn: 'arn:aws:cloudfront::123456789012:key-value-store/releases',
      // The SDK puts the account id in front of the host; the adapter resolves <account>.localhost.
      endpoint: server.endpoint.replace('127.0.0.1', 'localhost'),
      credentials,
      maxAttempts: 2,
      idleTimeoutMs: IDLE_MS,
    });
    const failure = await failureOf(() => store.read());
    expectTwoTimedOutAttempts(failure, server);
  });
});
