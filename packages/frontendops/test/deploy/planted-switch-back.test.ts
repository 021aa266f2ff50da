/**
 * A deploy the CDN does not serve is switched back to the release before it, by a rollback of its own
 * whose deploy id is as deterministic as any (engine/ids.ts deployIdFor: the build it goes back to and
 * the failed deploy it goes from). Whoever can write the state bucket computes it, plants
 * `deployments/<that id>.json`, and waits for a verification to fail (or makes one fail). The switch
 * back refuses it (TAMPERED, naming the object) before it writes anything: no copy, no pointer or
 * release-store switch, no entry, no crash-recovery record. The failed deploy stays live, recorded as
 * failed, and the refusal says so (not that nothing was changed) and how to go back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { atomicRecordsOf } from '../../src/deploy/atomic-live.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { deployIdFor } from '../../src/engine/ids.ts';
import type { FrontendOpsError } from '../../src/errors.ts';
import { readAudit } from '../../src/state/audit.ts';
import { APP, type AtomicEnv, request, startAtomicEnv } from '../support/atomic-env.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { releaseOf } from '../support/edge-probe.ts';
import { plantedRecord } from '../support/planted.ts';
import { refusal } from '../support/refusal.ts';

const [V1, V2] = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2'] as const;

/** A CDN that keeps answering with `body` whatever is deployed: the verification fails. */
const serving = (body: Buffer | string) => async () =>
  new Response(typeof body === 'string' ? body : new Uint8Array(body), {
    status: 200,
    headers: { 'content-type': 'text/html' },
  });

/** The refusal, as the operator reads it: what stays live, that the switch back wrote nothing, what to do. */
function expectSaid(error: Error, failed: string, back: string, remedy = 'delete that record') {
  expect(error.message).toContain(back);
  expect(error.message).toContain(failed);
  expect(error.message).toContain('recorded as failed');
  expect(error.message).toContain('switch back');
  expect(error.message).toContain('was refused before it wrote anything');
  expect(error.message).toContain('audit verify');
  expect(error.message).toContain(remedy);
  expect(error.message).toContain('frontendops rollback');
  // The failed deploy changed what is live: "Nothing was changed" would not be true.
  expect(error.message).not.toContain('Nothing was changed');
  expect(error.message).not.toContain('run this again');
}

describe('in place: a record planted under the id of the automatic switch back', () => {
  let t: TestDeployEnv;
  beforeAll(async () => {
    t = await startDeployEnv({ stack: 'planted-switch-back', siteUrl: 'https://site.test/' });
    await publishFixtureBuilds(t, APP, [V1, V2]);
    await deployArtifact(t.site, {
      app: APP,
      commit: V1,
      request: request('first'),
      fetch: async () => serving((await t.site.hosting.get('index.html'))?.body ?? '')(),
    });
  }, 180_000);
  afterAll(() => t?.stop());

  it('is refused TAMPERED before the switch back writes anything; the failed deploy stays live', async () => {
    const live = await t.site.records.readPointer();
    if (!live) throw new Error('v1 is live');
    const dry = await deployArtifact(t.site, {
      app: APP,
      commit: V2,
      request: request('look'),
      dryRun: true,
    });
    const back = deployIdFor({
      stack: t.target.stack,
      app: APP,
      commit: V1,
      artifactDigest: live.value.artifactDigest,
      fromDeployId: dry.deployId,
    });
    await t.site.state.put(
      `${t.target.statePrefix}deployments/${back}.json`,
      JSON.stringify({ ...plantedRecord(t, APP, back, V1, live.value.artifactDigest), kind: 'rollback' }),
      { contentType: 'application/json' },
    );
    const stale = (await t.site.hosting.get('index.html'))?.body ?? Buffer.from('');

    const error = await refusal(
      deployArtifact(t.site, {
        app: APP,
        commit: V2,
        request: request('ship v2'),
        verifyTimeoutMs: 200,
        fetch: serving(stale),
      }),
    );
    expect(error.code).toBe('TAMPERED');
    expect((error as FrontendOpsError).details).toMatchObject({ object: `deployments/${back}.json` });
    // The failed deploy is what is live and what the chain last recorded; nothing of the switch back.
    expect((await t.site.records.readPointer())?.value.deployId).toBe(dry.deployId);
    expect((await t.site.hosting.get('index.html'))?.body.equals(stale)).toBe(false);
    expect(await t.site.records.readPending()).toBeNull();
    const entries = await readAudit(t.site.state, t.target.statePrefix);
    expect(entries.at(-1)?.data).toMatchObject({ deployId: dry.deployId, outcome: 'failed' });
    expect(entries.some((e) => e.data.deployId === back)).toBe(false);
    expect(JSON.stringify(await t.site.records.readRecord(back))).toContain('PLANTED');
    expectSaid(error, dry.deployId, back);
  });
});

describe('atomic: a record planted under the id of the automatic switch back', () => {
  let t: AtomicEnv;
  beforeAll(async () => {
    t = await startAtomicEnv({ stack: 'planted-switch-back-atomic' });
    await t.publishVersions([V1, V2]);
    await deployArtifact(t.site, { app: APP, commit: V1, request: request('first') });
  }, 180_000);
  afterAll(() => t?.stop());

  it('is refused TAMPERED before the switch back writes anything; the failed deploy stays live', async () => {
    const live = await t.site.records.readPointer();
    if (!live) throw new Error('v1 is live');
    const dry = await deployArtifact(t.site, {
      app: APP,
      commit: V2,
      request: request('look'),
      dryRun: true,
    });
    const back = deployIdFor({
      stack: t.target.stack,
      app: APP,
      commit: V1,
      artifactDigest: live.value.artifactDigest,
      fromDeployId: dry.deployId,
    });
    await t.site.state.put(
      `${t.target.statePrefix}deployments/${back}.json`,
      JSON.stringify({ ...plantedRecord(t, APP, back, V1, live.value.artifactDigest), kind: 'rollback' }),
      { contentType: 'application/json' },
    );
    // What the CDN answers: the release live before (v1), whatever is switched to.
    const stale = await (await fetch(`${t.edge.url}/index.html`, { headers: { cookie: 'x=1' } })).text();

    const error = await refusal(
      deployArtifact(t.site, {
        app: APP,
        commit: V2,
        request: request('ship v2'),
        verifyTimeoutMs: 200,
        fetch: serving(stale),
      }),
    );
    expect(error.code).toBe('TAMPERED');
    expect((error as FrontendOpsError).details).toMatchObject({ object: `deployments/${back}.json` });
    expect((await t.site.records.readPointer())?.value.deployId).toBe(dry.deployId);
    expect(releaseOf(await (await fetch(t.edge.url)).text())).toBe('v2');
    expect(await atomicRecordsOf(t.site).readPending()).toBeNull();
    const entries = await readAudit(t.site.state, t.target.statePrefix);
    expect(entries.at(-1)?.data).toMatchObject({ deployId: dry.deployId, outcome: 'failed' });
    expect(entries.some((e) => e.data.deployId === back)).toBe(false);
    expectSaid(error, dry.deployId, back);
  });
});

describe('atomic: the index of the release to switch back to, edited while the failed deploy verified', () => {
  let t: AtomicEnv;
  beforeAll(async () => {
    t = await startAtomicEnv({ stack: 'edited-index-switch-back' });
    await t.publishVersions([V1, V2]);
    await deployArtifact(t.site, { app: APP, commit: V1, request: request('first') });
  }, 180_000);
  afterAll(() => t?.stop());

  it('is refused TAMPERED before the switch back writes anything, saying the failed deploy stays live', async () => {
    const indexes = `${t.target.statePrefix}atomic/releases/`;
    const [index] = (await t.site.state.list(indexes)).filter((o) =>
      o.key.startsWith(`${indexes}${V1.slice(0, 7)}-`),
    );
    if (!index) throw new Error('v1 has a release index');
    const stale = await (await fetch(`${t.edge.url}/index.html`, { headers: { cookie: 'x=1' } })).text();
    let edited = false;
    const error = await refusal(
      deployArtifact(t.site, {
        app: APP,
        commit: V2,
        request: request('ship v2'),
        verifyTimeoutMs: 200,
        // Whoever can write the state bucket drops a page from v1's index while v2 is verified.
        fetch: async () => {
          if (!edited) {
            edited = true;
            const read = JSON.parse((await t.site.state.get(index.key))?.body.toString('utf8') ?? '{}');
            await t.site.state.put(index.key, JSON.stringify({ ...read, files: read.files.slice(1) }), {
              contentType: 'application/json',
            });
          }
          return serving(stale)();
        },
      }),
    );
    expect(error.code).toBe('TAMPERED');
    const pointer = await t.site.records.readPointer();
    expect(pointer?.value.commit).toBe(V2);
    expect(releaseOf(await (await fetch(t.edge.url)).text())).toBe('v2');
    expect(await atomicRecordsOf(t.site).readPending()).toBeNull();
    const entries = await readAudit(t.site.state, t.target.statePrefix);
    expect(entries.at(-1)?.data).toMatchObject({ deployId: pointer?.value.deployId, outcome: 'failed' });
    expectSaid(error, pointer?.value.deployId as string, V1.slice(0, 7), 'put back the version of');
  });
});
