/**
 * The embedded S3 server honours conditional writes on PutObject as S3 documents them, through the
 * AWS SDK: If-None-Match: * creates only (412 once the key exists), If-Match: <etag> replaces only
 * that version (412 for another, 404 NoSuchKey with no object), other If-None-Match values and
 * conditions on a copy are 501. Of many creates racing for one key exactly one wins, as the deploy
 * lock needs. DeleteObject with If-Match deletes only the version named, as S3 does (412 for another,
 * 404 NoSuchKey with no object), and so does the store's deleteIf, through it. With conditionalWrites
 * off it ignores them, as s3rver and some S3-compatible servers do.
 */
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client, createS3Store } from '../../src/adapters/s3.ts';
import { startTestS3, type TestS3 } from '../support/local-s3.ts';
import { startS3Proxy } from '../support/s3-proxy.ts';

const BUCKET = 'conditional';
const servers: TestS3[] = [];
const clients: S3Client[] = [];

async function server(conditionalWrites: boolean) {
  const s3 = await startTestS3([BUCKET], { conditionalWrites });
  servers.push(s3);
  const client = createS3Client({ endpoint: s3.endpoint, credentials: s3.credentials, maxAttempts: 1 });
  clients.push(client);
  const put = (Key: string, Body: string, condition: { IfNoneMatch?: string; IfMatch?: string } = {}) =>
    client.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body, ...condition }));
  const del = (Key: string, IfMatch?: string) =>
    client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key, ...(IfMatch ? { IfMatch } : {}) }));
  return { s3, client, put, del };
}
afterAll(async () => {
  for (const client of clients) client.destroy();
  for (const s3 of servers) await s3.stop();
});

/** The HTTP status and S3 error code a request failed with. */
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => 'succeeded',
    (error: unknown) =>
      error instanceof S3ServiceException ? `${error.$metadata.httpStatusCode} ${error.name}` : String(error),
  );

describe('conditional writes honoured', () => {
  let s: Awaited<ReturnType<typeof server>>;
  beforeAll(async () => {
    s = await server(true);
  });

  it('If-None-Match: * creates once; If-Match replaces only the version named', async () => {
    const created = await s.put('lock.json', 'a', { IfNoneMatch: '*' });
    expect(await failure(s.put('lock.json', 'b', { IfNoneMatch: '*' }))).toBe('412 PreconditionFailed');
    expect(await failure(s.put('lock.json', 'c', { IfMatch: '"0123456789abcdef0123456789abcdef"' }))).toBe(
      '412 PreconditionFailed',
    );
    const replaced = await s.put('lock.json', 'd', { IfMatch: created.ETag as string });
    expect(replaced.ETag).not.toBe(created.ETag);
    // The version replaced is gone: its ETag no longer matches.
    expect(await failure(s.put('lock.json', 'e', { IfMatch: created.ETag as string }))).toBe(
      '412 PreconditionFailed',
    );
    expect((await s.s3.store(BUCKET).get('lock.json'))?.body.toString()).toBe('d');
    expect(await failure(s.put('absent.json', 'x', { IfMatch: created.ETag as string }))).toBe(
      '404 NoSuchKey',
    );
    expect(await s.s3.store(BUCKET).get('absent.json')).toBeNull();
  });

  it('takes If-None-Match: * only, and no condition on a copy (501), writing nothing', async () => {
    expect(await failure(s.put('other.json', 'x', { IfNoneMatch: '"abc"' }))).toBe('501 NotImplemented');
    await s.put('source.json', 'src');
    const copy = s.client.send(
      new CopyObjectCommand({
        Bucket: BUCKET,
        Key: 'copy.json',
        CopySource: `${BUCKET}/source.json`,
        IfNoneMatch: '*',
      }),
    );
    expect(await failure(copy)).toBe('501 NotImplemented');
    expect(await s.s3.store(BUCKET).get('other.json')).toBeNull();
    expect(await s.s3.store(BUCKET).get('copy.json')).toBeNull();
  });

  it('of twenty creates racing for one key, exactly one wins', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => failure(s.put('race.json', `writer ${i}`, { IfNoneMatch: '*' }))),
    );
    expect(results.filter((r) => r === 'succeeded')).toHaveLength(1);
    expect(results.filter((r) => r === '412 PreconditionFailed')).toHaveLength(19);
  });

  it('DeleteObject with If-Match deletes only the version named: 412 for another, 404 with none', async () => {
    const first = await s.put('pin.json', 'first');
    const second = await s.put('pin.json', 'second');
    expect(await failure(s.del('pin.json', first.ETag as string))).toBe('412 PreconditionFailed');
    expect((await s.s3.store(BUCKET).get('pin.json'))?.body.toString()).toBe('second');
    expect(await failure(s.del('pin.json', second.ETag as string))).toBe('succeeded');
    expect(await s.s3.store(BUCKET).get('pin.json')).toBeNull();
    expect(await failure(s.del('pin.json', second.ETag as string))).toBe('404 NoSuchKey');
    await s.put('any.json', 'x');
    expect(await failure(s.del('any.json', '*'))).toBe('succeeded');
    expect(await s.s3.store(BUCKET).get('any.json')).toBeNull();
  });

  it("the store's deleteIf: PRECONDITION_FAILED for another version, nothing deleted; none there is done", async () => {
    const store = s.s3.store(BUCKET);
    const read = await s.put('read.json', 'as read');
    const since = await s.put('read.json', 'written since');
    await expect(store.deleteIf('read.json', read.ETag as string)).rejects.toMatchObject({
      code: 'PRECONDITION_FAILED',
      message: expect.stringContaining('It was not deleted.'),
    });
    expect((await store.get('read.json'))?.body.toString()).toBe('written since');
    await store.deleteIf('read.json', since.ETag as string);
    expect(await store.get('read.json')).toBeNull();
    await store.deleteIf('read.json', since.ETag as string);
  });

  it('deleteIf where a server takes no condition on a delete (501): a plain delete, as before', async () => {
    const proxy = await startS3Proxy(s.s3.endpoint, s.client, {
      conditional: true,
      conditionalDeletes: false,
    });
    const client = createS3Client({
      endpoint: proxy.endpoint,
      credentials: s.s3.credentials,
      maxAttempts: 1,
    });
    clients.push(client);
    const store = createS3Store({ bucket: BUCKET, client });
    try {
      const read = await s.put('no-conditional-delete.json', 'as read');
      await s.put('no-conditional-delete.json', 'written since');
      await store.deleteIf('no-conditional-delete.json', read.ETag as string);
      expect(proxy.seen.map((r) => `${r.method} ${r.status}`)).toEqual(['DELETE 501', 'POST 200']);
      expect(await s.s3.store(BUCKET).get('no-conditional-delete.json')).toBeNull();
    } finally {
      await proxy.close();
    }
  });

  it("the store's put over a version deleted since: PRECONDITION_FAILED, as over another version", async () => {
    const store = s.s3.store(BUCKET);
    const read = await store.put('gone.json', 'as read');
    await store.delete(['gone.json']);
    // S3 answers 404 NoSuchKey here, not 412: before, the store called that an S3 failure (UPSTREAM).
    await expect(store.put('gone.json', 'late', {}, { ifMatch: read.etag })).rejects.toMatchObject({
      code: 'PRECONDITION_FAILED',
      message: expect.stringContaining('It was not overwritten.'),
    });
    expect(await store.get('gone.json')).toBeNull();
  });

  it('unconditional writes are unchanged', async () => {
    await s.put('plain.json', 'one');
    await s.put('plain.json', 'two');
    expect((await s.s3.store(BUCKET).get('plain.json'))?.body.toString()).toBe('two');
  });
});

describe('conditional writes ignored (conditionalWrites: false)', () => {
  let s: Awaited<ReturnType<typeof server>>;
  beforeAll(async () => {
    s = await server(false);
  });

  it('both creates land, as on a server that ignores the header', async () => {
    await s.put('lock.json', 'a', { IfNoneMatch: '*' });
    expect(await failure(s.put('lock.json', 'b', { IfNoneMatch: '*' }))).toBe('succeeded');
    expect((await s.s3.store(BUCKET).get('lock.json'))?.body.toString()).toBe('b');
  });

  it('a delete with If-Match of another version deletes, as on a server that ignores the header', async () => {
    const first = await s.put('pin.json', 'first');
    await s.put('pin.json', 'second');
    expect(await failure(s.del('pin.json', first.ETag as string))).toBe('succeeded');
    expect(await s.s3.store(BUCKET).get('pin.json')).toBeNull();
  });
});
