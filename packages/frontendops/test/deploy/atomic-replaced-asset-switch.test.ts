/**
 * A shared asset the target release loads, replaced in the hosting bucket (by someone who can write
 * it), or only its headers rewritten in place (same bytes, same size and ETag: a Content-Type or a
 * Content-Encoding no build gave it). A deploy held the build's shared assets to the bucket only when
 * its plan listed the bucket: a rollback, a canary promote or a deploy of a kept release (each a pure
 * switch to a release in place) switched with nothing looked at, and the site went on serving the
 * replaced bytes under the release the tool said it switched to. Headers rewritten in place passed
 * every check (a listing shows no headers).
 *
 * Now a deploy's plan holds its build's shared assets to their size and ETag as its listing of the
 * bucket shows them (a HEAD, then a read back, only where those do not tell) and copies one replaced
 * again before its switch, a deploy of a kept release too. A rollback or a promote holds the target
 * release's shared assets the same way, from listings of their folders, and refuses, before anything
 * is written (CONFLICT), a release with one replaced, naming it and the remedy. Headers rewritten in
 * place are not seen by either (one request per asset on every deploy): the last case says so.
 */
import { CopyObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createS3Client } from '../../src/adapters/s3.ts';
import { promoteCanary, startCanary } from '../../src/deploy/canary.ts';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import {
  APP,
  type AtomicEnv,
  HOSTING,
  hostingCopies,
  request,
  startAtomicEnv,
} from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import { releaseOf } from '../support/edge-probe.ts';

const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3'] as const;
let t: AtomicEnv;
let deployed: AtomicSnapshot;
let vendorKey: string;
let published: string;

// Every case starts from V1 then V2 deployed (all three published): deployed once, then put back.
beforeAll(async () => {
  t = await startAtomicEnv({ stack: 'atomic-replaced-switch' });
  await t.publishVersions([V1, V2, V3]);
  for (const commit of [V1, V2])
    expect((await deployArtifact(t.site, { app: APP, commit, request: request() })).outcome).toBe(
      'succeeded',
    );
  vendorKey = (await t.site.hosting.list('assets/')).find((o) => o.key.startsWith('assets/vendor-'))
    ?.key as string;
  published = (await t.site.hosting.get(vendorKey))?.body.toString('utf8') as string;
  deployed = await snapshotAtomicEnv(t);
}, 120_000);
afterAll(() => t?.stop());
beforeEach(() => deployed.restore());

/** The vendor chunk as the edge serves it to a visitor, and the headers S3 gives it (CloudFront's). */
async function servedVendor(): Promise<{ body: string; type?: string; encoding?: string }> {
  const body = await (await fetch(new URL(vendorKey, t.edge.url))).text();
  const head = await t.site.hosting.head(vendorKey);
  return {
    body,
    ...(head?.contentType ? { type: head.contentType } : {}),
    ...(head?.contentEncoding ? { encoding: head.contentEncoding } : {}),
  };
}
const served = async () => releaseOf(await (await fetch(t.edge.url)).text());

/** Bytes of the same size as the published ones (only the ETag tells). */
const replaceBytes = () =>
  t.site.hosting.put(vendorKey, `/*${'x'.repeat(published.length - 5)}*/\n`, {
    contentType: 'text/javascript',
  });

/** The object copied onto itself with other headers: the same bytes, size and ETag. */
async function rewriteHeaders(headers: { ContentType?: string; ContentEncoding?: string }): Promise<void> {
  const client = createS3Client({ endpoint: t.s3.endpoint, credentials: t.s3.credentials });
  try {
    const head = await t.site.hosting.head(vendorKey);
    await client.send(
      new CopyObjectCommand({
        Bucket: HOSTING,
        Key: vendorKey,
        CopySource: `${HOSTING}/${vendorKey}`,
        MetadataDirective: 'REPLACE',
        ContentType: headers.ContentType ?? head?.contentType,
        CacheControl: head?.cacheControl,
        ...(headers.ContentEncoding ? { ContentEncoding: headers.ContentEncoding } : {}),
      }),
    );
    expect((await t.site.hosting.head(vendorKey))?.etag).toBe(head?.etag);
  } finally {
    client.destroy();
  }
}

const refusal = (error: unknown) => {
  if (!isFrontendOpsError(error)) throw error;
  return error;
};

describe('a rollback to a release whose shared asset was replaced in the hosting bucket', () => {
  it('is refused before anything is written, naming the asset and the remedy', async () => {
    await replaceBytes();
    const before = t.edge.atomic?.currentEtag();
    const error = refusal(
      await rollbackRelease(t.site, { to: V1.slice(0, 7), request: request() }).then(
        (s) => s,
        (e: unknown) => e,
      ),
    );
    expect(error.code).toBe('CONFLICT');
    expect(error.message).toContain(vendorKey);
    expect(error.message).toContain(`frontendops deploy --commit ${V1.slice(0, 7)}`);
    expect(t.edge.atomic?.currentEtag()).toBe(before);
    expect(await served()).toBe('v2');
  });

  it('untouched: its shared assets listed by folder (no request per asset), nothing read back', async () => {
    const mark = await t.mark();
    const summary = await rollbackRelease(t.site, { to: V1.slice(0, 7), request: request() });
    expect(summary.outcome).toBe('succeeded');
    const requests = await t.requestsSince(mark);
    expect(hostingCopies(requests)).toEqual([]);
    expect(requests.filter((r) => r.bucket === HOSTING && r.key === vendorKey)).toEqual([]);
    const listings = requests.filter((r) => r.bucket === HOSTING && r.query.includes('prefix=assets%2F'));
    expect(listings).toHaveLength(1);
    expect(await served()).toBe('v1');
  });
});

describe('a canary promote whose canary loads a replaced shared asset', () => {
  it('is refused before anything is written', async () => {
    const started = await startCanary(t.site, {
      app: APP,
      commit: V3,
      weightPercent: 10,
      request: request(),
    });
    expect(started.outcome).toBe('succeeded');
    await replaceBytes();
    const before = t.edge.atomic?.currentEtag();
    const error = refusal(
      await promoteCanary(t.site, { request: request() }).then(
        (s) => s,
        (e: unknown) => e,
      ),
    );
    expect(error.code).toBe('CONFLICT');
    expect(error.message).toContain(vendorKey);
    expect(t.edge.atomic?.currentEtag()).toBe(before);
  });
});

describe('a deploy finding a shared asset of its build changed in the hosting bucket', () => {
  it('of a kept release (a pure switch otherwise): copies it again before its switch, and says so', async () => {
    await replaceBytes();
    const site = await t.open();
    const mark = await t.mark();
    const summary = await deployArtifact(site, { app: APP, commit: V1, request: request() });
    expect(summary.outcome).toBe('succeeded');
    const requests = await t.requestsSince(mark);
    expect(hostingCopies(requests).map((r) => r.key)).toContain(vendorKey);
    // Judged once (the check of the release in place is the plan's too): one HEAD of it, not two.
    const asked = (method: string) =>
      requests.filter((r) => r.bucket === HOSTING && r.key === vendorKey && r.method === method);
    expect({ heads: asked('HEAD').length, reads: asked('GET').length }).toEqual({ heads: 1, reads: 0 });
    expect((await servedVendor()).body).toBe(published);
    expect(
      site.notices.find((n) => n.includes(`(${vendorKey}) was replaced in the hosting bucket`)),
    ).toBeDefined();
    expect(await served()).toBe('v1');
  });

  it('of another build, untouched: its shared assets judged by the listing (no request per asset)', async () => {
    const site = await t.open();
    const mark = await t.mark();
    const summary = await deployArtifact(site, { app: APP, commit: V3, request: request() });
    expect(summary.outcome).toBe('succeeded');
    const requests = await t.requestsSince(mark);
    // The vendor chunk V3 shares with V1 and V2: neither asked for (HEAD) nor read back nor copied.
    expect(requests.filter((r) => r.bucket === HOSTING && r.key === vendorKey)).toEqual([]);
    expect(site.notices.find((n) => n.includes('was replaced'))).toBeUndefined();
  });

  it('its headers rewritten in place (same bytes, size and ETag): not seen by a plan, which reads listings', async () => {
    // A HEAD of every shared asset would see it, at one request per asset on every deploy: the
    // listing is what a plan holds them to (docs/security.md, the hosting bucket's row).
    await rewriteHeaders({ ContentEncoding: 'gzip' });
    const site = await t.open();
    const summary = await deployArtifact(site, { app: APP, commit: V3, request: request() });
    expect(summary.outcome).toBe('succeeded');
    expect((await servedVendor()).encoding).toBe('gzip');
    expect(site.notices.find((n) => n.includes(`(${vendorKey}) was replaced`))).toBeUndefined();
  });
});
