/**
 * A canary start stopped before its switch, then replaced by another change: what someone asked for
 * is recorded superseded, as a stopped deploy, rollback or promote is — an entry and a row of the
 * history (the start's own row, under its canary event id, as a finished start has), bound by that
 * entry. Before, the start left an entry and no row: the history never showed it was asked for.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCanary } from '../../src/deploy/canary.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { readHistory } from '../../src/read/history.ts';
import { readAudit, verifyAudit } from '../../src/state/audit.ts';
import { APP, type AtomicEnv, request, startAtomicEnv } from '../support/atomic-env.ts';

const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3c3c3'] as const;

describe('atomic: a canary start stopped before its switch, then replaced', () => {
  let t: AtomicEnv;
  beforeAll(async () => {
    t = await startAtomicEnv({ stack: 'superseded-canary-start' });
    await t.publishVersions([V1, V2, V3]);
    await deployArtifact(t.site, { app: APP, commit: V1, request: request('first') });
  }, 180_000);
  afterAll(() => t?.stop());

  it('is recorded superseded with a row of its own, as the other operations are', async () => {
    const killed = await t.openKilledBeforeKeyWrite();
    await expect(
      startCanary(killed, { app: APP, commit: V2, weightPercent: 15, request: request('try v2 on 15%') }),
    ).rejects.toThrow('killed before the key write');
    await deployArtifact(t.site, { app: APP, commit: V3, request: request('ship v3') });

    const entries = await readAudit(t.site.state, t.target.statePrefix);
    const entry = entries.find((e) => e.type === 'canary-start-superseded');
    expect(entry?.data.request).toEqual(expect.objectContaining({ text: 'try v2 on 15%' }));
    const rows = (await readHistory(t.site, { limit: 3 })).deployments.map((d) => [
      d.kind,
      d.outcome,
      d.request.text,
    ]);
    expect(rows).toEqual([
      ['deploy', 'succeeded', 'ship v3'],
      ['canary-start', 'superseded', 'try v2 on 15%'],
      ['deploy', 'succeeded', 'first'],
    ]);
    // The row is bound by the superseded entry, which names it, as a finished start's names its own.
    const row = (await readHistory(t.site, { limit: 3 })).deployments[1];
    expect(entry?.data.recordId).toBe(row?.deployId);
    expect(Object.keys(entry?.objects ?? {})).toContain(`deployments/${row?.deployId}.json`);
    expect(
      (await verifyAudit(t.site.state, t.target.statePrefix, { releaseStore: t.store() })).problems,
    ).toEqual([]);
  });
});
