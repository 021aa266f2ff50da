import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Store } from '../../src/adapters/s3.ts';
import { startTestS3, type TestS3 } from '../support/local-s3.ts';

let s3: TestS3;
beforeAll(async () => {
  s3 = await startTestS3(['src-bucket', 'dst-bucket']);
});
afterAll(() => s3.stop());

describe('S3 object store against the embedded S3 server', () => {
  it('puts, gets, heads, lists and deletes objects with explicit headers', async () => {
    const store = s3.store('src-bucket');
    await store.put('a/b c.txt', 'hello', {
      contentType: 'text/plain; charset=utf-8',
      cacheControl: 'public, max-age=300',
      metadata: { sha256: 'abc' },
    });
    const got = await store.get('a/b c.txt');
    expect(got?.body.toString()).toBe('hello');
    expect(got?.contentType).toBe('text/plain; charset=utf-8');
    expect(got?.cacheControl).toBe('public, max-age=300');
    expect(got?.metadata.sha256).toBe('abc');
    expect((await store.head('a/b c.txt'))?.size).toBe(5);
    expect(await store.get('missing')).toBeNull();
    expect(await store.head('missing')).toBeNull();
    expect((await store.list('a/')).map((o) => o.key)).toEqual(['a/b c.txt']);
    await store.delete(['a/b c.txt']);
    expect(await store.list('a/')).toEqual([]);
  });

  it('copies server-side between buckets, replacing headers', async () => {
    const src = s3.store('src-bucket');
    const dst = s3.store('dst-bucket');
    await src.put('app/x/files/assets/app-1234abcd.js', 'console.log(1)', { contentType: 'text/plain' });
    const before = s3.requests.length;
    await dst.copyFrom(
      { bucket: 'src-bucket', key: 'app/x/files/assets/app-1234abcd.js' },
      'assets/app-1234abcd.js',
      {
        contentType: 'text/javascript; charset=utf-8',
        cacheControl: 'public, max-age=31536000, immutable',
      },
    );
    await s3.settle();
    const copied = await dst.get('assets/app-1234abcd.js');
    expect(copied?.body.toString()).toBe('console.log(1)');
    expect(copied?.contentType).toBe('text/javascript; charset=utf-8');
    expect(copied?.cacheControl).toBe('public, max-age=31536000, immutable');
    const copyRequests = s3.requests.slice(before).filter((r) => r.copySource);
    expect(copyRequests).toHaveLength(1);
    expect(copyRequests[0]?.copySource).toBe('src-bucket/app/x/files/assets/app-1234abcd.js');
  });

  it('lists past one page', async () => {
    const store = s3.store('src-bucket');
    const keys = Array.from({ length: 1005 }, (_, i) => `many/${String(i).padStart(4, '0')}`);
    await Promise.all(keys.map((key) => store.put(key, 'x')));
    expect((await store.list('many/')).length).toBe(1005);
    await store.delete(keys);
    expect((await store.list('many/')).length).toBe(0);
  });

  it('detects that the embedded server ignores conditional writes, in two writes of one probe object', async () => {
    for (let process = 0; process < 2; process++) {
      await s3.settle();
      const from = s3.requests.length;
      expect(await s3.store('src-bucket').supportsConditionalWrites()).toBe(false);
      await s3.settle();
      const probe = s3.requests.slice(from).map((r) => `${r.method} ${r.key}`);
      expect(probe).toEqual(Array(2).fill('PUT .frontendops/probe/conditional-writes'));
    }
  });
});

describe('without AWS credentials', () => {
  it('says so, and where the SDK looks for them, naming no secret', async () => {
    // The SDK's standard chain, with nothing to find: no variables, no files, no instance role.
    const saved = { ...process.env };
    for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE'])
      delete process.env[name];
    Object.assign(process.env, {
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
      AWS_CONFIG_FILE: '/nonexistent/config',
      AWS_EC2_METADATA_DISABLED: 'true',
    });
    try {
      const store = createS3Store({
        bucket: 'src-bucket',
        endpoint: s3.endpoint,
        region: 'us-east-1',
        maxAttempts: 1,
      });
      const error = await store.get('any.json').catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'UPSTREAM' });
      expect((error as Error).message).toMatch(
        /no AWS credentials were found \(CredentialsProviderError\).*AWS_PROFILE.*AWS_ACCESS_KEY_ID/s,
      );
    } finally {
      for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
      Object.assign(process.env, saved);
    }
  });
});

describe('the embedded server is atomic per object, as S3 is', () => {
  it('never serves a half-written object to a read racing a write', async () => {
    // One attempt per request: a torn read must show here, not be hidden by the SDK's retries.
    const store = createS3Store({
      bucket: 'src-bucket',
      endpoint: s3.endpoint,
      credentials: s3.credentials,
      maxAttempts: 1,
      readAttempts: 1,
    });
    const big = (fill: string) => JSON.stringify({ fill: fill.repeat(200_000) });
    await store.put('race/state.json', big('a'));
    const reads: Array<Promise<unknown>> = [];
    for (let i = 0; i < 20; i++) {
      reads.push(store.put('race/state.json', big(i % 2 ? 'a' : 'b')));
      reads.push(store.get('race/state.json').then((o) => JSON.parse(o?.body.toString() ?? '')));
    }
    const results = await Promise.all(reads);
    for (const value of results.filter(
      (r): r is { fill: string } => typeof r === 'object' && r !== null && 'fill' in r,
    )) {
      expect(value.fill.length).toBe(200_000);
    }
  });
});
