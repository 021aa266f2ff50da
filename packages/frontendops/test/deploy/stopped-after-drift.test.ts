/**
 * A deploy that recorded store drift (the release-store key written or deleted outside FrontendOps)
 * and stopped after its switch, as a process killed there: its plan switched from what the store held
 * (the drifted pointer, or none), not from the release the live pointer keeps before it. The next
 * run finishes it first, held to its own recorded drift, and the stack goes on; the chain verifies.
 *
 * Before: the next deploy and every change after it were refused TAMPERED ("switched from a release
 * the live pointer does not keep before it"): the stack was stuck until someone edited the bucket.
 */
import { describe, expect, it } from 'vitest';
import { deployArtifact, finishSyncedDeploy, rollbackRelease } from '../../src/deploy/deploy.ts';
import { releaseIdFor } from '../../src/engine/atomic-plan.ts';
import { readAudit, verifyAudit } from '../../src/state/audit.ts';
import { APP, request } from '../support/atomic-env.ts';
import { outsideWritesEnvFor } from '../support/atomic-snapshot.ts';
import { get, releaseOf } from '../support/edge-probe.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3'] as const;
const { env, raw } = outsideWritesEnvFor({ stack: 'stopped-after-drift' }, [V1, V2, V3], 2);

/** The pointer the store names for v1's kept release (the deployer role put it back). */
async function pointStoreAtV1(): Promise<string> {
  const t = env();
  const kept = (await t.site.records.readPointer())?.value.releases.find((r) => r.commit === V1);
  if (!kept) throw new Error('v1 is kept');
  const store = t.store();
  await store.write({ live: releaseIdFor(kept) }, (await store.read()).etag);
  return releaseIdFor(kept);
}

describe('a deploy that recorded store drift, stopped after its switch', () => {
  for (const drift of ['store names another release', 'key deleted'] as const) {
    it(`${drift}: the next run finishes it, recording the drift, and the stack goes on`, async () => {
      const t = env();
      const was =
        drift === 'key deleted'
          ? await raw()
              .write('delete')
              .then(() => null)
          : { live: await pointStoreAtV1() };
      // Stopped at its own audit entry: the switch landed, its finish did not.
      const stopping = stoppingSite(
        t.site,
        (key, body) => /\/audit\/\d{10}\.json$/.test(key) && String(body).includes('"type":"deploy"'),
      );
      await expect(deployArtifact(stopping, { app: APP, commit: V3, request: request() })).rejects.toThrow(
        /stopped/,
      );
      expect(releaseOf((await get(`${t.edge.url}/`, {})).body)).toBe('v3');

      const next = await deployArtifact(t.site, { app: APP, commit: V1, request: request('next') }).catch(
        (e: { code?: string; message: string }) => `${e.code}: ${e.message}`,
      );
      expect(next).toMatchObject({ outcome: 'succeeded', commit: V1 });
      const entries = await readAudit(t.site.state, t.target.statePrefix);
      const v3 = entries.find((e) => e.type === 'deploy' && e.data.commit === V3);
      expect(v3?.data.drift).toEqual(was);
      const back = await rollbackRelease(t.site, { request: request('back') }).catch(
        (e: { code?: string; message: string }) => `${e.code}: ${e.message}`,
      );
      expect(back).toMatchObject({ outcome: 'succeeded', commit: V3 });
      expect(releaseOf((await get(`${t.edge.url}/`, {})).body)).toBe('v3');
      const { problems } = await verifyAudit(t.site.state, t.target.statePrefix, {
        releaseStore: t.store(),
      });
      expect(problems).toEqual([]);
    });
  }
});

describe('a synced deploy that switched from genuine drift, whose CDN does not serve it', () => {
  // Not switched back on its own (its record's drift is no entry's word: forged-switch-back.test.ts),
  // and not stuck either: the refusal names the release it switched from, and the rollback it says
  // to run goes there; the stack goes on.
  it('is recorded failed, and the rollback its refusal names serves the release it switched from', async () => {
    const t = env();
    const from = await pointStoreAtV1();
    const synced = await deployArtifact(t.site, {
      app: APP,
      commit: V3,
      request: request(),
      stopBeforeInvalidation: true,
    });
    const error = await finishSyncedDeploy(t.site, synced.deployId, {
      request: request(),
      verifyTimeoutMs: 200,
      fetch: async () => new Response('<html>stale</html>', { status: 200 }),
    }).catch((e: { code?: string; message: string }) => e);
    expect(error).toMatchObject({ code: 'CONFLICT' });
    const message = (error as Error).message;
    expect(message).toContain(`It switched from release ${from}`);
    expect(message).toMatch(/frontendops rollback --to <deployId\|commit>/);
    expect((await t.site.records.readRecord(synced.deployId))?.outcome).toBe('failed');
    // The release named starts with its commit's short sha: what `rollback --to` takes.
    const back = await rollbackRelease(t.site, { to: from.slice(0, 7), request: request('back') });
    expect(back).toMatchObject({ outcome: 'succeeded', commit: V1 });
    expect(releaseOf((await get(`${t.edge.url}/`, {})).body)).toBe('v1');
    const { problems } = await verifyAudit(t.site.state, t.target.statePrefix, { releaseStore: t.store() });
    expect(problems).toEqual([]);
  });
});
