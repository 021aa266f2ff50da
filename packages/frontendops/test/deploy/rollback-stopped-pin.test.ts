/**
 * An in-place rollback stopped right after its pointer moved (before its pin), then a deploy of
 * another build by someone else: the deploy finishes the rollback first, which pins its release as
 * its last step. The deploy used to go live past that pin, leaving a pin on a release nobody is
 * served; it is now held to the pin the finish set (PINNED), as a deploy is to any pin.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { unpinRelease } from '../../src/deploy/pin.ts';
import { pinRefusalAhead } from '../../src/deploy/pin-ahead.ts';
import { readStatus } from '../../src/read/status.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { readPin } from '../../src/state/pin.ts';
import type { RequestInfo } from '../../src/state/records.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const APP = 'sophia-dashboard';
const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3'] as const;
const request = (text: string): RequestInfo => ({
  text,
  actor: 'ops',
  planner: 'cli',
  at: new Date().toISOString(),
});
let t: TestDeployEnv;

beforeAll(async () => {
  t = await startDeployEnv({ stack: 'rollback-stopped-pin' });
  await publishFixtureBuilds(t, APP, [V1, V2, V3]);
  await deployArtifact(t.site, { app: APP, commit: V1, request: request('v1') });
  await deployArtifact(t.site, { app: APP, commit: V2, request: request('v2') });
});
afterAll(() => t?.stop());

const live = async () => (await t.site.records.readPointer())?.value;

it('a deploy after a rollback stopped past its pointer is refused by the pin the finish sets', async () => {
  // Stopped at the first state write after the live pointer moved to v1.
  let moved = false;
  const stopping = stoppingSite(t.site, (key) => {
    if (moved) return true;
    if (key.endsWith('/live.json')) moved = true;
    return false;
  });
  await expect(rollbackRelease(stopping, { request: request('roll back') })).rejects.toThrow();
  expect((await live())?.commit).toBe(V1);
  expect(await readPin(t.site)).toBeNull();

  const deploy = deployArtifact(t.site, { app: APP, commit: V3, request: request('deploy v3') });
  await expect(deploy).rejects.toMatchObject({ code: 'PINNED' });
  // The rollback was finished: v1 live, pinned to it, and the chain says so.
  const now = await live();
  expect(now?.commit).toBe(V1);
  expect(await readPin(t.site)).toMatchObject({ commit: V1, cause: 'rollback', deployId: now?.deployId });
  expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true, problems: [] });
});

it('a rollback stopped after its pin, then unpinned: the next deploy does not pin it again', async () => {
  await unpinRelease(t.site, { request: request('thaw') });
  await deployArtifact(t.site, { app: APP, commit: V2, request: request('v2 again') });
  // Stopped at removing its crash-recovery record, after its pin of v1 landed.
  const stopping = stoppingSite(t.site, (key, body) => key.endsWith('/pending.json') && body === undefined);
  await expect(rollbackRelease(stopping, { request: request('roll back') })).rejects.toThrow();
  expect(await readPin(t.site)).toMatchObject({ commit: V1, cause: 'rollback' });
  expect((await unpinRelease(t.site, { request: request('thaw after the rollback') })).cleared?.commit).toBe(
    V1,
  );
  // The unpin lifts the pin and leaves the stopped rollback's crash-recovery record: what is left of
  // the rollback is the finish's (its record, its invalidation), not the unpin's to drop. Status says
  // both: not pinned, and an interrupted rollback that went live, which the next change finishes.
  const after = await readStatus(t.site);
  expect(after.pin).toBeNull();
  expect(after.pending).toMatchObject({ op: 'rollback', commit: V1, pointerMoved: true });

  // Its dry run says what the run does: finishes the rollback first without pinning v1 again, and
  // the deploy is not refused ahead as pinned (before: pins true, refused PINNED ahead).
  const dry = await deployArtifact(t.site, { app: APP, commit: V3, request: request('v3?'), dryRun: true });
  expect(dry.finishesFirst).toMatchObject({ kind: 'rollback', commit: V1 });
  expect(dry.finishesFirst?.pins).toBeUndefined();
  expect(await pinRefusalAhead(t.site, dry)).toBeNull();
  // Before, it finished the stopped rollback by pinning v1 again, undoing the unpin: PINNED.
  await t.s3.settle();
  const from = t.s3.requests.length;
  const deployed = await deployArtifact(t.site, { app: APP, commit: V3, request: request('deploy v3') });
  // Whether the finish pins is a walk of the chain, asked once by the run's pin check and its finish
  // alike; the other walk judges the record under the deploy's id (before: three, the pin check and
  // the finish each walking it).
  await t.s3.settle();
  const listings = t.s3.requests
    .slice(from)
    .filter(
      (r) =>
        r.method === 'GET' &&
        r.query.includes(`prefix=${encodeURIComponent(`${t.target.statePrefix}audit/`)}`),
    );
  expect(listings).toHaveLength(2);
  expect(deployed.outcome).toBe('succeeded');
  expect((await live())?.commit).toBe(V3);
  expect(await readPin(t.site)).toBeNull();
  expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true, problems: [] });
});
