/**
 * A genuine deploy stopped between writing its deployment record and the audit entry that records
 * it, then its deploy id named where a release is asked for (a promote, a redeploy, a preview). The
 * record is bound by no entry yet, so it is refused as proof of that deployment, as a planted one is
 * (deploy/forged-release-record.test.ts); but nobody wrote it around FrontendOps, and the refusal
 * must not say so: it says the change stopped and how to finish it.
 */
import { describe, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { resolveRelease } from '../../src/deploy/pin.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { APP, deployedAtomicEnvFor, request } from '../support/atomic-env.ts';
import { refusal } from '../support/refusal.ts';
import { deployStoppedAfterRecord } from '../support/stopping-site.ts';

const [V1, V2] = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2'] as const;

describe('a deploy id whose deploy stopped before recording its deployment', () => {
  const env = deployedAtomicEnvFor({ stack: 'stopped-release-record' }, [V1, V2], 1);

  it('is refused as unfinished, not as written around FrontendOps, and resolves once finished', async () => {
    const t = env();
    const prefix = t.target.statePrefix;
    await deployStoppedAfterRecord(t.site, { app: APP, commit: V2, request: request('ship v2') });
    const deployId = (await t.site.state.list(`${prefix}deployments/${V2.slice(0, 7)}-`))[0]?.key.slice(
      `${prefix}deployments/`.length,
      -'.json'.length,
    );
    if (!deployId) throw new Error('the stopped deploy wrote its record');
    const { problems } = await verifyAudit(t.site.state, prefix, { releaseStore: t.store() });
    expect(problems.find((p) => p.object === `deployments/${deployId}.json`)?.kind).toBe('unfinished');

    const error = await refusal(resolveRelease(t.site, APP, deployId));
    expect(isFrontendOpsError(error, 'CONFLICT'), String(error)).toBe(true);
    expect(error.message).not.toMatch(/not written by FrontendOps/);
    expect(error.message).toMatch(/stopped/);
    expect(error.message).toMatch(/Nothing was changed/);

    // The stop is finished by the next deploy; then the deploy id resolves to its build.
    await deployArtifact(t.site, { app: APP, commit: V2, request: request('ship v2 again') });
    expect(await resolveRelease(t.site, APP, deployId)).toEqual({ app: APP, commit: V2, deployId });
  });
});
