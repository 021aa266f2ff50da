/**
 * pending-read-mid-deploy.test.ts on an atomic stack. An atomic deploy switches the release store,
 * writes the live pointer, then marks its crash-recovery record (atomic/pending.json) switched. A
 * reader holding no lock (status, a dry run) reads the pointer and the record at once, so while a
 * deploy runs it may get the pointer from before the switch and the record from after it: a record
 * saying a deploy switched that the pointer read does not have live, which is what a planted record
 * says too (live.ts assertAtomicPendingSound refuses it, TAMPERED). Said as a planted record, status
 * showed no operation under way but a record "not written by FrontendOps" (changed-outside), and the
 * dry run refused, TAMPERED. A refusal now stands only if a second reading (the record, then the
 * pointer: the order opposite to their writes) is refused too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { readStatus } from '../../src/read/status.ts';
import type { Site } from '../../src/site.ts';
import { APP, type AtomicEnv, request, startDeployedAtomicEnv } from '../support/atomic-env.ts';
import { readAcrossSwitch } from '../support/stopping-site.ts';

const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3'] as const;

let t: AtomicEnv;
/** The site as a reader sees it whose pointer read was served just before the deploy of v3 switched. */
let straddling: () => Site;

beforeAll(async () => {
  t = await startDeployedAtomicEnv({ stack: 'atomic-pending-read-mid-deploy' }, [V1, V2, V3], 2);
  // The deploy of v3 caught just after its switch (the release store, the live pointer, and its
  // record marked switched) and before what follows.
  straddling = await readAcrossSwitch(
    t.site,
    { app: APP, commit: V3, request: request('v3') },
    '/atomic/pending.json',
    /"switched":\s*true/,
  );
}, 180_000);
afterAll(() => t?.stop());

describe('an atomic record and a pointer read across a running deploy’s switch', () => {
  it('status shows the deploy under way, not its record as planted', async () => {
    const status = await readStatus(straddling());
    expect(status.pending).toMatchObject({ commit: V3, pointerMoved: true });
    expect(status.recorded.note ?? '').not.toMatch(/crash-recovery record/);
    // Said from the second reading (words-read-mid-deploy.test.ts): the release it switched to.
    expect(status.live?.commit).toBe(V3);
  });

  it('the dry run is not refused as if the record were planted', async () => {
    const dry = await deployArtifact(straddling(), {
      app: APP,
      commit: V1,
      request: request('back to v1'),
      dryRun: true,
    });
    expect(dry.dryRun).toBe(true);
    // It finishes the deploy of v3 first, then plans from what that made live.
    expect(dry.finishesFirst).toMatchObject({ commit: V3 });
    expect(dry.plan.fromCommit).toBe(V3);
  });
});
