/**
 * Atomic releases share their content-hashed assets at one key. When the live release's build is
 * gone from the artifacts bucket (a lifecycle rule expires old builds; its administrators may delete
 * one), no manifest says what its assets hold. A build whose asset of the same name holds other
 * content (names are the build's to choose) was then copied over it by a preview, which no approval
 * guards and which should change nothing a visitor sees, and by a canary or a deploy: every edge
 * without the old bytes cached served the new ones under the live page. Now such an asset is read
 * back and hashed, and other content is refused before anything is written.
 */
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deployAtomic } from '../../src/deploy/atomic-deploy.ts';
import { startCanary } from '../../src/deploy/canary.ts';
import { previewLink } from '../../src/deploy/preview.ts';
import { artifactFileKey, artifactManifestKey } from '../../src/engine/manifest.ts';
import type { Manifest } from '../../src/engine/types.ts';
import {
  APP,
  ARTIFACTS,
  type AtomicEnv,
  type ReleaseBuild,
  request,
  startAtomicEnv,
} from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import { publishAsCi, recordPublished } from '../support/deploy-env.ts';

const LIVE = '0101010101010101010101010101010101010101';
const OTHER = 'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee';
const SAME = 'dddddddddddddddddddddddddddddddddddddddd';
const HEADERS = 'cccccccccccccccccccccccccccccccccccccccc';
let t: AtomicEnv;
let v1: ReleaseBuild;
let asset: string;
let liveBytes: string;
/** v1 live, the three builds published, nothing previewed: each case starts from it. */
let published: AtomicSnapshot;

beforeAll(async () => {
  t = await startAtomicEnv({ retain: 3 });
  v1 = await t.publish(LIVE, 'v1');
  await deployAtomic(t.site, { app: APP, commit: LIVE, request: request() });
  asset = Object.keys(v1.files).find((p) => p.startsWith('/assets/app-')) as string;
  liveBytes = v1.files[asset] as string;
  // The live release's build expires from the artifacts bucket.
  await t.s3.store(ARTIFACTS).delete([artifactManifestKey(APP, LIVE)]);
  // A build whose asset of that very name holds other content, published the normal way…
  const other = join(t.tmp, 'other');
  await cp(v1.dir, other, { recursive: true });
  await writeFile(join(other, asset), 'alert("not the live release")\n');
  await publishAsCi(t.site, { dir: other, app: APP, commit: OTHER });
  // …and one that holds the same bytes under its names (a rebuild of the live release's sources).
  const same = join(t.tmp, 'same');
  await cp(v1.dir, same, { recursive: true });
  await writeFile(join(same, 'robots.txt'), 'User-agent: *\nDisallow: /private\n');
  await publishAsCi(t.site, { dir: same, app: APP, commit: SAME });
  published = await snapshotAtomicEnv(t);
}, 180_000);
afterAll(() => t?.stop());
beforeEach(() => published.restore());

const served = async () => (await t.site.hosting.get(asset.slice(1)))?.body.toString('utf8');

describe("an asset of the live release whose build is gone, and a build's other content under its name", () => {
  it.each([
    [
      'a preview',
      () => previewLink(t.site, { app: APP, commit: OTHER, request: request('preview'), verify: false }),
    ],
    [
      'a canary',
      () => startCanary(t.site, { app: APP, commit: OTHER, weightPercent: 10, request: request('canary') }),
    ],
    ['a deploy', () => deployAtomic(t.site, { app: APP, commit: OTHER, request: request('deploy') })],
  ])('%s is refused (CONFLICT) before anything is written; the live file stays', async (_, change) => {
    const mark = await t.mark();
    const attempt = change();
    await expect(attempt).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(attempt).rejects.toThrow(
      /has other content in sophia-dashboard@eeeeeee than the hosting bucket holds .*Nothing was changed\./,
    );
    expect(await served()).toBe(liveBytes);
    const writes = (await t.requestsSince(mark)).filter((r) => !['GET', 'HEAD'].includes(r.method));
    expect(writes.map((r) => `${r.method} ${r.bucket} ${r.key}`)).toEqual(
      // The deploy lock is taken and let go; nothing else.
      writes.filter((r) => /lock/.test(r.key ?? '')).map((r) => `${r.method} ${r.bucket} ${r.key}`),
    );
  });

  it("the same bytes with a manifest asking other headers: not copied again, the live object's headers stay", async () => {
    // The publisher's hand-written manifest: the live build's bytes, the script as text/plain.
    const manifest = JSON.parse(
      (await t.site.artifacts.get(artifactManifestKey(APP, SAME)))?.body.toString('utf8') ?? '{}',
    ) as Manifest;
    manifest.commit = HEADERS;
    manifest.files[asset] = {
      ...(manifest.files[asset] as Manifest['files'][string]),
      contentType: 'text/plain',
      cacheControl: 'no-store',
    };
    for (const path of Object.keys(manifest.files)) {
      const bytes = (await t.site.artifacts.get(artifactFileKey(APP, SAME, path)))?.body as Buffer;
      await t.site.artifacts.put(artifactFileKey(APP, HEADERS, path), bytes);
    }
    await t.site.artifacts.put(artifactManifestKey(APP, HEADERS), JSON.stringify(manifest));
    await recordPublished(t.site, manifest);
    const before = await t.site.hosting.head(asset.slice(1));
    const mark = await t.mark();
    await previewLink(t.site, { app: APP, commit: HEADERS, request: request('preview'), verify: false });
    const after = await t.site.hosting.head(asset.slice(1));
    expect([after?.contentType, after?.cacheControl, after?.etag]).toEqual([
      before?.contentType,
      before?.cacheControl,
      before?.etag,
    ]);
    const copies = (await t.requestsSince(mark)).filter(
      (r) => r.method === 'PUT' && r.key === asset.slice(1),
    );
    expect(copies).toEqual([]);
  });

  it('a build holding the same bytes under that name is previewed as before', async () => {
    const link = await previewLink(t.site, {
      app: APP,
      commit: SAME,
      request: request('preview'),
      verify: false,
    });
    expect(link.url).toMatch(/^http/);
    expect(await served()).toBe(liveBytes);
  });
});
