/**
 * On an atomic stack the deployer role can delete the CDN's release-store key around FrontendOps:
 * edges then serve the bucket root. `status` says so, and a pin refuses it; a deploy or a rollback
 * switches from the recorded state again, as it does where the store names another release, and
 * records what it found, as it records that: `drift`, here null (the store held no pointer), in its
 * summary (its dry run's too) and in its audit entry.
 *
 * Before: the deploy and the rollback went through and recorded nothing (driftOf sees no pointer,
 * so no drift): `drift` was absent from both summaries and entries.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { readAudit } from '../../src/state/audit.ts';
import { APP, request } from '../support/atomic-env.ts';
import { outsideWritesEnvFor } from '../support/atomic-snapshot.ts';
import { get, releaseOf } from '../support/edge-probe.ts';

const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3'] as const;
const { env, raw } = outsideWritesEnvFor({ stack: 'deploy-pointer-deleted' }, [V1, V2, V3], 2);

// Each case starts from v2 deployed, the release-store key then deleted outside FrontendOps.
beforeEach(() => raw().write('delete'));

/** The newest entry of a type (a rollback's pin follows its own). */
const newestEntry = async (type: string) =>
  (await readAudit(env().site.state, env().target.statePrefix)).findLast((e) => e.type === type);

describe('a deploy or rollback while the release-store key was deleted outside FrontendOps', () => {
  it('a deploy (and its dry run) records that the store held no pointer, then switches', async () => {
    const t = env();
    const planned = await deployArtifact(t.site, { app: APP, commit: V3, request: request(), dryRun: true });
    expect(planned).toMatchObject({ outcome: 'planned', drift: null });

    const done = await deployArtifact(t.site, { app: APP, commit: V3, request: request() });
    expect(done).toMatchObject({ outcome: 'succeeded', drift: null });
    expect(releaseOf((await get(`${t.edge.url}/`, {})).body)).toBe('v3');
    expect(await newestEntry('deploy')).toMatchObject({ data: { commit: V3, drift: null } });
  });

  it('a rollback records it the same way', async () => {
    const t = env();
    const back = await rollbackRelease(t.site, { request: request('back') });
    expect(back).toMatchObject({ outcome: 'succeeded', commit: V1, drift: null });
    expect(releaseOf((await get(`${t.edge.url}/`, {})).body)).toBe('v1');
    expect(await newestEntry('rollback')).toMatchObject({ data: { commit: V1, drift: null } });
  });

  it('with the key in place, nothing is recorded as drift', async () => {
    const t = env();
    await deployArtifact(t.site, { app: APP, commit: V2, request: request('put back') });
    const done = await deployArtifact(t.site, { app: APP, commit: V3, request: request() });
    expect(done).not.toHaveProperty('drift');
    expect((await newestEntry('deploy'))?.data).toMatchObject({ commit: V3 });
    expect((await newestEntry('deploy'))?.data).not.toHaveProperty('drift');
  });
});
