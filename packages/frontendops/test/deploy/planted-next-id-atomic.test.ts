/**
 * On an atomic stack, as in place (planted-next-id.test.ts): a record planted under the deploy id the
 * next deploy or rollback gets (engine/ids.ts deployIdFor, computed from what the bucket shows) is
 * refused TAMPERED, naming the object, before anything is written: no copy, no release index, no
 * switch, no entry, no crash-recovery record. A record of this very change's own run that no entry
 * binds is still written over, and the deploy finishes.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { atomicRecordsOf } from '../../src/deploy/atomic-live.ts';
import { promoteCanary, startCanary } from '../../src/deploy/canary.ts';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import type { FrontendOpsError } from '../../src/errors.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { APP, type AtomicEnv, request, startAtomicEnv } from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import { plantedRecord, plantRecord, stackObjectDigests } from '../support/planted.ts';
import { refusal } from '../support/refusal.ts';

const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3c3c3'] as const;

describe('atomic: a record planted under the id the next change gets', () => {
  let t: AtomicEnv;
  let deployed: AtomicSnapshot;

  beforeAll(async () => {
    t = await startAtomicEnv({ stack: 'planted-next-id-atomic' });
    await t.publishVersions([V1, V2, V3]);
    await deployArtifact(t.site, { app: APP, commit: V1, request: request('first') });
    await deployArtifact(t.site, { app: APP, commit: V2, request: request('second') });
    deployed = await snapshotAtomicEnv(t);
  }, 180_000);
  afterAll(() => t?.stop());
  // Each case starts from v1 then v2 deployed, whatever the case before left: the release store's
  // pointer too (the canary case leaves a canary running there).
  beforeEach(() => deployed.restore());

  it('a deploy refuses it TAMPERED before anything is written', async () => {
    const dry = await deployArtifact(t.site, {
      app: APP,
      commit: V3,
      request: request('look'),
      dryRun: true,
    });
    await plantRecord(t, dry.deployId, plantedRecord(t, APP, dry.deployId, V3, dry.artifactDigest));
    const before = await stackObjectDigests(t);

    const error = await refusal(
      deployArtifact(t.site, { app: APP, commit: V3, request: request('ship v3') }),
    );
    expect(error.code).toBe('TAMPERED');
    expect(error.message).toContain('audit verify');
    expect(error.message).toContain('delete that record');
    expect(error.message).toContain('Nothing was changed');
    expect((error as FrontendOpsError).details).toMatchObject({ object: `deployments/${dry.deployId}.json` });
    expect(await stackObjectDigests(t)).toEqual(before);
    expect(await atomicRecordsOf(t.site).readPending()).toBeNull();
  });

  it('a rollback refuses it TAMPERED before anything is written', async () => {
    const dry = await rollbackRelease(t.site, { request: request('look'), dryRun: true });
    await plantRecord(t, dry.deployId, {
      ...plantedRecord(t, APP, dry.deployId, dry.commit, dry.artifactDigest),
      kind: 'rollback',
    });
    const before = await stackObjectDigests(t);

    const error = await refusal(rollbackRelease(t.site, { request: request('back') }));
    expect(error.code).toBe('TAMPERED');
    expect((error as FrontendOpsError).details).toMatchObject({ object: `deployments/${dry.deployId}.json` });
    expect(await stackObjectDigests(t)).toEqual(before);
    expect(await atomicRecordsOf(t.site).readPending()).toBeNull();
  });

  it("a canary promote refuses one under the canary's deploy id before anything is written", async () => {
    const started = await startCanary(t.site, {
      app: APP,
      commit: V3,
      weightPercent: 10,
      request: request('try v3'),
    });
    await plantRecord(
      t,
      started.deployId,
      plantedRecord(t, APP, started.deployId, V3, started.artifactDigest),
    );
    const before = await stackObjectDigests(t);

    const error = await refusal(promoteCanary(t.site, { request: request('promote v3') }));
    expect(error.code).toBe('TAMPERED');
    expect((error as FrontendOpsError).details).toMatchObject({
      object: `deployments/${started.deployId}.json`,
    });
    expect(await stackObjectDigests(t)).toEqual(before);
    expect(await atomicRecordsOf(t.site).readPending()).toBeNull();
  });

  it("a record of this very change's own run that no entry binds is written over, and the deploy finishes", async () => {
    const asked = request('ship v3');
    const dry = await deployArtifact(t.site, { app: APP, commit: V3, request: asked, dryRun: true });
    await plantRecord(t, dry.deployId, {
      ...plantedRecord(t, APP, dry.deployId, V3, dry.artifactDigest),
      request: asked,
      outcome: 'failed',
      verification: { ok: false, url: 'https://example.test/', attempts: 1, detail: 'STOPPED RUN' },
    });
    const done = await deployArtifact(t.site, { app: APP, commit: V3, request: asked });
    expect({ id: done.deployId, outcome: done.outcome }).toEqual({ id: dry.deployId, outcome: 'succeeded' });
    expect(JSON.stringify(await t.site.records.readRecord(dry.deployId))).not.toContain('STOPPED RUN');
    expect(
      (await verifyAudit(t.site.state, t.target.statePrefix, { releaseStore: t.store() })).problems,
    ).toEqual([]);
  });
});
