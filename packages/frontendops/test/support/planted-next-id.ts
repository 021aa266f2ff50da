/**
 * The cases of deploy/planted-next-id.test.ts (in place) and deploy/planted-next-id-atomic.test.ts
 * (atomic), written once: a record planted under the deploy id the next change gets is refused
 * TAMPERED, naming the object, before anything is written, and a record of this very change's own run
 * that no entry binds is written over. The mode says which stack the cases run on; where the two
 * differ is said where it happens (in place, the CDN double counts invalidations; on an atomic stack,
 * a canary's promote is a change of its own, and the crash-recovery record is atomic/pending.json).
 *
 * Each case starts from v1 then v2 deployed, whatever the case before left (a snapshot, restored):
 * plantedNextIdStackFor, which deploy/planted-next-id-dry-run.test.ts starts its stacks with too.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { atomicRecordsOf } from '../../src/deploy/atomic-live.ts';
import { promoteCanary, startCanary } from '../../src/deploy/canary.ts';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { deployIdFor } from '../../src/engine/ids.ts';
import type { FrontendOpsError } from '../../src/errors.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { APP, type AtomicEnv, request, startAtomicEnv } from './atomic-env.ts';
import { snapshotAtomicEnv } from './atomic-snapshot.ts';
import { snapshotStack } from './bucket-snapshot.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from './deploy-env.ts';
import { plantedRecord, plantRecord, stackObjectDigests, unplantRecord } from './planted.ts';
import { refusal } from './refusal.ts';

/** The builds each stack has published: V1 then V2 deployed, V3 the next change's. */
export const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3c3c3'] as const;

export type PlantedNextIdMode = 'in place' | 'atomic';

/** The stack, and the same stack as its mode's environment (only one of the two is set). */
export interface PlantedNextIdStack {
  t: TestDeployEnv | AtomicEnv;
  inPlace: TestDeployEnv | undefined;
  atomicEnv: AtomicEnv | undefined;
}

/**
 * For the tests of the calling describe: a stack of `mode` named `stack`, V1, V2 and V3 published, V1
 * then V2 deployed, started before the tests and stopped after them; before each test, put back as
 * it was then (a snapshot, restored), whatever the test before left. What it holds, from the
 * returned function, once started.
 */
export function plantedNextIdStackFor(mode: PlantedNextIdMode, stack: string): () => PlantedNextIdStack {
  let started: PlantedNextIdStack | undefined;
  let deployed: { restore(): Promise<void> };
  beforeAll(async () => {
    let t: TestDeployEnv | AtomicEnv;
    let inPlace: TestDeployEnv | undefined;
    let atomicEnv: AtomicEnv | undefined;
    if (mode === 'atomic') {
      t = atomicEnv = await startAtomicEnv({ stack });
      await atomicEnv.publishVersions([V1, V2, V3]);
    } else {
      t = inPlace = await startDeployEnv({ stack });
      await publishFixtureBuilds(inPlace, APP, [V1, V2, V3]);
    }
    started = { t, inPlace, atomicEnv };
    await deployArtifact(t.site, { app: APP, commit: V1, request: request('first') });
    await deployArtifact(t.site, { app: APP, commit: V2, request: request('second') });
    // On an atomic stack the release store's pointer too (the canary case leaves a canary there).
    deployed = atomicEnv ? await snapshotAtomicEnv(atomicEnv) : await snapshotStack(t.site);
  }, 180_000);
  afterAll(() => started?.t.stop());
  beforeEach(() => deployed.restore());
  return () => {
    if (!started) throw new Error('the stack starts in beforeAll: ask for it inside a test');
    return started;
  };
}

export function plantedNextIdCases(mode: PlantedNextIdMode): void {
  const atomic = mode === 'atomic';
  describe(`${atomic ? 'atomic: ' : ''}a record planted under the id the next change gets`, () => {
    const stack = plantedNextIdStackFor(mode, atomic ? 'planted-next-id-atomic' : 'planted-next-id');
    // The stack, and the same stack as its mode's environment (only one of the two is set).
    let t: TestDeployEnv | AtomicEnv;
    let inPlace: TestDeployEnv | undefined;
    let atomicEnv: AtomicEnv | undefined;
    beforeEach(() => {
      ({ t, inPlace, atomicEnv } = stack());
    });
    /** The crash-recovery record a refused change must not have written. */
    const pending = () => (atomic ? atomicRecordsOf(t.site).readPending() : t.site.records.readPending());

    it('a deploy refuses it TAMPERED before anything is written', async () => {
      const dry = await deployArtifact(t.site, {
        app: APP,
        commit: V3,
        request: request('look'),
        dryRun: true,
      });
      if (inPlace) {
        // The id, from what the bucket shows: the live pointer and the published manifest.
        const live = await t.site.records.readPointer();
        const next = deployIdFor({
          stack: t.target.stack,
          app: APP,
          commit: V3,
          artifactDigest: dry.artifactDigest,
          fromDeployId: live?.value.deployId ?? null,
        });
        expect(next).toBe(dry.deployId);
      }
      await plantRecord(t, dry.deployId, plantedRecord(t, APP, dry.deployId, V3, dry.artifactDigest));
      const before = await stackObjectDigests(t);
      const invalidations = inPlace?.cdn.invalidations().length;

      const error = await refusal(
        deployArtifact(t.site, { app: APP, commit: V3, request: request('ship v3') }),
      );
      expect(error.code).toBe('TAMPERED');
      expect(error.message).toContain('audit verify');
      expect(error.message).toContain('delete that record');
      // Refused before its first write: it says that nothing was changed.
      expect(error.message).toContain('Nothing was changed');
      expect((error as FrontendOpsError).details).toMatchObject({
        object: `deployments/${dry.deployId}.json`,
      });
      expect(await stackObjectDigests(t)).toEqual(before);
      expect(await pending()).toBeNull();

      if (inPlace) {
        expect(inPlace.cdn.invalidations().length).toBe(invalidations);
        // Deleted after checking, the deploy runs again and goes live.
        await unplantRecord(t, dry.deployId);
        const done = await deployArtifact(t.site, {
          app: APP,
          commit: V3,
          request: request('ship v3 again'),
        });
        expect({ id: done.deployId, outcome: done.outcome }).toEqual({
          id: dry.deployId,
          outcome: 'succeeded',
        });
        expect(
          (await verifyAudit(t.site.state, t.target.statePrefix, { releaseStore: null })).problems,
        ).toEqual([]);
      }
    });

    it('a rollback refuses it TAMPERED before anything is written', async () => {
      // The id and release a rollback goes to by default: in place computed from what the bucket shows
      // (the newest retained release of another build than the live one), on an atomic stack asked
      // of a dry run.
      let next: { deployId: string; commit: string; artifactDigest: string };
      if (inPlace) {
        const live = await t.site.records.readPointer();
        const to = live?.value.releases.find((r) => r.artifactDigest !== live.value.artifactDigest);
        if (!live || !to) throw new Error('a release before the live one is retained');
        next = {
          deployId: deployIdFor({
            stack: t.target.stack,
            app: APP,
            commit: to.commit,
            artifactDigest: to.artifactDigest,
            fromDeployId: live.value.deployId,
          }),
          commit: to.commit,
          artifactDigest: to.artifactDigest,
        };
      } else {
        next = await rollbackRelease(t.site, { request: request('look'), dryRun: true });
      }
      await plantRecord(t, next.deployId, {
        ...plantedRecord(t, APP, next.deployId, next.commit, next.artifactDigest),
        kind: 'rollback',
      });
      const before = await stackObjectDigests(t);

      const error = await refusal(rollbackRelease(t.site, { request: request('back to v1') }));
      expect(error.code).toBe('TAMPERED');
      expect((error as FrontendOpsError).details).toMatchObject({
        object: `deployments/${next.deployId}.json`,
      });
      expect(await stackObjectDigests(t)).toEqual(before);
      expect(await pending()).toBeNull();
    });

    if (atomic) {
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
        expect(await pending()).toBeNull();
      });
    }

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
      expect({ id: done.deployId, outcome: done.outcome }).toEqual({
        id: dry.deployId,
        outcome: 'succeeded',
      });
      expect(JSON.stringify(await t.site.records.readRecord(dry.deployId))).not.toContain('STOPPED RUN');
      expect(
        (
          await verifyAudit(t.site.state, t.target.statePrefix, {
            releaseStore: atomicEnv ? atomicEnv.store() : null,
          })
        ).problems,
      ).toEqual([]);
    });
  });
}
