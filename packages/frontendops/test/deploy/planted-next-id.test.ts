/**
 * Deploy ids are deterministic (engine/ids.ts deployIdFor: the stack, app, commit, build and the
 * deployment live before), so whoever can write the state bucket computes the id the next deploy of a
 * published build gets and plants `deployments/<that id>.json` under the stack's state prefix. That
 * deploy, and a rollback, refuse it (TAMPERED, naming the object) before anything is written: no
 * copy, no pointer switch, no entry, no crash-recovery record. A record of this very change's own
 * run that no entry binds is still written over, and the deploy finishes.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { deployIdFor } from '../../src/engine/ids.ts';
import type { FrontendOpsError } from '../../src/errors.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { APP, request } from '../support/atomic-env.ts';
import { type BucketSnapshot, snapshotBuckets } from '../support/bucket-snapshot.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { plantedRecord, plantRecord, stackObjectDigests, unplantRecord } from '../support/planted.ts';
import { refusal } from '../support/refusal.ts';

const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3c3c3'] as const;

describe('a record planted under the id the next change gets', () => {
  let t: TestDeployEnv;
  let deployed: BucketSnapshot;

  beforeAll(async () => {
    t = await startDeployEnv({ stack: 'planted-next-id' });
    await publishFixtureBuilds(t, APP, [V1, V2, V3]);
    await deployArtifact(t.site, { app: APP, commit: V1, request: request('first') });
    await deployArtifact(t.site, { app: APP, commit: V2, request: request('second') });
    deployed = await snapshotBuckets([
      { store: t.site.hosting },
      { store: t.site.state, prefix: t.target.statePrefix },
    ]);
  }, 180_000);
  afterAll(() => t?.stop());
  // Each case starts from v1 then v2 deployed, whatever the case before left.
  beforeEach(() => deployed.restore());

  it('a deploy refuses it TAMPERED before anything is written', async () => {
    // The id, from what the bucket shows: the live pointer and the published manifest.
    const dry = await deployArtifact(t.site, {
      app: APP,
      commit: V3,
      request: request('look'),
      dryRun: true,
    });
    const live = await t.site.records.readPointer();
    const next = deployIdFor({
      stack: t.target.stack,
      app: APP,
      commit: V3,
      artifactDigest: dry.artifactDigest,
      fromDeployId: live?.value.deployId ?? null,
    });
    expect(next).toBe(dry.deployId);
    await plantRecord(t, next, plantedRecord(t, APP, next, V3, dry.artifactDigest));
    const before = await stackObjectDigests(t);
    const invalidations = t.cdn.invalidations().length;

    const error = await refusal(
      deployArtifact(t.site, { app: APP, commit: V3, request: request('ship v3') }),
    );
    expect(error.code).toBe('TAMPERED');
    expect(error.message).toContain('audit verify');
    expect(error.message).toContain('delete that record');
    // Refused before its first write: it says that nothing was changed.
    expect(error.message).toContain('Nothing was changed');
    expect((error as FrontendOpsError).details).toMatchObject({ object: `deployments/${next}.json` });
    expect(await stackObjectDigests(t)).toEqual(before);
    expect(await t.site.records.readPending()).toBeNull();
    expect(t.cdn.invalidations().length).toBe(invalidations);

    // Deleted after checking, the deploy runs again and goes live.
    await unplantRecord(t, next);
    const done = await deployArtifact(t.site, { app: APP, commit: V3, request: request('ship v3 again') });
    expect({ id: done.deployId, outcome: done.outcome }).toEqual({ id: next, outcome: 'succeeded' });
    expect((await verifyAudit(t.site.state, t.target.statePrefix, { releaseStore: null })).problems).toEqual(
      [],
    );
  });

  it('a rollback refuses it TAMPERED before anything is written', async () => {
    const live = await t.site.records.readPointer();
    // The release a rollback goes to by default: the newest retained one of another build.
    const to = live?.value.releases.find((r) => r.artifactDigest !== live.value.artifactDigest);
    if (!live || !to) throw new Error('a release before the live one is retained');
    const next = deployIdFor({
      stack: t.target.stack,
      app: APP,
      commit: to.commit,
      artifactDigest: to.artifactDigest,
      fromDeployId: live.value.deployId,
    });
    await plantRecord(t, next, {
      ...plantedRecord(t, APP, next, to.commit, to.artifactDigest),
      kind: 'rollback',
    });
    const before = await stackObjectDigests(t);

    const error = await refusal(rollbackRelease(t.site, { request: request('back to v2') }));
    expect(error.code).toBe('TAMPERED');
    expect((error as FrontendOpsError).details).toMatchObject({ object: `deployments/${next}.json` });
    expect(await stackObjectDigests(t)).toEqual(before);
    expect(await t.site.records.readPending()).toBeNull();
    await unplantRecord(t, next);
  });

  it("a record of this very change's own run that no entry binds is written over, and the deploy finishes", async () => {
    const asked = request('ship v3');
    const dry = await deployArtifact(t.site, { app: APP, commit: V3, request: asked, dryRun: true });
    // What a run of this change wrote before it stopped (same build, request, no approval): failed.
    await plantRecord(t, dry.deployId, {
      ...plantedRecord(t, APP, dry.deployId, V3, dry.artifactDigest),
      request: asked,
      outcome: 'failed',
      verification: { ok: false, url: 'https://example.test/', attempts: 1, detail: 'STOPPED RUN' },
    });
    const done = await deployArtifact(t.site, { app: APP, commit: V3, request: asked });
    expect({ id: done.deployId, outcome: done.outcome }).toEqual({ id: dry.deployId, outcome: 'succeeded' });
    expect(JSON.stringify(await t.site.records.readRecord(dry.deployId))).not.toContain('STOPPED RUN');
    expect((await verifyAudit(t.site.state, t.target.statePrefix, { releaseStore: null })).problems).toEqual(
      [],
    );
  });
});
