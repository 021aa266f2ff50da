/**
 * `pin` keeps what the live pointer names live. The pointer is the deployer role's to write, and so is
 * a crash-recovery record (pending.json) that makes `audit verify` call a pointer no entry binds a
 * stopped change's. Before, a pin kept whatever the pointer named once the lock's check let it pass:
 * a deploy stopped between its pointer and the entry recording it (or that pair planted) was pinned,
 * and the pin's entry recorded as held a release no entry records going live. Now a pointer the chain
 * does not bind is refused: a tampered one TAMPERED (the lock's check), one verify calls a stopped
 * change's CONFLICT, in verify's words and saying how to finish it; nothing is written either way.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { pinRelease } from '../../src/deploy/pin.ts';
import type { DeployPlan } from '../../src/engine/plan.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { request, startDeployedAtomicEnv } from '../support/atomic-env.ts';
import { auditVerdict, livePointerNaming } from '../support/audit-forgery.ts';
import { type BucketSnapshot, snapshotBuckets } from '../support/bucket-snapshot.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { refusal, writesSince } from '../support/refusal.ts';
import { stoppedAtEntryAfter } from '../support/stopping-site.ts';

const APP = 'sophia-dashboard';
const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3c3c3'] as const;

let t: TestDeployEnv;
let deployed: BucketSnapshot;
const key = (name: string) => `${t.target.statePrefix}${name}`;

/** A pin refused with nothing written: its error. */
async function pinRefused(): Promise<Error & { code?: string }> {
  const before = await t.mark();
  const error = await refusal(pinRelease(t.site, { request: request('hold it') }));
  expect(await writesSince(t, before)).toEqual([]);
  expect(await t.site.state.get(key('pin.json'))).toBeNull();
  return error;
}

/** The words of the refusal of a pointer verify calls a stopped deploy's. */
function expectStoppedDeploy(error: Error & { code?: string }, deployId: string) {
  expect(isFrontendOpsError(error, 'CONFLICT'), String(error)).toBe(true);
  expect(error.message).toContain(deployId);
  expect(error.message).toContain('live.json');
  expect(error.message).toMatch(/no audit entry records it going live/);
  expect(error.message).toMatch(/run the deploy again to finish it/);
  expect(error.message).toMatch(/Nothing was pinned/);
  expect(error.message).not.toMatch(/not written by FrontendOps/);
}

beforeAll(async () => {
  t = await startDeployEnv({ stack: 'pin-unrecorded-live' });
  await publishFixtureBuilds(t, APP, [V1, V2, V3]);
  for (const commit of [V1, V2]) await deployArtifact(t.site, { app: APP, commit, request: request('ship') });
  deployed = await snapshotBuckets([{ store: t.site.state, prefix: t.target.statePrefix }]);
}, 180_000);
beforeEach(async () => {
  await deployed.restore();
});
afterAll(() => t?.stop());

describe('pin of a live pointer the audit chain does not bind', () => {
  it('a genuine deploy stopped between its pointer and its entry: CONFLICT, how to finish it; pinned once finished', async () => {
    const stopping = stoppedAtEntryAfter(t.site, (k) => k === key('live.json'));
    await expect(
      deployArtifact(stopping, { app: APP, commit: V3, request: request('ship v3') }),
    ).rejects.toThrow('the process stopped');
    const deployId = (await t.site.records.readPointer())?.value.deployId ?? '';
    expect(await auditVerdict(t)).toEqual(['unfinished: live.json']);

    expectStoppedDeploy(await pinRefused(), deployId);

    await deployArtifact(t.site, { app: APP, commit: V3, request: request('ship v3 again') });
    const { pin, created } = await pinRelease(t.site, { request: request('hold it') });
    expect({ created, deployId: pin.deployId, commit: pin.commit }).toEqual({
      created: true,
      deployId,
      commit: V3,
    });
    expect(await auditVerdict(t)).toEqual([]);
  });

  it('planted with a crash-recovery record naming it (what verify calls unfinished): CONFLICT, nothing written', async () => {
    const { plan } = await deployArtifact(t.site, {
      app: APP,
      commit: V3,
      request: request('x'),
      dryRun: true,
    });
    const deployId = (plan as DeployPlan).deployId;
    const live = await t.site.records.readPointer();
    if (!live) throw new Error('a release is live');
    await t.site.records.writePending({
      plan: plan as DeployPlan,
      request: request('approved by Ada'),
      startedAt: new Date().toISOString(),
      pointerMoved: true,
    });
    const pointer = livePointerNaming(
      { deployId, app: APP, commit: V3, artifactDigest: plan.artifactDigest },
      live.value.releases,
    );
    await t.site.state.put(key('live.json'), JSON.stringify(pointer), { contentType: 'application/json' });
    expect(await auditVerdict(t)).toEqual(['unfinished: live.json']);

    expectStoppedDeploy(await pinRefused(), deployId);
  });

  it('planted alone (written around the chain): TAMPERED, sends to audit verify, nothing written', async () => {
    const live = await t.site.records.readPointer();
    const [, before] = live?.value.releases ?? [];
    if (!before) throw new Error('v1 is kept');
    await t.site.state.put(key('live.json'), JSON.stringify(livePointerNaming(before)), {
      contentType: 'application/json',
    });
    expect(await auditVerdict(t)).toEqual(['tampered: live.json']);

    const error = await pinRefused();
    expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
    expect(error.message).toContain('live.json');
    expect(error.message).toContain('frontendops audit verify');
  });
});

describe('atomic: pin of a live pointer an operation stopped after its switch wrote', () => {
  // Refused by the check of a switch not yet followed by the state (pin.ts unfinishedSwitch) before
  // the pointer's own check: the command that finishes it is named either way.
  it('CONFLICT, naming the command that finishes it; nothing written', async () => {
    const a = await startDeployedAtomicEnv({ stack: 'pin-unrecorded-live-atomic' }, [V1, V2], 1);
    try {
      const live = `${a.target.statePrefix}live.json`;
      await expect(
        deployArtifact(
          stoppedAtEntryAfter(a.site, (k) => k === live),
          { app: APP, commit: V2, request: request('ship v2') },
        ),
      ).rejects.toThrow('the process stopped');
      const deployId = (await a.site.records.readPointer())?.value.deployId ?? '';
      const { problems } = await verifyAudit(a.site.state, a.target.statePrefix, { releaseStore: a.store() });
      expect(problems.find((p) => p.object === 'live.json')?.kind).toBe('unfinished');

      const mark = await a.mark();
      const error = await refusal(pinRelease(a.site, { request: request('hold it') }));
      expect(isFrontendOpsError(error, 'CONFLICT'), String(error)).toBe(true);
      expect(error.message).toContain(deployId);
      expect(error.message).toMatch(
        /`frontendops deploy [^`]*`|the next deploy or rollback of this stack finishes it/,
      );
      expect(error.message).toMatch(/Nothing was pinned/);
      expect(await writesSince(a, mark)).toEqual([]);
      expect(await a.site.state.get(`${a.target.statePrefix}pin.json`)).toBeNull();
    } finally {
      await a.stop();
    }
  });
});
