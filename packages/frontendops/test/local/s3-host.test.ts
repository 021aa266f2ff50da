/**
 * One embedded S3 process runs servers one after another (src/local/s3-server.ts, LocalS3Host): the
 * tests reuse a process per worker. Nothing of a stopped server may outlive it in the next one: its
 * key is refused, its port is closed, its objects are not there, its requests are not reported to
 * the next server's listener, and a request it was holding when it stopped is cut, not served later.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, HeadBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../src/adapters/s3.ts';
import { type LocalS3Host, type S3RequestRecord, startLocalS3Host } from '../../src/local/s3-server.ts';
import { createLocalCredentials } from '../../src/stacks/local-env-file.ts';
import { trackPid } from '../support/processes.ts';

const BUCKET = 'host-bucket';
let host: LocalS3Host;
let untrack: () => void;
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'frontendops-s3-host-'));
  host = startLocalS3Host();
  untrack = trackPid(host.pid);
});
afterAll(async () => {
  await host.dispose();
  untrack();
  await rm(tmp, { recursive: true, force: true });
});

async function serve(name: string) {
  const credentials = createLocalCredentials();
  const requests: S3RequestRecord[] = [];
  const server = await host.start({
    directory: join(tmp, name),
    buckets: [BUCKET],
    credentials,
    onRequest: (record) => requests.push(record),
  });
  const client = createS3Client({ endpoint: server.endpoint, credentials, maxAttempts: 1 });
  return { server, credentials, requests, client };
}

const outcome = (promise: Promise<unknown>) =>
  promise.then(
    () => 'ok',
    (error: Error & { code?: string }) => error.code ?? error.name,
  );

describe('an embedded S3 process reused for a second server', () => {
  it('gives the second server nothing of the first: key, port, objects, request reports', async () => {
    const first = await serve('first');
    await first.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'secret.txt', Body: 'one' }));
    await first.server.flush();
    expect(first.requests.map((r) => r.method)).toEqual(['PUT']);
    const firstEndpoint = first.server.endpoint;
    await first.server.close();
    first.client.destroy();

    const second = await serve('second');
    expect(second.server.pid).toBe(first.server.pid);
    expect(second.server.endpoint).not.toBe(firstEndpoint);
    try {
      // The first server's key, sent to the second server: unknown there.
      const stale = createS3Client({
        endpoint: second.server.endpoint,
        credentials: first.credentials,
        maxAttempts: 1,
      });
      expect(await outcome(stale.send(new HeadBucketCommand({ Bucket: BUCKET })))).not.toBe('ok');
      stale.destroy();
      // The first server's port: closed.
      const gone = createS3Client({
        endpoint: firstEndpoint,
        credentials: second.credentials,
        maxAttempts: 1,
      });
      expect(await outcome(gone.send(new HeadBucketCommand({ Bucket: BUCKET })))).toMatch(/ECONNREFUSED/);
      gone.destroy();
      // Its objects live in its own directory.
      expect(
        await outcome(second.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'secret.txt' }))),
      ).toBe('NoSuchKey');
      await second.server.flush();
      expect(first.requests).toHaveLength(1);
      expect(second.requests.map((r) => `${r.method} ${r.status}`)).toEqual(['HEAD 403', 'GET 404']);
    } finally {
      await second.server.close();
      second.client.destroy();
    }
  });

  it('cuts a request the stopped server was holding; the next server does not serve it', async () => {
    const first = await serve('held');
    const paused = first.server.pauseAfter({ method: 'PUT', nth: 1 });
    await first.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'a.txt', Body: 'a' }));
    await paused;
    const held = outcome(
      first.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'b.txt', Body: 'b' })),
    );
    await first.server.close();
    expect(await held).not.toBe('ok');
    first.client.destroy();

    const next = await serve('after-held');
    try {
      await next.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'c.txt', Body: 'c' }));
      await next.server.flush();
      expect(next.requests.map((r) => r.key)).toEqual(['c.txt']);
      expect(first.requests.map((r) => r.key)).not.toContain('c.txt');
    } finally {
      await next.server.close();
      next.client.destroy();
    }
  });

  it('runs one server at a time: a second start while one runs is refused, and changes nothing', async () => {
    const running = await serve('running');
    try {
      await expect(
        host.start({
          directory: join(tmp, 'other'),
          buckets: [BUCKET],
          credentials: createLocalCredentials(),
        }),
      ).rejects.toThrow(/already runs a server: close it first/);
      await running.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'still.txt', Body: 's' }));
    } finally {
      await running.server.close();
      running.client.destroy();
    }
    expect(host.alive).toBe(true);
  });
});
