/**
 * A deploy moves the live pointer, then marks its crash-recovery record (pending.json) moved. A reader
 * holding no lock (status, what the console polls; a dry run) reads both at once, so while a deploy
 * runs it may get the pointer from before the switch and the record from after it: a record saying a
 * deploy went live that the pointer read never had. That is what a planted record says too
 * (live.ts checkPending refuses it, TAMPERED), but here nobody planted anything: the reading straddled
 * a switch. Said as a planted record, status showed no deploy under way but a record "not written by
 * FrontendOps" (exit 1), and the dry run refused, TAMPERED. A refusal now stands only if a second reading (the
 * record, then the pointer: the order opposite to their writes) is refused too.
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
const midSwitch = midSwitchFor('pending-read-mid-deploy', 'in-place');
const straddling = () => midSwitch().straddling();

describe('a record and a pointer read across a running deploy’s switch', () => {
  it('status shows the deploy under way, not its record as planted', async () => {
    const status = await readStatus(straddling());
    expect(status.pending).toMatchObject({ commit: V3, pointerMoved: true });
    expect(status.recorded.note ?? '').not.toMatch(/crash-recovery record/);
  });

  it('the dry run is not refused as if the record were planted', async () => {
    const dry = await deployArtifact(straddling(), {
      app: APP,
      commit: V1,
      request: requestBy('back to v1'),
      dryRun: true,
    });
    expect(dry.dryRun).toBe(true);
  });
});
