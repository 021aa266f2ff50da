/**
 * The pin on an atomic site is read and written under the deploy lock, as in place. Before, a deploy
 * or canary start read the pin before it queued for the lock, and a rollback pinned after it let the
 * lock go: one queued behind a rollback went live past the pin that rollback set, and the pin then
 * named a release that was not live (a fix-forward refused as PINNED). And promoting a canary went
 * past a pin without lifting it.
 */
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { promoteCanary, startCanary } from '../../src/deploy/canary.ts';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { pinRelease, unpinRelease } from '../../src/deploy/pin.ts';
import type { Site } from '../../src/site.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { readPin } from '../../src/state/pin.ts';
import { APP, type AtomicEnv, heldAtSwitch, request, startDeployedAtomicEnv } from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import { releaseOf } from '../support/edge-probe.ts';

const [GOOD, BAD, NEXT] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3'] as const;
let t: AtomicEnv;
let deployed: AtomicSnapshot;

// Every case starts from GOOD then BAD deployed (all three published): deployed once, then put back.
beforeAll(async () => {
  t = await startDeployedAtomicEnv({ propagationMs: 25, stack: 'atomic-pin-lock' }, [GOOD, BAD, NEXT], 1);
  await deployArtifact(t.site, { app: APP, commit: BAD, request: request() });
  deployed = await snapshotAtomicEnv(t);
}, 120_000);
afterAll(() => t?.stop());
beforeEach(() => deployed.restore());

/**
 * A rollback (same lock directory: the locks meet) held at its key write, and the site of a second
 * operator whose first lock request is announced: once it is, that operator waits for the lock.
 */
async function rollbackHeldAtSwitch() {
  const held = heldAtSwitch(t.store());
  const rollback = rollbackRelease(await t.open({ releases: held.store }), {
    request: request('KPI totals wrong'),
  });
  await held.reached;
  let queued = () => {};
  const waiting = new Promise<void>((resolve) => {
    queued = resolve;
  });
  const other: Site = {
    ...t.site,
    locker: {
      acquire: (name, options) => {
        queued();
        return t.site.locker.acquire(name, options);
      },
    },
  };
  return { rollback, other, waiting, open: held.release };
}

it('a deploy queued behind a rollback is refused by the pin that rollback set', async () => {
  const { rollback, other, waiting, open } = await rollbackHeldAtSwitch();
  const ci = deployArtifact(other, { app: APP, commit: BAD, request: request('CI retry'), waitMs: 30_000 });
  await waiting;
  open();
  const [rolledBack, deployed] = await Promise.allSettled([rollback, ci]);
  expect(rolledBack).toMatchObject({ status: 'fulfilled', value: { pinned: { commit: GOOD } } });
  expect(deployed).toMatchObject({ status: 'rejected', reason: { code: 'PINNED' } });
  expect((await t.site.records.readPointer())?.value.commit).toBe(GOOD);
  expect(releaseOf(await (await fetch(t.edge.url)).text())).toBe('v1');
  expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
});

it('a canary start queued behind a rollback is refused by its pin', async () => {
  const { rollback, other, waiting, open } = await rollbackHeldAtSwitch();
  const canary = startCanary(other, {
    app: APP,
    commit: BAD,
    weightPercent: 50,
    request: request(),
    waitMs: 30_000,
  });
  await waiting;
  open();
  const [rolledBack, started] = await Promise.allSettled([rollback, canary]);
  expect(rolledBack).toMatchObject({ status: 'fulfilled', value: { pinned: { commit: GOOD } } });
  expect(started).toMatchObject({ status: 'rejected', reason: { code: 'PINNED' } });
  expect((await t.store().read()).value).not.toMatchObject({ weight: 50 });
});

it('promoting a canary is refused past a pin; once unpinned it goes', async () => {
  await startCanary(t.site, { app: APP, commit: NEXT, weightPercent: 10, request: request() });
  const { pin } = await pinRelease(t.site, { request: request('freeze: incident') });
  expect(pin.commit).toBe(BAD);
  await expect(promoteCanary(t.site, { request: request() })).rejects.toMatchObject({ code: 'PINNED' });
  expect((await t.site.records.readPointer())?.value.commit).toBe(BAD);
  expect((await readPin(t.site))?.commit).toBe(BAD);
  await unpinRelease(t.site, { request: request('incident over') });
  expect(await promoteCanary(t.site, { request: request() })).toMatchObject({
    outcome: 'succeeded',
    commit: NEXT,
  });
});
