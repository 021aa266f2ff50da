/**
 * An in-place deploy stopped after its pointer moved, before its crash-recovery record said so (the
 * live pointer names it), is finished by invalidate_cdn (finishSyncedDeploy) as the next run
 * finishes it: its pointer vouched for again in the audit chain, since its entry may not have been
 * written. When the CDN then does not serve it, it is switched back to the release live before it,
 * as any finished sync is: that second entry of its own is no release live before it.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deployArtifact, finishSyncedDeploy } from '../../src/deploy/deploy.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { APP, request } from '../support/atomic-env.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { type StaleCdn, startStaleCdn } from '../support/stale-cdn.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const [V1, V2] = ['1111111aaaaaaaaa', '2222222bbbbbbbbb'] as const;
let t: TestDeployEnv;
/** The "CDN": the hosting bucket's index.html, or (stale) what it served before. */
let cdn: StaleCdn;

beforeAll(async () => {
  cdn = await startStaleCdn(async () => (await t.site.hosting.get('index.html'))?.body);
  t = await startDeployEnv({ stack: 'stopped-before-flag', siteUrl: cdn.url });
  await publishFixtureBuilds(t, APP, [V1, V2]);
});
afterAll(async () => {
  await cdn?.stop();
  await t?.stop();
});

it('finished by invalidate_cdn, not served by the CDN: switched back to the release before it', async () => {
  await deployArtifact(t.site, { app: APP, commit: V1, request: request() });
  // The CDN keeps serving v1 from here on.
  cdn.frozen = (await t.site.hosting.get('index.html'))?.body ?? null;
  const stopping = stoppingSite(
    t.site,
    (key, body) => key === `${t.target.statePrefix}pending.json` && /"pointerMoved": true/.test(String(body)),
  );
  await expect(
    deployArtifact(stopping, { app: APP, commit: V2, request: request(), stopBeforeInvalidation: true }),
  ).rejects.toThrow(/stopped/);
  const pending = await t.site.records.readPending();
  expect(pending).toMatchObject({ pointerMoved: false, plan: { commit: V2 } });
  const stopped = String(pending?.plan.deployId);
  expect((await t.site.records.readPointer())?.value.deployId).toBe(stopped);

  const finished = await finishSyncedDeploy(t.site, stopped, { request: request(), verifyTimeoutMs: 300 });
  expect(finished.record).toMatchObject({ deployId: stopped, outcome: 'failed' });
  expect(finished.rolledBackTo).toEqual(expect.any(String));
  expect((await t.site.records.readPointer())?.value).toMatchObject({
    deployId: finished.rolledBackTo,
    commit: V1,
  });
  expect(await t.site.records.readPending()).toBeNull();
  expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
});
