/**
 * A genuine canary start stopped after its switch, then the deployer role rewrites live.json to name
 * the canary's build live for everyone (what the release store serves to most visitors is still the
 * old release). A canary start never writes live.json: its stopped record must not pass that edit off
 * as its own ("unfinished"), or the next change would act on it and bind it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { abortCanary, startCanary } from '../../src/deploy/canary.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { APP, type AtomicEnv, request, startAtomicEnv } from '../support/atomic-env.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const [V1, V2] = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2'] as const;

describe('atomic: live.json naming a stopped canary start live', () => {
  let t: AtomicEnv;
  beforeAll(async () => {
    t = await startAtomicEnv({ stack: 'forged-canary-live' });
    for (const [i, commit] of [V1, V2].entries()) await t.publish(commit, `v${i + 1}`);
    await deployArtifact(t.site, { app: APP, commit: V1, request: request('first') });
  }, 180_000);
  afterAll(() => t?.stop());

  it('is tampered, and the next change refuses it', async () => {
    const prefix = t.target.statePrefix;
    // Stops at the first audit entry after the record is marked switched.
    let switched = false;
    const stopping = stoppingSite(t.site, (key, body) => {
      if (key === `${prefix}atomic/pending.json` && /"switched": ?true/.test(String(body))) {
        switched = true;
        return false;
      }
      return switched && /\/audit\/\d{10}\.json$/.test(key);
    });
    await expect(
      startCanary(stopping, { app: APP, commit: V2, weightPercent: 10, request: request('try v2') }),
    ).rejects.toThrow('the process stopped');
    const pending = JSON.parse(
      ((await t.site.state.get(`${prefix}atomic/pending.json`))?.body ?? '').toString(),
    ) as { op: string; switched?: boolean; plan: Record<string, string> };
    expect([pending.op, pending.switched]).toEqual(['canary-start', true]);

    // The deployer role names the canary's build live in live.json, as a deploy of it would.
    const live = await t.site.records.readPointer();
    if (!live) throw new Error('v1 is live: live.json exists');
    const ref = {
      deployId: pending.plan.deployId,
      app: pending.plan.app,
      commit: pending.plan.commit,
      artifactDigest: pending.plan.artifactDigest,
      releasedAt: new Date().toISOString(),
    };
    await t.site.state.put(
      `${prefix}live.json`,
      JSON.stringify({ ...ref, releases: [ref, ...live.value.releases] }),
      { contentType: 'application/json' },
    );

    const { problems } = await verifyAudit(t.site.state, prefix, { releaseStore: t.store() });
    expect(problems.filter((p) => p.object === 'live.json').map((p) => p.kind)).toEqual(['tampered']);
    // Before, verify called it unfinished, and the abort went ahead over it (live.json still named v2).
    const next = await abortCanary(t.site, { request: request('abort') }).then(
      () => null,
      (error: unknown) => error,
    );
    expect(isFrontendOpsError(next, 'TAMPERED'), String(next)).toBe(true);
    expect((await t.store().read()).value).toEqual(expect.objectContaining({ canary: expect.any(String) }));
  });
});
