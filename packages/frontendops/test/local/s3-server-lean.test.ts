/**
 * What the embedded S3 server remembers between requests (src/local/s3-server-lean.ts) never
 * hides a change: a bucket created or deleted, a bucket configuration put or deleted, is seen by
 * the very next request.
 */
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteBucketCorsCommand,
  GetBucketCorsCommand,
  HeadBucketCommand,
  PutBucketCorsCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../src/adapters/s3.ts';
import { startTestS3, type TestS3 } from '../support/local-s3.ts';

const BUCKET = 'lean-bucket';
let s3: TestS3;
let client: ReturnType<typeof createS3Client>;

beforeAll(async () => {
  s3 = await startTestS3([BUCKET]);
  client = createS3Client({ endpoint: s3.endpoint, credentials: s3.credentials, maxAttempts: 1 });
});
afterAll(async () => {
  client.destroy();
  await s3.stop();
});

const errorName = (promise: Promise<unknown>) =>
  promise.then(
    () => 'ok',
    (error: Error) => error.name,
  );

describe('the embedded S3 server', () => {
  it('sees a bucket configuration put, replaced and deleted at the next request', async () => {
    expect(await errorName(client.send(new GetBucketCorsCommand({ Bucket: BUCKET })))).toBe(
      'NoSuchCORSConfiguration',
    );
    const rule = (origin: string) => ({
      CORSRules: [{ AllowedOrigins: [origin], AllowedMethods: ['GET'] }],
    });
    await client.send(
      new PutBucketCorsCommand({ Bucket: BUCKET, CORSConfiguration: rule('https://a.example') }),
    );
    const first = await client.send(new GetBucketCorsCommand({ Bucket: BUCKET }));
    expect(first.CORSRules?.[0]?.AllowedOrigins).toEqual(['https://a.example']);
    await client.send(
      new PutBucketCorsCommand({ Bucket: BUCKET, CORSConfiguration: rule('https://b.example') }),
    );
    const second = await client.send(new GetBucketCorsCommand({ Bucket: BUCKET }));
    expect(second.CORSRules?.[0]?.AllowedOrigins).toEqual(['https://b.example']);
    await client.send(new DeleteBucketCorsCommand({ Bucket: BUCKET }));
    expect(await errorName(client.send(new GetBucketCorsCommand({ Bucket: BUCKET })))).toBe(
      'NoSuchCORSConfiguration',
    );
  });

  it('sees a bucket created and deleted at the next request', async () => {
    const bucket = 'lean-created';
    expect(await errorName(client.send(new HeadBucketCommand({ Bucket: bucket })))).toBe('NotFound');
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    expect(await errorName(client.send(new HeadBucketCommand({ Bucket: bucket })))).toBe('ok');
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'a.txt', Body: 'a' }));
    expect(await errorName(client.send(new DeleteBucketCommand({ Bucket: bucket })))).toBe('BucketNotEmpty');
    await s3.store(bucket).delete(['a.txt']);
    await client.send(new DeleteBucketCommand({ Bucket: bucket }));
    expect(await errorName(client.send(new HeadBucketCommand({ Bucket: bucket })))).toBe('NotFound');
    expect(
      await errorName(client.send(new PutObjectCommand({ Bucket: bucket, Key: 'b.txt', Body: 'b' }))),
    ).toBe('NoSuchBucket');
  });
});
