/**
 * A deploy stopped after its switch, finished by the next run of another build, whose finish the CDN
 * does not serve: the finish is recorded as failed, and the run still says it finished it first (as
 * its dry run and get_deploy_target said "first finish ..."), in words that say it failed.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { describeFinished } from '../../src/engine/describe.ts';
import { readPin } from '../../src/state/pin.ts';
import { APP, request, startAtomicEnv } from '../support/atomic-env.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { type StaleCdn, startStaleCdn } from '../support/stale-cdn.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const [V1, V2, V3] = ['1111111aaaaaaaaa', '2222222bbbbbbbbb', '3333333ccccccccc'] as const;
let t: TestDeployEnv;
/** The "CDN": the hosting bucket's index.html, or (stale) what it served before. */
let cdn: StaleCdn;

beforeAll(async () => {
  cdn = await startStaleCdn(async () => (await t.site.hosting.get('index.html'))?.body);
  t = await startDeployEnv({ stack: 'finished-first-failed', siteUrl: cdn.url });
  await publishFixtureBuilds(t, APP, [V1, V2, V3]);
});
afterAll(async () => {
  await cdn?.stop();
  await t?.stop();
});

it('in place: a stopped deploy whose finish is recorded as failed is said as finished first', async () => {
  await deployArtifact(t.site, { app: APP, commit: V1, request: request() });
  // The CDN keeps serving v1 from here on.
  cdn.frozen = (await t.site.hosting.get('index.html'))?.body ?? null;
  const stopping = stoppingSite(
    t.site,
    (key, body) => key === `${t.target.statePrefix}pending.json` && /"pointerMoved": true/.test(String(body)),
  );
  await expect(deployArtifact(stopping, { app: APP, commit: V2, request: request() })).rejects.toThrow(
    /stopped/,
  );
  const stopped = String((await t.site.records.readPending())?.plan.deployId);

  const done = await deployArtifact(t.site, {
    app: APP,
    commit: V3,
    request: request(),
    verifyTimeoutMs: 300,
    rollbackOnFailure: false,
  });
  expect((await t.site.records.readRecord(stopped))?.outcome).toBe('failed');
  // Before, a failed finish was not said at all: no finishedFirst.
  expect(done.finishedFirst).toEqual({ deployId: stopped, kind: 'deploy', outcome: 'failed' });
  expect(describeFinished(done.finishedFirst ?? { deployId: '', kind: '' })).toBe(
    `finished the interrupted deployment ${stopped}, which had made it live; recorded now as failed (the CDN did not serve it)`,
  );
});

it('atomic: a stopped deploy whose finish is recorded as failed is said as finished first', async () => {
  const a = await startAtomicEnv({ stack: 'finished-first-failed-atomic' });
  try {
    await a.publishVersions([V1, V2, V3]);
    await deployArtifact(a.site, { app: APP, commit: V1, request: request() });
    // Stopped at its deployment record, after its switch.
    let stopped = '';
    const stopping = stoppingSite(a.site, (key) => {
      const id = /\/deployments\/([^/]+)\.json$/.exec(key)?.[1];
      if (id) stopped = id;
      return id !== undefined;
    });
    await expect(deployArtifact(stopping, { app: APP, commit: V2, request: request() })).rejects.toThrow(
      /stopped/,
    );
    // An edge that serves none of them: the finish's verification fails, and so does the run's.
    const done = await deployArtifact(a.site, {
      app: APP,
      commit: V3,
      request: request(),
      verifyTimeoutMs: 200,
      rollbackOnFailure: false,
      fetch: async () => new Response('<html>stale</html>', { headers: { 'content-type': 'text/html' } }),
    });
    expect((await a.site.records.readRecord(stopped))?.outcome).toBe('failed');
    // Before, a failed finish was not said at all: no finishedFirst.
    expect(done.finishedFirst).toEqual({ deployId: stopped, kind: 'deploy', outcome: 'failed' });
  } finally {
    await a.stop();
  }
});

it('in place: a run refused after a finish recorded as failed says that finish', async () => {
  let hosting: TestDeployEnv['site']['hosting'] | undefined;
  const cdn2 = await startStaleCdn(async () => (await hosting?.get('index.html'))?.body);
  const p = await startDeployEnv({ stack: 'finished-failed-refused', siteUrl: cdn2.url });
  hosting = p.site.hosting;
  try {
    await publishFixtureBuilds(p, APP, [V1, V2, V3]);
    for (const commit of [V1, V2, V3]) await deployArtifact(p.site, { app: APP, commit, request: request() });
    // Rolled back to v2, which pins it; then a rollback to v1 stops right after its pointer moved
    // (before its pin), while the CDN keeps serving v2.
    await rollbackRelease(p.site, { request: request() });
    cdn2.frozen = (await p.site.hosting.get('index.html'))?.body ?? null;
    let moved = false;
    const stopping = stoppingSite(p.site, (key) => {
      if (moved) return true;
      if (key.endsWith('/live.json')) moved = true;
      return false;
    });
    await expect(rollbackRelease(stopping, { to: V1, request: request() })).rejects.toThrow();
    const stopped = String((await p.site.records.readPointer())?.value.deployId);
    expect(stopped).toMatch(new RegExp(`^${V1.slice(0, 7)}-`));

    // A deploy of v1 is let through the v2 pin by the v1 pin the finish would set; the finish is
    // recorded failed (no pin), so the v2 pin refuses it: the refusal says the finish, as failed.
    const refused = await deployArtifact(p.site, {
      app: APP,
      commit: V1,
      request: request(),
      verifyTimeoutMs: 300,
    }).catch((error: unknown) => error as Error & { code?: string });
    expect((await p.site.records.readRecord(stopped))?.outcome).toBe('failed');
    expect(await readPin(p.site)).toMatchObject({ commit: V2 });
    expect(refused).toMatchObject({ code: 'PINNED' });
    // Before, the refusal did not name the finish at all.
    expect((refused as Error).message).toContain(
      `(This run ${describeFinished({ deployId: stopped, kind: 'rollback', outcome: 'failed' })}.)`,
    );
    // The finish changed something: the refusal does not say that nothing was.
    expect((refused as Error).message).toContain(', so nothing more was changed. ');
  } finally {
    await cdn2.stop();
    await p.stop();
  }
});

it('atomic: a run refused after a finish recorded as failed says that finish', async () => {
  const a = await startAtomicEnv({ stack: 'finished-failed-refused-atomic' });
  try {
    await a.publishVersions([V1, V2, V3]);
    for (const commit of [V1, V2, V3]) await deployArtifact(a.site, { app: APP, commit, request: request() });
    // Rolled back to v2, which pins it; then a rollback to v1 stops at its deployment record, after
    // its switch and before its pin.
    await rollbackRelease(a.site, { request: request() });
    let stopped = '';
    const stopping = stoppingSite(a.site, (key) => {
      const id = /\/deployments\/([^/]+)\.json$/.exec(key)?.[1];
      if (id) stopped = id;
      return id !== undefined;
    });
    await expect(rollbackRelease(stopping, { to: V1, request: request() })).rejects.toThrow(/stopped/);
    expect(stopped).toMatch(new RegExp(`^${V1.slice(0, 7)}-`));

    // A deploy of v1 is let through the v2 pin by the v1 pin the finish would set; an edge that serves
    // none of them fails the finish (recorded failed, no pin), so the v2 pin refuses the deploy.
    const refused = await deployArtifact(a.site, {
      app: APP,
      commit: V1,
      request: request(),
      verifyTimeoutMs: 200,
      fetch: async () => new Response('<html>stale</html>', { headers: { 'content-type': 'text/html' } }),
    }).catch((error: unknown) => error as Error & { code?: string });
    expect((await a.site.records.readRecord(stopped))?.outcome).toBe('failed');
    expect(await readPin(a.site)).toMatchObject({ commit: V2 });
    expect(refused).toMatchObject({ code: 'PINNED' });
    expect((refused as Error).message).toContain(
      `(This run ${describeFinished({ deployId: stopped, kind: 'rollback', outcome: 'failed' })}.)`,
    );
    expect((refused as Error).message).toContain(', so nothing more was changed. ');
  } finally {
    await a.stop();
  }
});
