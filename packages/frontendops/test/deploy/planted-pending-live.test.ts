/**
 * In place, a crash-recovery record (pending.json, which no entry binds) planted together with a
 * live.json naming its deploy live: the pair an in-place deploy stopped between moving its pointer
 * and recording itself leaves, and `audit verify` calls unfinished, since nothing the deployer role
 * cannot write tells the two apart. Before, a deploy id only that pair names resolved (resolveRelease:
 * `frontendops promote <id>`, promote_release, the console's redeploy) to the build the pair chose,
 * never live here, and the words of the promote's request ("promote …@c3c3c3c") came from it. The
 * live pointer's first release is the stopped change's own there, which no entry records: refused as
 * a deployment record no entry binds yet is (CONFLICT, saying how to finish it, nothing changed),
 * never as forged, and resolved once the change is finished. A genuine stop is told the same.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { resolveRelease } from '../../src/deploy/pin.ts';
import type { DeployPlan } from '../../src/engine/plan.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import type { Site } from '../../src/site.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { request } from '../support/atomic-env.ts';
import { auditVerdict, livePointerNaming } from '../support/audit-forgery.ts';
import { type BucketSnapshot, snapshotBuckets } from '../support/bucket-snapshot.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { refusal, writesSince } from '../support/refusal.ts';
import { stoppedAtEntryAfter, stoppingSite } from '../support/stopping-site.ts';

const APP = 'sophia-dashboard';
const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3c3c3'] as const;

/** The words a refusal of a deploy id only an unfinished live.json names must carry. */
function expectNotYetRecorded(error: Error & { code?: string }, deployId: string) {
  expect(isFrontendOpsError(error, 'CONFLICT'), String(error)).toBe(true);
  expect(error.message).toContain(deployId);
  expect(error.message).toContain('live.json');
  expect(error.message).toMatch(/no audit entry records/);
  expect(error.message).toMatch(/Nothing was changed/);
  expect(error.message).toMatch(/run the deploy again to finish it/);
  expect(error.message).not.toMatch(/not written by FrontendOps/);
}

describe('in place: a deploy id only a crash-recovery record and the live pointer name', () => {
  let t: TestDeployEnv;
  let site: Site;
  /** V1 then V2 deployed, V2 live: the state prefix and hosting bucket each case starts from. */
  let deployed: BucketSnapshot;
  const key = (name: string) => `${t.target.statePrefix}${name}`;

  beforeAll(async () => {
    t = await startDeployEnv({ stack: 'planted-pending-live' });
    site = t.site;
    await publishFixtureBuilds(t, APP, [V1, V2, V3]);
    for (const commit of [V1, V2]) await deployArtifact(site, { app: APP, commit, request: request('ship') });
    deployed = await snapshotBuckets([
      { store: site.state, prefix: t.target.statePrefix },
      { store: site.hosting },
    ]);
  }, 180_000);
  beforeEach(() => deployed.restore());
  afterAll(() => t?.stop());

  it('planted by the deployer role: the id resolves to no build, and nothing is written', async () => {
    // V3 is published and was never live here. The pair as an in-place deploy stopped after its
    // pointer would leave it: pending.json of a deploy of V3, live.json naming that deploy live.
    const { plan } = await deployArtifact(site, {
      app: APP,
      commit: V3,
      request: request('x'),
      dryRun: true,
    });
    const deployId = (plan as DeployPlan).deployId;
    const genuine = await site.state.get(key('live.json'));
    const live = await site.records.readPointer();
    if (!genuine || !live) throw new Error('a release is live');
    await site.records.writePending({
      plan: plan as DeployPlan,
      request: {
        text: 'promote approved by Ada',
        actor: 'Ada',
        planner: 'cli',
        at: new Date().toISOString(),
      },
      startedAt: new Date().toISOString(),
      pointerMoved: true,
    });
    const pointer = livePointerNaming({
      deployId,
      app: APP,
      commit: V3,
      artifactDigest: plan.artifactDigest,
    });
    await site.state.put(
      key('live.json'),
      JSON.stringify({ ...pointer, releases: [...pointer.releases, ...live.value.releases] }),
      { contentType: 'application/json' },
    );
    try {
      // Why it matters: verify calls the pair a stopped deploy's, as it would a genuine one.
      expect(await auditVerdict(t)).toEqual(['unfinished: live.json']);

      const before = await t.mark();
      const error = await refusal(resolveRelease(site, APP, deployId));
      expectNotYetRecorded(error, deployId);
      expect(await writesSince(t, before)).toEqual([]);
      // The releases the chain records still resolve, from their records.
      expect(await resolveRelease(site, APP, live.value.deployId)).toEqual({
        app: APP,
        commit: V2,
        deployId: live.value.deployId,
      });
    } finally {
      await site.state.put(key('live.json'), genuine.body, { contentType: 'application/json' });
      await site.records.clearPending();
    }
    expect((await verifyAudit(site.state, t.target.statePrefix)).problems).toEqual([]);
  });

  it('a genuine deploy stopped between its pointer and the entry recording it: told how to finish it', async () => {
    const stopping = stoppedAtEntryAfter(site, (k) => k === key('live.json'));
    await expect(
      deployArtifact(stopping, { app: APP, commit: V3, request: request('ship v3') }),
    ).rejects.toThrow('the process stopped');
    const live = await site.records.readPointer();
    const deployId = live?.value.deployId ?? '';
    expect(live?.value.commit).toBe(V3);
    expect(await auditVerdict(t)).toEqual(['unfinished: live.json']);

    const before = await t.mark();
    expectNotYetRecorded(await refusal(resolveRelease(site, APP, deployId)), deployId);
    expect(await writesSince(t, before)).toEqual([]);

    // The next deploy finishes it; then its deploy id resolves to its build.
    await deployArtifact(site, { app: APP, commit: V3, request: request('ship v3 again') });
    expect((await verifyAudit(site.state, t.target.statePrefix)).problems).toEqual([]);
    expect(await resolveRelease(site, APP, deployId)).toEqual({ app: APP, commit: V3, deployId });
  });

  it('a genuine deploy stopped after the entry recording its pointer: it resolves', async () => {
    // Stopped at its record: the chain records it live (its `release` entry binds live.json).
    const stopping = stoppingSite(site, (k) => k.startsWith(key('deployments/')));
    await expect(
      deployArtifact(stopping, { app: APP, commit: V1, request: request('ship v1 again') }),
    ).rejects.toThrow('the process stopped');
    const live = await site.records.readPointer();
    const deployId = live?.value.deployId ?? '';
    expect(live?.value.commit).toBe(V1);
    expect(await site.records.readRecord(deployId)).toBeNull();
    expect(await resolveRelease(site, APP, deployId)).toEqual({ app: APP, commit: V1, deployId });
  });
});
