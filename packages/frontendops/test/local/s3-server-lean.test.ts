/**
 * What the embedded S3 server remembers between requests (src/local/s3-server-lean.ts) never
 * hides a change: a bucket created or deleted, a bucket configuration put or deleted, an object
 * written, copied onto, deleted (alone or in a batch) or completed from a multipart upload, is seen
 * by the very next request.
 */
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteBucketCorsCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketCorsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutBucketCorsCommand,
  PutObjectCommand,
  UploadPartCommand,
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

  it('sees an object written, copied onto, deleted or batch-deleted at the next request', async () => {
    const head = (key: string) => client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    const read = async (key: string) => {
      const out = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      return `${out.ContentType} ${out.ContentLength} ${await out.Body?.transformToString()}`;
    };
    const put = (key: string, body: string, type: string, meta: Record<string, string> = {}) =>
      client.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, ContentType: type, Metadata: meta }),
      );

    await put('page.html', '<p>one</p>', 'text/html', { release: 'one' });
    expect(await read('page.html')).toBe('text/html 10 <p>one</p>');
    expect((await head('page.html')).Metadata).toEqual({ release: 'one' });
    await put('page.html', '<p>second</p>', 'text/plain', { release: 'two' });
    expect(await read('page.html')).toBe('text/plain 13 <p>second</p>');
    const second = await head('page.html');
    expect([second.ContentLength, second.Metadata]).toEqual([13, { release: 'two' }]);

    await put('other.css', 'b{}', 'text/css');
    await client.send(
      new CopyObjectCommand({ Bucket: BUCKET, Key: 'page.html', CopySource: `${BUCKET}/other.css` }),
    );
    expect(await read('page.html')).toBe('text/css 3 b{}');
    const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'page' }));
    expect(listed.Contents?.map((o) => `${o.Key} ${o.Size}`)).toEqual(['page.html 3']);

    await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'page.html' }));
    expect(await errorName(head('page.html'))).toBe('NotFound');
    expect(await errorName(read('page.html'))).toBe('NoSuchKey');

    expect(await errorName(head('other.css'))).toBe('ok');
    await client.send(
      new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: [{ Key: 'other.css' }] } }),
    );
    expect(await errorName(head('other.css'))).toBe('NotFound');
  });

  it('sees an object a multipart upload completed over at the next request', async () => {
    const key = 'big.bin';
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'small' }));
    expect((await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).ContentLength).toBe(5);
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
    const part = await client.send(
      new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: 1, Body: 'x'.repeat(1000) }),
    );
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: BUCKET,
        Key: key,
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
      }),
    );
    expect((await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).ContentLength).toBe(1000);
  });
});
