import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createCloudFrontCdn } from '../../src/adapters/cloudfront.ts';
import { createS3Store } from '../../src/adapters/s3.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import { type LocalEdge, startLocalEdge } from '../../src/local/edge.ts';
import { cacheTtlSeconds } from '../../src/local/edge-cache.ts';
import { startHttpServer } from '../../src/local/edge-http.ts';
import type { ObjectStore } from '../../src/ports.ts';
import { ENVIRONMENT_MARKER } from '../../src/state/names.ts';
import { startTestS3, type TestS3 } from '../support/local-s3.ts';

const DISTRIBUTION = 'ELOCALEDGE0001';
const credentials = { accessKeyId: 'AKIDLOCALEDGE', secretAccessKey: 'local-edge-secret' };
const HTML = { contentType: 'text/html; charset=utf-8', cacheControl: 'no-cache' };
const OTHER = { contentType: 'text/plain; charset=utf-8', cacheControl: 'public, max-age=300' };
const ASSET = {
  contentType: 'text/javascript; charset=utf-8',
  cacheControl: 'public, max-age=31536000, immutable',
};

const STATE_KEY = '.frontendops/state/prod/live.json';
const STATE_BODY = '{"deployRoleSecret":"state-must-not-leak"}';

let s3: TestS3;
let bucket: ObjectStore;
let edge: LocalEdge;
let clock = Date.UTC(2026, 10, 25, 9, 0, 0);

beforeAll(async () => {
  // A second bucket on the same server, as the artifacts and state bucket is beside the hosting one.
  s3 = await startTestS3(['hosting', 'state']);
  bucket = s3.store('hosting');
  await s3.store('state').put(STATE_KEY, STATE_BODY);
});
afterAll(() => s3.stop());

beforeEach(async () => {
  await edge?.close();
  const stale = await bucket.list();
  if (stale.length > 0) await bucket.delete(stale.map((o) => o.key));
  await bucket.put('index.html', '<!doctype html><title>v1</title>', HTML);
  await bucket.put('robots.txt', 'robots v1', OTHER);
  await bucket.put('assets/app-1a2b3c4d.js', 'console.log(1)', ASSET);
  await bucket.put('locales/en.json', '{"v":1}', OTHER);
  await bucket.put('locales/de.json', '{"v":1}', OTHER);
  edge = await startLocalEdge({
    origin: bucket,
    distributionId: DISTRIBUTION,
    apiCredentials: credentials,
    now: () => clock,
  });
});
afterAll(() => edge?.close());

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${edge.url}${path}`, { headers });
const cdn = () =>
  createCloudFrontCdn({ distributionId: DISTRIBUTION, endpoint: edge.cdnEndpoint, credentials });

/** A raw request, so the path reaches the edge exactly as written (fetch would normalize dot segments). */
function rawGet(base: string, path: string): Promise<{ status: number; body: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function read(path: string) {
  const response = await get(path);
  return {
    status: response.status,
    body: await response.text(),
    xCache: response.headers.get('x-cache'),
    response,
  };
}

describe('local edge serving the hosting bucket over the real S3 protocol', () => {
  it('serves "/" as index.html with the object headers, and no-cache HTML always fresh', async () => {
    const first = await read('/');
    expect(first.status).toBe(200);
    expect(first.body).toContain('v1');
    expect(first.response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(first.response.headers.get('cache-control')).toBe('no-cache');
    expect(first.xCache).toBe('Miss from local-edge');

    await bucket.put('index.html', '<!doctype html><title>v2</title>', HTML);
    const second = await read('/');
    expect(second.body).toContain('v2');
    expect(second.xCache).toBe('Miss from local-edge');
    expect(edge.stats().cachedPaths).toEqual([]);
  });

  it('shows stale content until an invalidation through the CloudFront adapter, then fresh', async () => {
    expect((await read('/robots.txt')).xCache).toBe('Miss from local-edge');
    await bucket.put('robots.txt', 'robots v2', OTHER);
    const stale = await read('/robots.txt');
    expect([stale.body, stale.xCache]).toEqual(['robots v1', 'Hit from local-edge']);

    const result = await cdn().invalidate({ paths: ['/robots.txt'], callerReference: 'deploy-1-0' });
    expect(result.status).toBe('Completed');
    const fresh = await read('/robots.txt');
    expect([fresh.body, fresh.xCache]).toEqual(['robots v2', 'Miss from local-edge']);

    const stats = edge.stats();
    expect(stats.invalidations).toEqual([
      expect.objectContaining({
        id: result.id,
        callerReference: 'deploy-1-0',
        paths: ['/robots.txt'],
        purged: 1,
      }),
    ]);
    expect([stats.hits, stats.misses]).toEqual([1, 2]);
  });

  it('purges a directory with a "/dir/*" wildcard and nothing outside it', async () => {
    await read('/locales/en.json');
    await read('/locales/de.json');
    await read('/robots.txt');
    await bucket.put('locales/en.json', '{"v":2}', OTHER);
    await bucket.put('robots.txt', 'robots v2', OTHER);
    await cdn().invalidate({ paths: ['/locales/*'], callerReference: 'deploy-2-0' });
    expect((await read('/locales/en.json')).body).toBe('{"v":2}');
    expect((await read('/robots.txt')).body).toBe('robots v1');
    expect(edge.stats().invalidations[0]?.purged).toBe(2);
  });

  it('expires entries by max-age on the injected clock', async () => {
    await read('/robots.txt');
    await bucket.put('robots.txt', 'robots v2', OTHER);
    clock += 299_000;
    expect((await read('/robots.txt')).body).toBe('robots v1');
    clock += 2_000;
    expect((await read('/robots.txt')).body).toBe('robots v2');
  });

  it('keeps immutable hashed assets cached and reports their age', async () => {
    await read('/assets/app-1a2b3c4d.js');
    clock += 86_400_000;
    const again = await read('/assets/app-1a2b3c4d.js');
    expect(again.xCache).toBe('Hit from local-edge');
    expect(again.response.headers.get('age')).toBe('86400');
    expect(again.response.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
  });

  it('falls back to index.html for extension-less client routes', async () => {
    for (const route of ['/dashboard', '/dashboard/settings/', '/reports/2026']) {
      const page = await read(route);
      expect(page.status).toBe(200);
      expect(page.body).toContain('<title>v1</title>');
      expect(page.response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    }
  });

  it("maps paths by the production viewer-request function's rule, not one of its own", async () => {
    // At CloudFront the function runs in front of an in-place stack too (no releases to read): an
    // extension-less path is the app's /index.html even where an object of that name exists, and a
    // dot-file name is a file, never index.html.
    await bucket.put('LICENSE', 'MIT', { contentType: 'text/plain', cacheControl: 'no-cache' });
    const licence = await read('/LICENSE');
    expect(licence.status).toBe(200);
    expect(licence.body).toContain('<title>v1</title>');
    expect((await read('/.env-sample')).status).toBe(404);
    const runs = edge.stats().function.runs;
    await read('/');
    expect(edge.stats().function.runs).toBe(runs + 1);
  });

  it('answers a missing file with an extension 404 in plain text, never HTML', async () => {
    for (const path of ['/assets/app-deadbeef.js', '/styles/missing.css', '/favicon.ico']) {
      const missing = await read(path);
      expect(missing.status).toBe(404);
      expect(missing.response.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      expect(missing.body).not.toMatch(/<!doctype|<html|<title/i);
    }
    await bucket.put('favicon.ico', 'icon', {
      contentType: 'image/x-icon',
      cacheControl: 'public, max-age=300',
    });
    expect((await read('/favicon.ico')).status).toBe(200);
  });

  it('answers a name longer than the embedded S3 server keeps 404, as S3 answers a key it does not hold', async () => {
    // A visitor's path, not a failing origin: CloudFront answers S3's NoSuchKey, not a 502.
    for (const path of [`/${'a'.repeat(300)}.txt`, `/docs/${'é'.repeat(150)}.css`]) {
      const missing = await read(path);
      expect([missing.status, missing.body]).toEqual([404, `Not found: ${encodeURI(path)}\n`]);
    }
  });

  it("never serves FrontendOps' own objects: the environment marker names where the state lives", async () => {
    await bucket.put(
      ENVIRONMENT_MARKER,
      JSON.stringify({
        v: 1,
        stack: 'prod',
        stateBucket: 'state',
        statePrefix: 'ops/prod/',
        protected: true,
      }),
    );
    for (const path of [`/${ENVIRONMENT_MARKER}`, '/%2efrontendops/environment.json', '/.frontendops/']) {
      const answer = await read(path);
      expect(answer.status, path).toBe(404);
      expect(answer.body).not.toMatch(/stateBucket|ops\/prod/);
    }
    expect((await read('/.frontendops-like/page')).status).toBe(200);
  });

  it("sends the distribution's security headers over the object's own, from the origin and the cache", async () => {
    // A file someone uploaded as text that a browser would sniff as HTML, framed by another site.
    await bucket.put('notes.txt', '<html><script>alert(document.cookie)</script>', {
      contentType: 'text/plain',
      cacheControl: 'public, max-age=300',
    });
    const answers = [
      await get('/notes.txt'),
      await get('/notes.txt'),
      await get('/missing.css'),
      await get('/'),
    ];
    expect(answers.map((a) => [a.status, a.headers.get('x-cache')])).toEqual([
      [200, 'Miss from local-edge'],
      [200, 'Hit from local-edge'],
      [404, 'Miss from local-edge'],
      [200, 'Miss from local-edge'],
    ]);
    for (const answer of answers) {
      expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
      expect(answer.headers.get('x-frame-options')).toBe('DENY');
      expect(answer.headers.get('referrer-policy')).toBe('strict-origin-when-cross-origin');
      expect(answer.headers.get('strict-transport-security')).toBe(
        'max-age=63072000; includeSubDomains; preload',
      );
      expect(answer.headers.get('content-security-policy')).toMatch(
        /^default-src 'self';.*frame-ancestors 'none'/,
      );
    }
  });

  it('answers If-None-Match with 304 from the cache and from the origin', async () => {
    const asset = await get('/assets/app-1a2b3c4d.js');
    const etag = asset.headers.get('etag') ?? '';
    expect(etag).toMatch(/^".+"$/);
    const cachedNotModified = await get('/assets/app-1a2b3c4d.js', { 'if-none-match': etag });
    expect([cachedNotModified.status, cachedNotModified.headers.get('x-cache')]).toEqual([
      304,
      'Hit from local-edge',
    ]);
    expect(await cachedNotModified.text()).toBe('');

    const page = await get('/');
    const pageEtag = page.headers.get('etag') ?? '';
    expect((await get('/', { 'if-none-match': `W/${pageEtag}` })).status).toBe(304);
    await bucket.put('index.html', '<!doctype html><title>v2</title>', HTML);
    expect((await get('/', { 'if-none-match': pageEtag })).status).toBe(200);
  });

  it('answers HEAD without a body and refuses other methods', async () => {
    const head = await fetch(`${edge.url}/robots.txt`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String('robots v1'.length));
    expect(await head.text()).toBe('');
    expect((await fetch(`${edge.url}/robots.txt`, { method: 'POST', body: 'x' })).status).toBe(405);
  });

  it('ignores the query string in the cache key, as CloudFront CachingOptimized does', async () => {
    await read('/robots.txt?v=1');
    expect((await read('/robots.txt?v=2')).xCache).toBe('Hit from local-edge');
  });

  it('is idempotent per CallerReference and refuses an unknown distribution', async () => {
    const first = await cdn().invalidate({ paths: ['/robots.txt'], callerReference: 'deploy-3-0' });
    const again = await cdn().invalidate({ paths: ['/robots.txt'], callerReference: 'deploy-3-0' });
    expect(again.id).toBe(first.id);
    expect(edge.stats().invalidations).toHaveLength(1);
    const other = createCloudFrontCdn({ distributionId: 'EOTHER', endpoint: edge.cdnEndpoint, credentials });
    await expect(other.invalidate({ paths: ['/a'], callerReference: 'x' })).rejects.toSatisfy((error) =>
      isFrontendOpsError(error, 'NOT_FOUND'),
    );
  });
});

describe('local edge refusing paths that would leave the hosting bucket', () => {
  const ESCAPES = [
    '/%2e%2e/state/.frontendops/state/prod/live.json',
    '/..%2fstate/.frontendops/state/prod/live.json',
    '/%2e%2e%2fstate%2f.frontendops%2fstate%2fprod%2flive.json',
    '/assets/..%2F..%2Fstate/.frontendops/state/prod/live.json',
    '/../state/.frontendops/state/prod/live.json',
    '/a/%2E%2E/b',
    '/.%2e/',
    '/%2e/robots.txt',
    '/./robots.txt',
    '/assets/..%5c..%5cstate/.frontendops/state/prod/live.json',
    '/assets\\..\\robots.txt',
    '/assets%2frobots.txt',
    '/assets%5Capp-1a2b3c4d.js',
  ];

  it('answers 400 for ".", ".." segments, encoded slashes and backslashes, before any origin access', async () => {
    await s3.settle();
    const before = s3.requests.length;
    for (const path of ESCAPES) {
      const answer = await rawGet(edge.url, path);
      expect([path, answer.status]).toEqual([path, 400]);
      expect(answer.body).toMatch(/^Bad request: /);
      expect(answer.body).not.toContain('state-must-not-leak');
    }
    await s3.settle();
    expect(s3.requests.slice(before)).toEqual([]);
    expect(edge.stats().cachedPaths).toEqual([]);
    // Names that merely contain dots are files of the site.
    expect((await rawGet(edge.url, '/robots.txt')).status).toBe(200);
    expect((await rawGet(edge.url, '/.well-known/security.txt')).status).toBe(404);
    expect((await rawGet(edge.url, '/a..b/c.d..')).status).toBe(404);
  });

  it('refuses them before the viewer-request function in atomic mode too', async () => {
    const atomic = await startLocalEdge({
      origin: bucket,
      distributionId: DISTRIBUTION,
      apiCredentials: credentials,
      atomic: { credentials: [s3.credentials] },
    });
    try {
      for (const path of ESCAPES) {
        const answer = await rawGet(atomic.url, path);
        expect([path, answer.status]).toEqual([path, 400]);
        expect(answer.body).not.toContain('state-must-not-leak');
      }
      expect(atomic.stats().function?.runs).toBe(0);
    } finally {
      await atomic.close();
    }
  });
});

describe('local edge with a failing origin', () => {
  /** The edge's 502 names nothing behind it: no bucket, no endpoint, no port, no error text. */
  async function expectOpaque502(broken: LocalEdge, secrets: string[]) {
    const response = await fetch(`${broken.url}/robots.txt`);
    expect(response.status).toBe(502);
    expect(response.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    const body = await response.text();
    const id = response.headers.get('x-amz-cf-id') ?? '';
    expect(id).toMatch(/^[0-9a-f]{12}$/);
    expect(body).toBe(`Bad gateway: The origin could not be reached (request id ${id}).\n`);
    for (const secret of secrets) expect(body).not.toContain(secret);
    expect(broken.stats().cachedPaths).toEqual([]);
    return id;
  }

  it('answers 502 in plain text, naming no bucket or endpoint, when the S3 endpoint is unreachable', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const unreachable = createS3Store({
      bucket: 'hosting-bucket-name',
      endpoint: `http://127.0.0.1:${port}`,
      credentials,
      maxAttempts: 1,
    });
    const logged: string[] = [];
    const broken = await startLocalEdge({
      origin: unreachable,
      distributionId: DISTRIBUTION,
      apiCredentials: credentials,
      log: (line) => logged.push(line),
    });
    try {
      const id = await expectOpaque502(broken, [
        'hosting-bucket-name',
        String(port),
        '127.0.0.1',
        'ECONNREFUSED',
      ]);
      // The detail stays on the server's side, under the same id.
      expect(logged).toEqual([expect.stringContaining(id)]);
      expect(logged[0]).toContain('hosting-bucket-name');
    } finally {
      await broken.close();
    }
  });

  it('answers the same when the embedded S3 server has stopped, or refuses the edge’s key', async () => {
    const stopped = await startTestS3(['private-site-bucket']);
    const port = new URL(stopped.endpoint).port;
    const origin = createS3Store({
      bucket: 'private-site-bucket',
      endpoint: stopped.endpoint,
      credentials: stopped.credentials,
      maxAttempts: 1,
    });
    await origin.put('robots.txt', 'robots', OTHER);
    await stopped.stop();
    const wrongKey = createS3Store({
      bucket: 'hosting',
      endpoint: s3.endpoint,
      credentials: { accessKeyId: s3.credentials.accessKeyId, secretAccessKey: 'not-the-key' },
      maxAttempts: 1,
    });
    for (const [name, store, secrets] of [
      ['stopped', origin, ['private-site-bucket', port]],
      [
        'wrong key',
        wrongKey,
        ['hosting', new URL(s3.endpoint).port, s3.credentials.accessKeyId, 'Signature'],
      ],
    ] as const) {
      const broken = await startLocalEdge({
        origin: store,
        distributionId: DISTRIBUTION,
        apiCredentials: credentials,
        log: () => undefined,
      });
      try {
        expect([name, await expectOpaque502(broken, [...secrets, '127.0.0.1'])]).toEqual([
          name,
          expect.any(String),
        ]);
      } finally {
        await broken.close();
      }
    }
  });

  it('answers a function that fails with 503 and its id, the error only in the log', async () => {
    const logged: string[] = [];
    const failing = await startLocalEdge({
      origin: bucket,
      distributionId: DISTRIBUTION,
      apiCredentials: credentials,
      log: (line) => logged.push(line),
      atomic: {
        credentials: [s3.credentials],
        functionCode:
          "function handler() { throw new Error('bucket hosting at /home/someone/.frontendops'); }",
      },
    });
    try {
      const response = await fetch(`${failing.url}/`);
      expect(response.status).toBe(503);
      const id = response.headers.get('x-amz-cf-id') ?? '';
      expect(await response.text()).toBe(`The CloudFront Function failed (request id ${id}).\n`);
      expect(logged).toEqual([expect.stringContaining('/home/someone/.frontendops')]);
      expect(logged[0]).toContain(id);
    } finally {
      await failing.close();
    }
  });

  it('answers an unexpected error with 500 and no message', async () => {
    const server = await startHttpServer(
      async () => {
        throw new Error(`cannot read /home/someone/.frontendops/s3 on ${s3.endpoint}`);
      },
      { host: '127.0.0.1', port: 0 },
    );
    try {
      const response = await fetch(`${server.url}/x`);
      expect(response.status).toBe(500);
      const body = await response.text();
      expect(body).toBe('Internal error.\n');
    } finally {
      await server.close();
    }
  });
});

describe('cacheTtlSeconds', () => {
  const policy = { minTtlSeconds: 0, defaultTtlSeconds: 86_400, maxTtlSeconds: 31_536_000 };
  it('reads max-age, prefers s-maxage, and never reuses no-cache, no-store or private', () => {
    expect(cacheTtlSeconds('public, max-age=300', policy)).toBe(300);
    expect(cacheTtlSeconds('max-age=300, s-maxage=60', policy)).toBe(60);
    expect(cacheTtlSeconds('no-cache', policy)).toBe(0);
    expect(cacheTtlSeconds('no-store, max-age=300', policy)).toBe(0);
    expect(cacheTtlSeconds('private, max-age=300', policy)).toBe(0);
    expect(cacheTtlSeconds('max-age=0', policy)).toBe(0);
  });
  it('applies the default, the MinTTL floor and the MaxTTL ceiling', () => {
    expect(cacheTtlSeconds(undefined, policy)).toBe(86_400);
    expect(cacheTtlSeconds('public', policy)).toBe(86_400);
    expect(cacheTtlSeconds('max-age=5', { ...policy, minTtlSeconds: 30 })).toBe(30);
    expect(cacheTtlSeconds('max-age=99999999', policy)).toBe(31_536_000);
    expect(cacheTtlSeconds('max-age=abc', policy)).toBe(86_400);
  });
});
