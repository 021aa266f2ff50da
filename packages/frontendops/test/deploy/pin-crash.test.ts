/**
 * A pin, an unpin or a rollback's pin that stops between its two writes (its audit entry and
 * pin.json), at either one, as a process killed or cut off there would: the pin in effect is never
 * one the chain does not record; `audit verify` says at most unfinished, never tampered; and the same
 * command run again finishes it. Before, pin.json was written first: a pin stopped after it left a pin
 * in effect that no entry recorded (deploys refused by it), verify said tampered, and pinning again
 * kept that pin without writing its entry, so verify said tampered for good. An unpin likewise.
 * What a stop cannot leave (an edited pin) stays tampered; an entry that changes nothing (the agent's
 * record of the request) leaves it unfinished. The next change finishes a stopped pin change under the
 * deploy lock before it reads the pin: before, a deploy ran past a pin whose pin.json had not landed
 * (or kept a lifted one), and verify then said tampered for good, refusing every change. A pin.json
 * deleted by hand right after its pin reads the same, and is put back: the freeze holds.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCanary } from '../../src/deploy/canary.ts';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { pinRelease, unpinRelease } from '../../src/deploy/pin.ts';
import { pinRefusalAhead } from '../../src/deploy/pin-ahead.ts';
import type { Site } from '../../src/site.ts';
import { appendAudit, verifyAudit } from '../../src/state/audit.ts';
import { readPin } from '../../src/state/pin.ts';
import type { RequestInfo } from '../../src/state/records.ts';
import { type AtomicEnv, startAtomicEnv } from '../support/atomic-env.ts';
import { type BucketSnapshot, snapshotStack } from '../support/bucket-snapshot.ts';
import {
  clearHistory,
  publishFixtureBuilds,
  startDeployEnv,
  type TestDeployEnv,
} from '../support/deploy-env.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const APP = 'sophia-dashboard';
const [A, B] = ['a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2'] as const;
const request: RequestInfo = { text: 'pin', actor: 'rm-alice', planner: 'cli', at: new Date().toISOString() };
let t: TestDeployEnv;

beforeAll(async () => {
  t = await startDeployEnv({ stack: 'dashboard-pin-crash' });
  await publishFixtureBuilds(t, APP, [A, B]);
});
afterAll(() => t?.stop());
/**
 * A clean history and two deploys. They run once: what they left in the state prefix and the
 * hosting bucket is copied, and put back for each later case.
 */
let deployed: BucketSnapshot | undefined;
async function resetState() {
  if (deployed) return deployed.restore();
  await clearHistory(t.site);
  await deployArtifact(t.site, { app: APP, commit: A, request });
  await deployArtifact(t.site, { app: APP, commit: B, request });
  deployed = await snapshotStack(t.site);
}

type StopAt = 'entry' | 'pin.json';
/**
 * The site as a process sees it that stops at the first write of a pin change's `at` (its audit
 * entry, or pin.json written or deleted): that write and every later one fail, as they would for a
 * process that is gone. Writes before it (a rollback's own) land.
 */
function stoppingAt(at: StopAt): Site {
  const pinKey = `${t.target.statePrefix}pin.json`;
  return stoppingSite(
    t.site,
    (key, body) =>
      at === 'entry'
        ? /\/audit\/\d{10}\.json$/.test(key) && /"type":"(un)?pin"/.test(String(body))
        : key === pinKey,
    `the process stopped at its ${at} write`,
  );
}

/** What `audit verify` says, as "<kind>: <object>" (empty when it verifies). */
const verdict = async () =>
  (await verifyAudit(t.site.state, t.target.statePrefix)).problems.map(
    (p) => `${p.kind}: ${p.object ?? p.seq}`,
  );

describe('a pin change that stops between its entry and pin.json', () => {
  beforeEach(resetState);

  for (const at of ['entry', 'pin.json'] as const) {
    it(`pin, stopped at its ${at} write: unfinished at most; pinning again finishes it`, async () => {
      await expect(pinRelease(stoppingAt(at), { request })).rejects.toThrow(/stopped/);
      expect(await verdict()).toEqual(at === 'entry' ? [] : ['unfinished: pin.json']);
      // Stopped after its entry, the check under the deploy lock finishes it before this pin reads it:
      // the pin takes effect in this run, which says so.
      const again = await pinRelease(t.site, { request });
      expect(again.created).toBe(true);
      expect(await verdict()).toEqual([]);
      expect((await readPin(t.site))?.commit).toBe(B);
    });

    it(`unpin, stopped at its ${at} write: unfinished at most; unpinning again finishes it`, async () => {
      await pinRelease(t.site, { request });
      await expect(unpinRelease(stoppingAt(at), { request })).rejects.toThrow(/stopped/);
      expect(await verdict()).toEqual(at === 'entry' ? [] : ['unfinished: pin.json']);
      // Until then the stack is still pinned: the chain records the unpin, the pin still holds.
      expect((await readPin(t.site))?.commit).toBe(B);
      const again = await unpinRelease(t.site, { request });
      expect(again.cleared?.commit).toBe(B);
      expect(await verdict()).toEqual([]);
      expect(await readPin(t.site)).toBeNull();
    });

    it(`a rollback's pin, stopped at its ${at} write: the rollback stands; pin finishes it`, async () => {
      const rollback = rollbackRelease(stoppingAt(at), { request });
      await expect(rollback).rejects.toThrow(/stopped/);
      expect((await t.site.records.readPointer())?.value.commit).toBe(A);
      expect(await verdict()).toEqual(at === 'entry' ? [] : ['unfinished: pin.json']);
      await pinRelease(t.site, { request });
      expect(await verdict()).toEqual([]);
      expect((await readPin(t.site))?.commit).toBe(A);
    });
  }

  it("a stopped pin stays unfinished past the agent's record of the request, which binds nothing", async () => {
    await expect(pinRelease(stoppingAt('pin.json'), { request })).rejects.toThrow(/stopped/);
    // The agent records every request it ran (record_request), also one whose pin failed.
    await appendAudit(t.site.state, t.target.statePrefix, t.site.locker, {
      type: 'agent-request',
      data: { request: 'freeze production', outcome: 'failed' },
    });
    expect(await verdict()).toEqual(['unfinished: pin.json']);
    await pinRelease(t.site, { request });
    expect(await verdict()).toEqual([]);
  });

  it('a pin stopped before pin.json, then a deploy of another build: the pin is finished first, and holds', async () => {
    await expect(pinRelease(stoppingAt('pin.json'), { request })).rejects.toThrow(/stopped/);
    expect(await verdict()).toEqual(['unfinished: pin.json']);
    await expect(deployArtifact(t.site, { app: APP, commit: A, request })).rejects.toMatchObject({
      code: 'PINNED',
    });
    expect((await readPin(t.site))?.commit).toBe(B);
    expect((await t.site.records.readPointer())?.value.commit).toBe(B);
    expect(await verdict()).toEqual([]);
  });

  it('an unpin stopped before removing pin.json, then a deploy: the unpin is finished first, and the deploy goes', async () => {
    await pinRelease(t.site, { request });
    await expect(unpinRelease(stoppingAt('pin.json'), { request })).rejects.toThrow(/stopped/);
    const deployed = await deployArtifact(t.site, { app: APP, commit: A, request });
    expect(deployed.outcome).toBe('succeeded');
    expect(await readPin(t.site)).toBeNull();
    expect(await verdict()).toEqual([]);
  });

  it('an edited pin stays tampered; one deleted right after its pin reads as its write lost, and is put back', async () => {
    await pinRelease(t.site, { request });
    const key = `${t.target.statePrefix}pin.json`;
    const pinned = await readPin(t.site);
    await t.site.state.put(key, JSON.stringify({ ...pinned, reason: 'edited' }));
    expect(await verdict()).toEqual(['tampered: pin.json']);
    await expect(deployArtifact(t.site, { app: APP, commit: A, request })).rejects.toMatchObject({
      code: 'TAMPERED',
    });
    // Deleted just after the pin, it reads as the pin's own write lost (the same objects): the next
    // change writes it back before it reads it, so deleting pin.json does not lift the freeze.
    await t.site.state.delete([key]);
    expect(await verdict()).toEqual(['unfinished: pin.json']);
    await expect(deployArtifact(t.site, { app: APP, commit: A, request })).rejects.toMatchObject({
      code: 'PINNED',
    });
    expect(await readPin(t.site)).toEqual(pinned);
    expect(await verdict()).toEqual([]);
  });
});

describe('a pin deleted by hand right after it is put back by the next change', () => {
  // Atomic releases: a canary start binds only the atomic state, neither the pointer nor the pin.
  const C = ['1a1a1a1a1a1a1a1a', '2b2b2b2b2b2b2b2b'] as const;
  let atomic: AtomicEnv;
  beforeAll(async () => {
    atomic = await startAtomicEnv({ stack: 'dashboard-pin-canary' });
    await atomic.publishVersions(C);
    await deployArtifact(atomic.site, { app: APP, commit: C[0], request });
  });
  afterAll(() => atomic?.stop());

  it('pin.json deleted after a pin, then a canary of another build: the pin is back, and the canary refused', async () => {
    await pinRelease(atomic.site, { request: { ...request, text: 'release freeze' } });
    const prefix = atomic.target.statePrefix;
    expect(await verifyAudit(atomic.site.state, prefix)).toMatchObject({ ok: true });
    // The deployer (write and delete on the state prefix) deletes pin.json; no entry records an unpin.
    await atomic.site.state.delete([`${prefix}pin.json`]);
    // Until anything else is appended, that reads as the pin's own write lost (the same objects).
    expect((await verifyAudit(atomic.site.state, prefix)).problems.map((p) => p.kind)).toEqual([
      'unfinished',
    ]);
    // Before, the canary went past the freeze, and verify then said tampered.
    await expect(
      startCanary(atomic.site, { app: APP, commit: C[1], weightPercent: 50, request }),
    ).rejects.toMatchObject({ code: 'PINNED' });
    expect((await readPin(atomic.site))?.commit).toBe(C[0]);
    expect((await verifyAudit(atomic.site.state, prefix)).problems).toEqual([]);
  });

  it('a rollback stopped after its pin, then unpinned: the next deploy does not pin it again', async () => {
    const prefix = atomic.target.statePrefix;
    if (await readPin(atomic.site)) await unpinRelease(atomic.site, { request });
    await deployArtifact(atomic.site, { app: APP, commit: C[1], request });
    // Stopped at removing its crash-recovery record, after its pin of C[0] landed.
    const stopping = stoppingSite(
      atomic.site,
      (key, body) => key.endsWith('pending.json') && body === undefined,
    );
    await expect(rollbackRelease(stopping, { request })).rejects.toThrow('the process stopped');
    expect(await readPin(atomic.site)).toMatchObject({ commit: C[0], cause: 'rollback' });
    expect((await unpinRelease(atomic.site, { request })).cleared?.commit).toBe(C[0]);
    // Its dry run says what the run does: no pin again, nothing refused ahead (before: pins true,
    // refused PINNED ahead).
    const listings = async (from: number) =>
      (await atomic.requestsSince(from)).filter(
        (r) => r.method === 'GET' && r.query.includes(`prefix=${encodeURIComponent(`${prefix}audit/`)}`),
      );
    const dryFrom = await atomic.mark();
    const dry = await deployArtifact(atomic.site, { app: APP, commit: C[1], request, dryRun: true });
    // Whether the finish pins, said from the one walk its check of the record made (before: two, the
    // check and the words of the stopped change each walking the chain).
    expect(await listings(dryFrom)).toHaveLength(1);
    expect(dry.finishesFirst).toMatchObject({ kind: 'rollback', commit: C[0] });
    expect(dry.finishesFirst?.pins).toBeUndefined();
    expect(await pinRefusalAhead(atomic.site, dry)).toBeNull();
    // Before, finishing the stopped rollback pinned C[0] again, undoing the unpin: PINNED.
    const from = await atomic.mark();
    expect((await deployArtifact(atomic.site, { app: APP, commit: C[1], request })).outcome).toBe(
      'succeeded',
    );
    // Whether the finish pins is one walk of the chain, under the lock (the settle's check of the
    // record, whose answer the finish takes); the other walk judges the record under the deploy's id.
    expect(await listings(from)).toHaveLength(2);
    expect(await readPin(atomic.site)).toBeNull();
    expect((await verifyAudit(atomic.site.state, prefix)).problems).toEqual([]);
    await deployArtifact(atomic.site, { app: APP, commit: C[0], request }); // as the other case starts
  });
});
