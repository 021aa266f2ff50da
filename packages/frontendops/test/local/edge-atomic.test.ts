/**
 * The local edge in atomic-release mode, over the real S3 protocol: the viewer-request function in
 * front of the cache, the KeyValueStore written through the production adapter (real SDK, SigV4A),
 * a propagation delay, canary and preview through HTTP, and a concurrent prober that never sees a
 * broken page while releases are switched back and forth, a canary started and promoted.
 */
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCloudFrontReleaseStore } from '../../src/adapters/cloudfront-kvs.ts';
import { signPreviewToken } from '../../src/atomic/preview-token.ts';
import { type LocalEdge, startLocalEdge } from '../../src/local/edge.ts';
import type { LocalEdgeAtomicOptions } from '../../src/local/edge-atomic.ts';
import type { ObjectStore, ReleasePointer, ReleaseStore } from '../../src/ports.ts';
import { Browser, Probe, releaseOf } from '../support/edge-probe.ts';
import { startTestS3, type TestS3 } from '../support/local-s3.ts';

const DISTRIBUTION = 'EATOMICEDGE01';
const HTML = { contentType: 'text/html; charset=utf-8', cacheControl: 'no-cache' };
const SHORT = { contentType: 'image/x-icon', cacheControl: 'public, max-age=300' };
const MANIFEST = { contentType: 'application/manifest+json; charset=utf-8', cacheControl: 'no-cache' };
const IMMUTABLE = { cacheControl: 'public, max-age=31536000, immutable' };
const VENDOR = { key: 'assets/vendor-Sh4r3dX1.js', body: 'export const shared = true;' };

let s3: TestS3;
let bucket: ObjectStore;
const edges: LocalEdge[] = [];

beforeAll(async () => {
  s3 = await startTestS3(['hosting']);
  bucket = s3.store('hosting');
  await bucket.put('index.html', '<!doctype html><title>before atomic releases</title>', HTML);
  await bucket.put(VENDOR.key, VENDOR.body, { contentType: 'text/javascript; charset=utf-8', ...IMMUTABLE });
  for (const id of ['rel-a', 'rel-b', 'rel-c']) await uploadRelease(id);
});
afterAll(async () => {
  await Promise.all(edges.map((e) => e.close()));
  await s3.stop();
});

/** A release as atomic deploys lay it out: hashed assets at their keys, the rest under _releases/<id>/. */
async function uploadRelease(id: string) {
  const app = `console.log(${JSON.stringify(id)});`;
  const css = `body { --release: "${id}"; }`;
  const appKey = `assets/app-${hash(app)}.js`;
  const cssKey = `assets/style-${hash(css)}.css`;
  await bucket.put(appKey, app, { contentType: 'text/javascript; charset=utf-8', ...IMMUTABLE });
  await bucket.put(cssKey, css, { contentType: 'text/css; charset=utf-8', ...IMMUTABLE });
  const html =
    `<!doctype html><html><head><meta name="release" content="${id}"><title>${id}</title>` +
    `<link rel="stylesheet" href="/${cssKey}"><link rel="icon" href="/favicon.ico">` +
    `<link rel="manifest" href="/manifest.webmanifest"><script type="module" src="/${appKey}"></script>` +
    `<script type="module" src="/${VENDOR.key}"></script></head><body></body></html>`;
  await bucket.put(`_releases/${id}/index.html`, html, HTML);
  await bucket.put(`_releases/${id}/favicon.ico`, `icon ${id}`, SHORT);
  await bucket.put(`_releases/${id}/manifest.webmanifest`, `{"name":"${id}"}`, MANIFEST);
}

const hash = (text: string) => createHash('sha256').update(text).digest('base64url').slice(0, 8);

async function startEdge(
  options: Partial<Omit<Parameters<typeof startLocalEdge>[0], 'atomic'>> & {
    atomic?: Partial<LocalEdgeAtomicOptions>;
  } = {},
) {
  const edge = await startLocalEdge({
    origin: bucket,
    distributionId: DISTRIBUTION,
    apiCredentials: s3.credentials,
    ...options,
    atomic: { credentials: [s3.credentials], ...options.atomic },
  });
  edges.push(edge);
  const store = createCloudFrontReleaseStore({
    kvsArn: edge.atomic?.kvsArn ?? '',
    endpoint: edge.atomic?.kvsEndpoint ?? '',
    credentials: s3.credentials,
    maxAttempts: 1,
  });
  return { edge, store };
}

/** One conditional write, then wait until the edge's function sees it (the propagation delay). */
async function switchTo(edge: LocalEdge, store: ReleaseStore, pointer: ReleasePointer) {
  const { etag } = await store.read();
  const written = await store.write(pointer, etag);
  await edge.atomic?.whenVisible(written.etag);
  return written.etag;
}

/** A raw request, so the path reaches the edge exactly as written (fetch would normalize dot segments). */
function rawGet(edge: LocalEdge, path: string): Promise<{ status: number; body: string }> {
  const url = new URL(edge.url);
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

describe('local edge in atomic mode', () => {
  it('serves the live release through the function; one conditional write switches, nothing is invalidated', async () => {
    const { edge, store } = await startEdge();
    expect(await (await fetch(`${edge.url}/`)).text()).toContain('before atomic releases');

    await switchTo(edge, store, { live: 'rel-a' });
    const a = await fetch(`${edge.url}/`);
    expect(releaseOf(await a.text())).toBe('rel-a');
    expect(a.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(releaseOf(await (await fetch(`${edge.url}/accounts/recent?x=1`)).text())).toBe('rel-a');
    expect(await (await fetch(`${edge.url}/favicon.ico`)).text()).toBe('icon rel-a');
    expect((await fetch(`${edge.url}/favicon.ico`)).headers.get('x-cache')).toBe('Hit from local-edge');

    await switchTo(edge, store, { live: 'rel-b' });
    expect(releaseOf(await (await fetch(`${edge.url}/`)).text())).toBe('rel-b');
    expect(await (await fetch(`${edge.url}/favicon.ico`)).text()).toBe('icon rel-b');
    const stats = edge.stats();
    expect(stats.invalidations).toEqual([]);
    expect(stats.cachedPaths).toEqual(
      expect.arrayContaining(['/_releases/rel-a/favicon.ico', '/_releases/rel-b/favicon.ico']),
    );
    expect(stats.function).toMatchObject({ errors: 0 });
    expect(stats.function?.runs).toBeGreaterThanOrEqual(7);
  });

  it('answers what the function refuses, and never answers a missing asset with HTML', async () => {
    const { edge, store } = await startEdge();
    await switchTo(edge, store, { live: 'rel-a' });
    const internal = await fetch(`${edge.url}/_releases/rel-b/index.html`);
    expect([internal.status, internal.headers.get('x-cache')]).toEqual([
      404,
      'FunctionGeneratedResponse from local-edge',
    ]);
    expect((await fetch(`${edge.url}/.frontendops/state/live.json`)).status).toBe(404);
    for (const path of [
      '/%2e%2e/_releases/rel-b/index.html',
      '/assets/%2E%2E/%2e%2e/_releases/rel-b/index.html',
    ]) {
      expect((await rawGet(edge, path)).status).toBe(400);
    }
    const missing = await fetch(`${edge.url}/assets/app-deadbeef.js`);
    expect([missing.status, missing.headers.get('content-type')]).toEqual([404, 'text/plain; charset=utf-8']);
    expect(await missing.text()).not.toMatch(/<html/i);
    const head = await fetch(`${edge.url}/`, { method: 'HEAD' });
    expect([head.status, await head.text()]).toEqual([200, '']);
  });

  it('shows a write to the edge only after the propagation delay', async () => {
    let clock = Date.now();
    const { edge, store } = await startEdge({ now: () => clock, atomic: { propagationMs: 2_000 } });
    const first = await store.write({ live: 'rel-a' }, (await store.read()).etag);
    expect(edge.atomic?.currentEtag()).toBe(first.etag);
    expect(edge.atomic?.visibleEtag()).not.toBe(first.etag);
    expect(await (await fetch(`${edge.url}/`)).text()).toContain('before atomic releases');
    clock += 1_999;
    expect(await (await fetch(`${edge.url}/`)).text()).toContain('before atomic releases');
    clock += 1;
    expect(releaseOf(await (await fetch(`${edge.url}/`)).text())).toBe('rel-a');

    await store.write({ live: 'rel-b' }, first.etag);
    expect(releaseOf(await (await fetch(`${edge.url}/`)).text())).toBe('rel-a');
    clock += 2_000;
    expect(releaseOf(await (await fetch(`${edge.url}/`)).text())).toBe('rel-b');
  });

  it('waits out the propagation delay on the real clock; an injected clock never advanced is named', async () => {
    const real = await startEdge({ atomic: { propagationMs: 30 } });
    const written = await real.store.write({ live: 'rel-a' }, (await real.store.read()).etag);
    await real.edge.atomic?.whenVisible(written.etag);
    expect(real.edge.atomic?.visibleEtag()).toBe(written.etag);

    // A clock that moves in 25 ms steps: a short timer can end before its next step. Still a moving clock.
    const coarse = await startEdge({
      now: () => Math.floor(Date.now() / 25) * 25,
      atomic: { propagationMs: 30 },
    });
    for (let i = 0; i < 5; i++) {
      const { etag } = await coarse.store.read();
      const next = await coarse.store.write({ live: i % 2 ? 'rel-a' : 'rel-b' }, etag);
      await coarse.edge.atomic?.whenVisible(next.etag);
      expect(coarse.edge.atomic?.visibleEtag()).toBe(next.etag);
    }

    const frozen = Date.now();
    const stopped = await startEdge({ now: () => frozen, atomic: { propagationMs: 50 } });
    const pending = await stopped.store.write({ live: 'rel-a' }, (await stopped.store.read()).etag);
    await expect(stopped.edge.atomic?.whenVisible(pending.etag)).rejects.toThrow(
      /clock did not move: with an injected clock, advance it instead of waiting/,
    );
  });

  it('runs a sticky canary and signed previews through HTTP', async () => {
    const { edge, store } = await startEdge();
    await switchTo(edge, store, { live: 'rel-a', canary: 'rel-b', weight: 50 });
    const browser = new Browser(edge.url);
    const first = await browser.navigate('/accounts');
    expect(first.hops).toEqual([302, 302, 200]);
    expect(browser.cookies.get('fo_bucket')).toMatch(/^\d{1,2}$/);
    for (let i = 0; i < 5; i += 1) {
      const again = await browser.navigate('/');
      expect([again.hops, releaseOf(again.body)]).toEqual([[200], releaseOf(first.body)]);
    }

    const secret = await store.previewSecret();
    const token = signPreviewToken({
      releaseId: 'rel-c',
      expiresAt: new Date(Date.now() + 3_600_000),
      secret,
    });
    await edge.atomic?.whenVisible(edge.atomic.currentEtag());
    const preview = await browser.navigate(`/accounts?fo_preview=${token}`);
    expect([preview.hops, releaseOf(preview.body), preview.url]).toEqual([[302, 200], 'rel-c', '/accounts']);
    expect(releaseOf((await browser.navigate('/')).body)).toBe('rel-c');
    const forged = await browser.navigate(`/?fo_preview=${token.slice(0, -2)}xx`);
    expect([forged.hops, forged.body]).toEqual([
      [403],
      'Forbidden: this preview link is not valid (its signature does not match).\n',
    ]);
    expect(browser.cookies.has('__Host-fo_preview')).toBe(false);
  });

  it('never serves a broken page to concurrent probers while releases are switched, a canary started and promoted', async () => {
    const { edge, store } = await startEdge({ atomic: { propagationMs: 15 } });
    await switchTo(edge, store, { live: 'rel-a' });
    const probe = new Probe();
    const probers = [
      probe.run(new Browser(edge.url)),
      probe.run(new Browser(edge.url)),
      probe.run(new Browser(edge.url, { keepsCookies: false })),
      probe.run(new Browser(edge.url, { navigates: false, keepsCookies: false })),
    ];
    const switches: ReleasePointer[] = [
      { live: 'rel-b' },
      { live: 'rel-a' },
      { live: 'rel-b' },
      { live: 'rel-b', canary: 'rel-c', weight: 10 },
      { live: 'rel-b', canary: 'rel-c', weight: 60 },
      { live: 'rel-c' }, // promoted
      { live: 'rel-b' }, // rolled back
      { live: 'rel-c', canary: 'rel-a', weight: 50 },
      { live: 'rel-a', spa: true },
    ];
    try {
      for (const pointer of [...switches, ...switches]) {
        await switchTo(edge, store, pointer);
        await probe.pagesAfterNow(8);
      }
    } finally {
      probe.stop();
      await Promise.all(probers);
    }

    expect(probe.broken).toEqual([]);
    expect(probe.pages).toBeGreaterThan(100);
    expect([...probe.releasesSeen].sort()).toEqual(['rel-a', 'rel-b', 'rel-c']);
    expect(edge.stats().invalidations).toEqual([]);
    expect(edge.stats().function?.errors).toBe(0);
    console.info(
      `atomic edge prober: ${probe.pages} pages, ${probe.fetches} requests, 18 switches; function runs mean ${edge.stats().function?.meanMs.toFixed(3)} ms, max ${edge.stats().function?.maxMs.toFixed(3)} ms`,
    );
  });
});
