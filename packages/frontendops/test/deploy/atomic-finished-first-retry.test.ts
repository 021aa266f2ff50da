/**
 * An atomic deploy stopped after its switch (live, not recorded, not tagged), then another build's
 * run finishes it first and makes its own live: the run's answer names the stopped one, whose tag is
 * due. That answer lost, the same run again names it again, from what the chain records (the entry
 * that bound the run's pointer names the change it finished first):
 * - run_sync again (its change synced before): as the in-place retry does (agent/finished-first-tag);
 * - the deploy run again after it stopped past its switch: a no-op that finishes its own change.
 *   Before, the atomic no-op re-run named only its own change; the one its first run finished went
 *   untagged (the in-place re-run names both: cli/finished-first-tag).
 */
import { beforeAll, beforeEach, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { APP, deployedAtomicEnvFor, request } from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import { connectInfra, infraServerOn } from '../support/mcp-infra.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3'] as const;
const env = deployedAtomicEnvFor({ stack: 'atomic-finished-first-retry' }, [V1, V2, V3], 1);
/** V1 live; V2's deploy stopped after its switch, at its own entry. */
let stopped: AtomicSnapshot;
let v2: string;

/** `site` stopping at the deploy entry of `commit`'s change: its switch landed, its finish did not. */
const stoppingAtEntryOf = (commit: string) =>
  stoppingSite(
    env().site,
    (key, body) =>
      /\/audit\/\d{10}\.json$/.test(key) &&
      String(body).includes('"type":"deploy"') &&
      String(body).includes(`"commit":"${commit}"`),
  );

beforeAll(async () => {
  const t = env();
  await expect(
    deployArtifact(stoppingAtEntryOf(V2), { app: APP, commit: V2, request: request('ship v2') }),
  ).rejects.toThrow(/stopped/);
  v2 = String((await t.site.records.readPointer())?.value.deployId);
  stopped = await snapshotAtomicEnv(t);
});
beforeEach(() => stopped.restore());

it('run_sync again after its answer was lost names the stopped deploy it finished first', async () => {
  const c = await connectInfra(infraServerOn(env().site));
  try {
    const target = await c.call('get_deploy_target', { commit: V3 });
    const lost = await c.call('run_sync', { handle: target.structured.handle });
    expect(lost.structured.finishedFirstChange, lost.text).toMatchObject({ deployId: v2, commit: V2 });
    const again = await c.call('run_sync', { handle: target.structured.handle });
    expect(again.structured.outcome, again.text).toBe('synced');
    expect(again.structured.finishedFirst).toBe(v2);
    // The same change, with the same audit head and words, as the lost answer gave it.
    expect(again.structured.finishedFirstChange).toEqual(lost.structured.finishedFirstChange);
  } finally {
    await c.close();
  }
});

it('the deploy run again after it stopped past its switch names the one its first run finished', async () => {
  await expect(
    deployArtifact(stoppingAtEntryOf(V3), { app: APP, commit: V3, request: request('ship v3') }),
  ).rejects.toThrow(/stopped/);
  const again = await deployArtifact(env().site, { app: APP, commit: V3, request: request('ship v3') });
  // Its own change, finished: the deploy its first run made live.
  const live = (await env().site.records.readPointer())?.value;
  expect([live?.commit, again.finishedInterrupted?.deployId]).toEqual([V3, live?.deployId]);
  expect(again.finishedFirstRecord).toMatchObject({
    deployId: v2,
    commit: V2,
    kind: 'deploy',
    request: { text: 'ship v2' },
  });
});
