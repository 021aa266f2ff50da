import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UNCHECKED_COPIES } from '../../src/deploy/artifact-copy.ts';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { publishBuild } from '../../src/deploy/publish.ts';
import { artifactFileKey } from '../../src/engine/manifest.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import type { RequestInfo } from '../../src/state/records.ts';
import {
  APP as ATOMIC_APP,
  type AtomicEnv,
  request as atomicRequest,
  startAtomicEnv,
} from '../support/atomic-env.ts';
import { type BucketSnapshot, snapshotStackAndBuilds } from '../support/bucket-snapshot.ts';
import {
  ARTIFACTS,
  deployUnchecked,
  publishAsCi,
  startDeployEnv,
  type TestDeployEnv,
} from '../support/deploy-env.ts';
import { type FixtureBuild, writeFixtureBuild } from '../support/fixture-build.ts';
import { replacePublished } from '../support/replace-published.ts';

const APP = 'sophia-dashboard';
const request: RequestInfo = { text: 'deploy', actor: 'ci', planner: 'cli', at: new Date().toISOString() };
const commits = ['a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3', 'd4d4d4d4d4d4d4'] as const;
const builds = new Map<string, FixtureBuild>();
let t: TestDeployEnv;
/** The builds published, nothing deployed: where each describe's cases start from. */
let published: BucketSnapshot;

beforeAll(async () => {
  t = await startDeployEnv({ stack: 'artifact-swap' });
  for (const [i, commit] of commits.entries()) {
    const build = await writeFixtureBuild(join(t.tmp, `b${i}`), {
      version: `v${i}`,
      robots: `# build ${i}\n`,
    });
    builds.set(commit, build);
    await publishAsCi(t.site, { dir: build.dir, app: APP, commit });
  }
  published = await snapshotStackAndBuilds(t.site);
});
afterAll(() => t?.stop());

/** The artifacts bucket's administrator replaces one published file (no condition: they may). */
const swap = (commit: string, path: string, content: string) =>
  t.s3.store(ARTIFACTS).put(artifactFileKey(APP, commit, path), content, { contentType: 'text/html' });

const served = async (key: string) => (await t.site.hosting.get(key))?.body.toString('utf8');
const live = async () => (await t.site.records.readPointer())?.value.commit;

describe('in place: a published file replaced afterwards', () => {
  /** The first build live, none of its files replaced: each case starts there. */
  let firstLive: BucketSnapshot;
  beforeAll(async () => {
    await published.restore();
    await deployArtifact(t.site, { app: APP, commit: commits[0], request });
    firstLive = await snapshotStackAndBuilds(t.site);
  });
  beforeEach(() => firstLive.restore());

  it('a swapped hashed asset stops the deploy before anything visible changed, naming the file; run again, it is refused the same way (the copy that landed was removed)', async () => {
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

describe('an S3-compatible server that answers a copy without its SHA-256', () => {
  beforeEach(() => published.restore());

  it('deploys unchecked, and the operator is told so once', async () => {
    const commit = 'c0c0c0c0c0c0c0';
    const build = await writeFixtureBuild(join(t.tmp, 'b-no-checksum'), { version: 'v-nc' });
    await publishAsCi(t.site, { dir: build.dir, app: APP, commit });
    // What such a server answers: the copy, and no checksum of it.
    const hosting = t.site.hosting;
    const site = {
      ...t.site,
      hosting: {
        ...hosting,
        copyFrom: async (...args: Parameters<typeof hosting.copyFrom>) => ({
          ...(await hosting.copyFrom(...args)),
          sha256: null,
        }),
      },
    };
    const before = t.site.notices.length;
    const summary = await deployArtifact(site, { app: APP, commit, request });
    expect(summary.outcome).toBe('succeeded');
    expect(summary.copied).toBeGreaterThan(1);
    expect(t.site.notices.slice(before)).toEqual([UNCHECKED_COPIES]);
    expect(UNCHECKED_COPIES).toMatch(/not checked against their manifest/);
  });
});

describe('a manifest replaced together with its files', () => {
  beforeEach(() => published.restore());

  it('is refused before anything is written: the publish log recorded another digest; verify tells one that went out before', async () => {
    const commit = 'e5e5e5e5e5e5e5';
    const build = await writeFixtureBuild(join(t.tmp, 'b-e'), { version: 'v-e' });
    await publishBuild(t.site, { dir: build.dir, app: APP, commit }, request);
    expect((await verifyAudit(t.site.state, t.site.target.statePrefix)).problems).toEqual([]);

    // The administrator replaces robots.txt and writes the manifest to match it.
    const robots = 'User-agent: *\nDisallow: /\n';
    await replacePublished(t.s3.store(ARTIFACTS), APP, commit, '/robots.txt', robots);

    const state = async () =>
      (await t.site.state.list(t.target.statePrefix)).map((o) => `${o.key} ${o.etag}`);
    const before = await state();
    for (const dryRun of [true, false]) {
      const refused = deployArtifact(t.site, { app: APP, commit, request, dryRun });
      await expect(refused).rejects.toMatchObject({ code: 'TAMPERED' });
      await expect(refused).rejects.toThrow(
        /The build sophia-dashboard@e5e5e5e in the artifacts bucket is sha256:\S+, but the publish log .* record it published as sha256:\S+ .*: its manifest and files were replaced since\. Nothing was changed\./,
      );
    }
    expect(await state()).toEqual(before);

    // Made live as a deploy did before it checked the publish log: verify tells.
    await deployUnchecked(t.site, APP, commit, request);
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
    const deployTwo = () =>
      deployArtifact(a.site, { app: ATOMIC_APP, commit: '2222222222222222', request: atomicRequest() });
    await expect(deployTwo()).rejects.toMatchObject({ code: 'TAMPERED' });
    expect((await a.store().read()).value).toEqual(before.value);
    expect((await a.site.records.readPointer())?.value.commit).toBe('1111111111111111');
    // Run again, it is refused again: the copy that landed was removed, not counted as copied.
    await expect(deployTwo()).rejects.toMatchObject({ code: 'TAMPERED' });
    expect((await a.store().read()).value).toEqual(before.value);
  });
});

/**
 * The manifest replaced together with its files, for a build the stack had live. The copy check
 * passes (each file is "the manifest's"), and `audit verify`'s publish-log check cannot judge a build
 * published before the stack kept a publish log. But the stack recorded the build's digest when it
 * deployed it (the live pointer, the deployment records): a rollback or redeploy of that build whose
 * manifest now has another digest was not published that way, and is refused before anything changes.
 */
describe('a manifest replaced with its files, for a build the stack had live', () => {
  /** Replaces robots.txt of app@commit and writes the manifest to match (no publish log involved). */
  const swapWithManifest = (commit: string, robots: string) =>
    replacePublished(t.s3.store(ARTIFACTS), APP, commit, '/robots.txt', robots);
  const ids = ['f6f6f6f6f6f6f6', 'a7a7a7a7a7a7a7', 'b8b8b8b8b8b8b8'] as const;
  const forbidAll = 'User-agent: *\nDisallow: /\n';
  /** Two of them live in turn; then the first one's files and manifest replaced, as the first case does. */
  let twoLive: BucketSnapshot;
  let firstReplaced: BucketSnapshot;

  beforeAll(async () => {
    await published.restore();
    for (const [i, commit] of ids.entries()) {
      const build = await writeFixtureBuild(join(t.tmp, `m${i}`), { version: `m${i}`, robots: `# m${i}\n` });
      builds.set(commit, build);
      await publishAsCi(t.site, { dir: build.dir, app: APP, commit });
    }
    await deployArtifact(t.site, { app: APP, commit: ids[0], request });
    await deployArtifact(t.site, { app: APP, commit: ids[1], request });
    twoLive = await snapshotStackAndBuilds(t.site);
    await swapWithManifest(ids[0], forbidAll);
    firstReplaced = await snapshotStackAndBuilds(t.site);
  });

  it('a rollback to it is refused (TAMPERED), naming both digests; nothing changes', async () => {
    await twoLive.restore();
    await swapWithManifest(ids[0], forbidAll);
    const pointerBefore = await t.site.records.readPointer();
    const back = rollbackRelease(t.site, { request });
    await expect(back).rejects.toMatchObject({ code: 'TAMPERED' });
    await expect(back).rejects.toThrow(
      /The manifest of sophia-dashboard@f6f6f6f in the artifacts bucket is not the one deployed to artifact-swap as \S+ \(sha256:[0-9a-f]{12}… then, sha256:[0-9a-f]{12}… now\)/,
    );
    const dry = rollbackRelease(t.site, { request, dryRun: true });
    await expect(dry).rejects.toMatchObject({ code: 'TAMPERED' });
    expect((await t.site.records.readPointer())?.etag).toBe(pointerBefore?.etag);
    expect(await served('robots.txt')).toBe(builds.get(ids[1])?.files['/robots.txt']);
  });

  it('so is deploying that commit again, and the live one replaced under it', async () => {
    await firstReplaced.restore();
    await expect(deployArtifact(t.site, { app: APP, commit: ids[0], request })).rejects.toMatchObject({
      code: 'TAMPERED',
    });
    await swapWithManifest(ids[1], 'User-agent: *\nDisallow: /private\n');
    await expect(deployArtifact(t.site, { app: APP, commit: ids[1], request })).rejects.toMatchObject({
      code: 'TAMPERED',
    });
    expect(await live()).toBe(ids[1]);
    expect(await served('robots.txt')).toBe(builds.get(ids[1])?.files['/robots.txt']);
  });

  it('so is `rollback --to` a deployment the live pointer no longer retains (from its record)', async () => {
    await firstReplaced.restore();
    // Enough newer releases that the stack's pointer no longer retains ids[0].
    const site = { ...t.site, retain: 1 };
    await deployArtifact(site, { app: APP, commit: ids[2], request });
    const pointer = (await site.records.readPointer())?.value;
    expect(pointer?.releases.map((r) => r.commit)).not.toContain(ids[0]);
    const back = rollbackRelease(site, { to: ids[0], request });
    await expect(back).rejects.toMatchObject({ code: 'TAMPERED' });
    expect(await live()).toBe(ids[2]);
  });
});

describe('atomic: a manifest replaced with its files, for a release no longer kept', () => {
  let a: AtomicEnv;
  beforeAll(async () => {
    a = await startAtomicEnv({ stack: 'artifact-swap-atomic-old', retain: 1 });
  });
  afterAll(() => a?.stop());

  it('`rollback --to` it is refused before its release is uploaded again; the CDN keeps the live one', async () => {
    const [old, current] = ['3333333333333333', '4444444444444444'];
    await a.publish(old, 'three');
    await deployArtifact(a.site, { app: ATOMIC_APP, commit: old, request: atomicRequest() });
    await a.publish(current, 'four');
    await deployArtifact(a.site, { app: ATOMIC_APP, commit: current, request: atomicRequest() });
    expect((await a.site.records.readPointer())?.value.releases.map((r) => r.commit)).toEqual([current]);

    await replacePublished(
      a.s3.store(a.target.artifactsBucket),
      ATOMIC_APP,
      old,
      '/index.html',
      '<h1>defaced</h1>',
    );

    const before = await a.store().read();
    const back = rollbackRelease(a.site, { to: old, request: atomicRequest() });
    await expect(back).rejects.toMatchObject({ code: 'TAMPERED' });
    await expect(back).rejects.toThrow(
      /The manifest of .*@3333333 in the artifacts bucket is not the one deployed/,
    );
    expect((await a.store().read()).value).toEqual(before.value);
    expect((await a.site.records.readPointer())?.value.commit).toBe(current);
  });
});
