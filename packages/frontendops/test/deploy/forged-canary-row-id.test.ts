/**
 * A canary start genuinely stopped after its switch and before it wrote atomic/state.json (the CDN
 * serves it; its crash-recovery record names no state yet). Its record may excuse, as its own, the
 * history row its finish writes under the canary event's id (canaryRowId). Before, that id was
 * among the ids the record excused in EVERY object it excuses: the deployer role could put it in
 * atomic/state.json (a retiring or preview release of that id, which no entry records) and verify
 * took the edit for the stopped start's own. Now only its row is excused under it: tampered.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { abortCanary, startCanary } from '../../src/deploy/canary.ts';
import { canaryRowId } from '../../src/engine/ids.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import type { AtomicPending } from '../../src/state/atomic.ts';
import { readAudit, verifyAudit } from '../../src/state/audit.ts';
import { APP, type AtomicEnv, request, startDeployedAtomicEnv } from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import { refusal } from '../support/refusal.ts';
import { type StoppedAtomic, stoppedAtomic, stoppingSite } from '../support/stopping-site.ts';

const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3c3c3'] as const;

describe('atomic: a stopped canary start, and its row id put in atomic/state.json', () => {
  let t: AtomicEnv;
  const prefix = () => t.target.statePrefix;
  let stopped: AtomicPending;
  let rowId: string;
  let written: string;
  let putState: StoppedAtomic['putState'];
  /** The stack as the stopped start left it: each case starts from it, whichever ran before. */
  let stoppedStack: AtomicSnapshot;

  beforeAll(async () => {
    t = await startDeployedAtomicEnv({ stack: 'forged-canary-row-id' }, [V1, V2, V3], 2);
    // Stopped at its first write after the switch: the record naming the state it writes.
    const stopping = stoppingSite(
      t.site,
      (key, body) => key === `${prefix()}atomic/pending.json` && String(body).includes('"stateDigest"'),
    );
    ({ stopped, written, putState } = await stoppedAtomic(
      t,
      startCanary(stopping, { app: APP, commit: V3, weightPercent: 20, request: request() }),
    ));
    expect(stopped.switched).toBe(false);
    expect(stopped.stateDigest).toBeUndefined();
    expect((await t.store().read()).value?.canary).toBe(stopped.plan.releaseId);
    rowId = canaryRowId(stopped) ?? '';
    expect(rowId).not.toBe('');
    stoppedStack = await snapshotAtomicEnv(t);
  }, 180_000);
  afterAll(() => t?.stop());
  beforeEach(() => stoppedStack.restore());

  it('a retiring release named by its row id: verify says tampered, the next change refuses', async () => {
    const state = JSON.parse(written);
    const forged = {
      ...state,
      retiring: [
        ...(state.retiring ?? []),
        {
          releases: [{ releaseId: rowId, app: APP, commit: V3, artifactDigest: '' }],
          root: false,
          until: '2099-01-01T00:00:00.000Z',
          by: 'deploy:x:y:',
        },
      ],
    };
    await putState(forged);
    const verdict = await verifyAudit(t.site.state, prefix(), { releaseStore: t.site.releases });
    expect(verdict.problems).toContainEqual(
      expect.objectContaining({
        kind: 'tampered',
        object: 'atomic/state.json',
        reason: expect.stringContaining(rowId),
      }),
    );
    const head = (await readAudit(t.site.state, prefix())).length;
    const error = await refusal(abortCanary(t.site, { request: request('abort') }));
    expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
    expect(await readAudit(t.site.state, prefix())).toHaveLength(head);
  });

  it('as it was, the next change finishes the stopped start and records its row', async () => {
    await abortCanary(t.site, { request: request('abort') });
    expect((await t.site.records.readRecord(rowId))?.outcome).toBe('succeeded');
    expect((await verifyAudit(t.site.state, prefix(), { releaseStore: t.site.releases })).problems).toEqual(
      [],
    );
  });
});
