/**
 * A change that finds another change stopped before its switch records it superseded first: the
 * stopped change's history row, then the `…-superseded` entry that binds it. Stopped between the two,
 * the row is bound by no entry yet, and the stopped change's crash-recovery record is still there:
 * verify calls the row unfinished (the next change writes the entry), not written around the chain.
 * The next change writes its own row over it: what anyone else wrote there is never bound.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { APP, type AtomicEnv, request, startAtomicEnv, storedAtomicPending } from '../support/atomic-env.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3c3c3'] as const;

describe("a stop between a superseded change's row and its entry", () => {
  const envs: AtomicEnv[] = [];
  afterEach(async () => {
    for (const t of envs.splice(0)) await t.stop();
  });

  /**
   * v1 live; a deploy of v2 killed before its switch; a deploy of v3 stopped at the entry recording
   * v2's as superseded, after v2's row. Returns the stack, its verdicts and v2's row's key.
   */
  async function stoppedSuperseding(stack: string) {
    const t = await startAtomicEnv({ stack });
    envs.push(t);
    await t.publishVersions([V1, V2, V3]);
    await deployArtifact(t.site, { app: APP, commit: V1, request: request('first') });
    const prefix = t.target.statePrefix;
    const killed = await t.openKilledBeforeKeyWrite();
    const killedV2 = () =>
      expect(deployArtifact(killed, { app: APP, commit: V2, request: request('ship v2') })).rejects.toThrow(
        'killed before the key write',
      );
    await killedV2();
    const stopping = stoppingSite(
      t.site,
      (key, body) =>
        /\/audit\/\d{10}\.json$/.test(key) && String(body).includes('"type":"deploy-superseded"'),
    );
    await expect(
      deployArtifact(stopping, { app: APP, commit: V3, request: request('ship v3') }),
    ).rejects.toThrow('the process stopped');
    const pending = await storedAtomicPending(t.site);
    const verdict = async () =>
      (await verifyAudit(t.site.state, prefix, { releaseStore: t.store() })).problems.map(
        (p) => `${p.kind}: ${p.object ?? p.seq}`,
      );
    return { t, prefix, killedV2, verdict, rowKey: `${prefix}deployments/${pending.plan.deployId}.json` };
  }

  it('is unfinished, and the next change records it', async () => {
    const { t, prefix, killedV2, verdict } = await stoppedSuperseding('stopped-superseded');
    const row = (await verdict()).filter((p) => p.includes('deployments/'));
    expect(row).toHaveLength(1);
    expect(row[0]).toMatch(/^unfinished: deployments\/b2b2b2b-/);

    await deployArtifact(t.site, { app: APP, commit: V3, request: request('ship v3 again') });
    expect(await verdict()).toEqual([]);

    // Beside a stopped operation, a row under its id that is not a superseded one stays tampered: a
    // deployment it never finished, written around the chain.
    await killedV2();
    const pending = await storedAtomicPending(t.site);
    const [genuine] = (await t.site.records.listReleases(1)).releases;
    const planted = { ...genuine, deployId: pending.plan.deployId, commit: V2, outcome: 'succeeded' };
    await t.site.state.put(`${prefix}deployments/${pending.plan.deployId}.json`, JSON.stringify(planted), {
      contentType: 'application/json',
    });
    expect(await verdict()).toContain(`tampered: deployments/${pending.plan.deployId}.json`);
  });

  it('rewritten around the chain, is not bound: the next change binds its own row', async () => {
    const { t, verdict, rowKey } = await stoppedSuperseding('rewritten-superseded');
    const genuine = JSON.parse(((await t.site.state.get(rowKey))?.body ?? '').toString());
    // The deployer role keeps the build and the request, and adds words of its own.
    const forged = {
      ...genuine,
      error: { code: 'SECURITY', message: 'stopped by the security team: v2 carried a backdoor' },
      request: { ...genuine.request, message: 'forged message' },
    };
    await t.site.state.put(rowKey, JSON.stringify(forged), { contentType: 'application/json' });

    // Before, the next change kept the row as it found it and bound it: verify was then clean.
    await deployArtifact(t.site, { app: APP, commit: V3, request: request('ship v3 again') });
    const bound = JSON.parse(((await t.site.state.get(rowKey))?.body ?? '').toString());
    expect(bound.outcome).toBe('superseded');
    expect(bound.error?.message ?? '').not.toContain('backdoor');
    expect(bound.request.message).toBeUndefined();
    expect(await verdict()).toEqual([]);
  });
});
