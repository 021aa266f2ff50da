/**
 * S3 limits a key to 1,024 bytes of UTF-8 — bytes, not characters. Every key FrontendOps forms from
 * input is checked whole, with the prefix it gets: a site path in the artifacts bucket (behind
 * <app>/<commit>/files/), the paths of a manifest read back from the bucket, state keys under a state
 * prefix from the stack's outputs, and, last, any key the S3 adapter is asked to write. The embedded
 * server accepts longer keys than S3 does, so nothing here relies on the server refusing.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { artifactFileKey, artifactManifestKey, MAX_KEY_BYTES } from '../../src/engine/manifest.ts';
import { resolveDeployTarget } from '../../src/engine/target.ts';
import type { Manifest } from '../../src/engine/types.ts';
import { connectSite } from '../../src/stacks/open.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import type { RequestInfo } from '../../src/state/records.ts';
import {
  ARTIFACTS,
  HOSTING,
  publishAsCi,
  STACK,
  startDeployEnv,
  type TestDeployEnv,
} from '../support/deploy-env.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';

const APP = 'sophia-dashboard';
const request: RequestInfo = { text: 'deploy', actor: 'test', planner: 'cli', at: new Date().toISOString() };
const bytes = (text: string) => Buffer.byteLength(text, 'utf8');
/** "é" is one character and two bytes; a directory name of 100 of them is 200 bytes (file systems allow 255). */
const E100 = 'é'.repeat(100);

let t: TestDeployEnv;
beforeAll(async () => {
  t = await startDeployEnv();
});
afterAll(() => t.stop());

async function writesSince(from: number) {
  await t.s3.settle();
  return t.s3.requests.slice(from).filter((r) => !['GET', 'HEAD'].includes(r.method));
}

describe('keys are measured in UTF-8 bytes, whole', () => {
  it('a site path that fits alone but whose artifact key (with <app>/<commit>/files/) does not is refused before any upload', async () => {
    const commit = 'a0'.repeat(20);
    const build = await writeFixtureBuild(join(t.tmp, 'artifact-key'), { version: 'v1' });
    const dirs = [E100, E100, E100, E100];
    await mkdir(join(build.dir, ...dirs), { recursive: true });
    await writeFile(join(build.dir, ...dirs, `${'é'.repeat(90)}.txt`), 'x');
    const sitePath = `/${[...dirs, `${'é'.repeat(90)}.txt`].join('/')}`;
    expect(bytes(sitePath.slice(1))).toBeLessThanOrEqual(MAX_KEY_BYTES);
    expect(bytes(artifactFileKey(APP, commit, sitePath))).toBeGreaterThan(MAX_KEY_BYTES);
    expect(sitePath.length).toBeLessThan(MAX_KEY_BYTES);

    await t.s3.settle();
    const from = t.s3.requests.length;
    const error = await publishAsCi(t.site, { dir: build.dir, app: APP, commit }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'BAD_INPUT' });
    const key = artifactFileKey(APP, commit, sitePath); // 1,052 bytes, 562 characters
    expect((error as Error).message).toMatch(
      new RegExp(
        `cannot be published as sophia-dashboard@a0a0a0a: its key in the artifacts bucket \\(sophia-dashboard/(a0){20}/files/…\\) ` +
          `would be ${bytes(key).toLocaleString('en')} bytes in UTF-8 \\(${key.length} characters.*\\), over S3's 1,024-byte key limit ` +
          `by ${bytes(key) - MAX_KEY_BYTES}\\. Shorten`,
      ),
    );
    expect(await writesSince(from), 'nothing was uploaded').toEqual([]);
  });

  it('a manifest naming a multibyte path of fewer than 1,024 characters but more than 1,024 bytes is refused before any copy', async () => {
    // A manifest this version would not publish (an older tool, or an edited bucket).
    const commit = 'b1'.repeat(20);
    const path = `/${Array.from({ length: 6 }, () => E100).join('/')}/x.js`;
    expect(path.length).toBeLessThan(MAX_KEY_BYTES);
    expect(bytes(path)).toBeGreaterThan(MAX_KEY_BYTES);
    const build = await writeFixtureBuild(join(t.tmp, 'manifest-key'), { version: 'v2' });
    await publishAsCi(t.site, { dir: build.dir, app: APP, commit });
    const key = artifactManifestKey(APP, commit);
    const manifest = JSON.parse((await t.site.artifacts.get(key))?.body.toString() ?? '{}') as Manifest;
    manifest.files[path] = {
      sha256: '0'.repeat(64),
      size: 1,
      contentType: 'text/javascript; charset=utf-8',
      cacheControl: 'public, max-age=300',
    };
    await t.site.artifacts.put(key, JSON.stringify(manifest));

    await t.s3.settle();
    const from = t.s3.requests.length;
    const error = await deployArtifact(t.site, { app: APP, commit, request }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'BAD_INPUT' });
    expect((error as Error).message).toMatch(
      /The manifest of sophia-dashboard@b1b1b1b names the file \/é+…, which cannot be deployed: its key would be 1,\d{3} bytes in UTF-8 \(\d{3} characters.*over S3's 1,024-byte key limit.*publish the build again/,
    );
    expect((await writesSince(from)).filter((r) => r.bucket === HOSTING)).toEqual([]);
  });

  it('the S3 adapter refuses to write any key over 1,024 bytes, whatever formed it', async () => {
    // 350 characters, 1,030 bytes ("€" is three), in segments short enough for the server's files.
    const key = `probe/${Array.from({ length: 5 }, () => '€'.repeat(68)).join('/')}`;
    expect(key.length).toBe(350);
    expect(bytes(key)).toBe(1030);
    await t.s3.settle();
    const from = t.s3.requests.length;
    await expect(t.site.state.put(key, 'x')).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringMatching(/1,030 bytes in UTF-8 \(350 characters.*Nothing was written/),
    });
    await expect(
      t.site.hosting.copyFrom({ bucket: ARTIFACTS, key: 'x' }, key, { contentType: 'text/plain' }),
    ).rejects.toMatchObject({ code: 'BAD_INPUT' });
    expect(await writesSince(from)).toEqual([]);
  });

  it('a state prefix from the outputs is refused when the keys kept under it could pass 1,024 bytes', () => {
    const outputs = (statePrefix: string) => ({
      stack: STACK,
      outputs: { artifactsBucket: ARTIFACTS, hostingBucket: HOSTING, statePrefix },
      secretNames: [],
      source: 'test',
    });
    expect(() => resolveDeployTarget(outputs(`${'p'.repeat(950)}/`))).toThrow(
      /output statePrefix is 951 bytes; the keys FrontendOps keeps under it add up to 111 more, and S3 allows 1,024 per key, so it may be at most 913 bytes/,
    );
    expect(resolveDeployTarget(outputs(`${'p'.repeat(912)}/`)).statePrefix).toHaveLength(913);
  });

  it('under the longest state prefix allowed, a deploy keeps its records, audit chain and locks', async () => {
    // 913 bytes (S3 has no limit on a key's segments; the embedded server's files have: 255 bytes).
    const statePrefix = `${`${'s'.repeat(100)}/`.repeat(9)}sss/`;
    expect(statePrefix).toHaveLength(913);
    const site = await connectSite(
      { ...t.target, stack: 'long-prefix', statePrefix },
      { access: { credentials: t.s3.credentials, cdnEndpoint: t.cdn.endpoint }, onNotice: () => undefined },
    );
    try {
      const commit = 'c2'.repeat(20);
      const build = await writeFixtureBuild(join(t.tmp, 'long-prefix'), { version: 'v3' });
      await publishAsCi(site, { dir: build.dir, app: APP, commit });
      const summary = await deployArtifact(site, { app: APP, commit, request });
      expect(summary.outcome).toBe('succeeded');
      expect((await site.records.listRecords()).records.map((r) => r.commit)).toEqual([commit]);
      expect(await verifyAudit(site.state, statePrefix)).toMatchObject({ ok: true, entries: 3 });
      for (const object of await site.state.list(statePrefix))
        expect(bytes(object.key), object.key.slice(statePrefix.length)).toBeLessThanOrEqual(MAX_KEY_BYTES);
    } finally {
      site.close();
    }
  });
});
