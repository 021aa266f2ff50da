import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { migrateToAtomic } from '../../src/deploy/migrate.ts';
import { previewLink } from '../../src/deploy/preview.ts';
import { artifactFileKey } from '../../src/engine/manifest.ts';
import type { ObjectStore } from '../../src/ports.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import type { RequestInfo } from '../../src/state/records.ts';
import { APP, request as atomicRequest, startAtomicEnv } from '../support/atomic-env.ts';
import { publishAsCi, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { Browser, releaseOf } from '../support/edge-probe.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';
import { replacePublished } from '../support/replace-published.ts';
import { type StaleCdn, startStaleCdn } from '../support/stale-cdn.ts';

const EVIL =
  '<!doctype html><html><head><meta name="release" content="EVIL"></head><body>defaced</body></html>\n';
const request: RequestInfo = { text: 'deploy', actor: 'ci', planner: 'cli', at: new Date().toISOString() };
/**
 * Held to what was recorded of it: the deployment records, or first, for a deploy of a build the
 * pointer no longer retains and a preview by commit, the publish log that recorded it published.
 */
const TAMPERED =
  /The manifest of sophia-dashboard@\w{7} in the artifacts bucket is not the one deployed to|The build sophia-dashboard@\w{7} in the artifacts bucket is sha256:\w+, but the publish log .* record it published as sha256:\w+ .*: its manifest and files were replaced since/;

/** The artifacts bucket's administrator replaces a file of app@commit and writes the manifest to match it. */
const replaceWithManifest = (store: ObjectStore, commit: string, path: string, body: string) =>
  replacePublished(store, APP, commit, path, body);

describe('in place', () => {
  let t: TestDeployEnv;
  /** What the CDN answers for the site: the hosting bucket's index.html, or `frozen` while set. */
  let cdn: StaleCdn;
  beforeAll(async () => {
    cdn = await startStaleCdn(async () => (await t.site.hosting.get('index.html'))?.body);
    t = await startDeployEnv({ stack: 'swap-recorded', siteUrl: `${cdn.url}/` });
  });
  afterAll(async () => {
    await t?.stop();
    await cdn?.stop();
  });
  const publish = async (commit: string, version: string) => {
    const build = await writeFixtureBuild(join(t.tmp, commit), { version, robots: `# ${version}\n` });
    await publishAsCi(t.site, { dir: build.dir, app: APP, commit });
  };
  const served = async () => (await t.site.hosting.get('index.html'))?.body.toString('utf8') ?? null;

  it('a stopped deploy does not put back the live release from its replaced manifest', async () => {
    const [live, next] = ['5050505050505050', '6060606060606060'];
    await publish(live, 'live');
    await publish(next, 'next');
    await deployArtifact(t.site, { app: APP, commit: live, request });
    await replaceWithManifest(t.site.artifacts as ObjectStore, live, '/index.html', EVIL);
    // The next build's index.html replaced alone: its copy check stops the deploy after its copy.
    await (t.site.artifacts as ObjectStore).put(artifactFileKey(APP, next, '/index.html'), '<h1>other</h1>');
    const deploy = deployArtifact(t.site, { app: APP, commit: next, request });
    await expect(deploy).rejects.toMatchObject({ code: 'TAMPERED' });
    expect(await served()).not.toBe(EVIL);
  });

  it('the automatic rollback after a failed verification does not go to a replaced release', async () => {
    const env = await startDeployEnv({ stack: 'swap-recorded-auto', siteUrl: t.target.siteUrl });
    try {
      const site = env.site;
      const [v1, v2] = ['1010101010101010', '2020202020202020'];
      for (const [commit, version] of [
        [v1, 'v1'],
        [v2, 'v2'],
      ] as const) {
        const build = await writeFixtureBuild(join(env.tmp, commit), { version });
        await publishAsCi(site, { dir: build.dir, app: APP, commit });
      }
      const original = t;
      t = env; // the CDN double answers this environment's hosting bucket
      try {
        await deployArtifact(site, { app: APP, commit: v1, request, verifyTimeoutMs: 5_000 });
        await replaceWithManifest(site.artifacts as ObjectStore, v1, '/index.html', EVIL);
        cdn.frozen = 'stale'; // the CDN does not serve the new release
        const deploy = deployArtifact(site, { app: APP, commit: v2, request, verifyTimeoutMs: 300 });
        await expect(deploy).rejects.toThrow(TAMPERED);
        // It says what is live: the failed deploy, not "nothing was changed".
        await expect(deploy).rejects.toThrow(
          /2020202-\w+ \(sophia-dashboard@2020202\) stays live, recorded as failed .*it was not rolled back/,
        );
        await expect(deploy).rejects.not.toThrow(/Nothing was changed/);
      } finally {
        cdn.frozen = null;
        t = original;
      }
      expect((await site.hosting.get('index.html'))?.body.toString('utf8')).not.toBe(EVIL);
    } finally {
      await env.stop();
    }
  });

  it('a deploy of a build the pointer no longer retains is held against its deployment record', async () => {
    const site = { ...t.site, retain: 1 };
    const [old, current] = ['3030303030303030', '4040404040404040'];
    await publish(old, 'old');
    await publish(current, 'current');
    await deployArtifact(site, { app: APP, commit: old, request });
    await deployArtifact(site, { app: APP, commit: current, request });
    await replaceWithManifest(site.artifacts as ObjectStore, old, '/index.html', EVIL);
    await expect(deployArtifact(site, { app: APP, commit: old, request })).rejects.toThrow(TAMPERED);
    await expect(deployArtifact(site, { app: APP, commit: old, request, dryRun: true })).rejects.toThrow(
      TAMPERED,
    );
    expect(await served()).not.toBe(EVIL);
  });
});

describe('a deployment record forged by the deployer role', () => {
  it('blocks that commit with a refusal that says how to tell the record from the build', async () => {
    const env = await startDeployEnv({ stack: 'swap-recorded-forged' });
    try {
      const commit = '1234567123456712';
      const build = await writeFixtureBuild(join(env.tmp, 'b'), { version: 'v' });
      await publishAsCi(env.site, { dir: build.dir, app: APP, commit });
      const forged = '1234567-ffffffffff';
      await env.site.state.put(
        `${env.target.statePrefix}deployments/${forged}.json`,
        JSON.stringify({ deployId: forged, app: APP, commit, artifactDigest: `sha256:${'0'.repeat(64)}` }),
      );
      const deploy = deployArtifact(env.site, { app: APP, commit, request });
      await expect(deploy).rejects.toThrow(
        new RegExp(
          `If \`frontendops audit verify\` reports the record of ${forged} \\(deployments/${forged}\\.json under the state prefix\\) as written around the chain, that record is what was forged`,
        ),
      );
      const verified = await verifyAudit(env.site.state, env.target.statePrefix);
      expect(verified.problems).toContainEqual(
        expect.objectContaining({ object: `deployments/${forged}.json`, kind: 'tampered' }),
      );
    } finally {
      await env.stop();
    }
  });
});

describe('atomic', () => {
  it('a preview of a replaced old build (by commit or deploy id) is refused, and so is the rollback after it', async () => {
    const a = await startAtomicEnv({ stack: 'swap-recorded-preview', retain: 1 });
    try {
      const [old, current] = ['3333333333333333', '4444444444444444'];
      await a.publish(old, 'three');
      const first = await deployArtifact(a.site, { app: APP, commit: old, request: atomicRequest() });
      await a.publish(current, 'four');
      await deployArtifact(a.site, { app: APP, commit: current, request: atomicRequest() });
      await replaceWithManifest(a.s3.store(a.target.artifactsBucket), old, '/index.html', EVIL);

      const byCommit = previewLink(a.site, {
        app: APP,
        commit: old,
        request: atomicRequest(),
        verify: false,
      });
      await expect(byCommit).rejects.toThrow(TAMPERED);
      const byId = previewLink(a.site, { deployId: first.deployId, request: atomicRequest(), verify: false });
      await expect(byId).rejects.toThrow(TAMPERED);
      await expect(rollbackRelease(a.site, { to: old, request: atomicRequest() })).rejects.toThrow(TAMPERED);
      expect(releaseOf((await new Browser(a.edge.url).navigate('/')).body)).toBe('four');
    } finally {
      await a.stop();
    }
  });

  it('a migration does not publish the live build from its replaced manifest', async () => {
    const a = await startAtomicEnv({ stack: 'swap-recorded-migrate' });
    try {
      const inPlace = await a.open({ inPlace: true });
      const commit = '7777777777777777';
      await a.publish(commit, 'seven');
      await deployArtifact(inPlace, { app: APP, commit, request: atomicRequest() });
      await replaceWithManifest(a.s3.store(a.target.artifactsBucket), commit, '/index.html', EVIL);
      await expect(migrateToAtomic(a.site, { request: atomicRequest() })).rejects.toThrow(TAMPERED);
      expect(releaseOf((await new Browser(a.edge.url).navigate('/')).body)).not.toBe('EVIL');
    } finally {
      await a.stop();
    }
  });
});
