/**
 * Readers holding no lock (status, a dry run) read the live pointer beside the crash-recovery record
 * and the audit chain. Across a running deploy the pointer read may be older than the other two: its
 * switch came between. A record refused on the first reading is read again, then the pointer, and
 * the refusal stands only if that reading is refused too (pending-read-mid-deploy.test.ts); the words
 * then come from that second reading as well, not from the pointer it replaced:
 * - status names the release the deploy made live (unfinished), not the one before it beside a
 *   record saying the switch was made; and the dry run's "finishes first" plan goes from it;
 * - a pointer read before the chain's newest entry (a deploy finished meanwhile) is read again after
 *   it, so status does not call live.json changed outside FrontendOps.
 *
 * Before: status said v2 live (the stale read) while its record said v3 was switched to; the dry
 * run planned from v2 after finishing v3 first; and a pointer read older than the entry was
 * "changed-outside".
 */
import { describe, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { readStatus } from '../../src/read/status.ts';
import type { Site } from '../../src/site.ts';
import { requestBy } from '../support/deploy-env.ts';
import { MID_SWITCH, midSwitchFor } from '../support/stopping-site.ts';

const {
  app: APP,
  commits: [V1, V2, V3],
} = MID_SWITCH;
const midSwitch = midSwitchFor('words-read-mid-deploy', 'in-place');
const straddling = () => midSwitch().straddling();

describe('the words of a reading across a running deploy’s switch', () => {
  it('status names the release the deploy switched to, as recorded', async () => {
    const status = await readStatus(straddling());
    expect(status.pending).toMatchObject({ commit: V3, pointerMoved: true });
    expect(status.live?.commit).toBe(V3);
    // Its pointer is bound already (a deploy writes live.json, then the entry binding it, then marks
    // its record moved).
    expect(status.recorded.state).toBe('as-recorded');
  });

  it('the dry run plans from what the change it finishes first made live', async () => {
    const dry = await deployArtifact(straddling(), {
      app: APP,
      commit: V1,
      request: requestBy('back to v1'),
      dryRun: true,
    });
    expect(dry.finishesFirst).toMatchObject({ commit: V3 });
    expect(dry.plan.fromCommit).toBe(V3);
  });

  it('a pointer read before the newest entry (a deploy finished meanwhile) is read again: as recorded', async () => {
    // The stopped deploy of v3 finished (any deploy finishes it), then status's first pointer read
    // answered as before it.
    const { site: stack } = midSwitch();
    await deployArtifact(stack, { app: APP, commit: V3, request: requestBy('finish v3') });
    const old = await straddling().records.readPointer();
    expect(old?.value.commit).toBe(V2);
    let first = true;
    const readPointer = async () => {
      if (!first) return stack.records.readPointer();
      first = false;
      return old;
    };
    const site: Site = { ...stack, records: { ...stack.records, readPointer } };
    const status = await readStatus(site);
    expect(status.recorded.note ?? '').toBe('');
    expect(status.recorded).toMatchObject({ state: 'as-recorded' });
    expect(status.live?.commit).toBe(V3);
  });
});
