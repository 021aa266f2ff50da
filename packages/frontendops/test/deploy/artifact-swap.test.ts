/**
 * A published build's files replaced in the artifacts bucket afterwards, by someone who can write it
 * (its administrators; the publisher role may only create). Before, a deploy copied whatever was
 * there, and its record and audit entry still named the published build's digest: the site served
 * files nobody published, and the audit said otherwise. Now each server-side copy asks S3 for the
 * SHA-256 of what it copied and holds it against the manifest: a file that is not the published one
 * stops the change (TAMPERED) before anything of it is live, naming the file.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { publishArtifact, publishBuild } from '../../src/deploy/publish.ts';
import { artifactFileKey, artifactManifestKey } from '../../src/engine/manifest.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import type { RequestInfo } from '../../src/state/records.ts';
import {
  APP as ATOMIC_APP,
  type AtomicEnv,
  request as atomicRequest,
  startAtomicEnv,
} from '../support/atomic-env.ts';
import { ARTIFACTS, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { type FixtureBuild, writeFixtureBuild } from '../support/fixture-build.ts';

const APP = 'sophia-dashboard';
const request: RequestInfo = { text: 'deploy', actor: 'ci', planner: 'cli', at: new Date().toISOString() };
const commits = ['a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3', 'd4d4d4d4d4d4d4'] as const;
const builds = new Map<string, FixtureBuild>();
let t: TestDeployEnv;

beforeAll(async () => {
  t = await startDeployEnv({ stack: 'artifact-swap' });
  for (const [i, commit] of commits.entries()) {
    const build = await writeFixtureBuild(join(t.tmp, `b${i}`), {
      version: `v${i}`,
      robots: `# build ${i}\n`,
    });
    builds.set(commit, build);
    await publishArtifact(t.site.artifacts, { dir: build.dir, app: APP, commit });
  }
});
afterAll(() => t?.stop());

/** The artifacts bucket's administrator replaces one published file (no condition: they may). */
const swap = (commit: string, path: string, content: string) =>
  t.s3.store(ARTIFACTS).put(artifactFileKey(APP, commit, path), content, { contentType: 'text/html' });

const served = async (key: string) => (await t.site.hosting.get(key))?.body.toString('utf8');
const live = async () => (await t.site.records.readPointer())?.value.commit;

describe('in place: a published file replaced afterwards', () => {
  it('a swapped hashed asset stops the deploy before anything visible changed, naming the file', async () => {
    await deployArtifact(t.site, { app: APP, commit: commits[0], request });
    const asset = (builds.get(commits[1]) as FixtureBuild).assets.at(-1) as string;
    await swap(commits[1], asset, 'alert("not what was published")');

    const deploy = deployArtifact(t.site, { app: APP, commit: commits[1], request });
    await expect(deploy).rejects.toMatchObject({ code: 'TAMPERED' });
    await expect(deploy).rejects.toThrow(
      new RegExp(
        `The file ${asset.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} of sophia-dashboard@b2b2b2b in the artifacts bucket is not the one published`,
      ),
    );
    expect(await live()).toBe(commits[0]);
    expect(await served('index.html')).toBe(builds.get(commits[0])?.files['/index.html']);
  });

  it('a deploy run again after one is refused the same way (the copy that landed was removed)', async () => {
    const asset = (builds.get(commits[1]) as FixtureBuild).assets.at(-1) as string;
    await expect(deployArtifact(t.site, { app: APP, commit: commits[1], request })).rejects.toMatchObject({
      code: 'TAMPERED',
    });
    expect(await t.site.hosting.head(asset.slice(1))).toBeNull();
    expect(await live()).toBe(commits[0]);
  });

  it('a swapped index.html is put back to the live release’s, and the error says what to do', async () => {
    await swap(commits[2], '/index.html', '<h1>defaced</h1>');
    const deploy = deployArtifact(t.site, { app: APP, commit: commits[2], request });
    await expect(deploy).rejects.toThrow(/index\.html .* is not the one published.*SHA-256/s);
    expect(await served('index.html')).toBe(builds.get(commits[0])?.files['/index.html']);
    expect(await served('robots.txt')).toBe(builds.get(commits[0])?.files['/robots.txt']);
    expect(await live()).toBe(commits[0]);
  });

  it('a rollback to a release whose file was replaced since is refused the same way', async () => {
    await deployArtifact(t.site, { app: APP, commit: commits[3], request });
    await swap(commits[0], '/robots.txt', 'User-agent: *\nDisallow: /\n');
    const back = rollbackRelease(t.site, { to: commits[0], request });
    await expect(back).rejects.toMatchObject({ code: 'TAMPERED' });
    expect(await live()).toBe(commits[3]);
    expect(await served('robots.txt')).toBe(builds.get(commits[3])?.files['/robots.txt']);
  });
});

describe('a manifest replaced together with its files', () => {
  it('deploys (each file is the manifest’s), and `audit verify` tells: the publish log never published that digest', async () => {
    const commit = 'e5e5e5e5e5e5e5';
    const build = await writeFixtureBuild(join(t.tmp, 'b-e'), { version: 'v-e' });
    await publishBuild(t.site, { dir: build.dir, app: APP, commit }, request);
    expect((await verifyAudit(t.site.state, t.site.target.statePrefix)).problems).toEqual([]);

    // The administrator replaces robots.txt and writes the manifest to match it.
    const robots = 'User-agent: *\nDisallow: /\n';
    await swap(commit, '/robots.txt', robots);
    const key = artifactManifestKey(APP, commit);
    const manifest = JSON.parse((await t.s3.store(ARTIFACTS).get(key))?.body.toString('utf8') ?? '{}');
    manifest.files['/robots.txt'].sha256 = createHash('sha256').update(robots).digest('hex');
    manifest.files['/robots.txt'].size = robots.length;
    await t.s3.store(ARTIFACTS).put(key, JSON.stringify(manifest));

    const summary = await deployArtifact(t.site, { app: APP, commit, request });
    expect(summary.outcome).toBe('succeeded');
    const verified = await verifyAudit(t.site.state, t.site.target.statePrefix);
    expect(verified.ok).toBe(false);
    expect(verified.problems).toEqual([
      expect.objectContaining({
        kind: 'tampered',
        reason: expect.stringMatching(
          /records sophia-dashboard@e5e5e5e going out as sha256:\S+, but the publish log records that commit published as sha256:\S+: its manifest and files were replaced/,
        ),
      }),
    ]);
  });
});

describe('atomic: a published file replaced afterwards', () => {
  let a: AtomicEnv;
  beforeAll(async () => {
    a = await startAtomicEnv({ stack: 'artifact-swap-atomic' });
  });
  afterAll(() => a?.stop());

  it('stops the release before its switch: the CDN keeps serving the live one', async () => {
    await a.publish('1111111111111111', 'one');
    await deployArtifact(a.site, { app: ATOMIC_APP, commit: '1111111111111111', request: atomicRequest() });
    const before = await a.store().read();
    await a.publish('2222222222222222', 'two');
    await a.s3
      .store(a.target.artifactsBucket)
      .put(artifactFileKey(ATOMIC_APP, '2222222222222222', '/index.html'), '<h1>defaced</h1>');
    const deploy = deployArtifact(a.site, {
      app: ATOMIC_APP,
      commit: '2222222222222222',
      request: atomicRequest(),
    });
    await expect(deploy).rejects.toMatchObject({ code: 'TAMPERED' });
    expect((await a.store().read()).value).toEqual(before.value);
    expect((await a.site.records.readPointer())?.value.commit).toBe('1111111111111111');
    // Run again, it is refused again: the copy that landed was removed, not counted as copied.
    const again = deployArtifact(a.site, {
      app: ATOMIC_APP,
      commit: '2222222222222222',
      request: atomicRequest(),
    });
    await expect(again).rejects.toMatchObject({ code: 'TAMPERED' });
    expect((await a.store().read()).value).toEqual(before.value);
  });
});
