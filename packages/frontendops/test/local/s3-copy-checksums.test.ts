/**
 * The embedded S3 server answers a CopyObject sent with `x-amz-checksum-algorithm: SHA256` as S3
 * documents it: CopyObjectResult carries ChecksumSHA256, the base64 SHA-256 of what was copied
 * (through the AWS SDK), also once its source was replaced, by a PutObject or by a copy onto it (the
 * server answers from the digest it made when the source was written, while that file is unchanged).
 * Without the header it adds nothing;
 * another algorithm is 501 NotImplemented rather than a silent answer without it.
 */
import { createHash } from 'node:crypto';
import { CopyObjectCommand, PutObjectCommand, type S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../src/adapters/s3.ts';
import { startTestS3, type TestS3 } from '../support/local-s3.ts';

const BUCKET = 'checksums';
let s3: TestS3;
let client: S3Client;

beforeAll(async () => {
  s3 = await startTestS3([BUCKET]);
  client = createS3Client({ endpoint: s3.endpoint, credentials: s3.credentials, maxAttempts: 1 });
});
afterAll(async () => {
  client?.destroy();
  await s3?.stop();
});

const copy = (from: string, to: string, algorithm?: 'SHA256' | 'CRC32') =>
  client.send(
    new CopyObjectCommand({
      Bucket: BUCKET,
      Key: to,
      CopySource: `${BUCKET}/${from}`,
      ...(algorithm ? { ChecksumAlgorithm: algorithm } : {}),
    }),
  );

describe('copy checksums', () => {
  it('a copy asked for SHA256 answers the digest of what it copied', async () => {
    const body = 'x'.repeat(100_000);
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'source.txt', Body: body }));
    const out = await copy('source.txt', 'copied.txt', 'SHA256');
    expect(out.CopyObjectResult?.ChecksumSHA256).toBe(createHash('sha256').update(body).digest('base64'));
    expect(out.CopyObjectResult?.ETag).toBe(`"${createHash('md5').update(body).digest('hex')}"`);
  });

  it('through the adapter: the hex digest, for a replaced source the new one', async () => {
    const store = s3.store(BUCKET);
    await store.put('page.html', '<h1>one</h1>');
    const first = await store.copyFrom({ bucket: BUCKET, key: 'page.html' }, 'out.html', {});
    expect(first.sha256).toBe(createHash('sha256').update('<h1>one</h1>').digest('hex'));
    await store.put('page.html', '<h1>two</h1>');
    const second = await store.copyFrom({ bucket: BUCKET, key: 'page.html' }, 'out.html', {});
    expect(second.sha256).toBe(createHash('sha256').update('<h1>two</h1>').digest('hex'));
  });

  it('a source overwritten by a copy onto it (in place, not by a PutObject) answers its new digest', async () => {
    const store = s3.store(BUCKET);
    await store.put('a.txt', 'first');
    await store.put('b.txt', 'second, longer');
    expect((await store.copyFrom({ bucket: BUCKET, key: 'a.txt' }, 'c.txt', {})).sha256).toBe(
      createHash('sha256').update('first').digest('hex'),
    );
    await store.copyFrom({ bucket: BUCKET, key: 'b.txt' }, 'a.txt', {});
    expect((await store.copyFrom({ bucket: BUCKET, key: 'a.txt' }, 'd.txt', {})).sha256).toBe(
      createHash('sha256').update('second, longer').digest('hex'),
    );
  });

  it('without the header nothing is added; another algorithm is 501', async () => {
    await client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'unasked.txt', Body: 'no checksum asked' }),
    );
    const plain = await copy('unasked.txt', 'plain.txt');
    expect(plain.CopyObjectResult?.ChecksumSHA256).toBeUndefined();
    const crc = await copy('unasked.txt', 'crc.txt', 'CRC32').then(
      () => 'succeeded',
      (error: unknown) =>
        error instanceof S3ServiceException
          ? `${error.$metadata.httpStatusCode} ${error.name}`
          : String(error),
    );
    expect(crc).toBe('501 NotImplemented');
  });
});
