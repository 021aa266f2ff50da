/**
 * The embedded S3 server lists as S3 does (src/local/s3-server-listing.ts): every key once, in the
 * binary order of its UTF-8 bytes, page by page with MaxKeys / StartAfter / continuation tokens /
 * Prefix, and a listing after a write, copy or delete shows it — the index is never stale.
 */
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import pMap from 'p-map';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../src/adapters/s3.ts';
import { startTestS3, type TestS3 } from '../support/local-s3.ts';

const BUCKET = 'listing-bucket';
/** The bucket the case that writes, copies and deletes changes: the other cases list BUCKET as written. */
const CHANGED = 'changed-bucket';
let s3: TestS3;
let client: ReturnType<typeof createS3Client>;

// ASCII, nested paths, and two keys whose order differs between UTF-16 (JavaScript's <) and UTF-8
// (S3's): U+FB00 sorts after an emoji in UTF-16 but before it in UTF-8.
const SPECIAL = [
  'assets/\u{1F600}.txt',
  'assets/\uFB00.txt',
  'assets/e\u0301.txt',
  'index.html',
  'robots.txt',
];
const KEYS = [
  ...Array.from({ length: 1200 }, (_, i) => `assets/f${String(i).padStart(4, '0')}.js`),
  ...SPECIAL,
];
const utf8Order = (keys: string[]) =>
  [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

beforeAll(async () => {
  s3 = await startTestS3([BUCKET, CHANGED]);
  client = createS3Client({ endpoint: s3.endpoint, credentials: s3.credentials });
  // Written in a shuffled order: the listing's order must not come from the order of writing.
  const shuffled = [...KEYS].sort((a, b) =>
    Buffer.from(a).reverse().toString('hex') < Buffer.from(b).reverse().toString('hex') ? -1 : 1,
  );
  await pMap(shuffled, (key) => client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: key })), {
    concurrency: 16,
  });
}, 120_000);
afterAll(async () => {
  client.destroy();
  await s3.stop();
});

async function page(options: {
  MaxKeys?: number;
  StartAfter?: string;
  Prefix?: string;
  ContinuationToken?: string;
}) {
  return client.send(new ListObjectsV2Command({ Bucket: BUCKET, ...options }));
}

describe('the embedded S3 server lists', () => {
  it('every key once, in UTF-8 byte order, across pages of MaxKeys', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const out = await page({ MaxKeys: 500, ...(token ? { ContinuationToken: token } : {}) });
      pages++;
      expect(out.KeyCount).toBe(out.Contents?.length ?? 0);
      seen.push(...(out.Contents ?? []).map((c) => c.Key as string));
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    expect(pages).toBe(3);
    expect(seen).toEqual(utf8Order(KEYS));
  });

  it('from StartAfter, within a Prefix, with sizes and ETags', async () => {
    const out = await page({ Prefix: 'assets/f', StartAfter: 'assets/f1195.js' });
    expect(out.Contents?.map((c) => c.Key)).toEqual([
      'assets/f1196.js',
      'assets/f1197.js',
      'assets/f1198.js',
      'assets/f1199.js',
    ]);
    expect(out.IsTruncated).toBe(false);
    expect(out.Contents?.[0]?.Size).toBe('assets/f1196.js'.length);
    expect(out.Contents?.[0]?.ETag).toMatch(/^"[0-9a-f]{32}"$/);
    expect((await page({ Prefix: 'nothing/' })).Contents ?? []).toEqual([]);
    // The prefix's last 1,000 keys fill a page exactly: nothing is left, so not truncated.
    const last = await page({ Prefix: 'assets/f', StartAfter: 'assets/f0199.js', MaxKeys: 1000 });
    expect(last.KeyCount).toBe(1000);
    expect(last.IsTruncated).toBe(false);
  });

  it('what was written, copied or deleted since the last listing', async () => {
    const store = s3.store(CHANGED);
    // More keys than the first page holds, the special ones among them.
    const start = [...KEYS.slice(0, 20), ...SPECIAL];
    for (const key of start) await store.put(key, key);
    await client.send(new ListObjectsV2Command({ Bucket: CHANGED, MaxKeys: 10 })); // the bucket's index is read
    await store.put('assets/new.js', 'new');
    await store.copyFrom({ bucket: CHANGED, key: 'index.html' }, 'copied.html', {
      contentType: 'text/html; charset=utf-8',
      cacheControl: 'no-cache',
    });
    await store.delete(['assets/f0000.js', 'robots.txt']);
    const keys = (await store.list()).map((o) => o.key);
    expect(keys).toContain('assets/new.js');
    expect(keys).toContain('copied.html');
    expect(keys).not.toContain('assets/f0000.js');
    expect(keys).not.toContain('robots.txt');
    expect(keys).toEqual(utf8Order(keys));
    expect(keys).toHaveLength(start.length + 2 - 2);
  });
});
