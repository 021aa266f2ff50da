/**
 * A kept release whose build expired from the artifacts bucket (a lifecycle rule) names no assets,
 * yet its pages still load them. The prune kept only assets some kept manifest named, so a canary
 * start deleted the live release's script and stylesheet from under 90% of visitors, and a deploy
 * deleted them from the release a rollback then made live (its verification reads only index.html).
 * Now no shared asset is pruned while a kept release has no manifest.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deployAtomic } from '../../src/deploy/atomic-deploy.ts';
import { startCanary } from '../../src/deploy/canary.ts';
import { rollbackRelease } from '../../src/deploy/deploy.ts';
import { artifactManifestKey } from '../../src/engine/manifest.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import {
  APP,
  ARTIFACTS,
  type AtomicEnv,
  type ReleaseBuild,
  request,
  startAtomicEnv,
} from '../support/atomic-env.ts';
import { get } from '../support/edge-probe.ts';

const LIVE = '0101010101010101010101010101010101010101';
const NEXT = '0202020202020202020202020202020202020202';

describe("the live release's build expires from the artifacts bucket", () => {
  let t: AtomicEnv;
  let v1: ReleaseBuild;
  const envs: AtomicEnv[] = [];
  beforeEach(async () => {
    t = await startAtomicEnv({ retain: 3, stack: 'expired-prune' });
    envs.push(t);
    v1 = await t.publish(LIVE, 'v1');
    await t.publish(NEXT, 'v2');
    await deployAtomic(t.site, { app: APP, commit: LIVE, request: request() });
    await t.s3.store(ARTIFACTS).delete([artifactManifestKey(APP, LIVE)]); // a lifecycle rule
  });
  afterEach(async () => {
    await envs.pop()?.stop();
  });
  afterAll(async () => {
    for (const env of envs) await env.stop();
  });

  /** v1's assets the hosting bucket no longer holds. */
  const missing = async () => {
    const keys = new Set((await t.site.hosting.list('')).map((o) => o.key));
    return Object.keys(v1.files).filter((p) => p.startsWith('/assets/') && !keys.has(p.slice(1)));
  };

  it("a canary start keeps the live release's assets", async () => {
    await startCanary(t.site, { app: APP, commit: NEXT, weightPercent: 10, request: request('canary') });
    expect(await missing()).toEqual([]);
    expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
  });

  it('a deploy keeps them, and a rollback to it then serves them', async () => {
    await deployAtomic(t.site, { app: APP, commit: NEXT, request: request('deploy v2') });
    expect(await missing()).toEqual([]);
    await rollbackRelease(t.site, { request: request('rollback') });
    for (const path of Object.keys(v1.files).filter((p) => p.startsWith('/assets/'))) {
      expect((await get(`${t.edge.url}${path}`, {})).status, path).toBe(200);
    }
    expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
  });
});
