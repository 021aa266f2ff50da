/**
 * An atomic deploy stopped after its switch, between its deployment record and the entry binding it:
 * its crash-recovery record excuses that record (under the deploy's own id) as unfinished. A record
 * planted beside it under the id of the release the deploy makes live is no write of that deploy (an
 * operation writes its deployment record under its deploy id, never its release id): verify calls it
 * tampered, as any record written around the chain, not unfinished.
 */
import { describe, expect, it } from 'vitest';
import { verifyAudit } from '../../src/state/audit.ts';
import { APP, deployedAtomicEnvFor, request, storedAtomicPending } from '../support/atomic-env.ts';
import { deployStoppedAfterRecord } from '../support/stopping-site.ts';

const [V1, V2] = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2'] as const;

describe('a record planted under the release id of an atomic deploy stopped after its switch', () => {
  const env = deployedAtomicEnvFor({ stack: 'forged-release-id-record' }, [V1, V2], 1);

  it('is tampered, while the deploy’s own record stays unfinished', async () => {
    const t = env();
    const prefix = t.target.statePrefix;
    await deployStoppedAfterRecord(t.site, { app: APP, commit: V2, request: request('ship v2') });
    const pending = await storedAtomicPending(t.site);
    const { deployId, releaseId } = pending.plan;
    const own = await t.site.state.get(`${prefix}deployments/${deployId}.json`);
    if (!own) throw new Error('the stopped deploy wrote its record');
    await t.site.state.put(`${prefix}deployments/${releaseId}.json`, own.body);

    const { problems } = await verifyAudit(t.site.state, prefix, { releaseStore: t.store() });
    expect(problems.find((p) => p.object === `deployments/${deployId}.json`)?.kind).toBe('unfinished');
    const planted = problems.find((p) => p.object === `deployments/${releaseId}.json`);
    expect(planted?.kind).toBe('tampered');
    expect(planted?.reason).toMatch(/added around the chain/);
  });
});
