/**
 * The viewer-request CloudFront Function of atomic releases (src/atomic/viewer-request.js), run in
 * the sandbox that runs it like cloudfront-js-2.0: routing, canary stickiness, preview links,
 * refused paths, dot segments, its size and cost, and its asset rule against the engine's groupOf.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { VIEWER_REQUEST_FUNCTION_FILE } from '../../src/atomic/function-code.ts';
import {
  newPreviewSecret,
  PREVIEW_COOKIE,
  signPreviewToken,
  verifyPreviewToken,
} from '../../src/atomic/preview-token.ts';
import { PREVIEW_SECRET_KEY, RELEASE_KEY, type ReleasePointer } from '../../src/atomic/release-pointer.ts';
import { groupOf } from '../../src/engine/cache-policy.ts';
import {
  type CfResponse,
  type EdgeFunction,
  eventFromHttp,
  type FunctionRun,
  loadEdgeFunctionFile,
  MAX_FUNCTION_BYTES,
  responseToHttp,
} from '../../src/local/edge-function.ts';

const NOW = Date.UTC(2026, 10, 25, 9, 0, 0);
const SECRET = newPreviewSecret();
const BROWSER = { 'sec-fetch-mode': 'navigate', accept: 'text/html' };

let fn: EdgeFunction;
beforeAll(async () => {
  fn = await loadEdgeFunctionFile(VIEWER_REQUEST_FUNCTION_FILE);
});

function store(pointer?: ReleasePointer | string, secret: string | null = SECRET) {
  const entries = new Map<string, string>();
  if (pointer !== undefined)
    entries.set(RELEASE_KEY, typeof pointer === 'string' ? pointer : JSON.stringify(pointer));
  if (secret !== null) entries.set(PREVIEW_SECRET_KEY, secret);
  return { entries };
}

function run(
  url: string,
  kvs: ReturnType<typeof store>,
  options: { method?: string; headers?: Record<string, string>; now?: number } = {},
): FunctionRun {
  const event = eventFromHttp(
    { method: options.method ?? 'GET', url, headers: options.headers ?? {} },
    { id: 'EATOMIC', domainName: 'd111111abcdef8.cloudfront.net' },
  );
  return fn.run(event, { kvs, now: options.now ?? NOW });
}

/** The origin path a request goes to, or the status of the response the function answered. */
function routed(
  url: string,
  kvs: ReturnType<typeof store>,
  options: Parameters<typeof run>[2] = {},
): string | number {
  const result = run(url, kvs, options);
  if (result.kind === 'error') throw new Error(result.error);
  return result.kind === 'request' ? result.request.uri : result.response.statusCode;
}

function response(
  url: string,
  kvs: ReturnType<typeof store>,
  options: Parameters<typeof run>[2] = {},
): CfResponse {
  const result = run(url, kvs, options);
  if (result.kind !== 'response')
    throw new Error(`expected a response for ${url}, got ${JSON.stringify(result)}`);
  return result.response;
}

const setCookies = (r: CfResponse) => [responseToHttp(r).headers['set-cookie'] ?? []].flat();
const bodyOf = (r: CfResponse) => responseToHttp(r).body.toString();

describe('routing a live release', () => {
  const kvs = store({ live: 'rel-a' });

  it.each([
    ['/', '/_releases/rel-a/index.html'],
    ['/index.html', '/_releases/rel-a/index.html'],
    ['/accounts', '/_releases/rel-a/index.html'],
    ['/reports/2026/q3', '/_releases/rel-a/index.html'],
    ['/v1.2/overview', '/_releases/rel-a/index.html'], // a dot in a directory name does not make a file
    ['/docs/', '/_releases/rel-a/docs/index.html'],
    ['/robots.txt', '/_releases/rel-a/robots.txt'],
    ['/manifest.webmanifest', '/_releases/rel-a/manifest.webmanifest'],
    ['/assets/logo.svg', '/_releases/rel-a/assets/logo.svg'],
    ['/my-component.js', '/_releases/rel-a/my-component.js'],
    ['/caf%C3%A9/menu.txt', '/_releases/rel-a/caf%C3%A9/menu.txt'],
  ])('%s → %s', (url, origin) => {
    expect(routed(url, kvs)).toBe(origin);
  });

  it.each([
    '/assets/index-BxY3kq9Z.js',
    '/assets/vendor96-uxhjdk__.js',
    '/assets/OverviewPage-a1b2c3d4.js.map',
    '/static/js/main.8f3a2c1b.js',
    '/assets/gone-00000000.js',
  ])('passes the content-hashed asset %s through unchanged, so a missing one is a 404, never HTML', (url) => {
    expect(routed(url, kvs)).toBe(url);
  });

  it('keeps the query string and the method', () => {
    const result = run('/accounts?tab=2&sort=name', kvs, { method: 'HEAD' });
    expect(result.kind === 'request' && result.request).toMatchObject({
      method: 'HEAD',
      uri: '/_releases/rel-a/index.html',
      querystring: { tab: { value: '2' }, sort: { value: 'name' } },
    });
  });

  it('sends "/dir/" to the app’s index.html when the pointer says spa (routes with a trailing slash)', () => {
    const spa = store({ live: 'rel-a', spa: true });
    expect(routed('/accounts/', spa)).toBe('/_releases/rel-a/index.html');
    expect(routed('/accounts', spa)).toBe('/_releases/rel-a/index.html');
    expect(routed('/robots.txt', spa)).toBe('/_releases/rel-a/robots.txt');
  });
});

describe('without a release pointer (before the first atomic release)', () => {
  it('serves the bucket root as the SPA rewrite did', () => {
    for (const kvs of [store(), store('not json'), store('{"live":"../x"}')]) {
      expect(routed('/', kvs)).toBe('/index.html');
      expect(routed('/accounts', kvs)).toBe('/index.html');
      expect(routed('/accounts/', kvs)).toBe('/index.html');
      expect(routed('/robots.txt', kvs)).toBe('/robots.txt');
      expect(routed('/assets/app-1a2b3c4d.js', kvs)).toBe('/assets/app-1a2b3c4d.js');
      expect(routed('/_releases/rel-a/index.html', kvs)).toBe(404);
    }
  });
});

describe('refused paths', () => {
  const kvs = store({ live: 'rel-a' });

  it.each([
    '/_releases/rel-b/index.html',
    '/_releases',
    '/_releases/',
    '//_releases/rel-b/index.html',
    '/%5Freleases/rel-b/index.html',
    '/_releases/rel-b/assets/app-1a2b3c4d.js',
    '/.frontendops/state/dashboard-hosting-prod/live.json',
    '/%2Efrontendops/state/live.json',
  ])('answers %s with 404: viewers pick no release and read no deploy state', (url) => {
    const r = response(url, kvs);
    expect(r.statusCode).toBe(404);
    expect(bodyOf(r)).not.toMatch(/<html/i);
  });

  it.each([
    '/%2e%2e/%2e%2e/.frontendops/state/live.json',
    '/%2E%2E/_releases/rel-b/index.html',
    '/assets/%2e%2e/_releases/rel-b/index.html',
    '/docs/%2e/index.html',
    '/..%2f_releases/rel-b/index.html',
    '/assets/..%2Fapp-1a2b3c4d.js',
    '/a/../../etc/passwd',
    '/index%00.html',
  ])('answers %s with 400: no dot segment escapes the release prefix', (url) => {
    expect(routed(url, kvs)).toBe(400);
  });

  it('answers a path that is not valid percent-encoded UTF-8 with 400', () => {
    expect(routed('/caf%E9', kvs)).toBe(400);
    expect(routed('/%', kvs)).toBe(400);
  });
});

describe('canary', () => {
  const canary = (weight: number) => store({ live: 'rel-a', canary: 'rel-b', weight });
  const withBucket = (bucket: number) => ({ headers: { cookie: `fo_bucket=${bucket}` } });
  const releaseOf = (uri: string | number) => String(uri).split('/')[2];

  it('gives exactly `weight` of the 100 buckets the canary, and each bucket the same release every time', () => {
    for (const weight of [1, 10, 50, 99]) {
      const kvs = canary(weight);
      const seen = Array.from({ length: 100 }, (_, b) => releaseOf(routed('/accounts', kvs, withBucket(b))));
      expect(seen.filter((r) => r === 'rel-b')).toHaveLength(weight);
      for (let b = 0; b < 100; b += 1) {
        expect(releaseOf(routed('/', kvs, withBucket(b)))).toBe(seen[b]);
        expect(releaseOf(routed('/robots.txt', kvs, withBucket(b)))).toBe(seen[b]);
      }
    }
  });

  it('keeps the earlier canary visitors when the weight grows, and moves cohorts between canaries', () => {
    const at = (weight: number, name = 'rel-b') =>
      Array.from({ length: 100 }, (_, b) =>
        releaseOf(routed('/', store({ live: 'rel-a', canary: name, weight }), withBucket(b))),
      );
    const ten = at(10);
    const fifty = at(50);
    ten.forEach((release, b) => {
      if (release === 'rel-b') expect(fifty[b]).toBe('rel-b');
    });
    const other = at(10, 'rel-c').map((r) => (r === 'rel-c' ? 'rel-b' : r));
    expect(other).not.toEqual(ten);
  });

  it('with weight 0 (or no canary) serves live to everyone and redirects no one', () => {
    for (const kvs of [canary(0), store({ live: 'rel-a', canary: 'rel-b' }), store({ live: 'rel-a' })]) {
      expect(routed('/', kvs, { headers: BROWSER })).toBe('/_releases/rel-a/index.html');
      expect(routed('/', kvs, withBucket(0))).toBe('/_releases/rel-a/index.html');
    }
  });

  it('with weight 100 serves the canary to everyone without a cookie or a redirect', () => {
    expect(routed('/', canary(100), { headers: BROWSER })).toBe('/_releases/rel-b/index.html');
    expect(routed('/robots.txt', canary(100))).toBe('/_releases/rel-b/robots.txt');
  });

  it('gives a browser navigation without the cookie its bucket by a 302 to the same URL, then cleans the URL', () => {
    const kvs = canary(50);
    const first = response('/accounts?tab=2', kvs, { headers: BROWSER });
    expect(first.statusCode).toBe(302);
    const [cookie] = setCookies(first);
    const bucket = /^fo_bucket=(\d+); Path=\/; Max-Age=2592000; Secure; SameSite=Lax$/.exec(
      cookie ?? '',
    )?.[1];
    expect(bucket).toBeDefined();
    expect(first.headers?.location?.value).toBe(`/accounts?tab=2&fo_bucket=${bucket}`);
    expect(first.headers?.['cache-control']?.value).toBe('no-store');

    // The browser kept the cookie: one more hop to the URL without the marker, then the page.
    const headers = { ...BROWSER, cookie: `fo_bucket=${bucket}` };
    const second = response(`/accounts?tab=2&fo_bucket=${bucket}`, kvs, { headers });
    expect([second.statusCode, second.headers?.location?.value, setCookies(second)]).toEqual([
      302,
      '/accounts?tab=2',
      [],
    ]);
    const page = routed('/accounts?tab=2', kvs, { headers });
    expect(page).toBe(routed('/accounts', kvs, withBucket(Number(bucket))));
  });

  it('never loops for a client that drops cookies: the marker in the URL decides, sticky for that URL', () => {
    const kvs = canary(50);
    let url = '/';
    const hops: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      const result = run(url, kvs, { headers: BROWSER });
      if (result.kind !== 'response') break;
      url = result.response.headers?.location?.value ?? '';
      hops.push(url);
    }
    expect(hops).toHaveLength(1);
    const bucket = Number(/fo_bucket=(\d+)/.exec(url)?.[1]);
    expect(routed(url, kvs, { headers: BROWSER })).toBe(routed('/', kvs, withBucket(bucket)));
  });

  it('never redirects non-GET requests, assets, subresources or clients that are not browsers navigating', () => {
    const kvs = canary(50);
    expect(routed('/', kvs, { method: 'HEAD', headers: BROWSER })).toBe('/_releases/rel-a/index.html');
    expect(routed('/', kvs, { method: 'POST', headers: BROWSER })).toBe('/_releases/rel-a/index.html');
    expect(routed('/assets/app-1a2b3c4d.js', kvs, { headers: BROWSER })).toBe('/assets/app-1a2b3c4d.js');
    expect(routed('/favicon.ico', kvs, { headers: { 'sec-fetch-mode': 'no-cors' } })).toBe(
      '/_releases/rel-a/favicon.ico',
    );
    expect(routed('/accounts', kvs, { headers: { accept: 'text/html', 'user-agent': 'curl/8.5' } })).toBe(
      '/_releases/rel-a/index.html',
    );
  });

  it('never redirects to another site, whatever the path looks like', () => {
    const kvs = canary(50);
    for (const url of ['//evil.example/', '//evil', '/\\evil.example/', '///evil.example/x']) {
      const location = response(url, kvs, { headers: BROWSER }).headers?.location?.value ?? '';
      expect(location, url).toMatch(/^\/[^/\\]/);
    }
    const link = signPreviewToken(
      { releaseId: 'rel-old', expiresAt: new Date(NOW + 60_000), secret: SECRET },
      NOW,
    );
    expect(response(`//evil.example/?fo_preview=${link}`, kvs).headers?.location?.value).toBe(
      '/evil.example/',
    );
  });

  it('treats a cookie that is not a bucket as absent', () => {
    const kvs = canary(50);
    for (const value of ['abc', '100', '-1', '']) {
      expect(routed('/', kvs, { headers: { cookie: `fo_bucket=${value}` } })).toBe(
        '/_releases/rel-a/index.html',
      );
      expect(response('/', kvs, { headers: { ...BROWSER, cookie: `fo_bucket=${value}` } }).statusCode).toBe(
        302,
      );
    }
  });
});

describe('preview links', () => {
  const kvs = store({ live: 'rel-a', canary: 'rel-b', weight: 100 });
  const token = (releaseId: string, secondsLeft = 3600, secret = SECRET) =>
    signPreviewToken({ releaseId, expiresAt: new Date(NOW + secondsLeft * 1000), secret }, NOW);

  it('moves a valid link into a session cookie, then shows that release for the session (over a canary)', () => {
    const link = token('rel-old');
    const first = response(`/accounts?tab=2&fo_preview=${link}`, kvs, { headers: BROWSER });
    expect([first.statusCode, first.headers?.location?.value]).toEqual([302, '/accounts?tab=2']);
    expect(setCookies(first)).toEqual([`${PREVIEW_COOKIE}=${link}; Path=/; Secure; HttpOnly; SameSite=Lax`]);

    const session = { headers: { cookie: `__Host-fo_preview=${link}` } };
    expect(routed('/accounts?tab=2', kvs, session)).toBe('/_releases/rel-old/index.html');
    expect(routed('/robots.txt', kvs, session)).toBe('/_releases/rel-old/robots.txt');
    expect(routed('/assets/app-1a2b3c4d.js', kvs, session)).toBe('/assets/app-1a2b3c4d.js');
  });

  it('refuses an expired link with a 403 that says so and clears the cookie', () => {
    const link = token('rel-old', 60);
    const later = NOW + 61_000;
    for (const options of [
      { now: later },
      { now: later, headers: { cookie: `__Host-fo_preview=${link}` } },
    ]) {
      const url = 'headers' in options ? '/accounts' : `/accounts?fo_preview=${link}`;
      const r = response(url, kvs, options);
      expect(r.statusCode).toBe(403);
      expect(bodyOf(r)).toMatch(
        /^Forbidden: this preview link expired at 2026-11-25T09:01:00\.000Z; ask for a new one\./,
      );
      expect(setCookies(r)).toEqual([
        '__Host-fo_preview=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax',
      ]);
    }
  });

  it('refuses a forged, a re-targeted or a malformed link with a 403', () => {
    const good = token('rel-old');
    const [id, expiry, mac] = good.split('.');
    const cases: [string, RegExp][] = [
      [token('rel-old', 3600, newPreviewSecret()), /signature does not match/],
      [`rel-a.${expiry}.${mac}`, /signature does not match/],
      [`${id}.${Number(expiry) + 86_400}.${mac}`, /signature does not match/],
      [`${id}.${expiry}`, /malformed/],
      ['../x.1.abc', /malformed/],
    ];
    for (const [link, reason] of cases) {
      const r = response(`/?fo_preview=${link}`, kvs);
      expect([r.statusCode, bodyOf(r)]).toEqual([403, expect.stringMatching(reason)]);
      expect(verifyPreviewToken(link, SECRET, NOW).ok).toBe(false);
    }
  });

  it('takes the session only from the __Host- cookie, which no other site of the domain can set', () => {
    // A site on a sibling host (other.example.com) may set `fo_preview` with Domain=example.com: a
    // forged token would answer this site 403 on every page (the 403's clearing names this host
    // only, not that domain cookie), a token of a preview link they were given would show that
    // release to every visitor. A `__Host-` cookie is the browser's to refuse from anyone else.
    const tossed = (value: string) => ({ headers: { ...BROWSER, cookie: `fo_preview=${value}` } });
    expect(routed('/accounts', kvs, tossed('rel-old.1.forged'))).toBe('/_releases/rel-b/index.html');
    expect(routed('/accounts', kvs, tossed(token('rel-old')))).toBe('/_releases/rel-b/index.html');
    const own = { headers: { cookie: `fo_preview=rel-old.1.forged; __Host-fo_preview=${token('rel-old')}` } };
    expect(routed('/accounts', kvs, own)).toBe('/_releases/rel-old/index.html');
  });

  it('refuses every link when no preview secret is in the store', () => {
    const r = response(`/?fo_preview=${token('rel-old')}`, store({ live: 'rel-a' }, null));
    expect([r.statusCode, bodyOf(r)]).toEqual([403, 'Forbidden: previews are not enabled on this site.\n']);
  });

  it('leaves the preview with an empty fo_preview', () => {
    const r = response('/accounts?fo_preview=', kvs, {
      headers: { cookie: `__Host-fo_preview=${token('rel-old')}` },
    });
    expect([r.statusCode, r.headers?.location?.value]).toEqual([302, '/accounts']);
    expect(setCookies(r)).toEqual(['__Host-fo_preview=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax']);
  });

  it('agrees with the tool’s verifier', () => {
    const link = token('rel-old');
    expect(verifyPreviewToken(link, SECRET, NOW)).toEqual({
      ok: true,
      releaseId: 'rel-old',
      expiresAt: new Date(NOW + 3_600_000),
    });
    expect(verifyPreviewToken(link, SECRET, NOW + 3_600_000)).toEqual({ ok: false, reason: 'expired' });
  });
});

describe("the shared-asset rule, kept equal to the engine's (groupOf: asset)", () => {
  it('passes exactly the paths the engine keeps at their own key, on many generated paths', () => {
    const kvs = store({ live: 'rel-a' });
    const dirs = ['/', '/assets/', '/assets/chunks/', '/static/js/', '/img/', '/a.b/'];
    const names = ['index', 'app', 'my-component', 'vendor96', 'OverviewPage', 'a'];
    const separators = ['-', '.', '_', ''];
    const hashes = [
      '1a2b3c4d',
      'abcdefgh',
      'ABCDEFGH',
      'a1b2c3d',
      'uxhjdk__',
      'BxY3kq9Z',
      'a-b_c-d-e',
      '0123456789abcdef',
      'Dc1_0Kee',
    ];
    const extensions = ['.js', '.css', '.js.map', '.svg', '.woff2', '.html', '.map', ''];
    let checked = 0;
    for (const dir of dirs)
      for (const name of names)
        for (const separator of separators)
          for (const hash of hashes)
            for (const extension of extensions) {
              const path = `${dir}${name}${separator}${hash}${extension}`;
              const passedThrough = routed(path, kvs) === path;
              // A content-hashed name that is HTML (help-AbCdEf12.html) is the release's own page.
              expect(passedThrough, path).toBe(groupOf(path) === 'asset');
              checked += 1;
            }
    expect(checked).toBeGreaterThan(10_000);
  });
});

describe('the function file', () => {
  const code = readFileSync(VIEWER_REQUEST_FUNCTION_FILE, 'utf8');

  it('fits CloudFront’s 10 KB code quota', () => {
    expect(Buffer.byteLength(code)).toBeLessThanOrEqual(MAX_FUNCTION_BYTES);
    expect(fn.size).toBe(Buffer.byteLength(code));
  });

  it('uses only syntax cloudfront-js-2.0 documents (ES 5.1 plus const/let, arrows, templates, async handler)', () => {
    const source = code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    expect(source).toMatch(/^import cf from 'cloudfront';$/m);
    expect(source).toMatch(/^async function handler\(event\) \{$/m);
    expect(source.match(/\basync\b/g)).toHaveLength(1); // no async closures
    for (const unsupported of [
      /\?\./,
      /\?\?/,
      /\.\.\./,
      /\bfor \((?:const|let|var) \w+ of\b/,
      /\bclass\b/,
      /\b(?:const|let) [[{]/,
      /\bexport\b/,
    ]) {
      expect(source, String(unsupported)).not.toMatch(unsupported);
    }
  });

  it('runs well inside CloudFront’s budget in the sandbox (measured: median and 99th percentile)', () => {
    const kvs = store({ live: 'rel-a', canary: 'rel-b', weight: 10 });
    const cases = ['/', '/accounts', '/assets/index-BxY3kq9Z.js', '/robots.txt', `/?fo_preview=x`];
    const times: number[] = [];
    for (let i = 0; i < 2000; i += 1) {
      const result = run(cases[i % cases.length] as string, kvs, {
        headers: { cookie: `fo_bucket=${i % 100}` },
      });
      times.push(result.durationMs);
    }
    times.sort((a, b) => a - b);
    const median = times[1000] ?? 0;
    const p99 = times[1980] ?? 0;
    console.info(
      `viewer-request.js in the sandbox: ${Buffer.byteLength(code)} bytes; median ${median.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms per run`,
    );
    expect(median).toBeLessThan(5);
  });
});
