/**
 * A genuine canary start stopped after its switch, then the deployer role writes what only a change
 * of the live release writes: live.json naming the canary's build live for everyone (what the release
 * store serves most visitors is still the old release), or a deployment record under the canary's
 * deploy id saying its build was deployed. A canary start writes neither (only its own history row):
 * its stopped record must not pass them off as its own ("unfinished"), or the next change would act
 * on them, and bind them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { abortCanary, startCanary } from '../../src/deploy/canary.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { APP, type AtomicEnv, request, startAtomicEnv, storedAtomicPending } from '../support/atomic-env.ts';
import { livePointerNaming } from '../support/audit-forgery.ts';
import { stoppedAtEntryAfter } from '../support/stopping-site.ts';

const [V1, V2] = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2'] as const;

interface StoppedStart {
  t: AtomicEnv;
  prefix: string;
  plan: { deployId: string; app: string; commit: string; artifactDigest: string };
  firstDeployId: string;
}

describe('atomic: what only a live change writes, beside a stopped canary start', () => {
  const envs: AtomicEnv[] = [];
  afterEach(async () => {
    for (const t of envs.splice(0)) await t.stop();
  });

  /** v1 live, then a canary of v2 stopped at its first audit entry after its record was marked switched. */
  async function stoppedCanaryStart(stack: string): Promise<StoppedStart> {
    const t = await startAtomicEnv({ stack });
    envs.push(t);
    await t.publishVersions([V1, V2]);
    const first = await deployArtifact(t.site, { app: APP, commit: V1, request: request('first') });
    const prefix = t.target.statePrefix;
    const stopping = stoppedAtEntryAfter(
      t.site,
      (key, body) => key === `${prefix}atomic/pending.json` && /"switched": ?true/.test(String(body)),
    );
    await expect(
      startCanary(stopping, { app: APP, commit: V2, weightPercent: 10, request: request('try v2') }),
    ).rejects.toThrow('the process stopped');
    const pending = await storedAtomicPending(t.site);
    expect([pending.op, pending.switched]).toEqual(['canary-start', true]);
    return { t, prefix, plan: pending.plan, firstDeployId: first.deployId };
  }

  const tamperedIn = async ({ t, prefix }: StoppedStart, object: string) =>
    (await verifyAudit(t.site.state, prefix, { releaseStore: t.store() })).problems
      .filter((p) => p.object === object)
      .map((p) => p.kind);
  const abort = ({ t }: StoppedStart) =>
    abortCanary(t.site, { request: request('abort') }).then(
      () => null,
      (error: unknown) => error,
    );

  it("live.json naming the canary's build live is tampered (before: unfinished, and the abort went ahead over it)", async () => {
    const stopped = await stoppedCanaryStart('forged-canary-live');
    const { t, prefix, plan } = stopped;
    const live = await t.site.records.readPointer();
    if (!live) throw new Error('v1 is live: live.json exists');
    await t.site.state.put(
      `${prefix}live.json`,
      JSON.stringify(livePointerNaming(plan, live.value.releases)),
      { contentType: 'application/json' },
    );
    expect(await tamperedIn(stopped, 'live.json')).toEqual(['tampered']);
    // The next change acts on live.json: it refuses, the canary still running.
    const next = await abort(stopped);
    expect(isFrontendOpsError(next, 'TAMPERED'), String(next)).toBe(true);
    expect((await t.store().read()).value).toEqual(expect.objectContaining({ canary: expect.any(String) }));
  });

  it("a deployment record under the canary's deploy id is tampered (before: unfinished)", async () => {
    const stopped = await stoppedCanaryStart('forged-canary-record');
    const { t, prefix, plan, firstDeployId } = stopped;
    const first = await t.site.records.readRecord(firstDeployId);
    if (!first) throw new Error("v1's deployment record exists");
    const forged = {
      ...first,
      deployId: plan.deployId,
      commit: plan.commit,
      plan: { ...first.plan, deployId: plan.deployId, commit: plan.commit },
    };
    await t.site.state.put(`${prefix}deployments/${plan.deployId}.json`, JSON.stringify(forged), {
      contentType: 'application/json',
    });
    const object = `deployments/${plan.deployId}.json`;
    expect(await tamperedIn(stopped, object)).toEqual(['tampered']);
    // No change reads an unbound record before acting: the abort goes on, and binds none of it.
    expect(await abort(stopped)).toBeNull();
    expect(await tamperedIn(stopped, object)).toEqual(['tampered']);
  });
});
