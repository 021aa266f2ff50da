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
import { describe, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { readStatus } from '../../src/read/status.ts';
import { requestBy } from '../support/deploy-env.ts';
import { MID_SWITCH, midSwitchFor } from '../support/stopping-site.ts';

const {
  app: APP,
  commits: [V1, , V3],
} = MID_SWITCH;
/** The stack, and the site a reader sees whose pointer read was served just before v3's deploy switched. */
const midSwitch = midSwitchFor('atomic-pending-read-mid-deploy', 'atomic');
const straddling = () => midSwitch().straddling();

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
      request: requestBy('back to v1'),
      dryRun: true,
    });
    expect(dry.dryRun).toBe(true);
    // It finishes the deploy of v3 first, then plans from what that made live.
    expect(dry.finishesFirst).toMatchObject({ commit: V3 });
    expect(dry.plan.fromCommit).toBe(V3);
  });
});
