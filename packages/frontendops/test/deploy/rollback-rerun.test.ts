/**
 * A `rollback` (no --to: "the previous release") that stops after its switch — at the write of its
 * deployment record, as a process killed or cut off there would — and is run again: the re-run
 * finishes it, and the release rolled back to stays live and pinned. Before, the re-run read
 * live.json, where the stopped rollback had already made the old release live, took the release it
 * rolled back FROM for "the previous release", finished the stopped rollback, then rolled forward to
 * that bad release and pinned it. In place and atomic alike.
 *
 * The same for a rollback stopped after its record but before its pin (at the pin's audit entry or
 * at pin.json): the pin is part of the rollback, written before its crash-recovery record goes, so
 * the re-run finishes it. Before, the record was the rollback's last trace: the re-run found GOOD
 * live and unpinned, rolled back "again" to BAD, the release it had just rolled back from, and
 * pinned that.
 *
 * And a rollback that finished (pinned, its record gone) but whose process was killed before it said
 * so: run again, it is that rollback again, nothing to do, not a second one back to BAD.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import type { Site } from '../../src/site.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { readPin } from '../../src/state/pin.ts';
import type { RequestInfo } from '../../src/state/records.ts';
import { type AtomicEnv, startAtomicEnv } from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import { type BucketSnapshot, snapshotStack } from '../support/bucket-snapshot.ts';
import {
  clearHistory,
  publishFixtureBuilds,
  startDeployEnv,
  type TestDeployEnv,
} from '../support/deploy-env.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const APP = 'sophia-dashboard';
const [GOOD, BAD] = ['a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2'] as const;
const request: RequestInfo = {
  text: 'rollback',
  actor: 'rm-alice',
  planner: 'cli',
  at: new Date().toISOString(),
};

/** The site as a process sees it that stops at its first write of a deployment record. */
const stoppingAtRecord = (site: Site) => stoppingSite(site, (key) => /\/deployments\/[^/]+\.json$/.test(key));

/** The site as a process sees it that stops at its pin's audit entry, or at pin.json. */
const stoppingAtPin = (site: Site, at: 'entry' | 'pin.json') =>
  stoppingSite(site, (key, body) =>
    at === 'entry'
      ? /\/audit\/\d{10}\.json$/.test(key) && /"type":"pin"/.test(String(body))
      : key === `${site.target.statePrefix}pin.json`,
  );

/** A clean history (its builds still published) and two deploys, GOOD then BAD: BAD is live. */
async function deployBoth(site: Site) {
  await clearHistory(site);
  await deployArtifact(site, { app: APP, commit: GOOD, request });
  await deployArtifact(site, { app: APP, commit: BAD, request });
}

/** Two deploys (`start`), a rollback stopped after its switch, and the same rollback again: it finishes, GOOD stays. */
async function stopAndRunAgain(
  site: Site,
  stopping: (site: Site) => Site = stoppingAtRecord,
  start: (site: Site) => Promise<void> = deployBoth,
) {
  await start(site);
  await expect(rollbackRelease(stopping(site), { request })).rejects.toThrow(/stopped/);
  // The interrupted rollback did switch: GOOD is live.
  expect((await site.records.readPointer())?.value.commit).toBe(GOOD);

  const again = await rollbackRelease(site, { request });
  expect(again.commit).toBe(GOOD);
  // The re-run finished the stopped rollback: that deployment is what a CLI tags.
  const finished = (await site.records.listRecords({ limit: 10 })).records.find((r) => r.kind === 'rollback');
  expect(again.finishedInterrupted?.deployId).toBe(finished?.deployId);
  expect((await site.records.readPointer())?.value.commit).toBe(GOOD);
  expect((await readPin(site))?.commit).toBe(GOOD);
  expect((await verifyAudit(site.state, site.target.statePrefix)).problems).toEqual([]);
  // One rollback, finished: not a second one back to BAD.
  const { records } = await site.records.listRecords({ limit: 10 });
  expect(records.filter((r) => r.kind === 'rollback').map((r) => [r.commit, r.outcome])).toEqual([
    [GOOD, 'succeeded'],
  ]);
  // Run once more, by someone who did not see it end: the same rollback, nothing to do, not a
  // second one back to BAD.
  const once = await rollbackRelease(site, { request });
  expect([once.commit, once.outcome]).toEqual([GOOD, 'noop']);
  expect((await site.records.readPointer())?.value.commit).toBe(GOOD);
  expect((await readPin(site))?.commit).toBe(GOOD);
}

const PIN_STOPS = ['entry', 'pin.json'] as const;

describe('rollback stopped after its switch, then run again', () => {
  let t: TestDeployEnv;
  beforeAll(async () => {
    t = await startDeployEnv({ stack: 'rollback-rerun' });
    await publishFixtureBuilds(t, APP, [GOOD, BAD]);
  });
  afterAll(() => t?.stop());
  // The two deploys run once: what they left in the state prefix and the hosting bucket is copied,
  // and put back for each later case (an in-place stack's state is all in those two).
  let deployed: BucketSnapshot | undefined;
  const fromDeployed = async (site: Site) => {
    if (deployed) return deployed.restore();
    await deployBoth(site);
    deployed = await snapshotStack(site);
  };

  it('in place: the re-run finishes it; the release rolled back to stays live and pinned', () =>
    stopAndRunAgain(t.site, stoppingAtRecord, fromDeployed));

  for (const at of PIN_STOPS)
    it(`in place, stopped at its pin's ${at} write: the re-run pins it, no second rollback`, () =>
      stopAndRunAgain(t.site, (site) => stoppingAtPin(site, at), fromDeployed));
});

describe('atomic rollback stopped after its switch, then run again', () => {
  let t: AtomicEnv;
  // The two deploys run once: the stack (hosting bucket, state prefix, release pointer) is copied,
  // and put back for each case.
  let deployed: AtomicSnapshot;
  beforeAll(async () => {
    t = await startAtomicEnv({ propagationMs: 25, stack: 'atomic-rollback-rerun' });
    await t.publish(GOOD, 'v1');
    await t.publish(BAD, 'v2');
    await deployBoth(t.site);
    deployed = await snapshotAtomicEnv(t);
  }, 120_000);
  afterAll(() => t?.stop());
  const fromDeployed = () => deployed.restore();

  it('atomic: the re-run finishes it; the release rolled back to stays live and pinned', () =>
    stopAndRunAgain(t.site, stoppingAtRecord, fromDeployed));

  for (const at of PIN_STOPS)
    it(`atomic, stopped at its pin's ${at} write: the re-run pins it, no second rollback`, () =>
      stopAndRunAgain(t.site, (site) => stoppingAtPin(site, at), fromDeployed));
});
