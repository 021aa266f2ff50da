/**
 * A synced deploy (run_sync done, invalidate_cdn not yet) has its crash-recovery record in the state
 * bucket, bound by no audit entry. A review found that whoever can write it could make the finish
 * (`invalidate_cdn`, which needs no approval) switch the site to an older release nobody asked for:
 * name an index.html the CDN will not serve, so verification fails, and an older release as the one
 * live before, which the automatic switch back then made live. In place and atomic.
 * Now the finish holds both to what its writer cannot make: the index.html to verify is the build's
 * (its published manifest), and the release before is the one the live pointer keeps before it (in
 * place, with one release kept, the one the audit chain records live before it). Refused TAMPERED,
 * nothing changed.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deployArtifact, finishSyncedDeploy } from '../../src/deploy/deploy.ts';
import { releaseIdFor } from '../../src/engine/atomic-plan.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import type { Site } from '../../src/site.ts';
import { readAudit, verifyAudit } from '../../src/state/audit.ts';
import { ENVIRONMENT_MARKER } from '../../src/state/names.ts';
import type { PendingDeploy } from '../../src/state/records.ts';
import { APP, deployedAtomicEnvFor, request } from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import {
  clearHistory,
  publishFixtureBuilds,
  startDeployEnv,
  type TestDeployEnv,
} from '../support/deploy-env.ts';
import { refusal } from '../support/refusal.ts';
import { type StaleCdn, startStaleCdn } from '../support/stale-cdn.ts';

const [V1, V2, V3] = ['1111111aaaaaaaaa', '2222222bbbbbbbbb', '3333333ccccccccc'] as const;

describe('in place: a synced deploy whose pending.json was edited before invalidate_cdn', () => {
  let t: TestDeployEnv;
  /** The "CDN": the hosting bucket's index.html, or (stale) what it served before. */
  let cdn: StaleCdn;

  beforeAll(async () => {
    cdn = await startStaleCdn(async () => (await t.site.hosting.get('index.html'))?.body);
    t = await startDeployEnv({ stack: 'forged-switch-back', siteUrl: cdn.url });
    await publishFixtureBuilds(t, APP, [V1, V2, V3]);
  });
  afterAll(async () => {
    await cdn?.stop();
    await t?.stop();
  });

  /** V1 and V2 live one after the other, then V3 synced on `site`; returns its crash-recovery record. */
  async function syncedAfterTwo(site: Site): Promise<PendingDeploy> {
    await clearHistory(t.site);
    // A fresh history (its builds still published), and a fresh environment: a marker no entry wrote is refused by every change.
    await t.site.hosting.delete([ENVIRONMENT_MARKER]);
    for (const commit of [V1, V2]) await deployArtifact(site, { app: APP, commit, request: request() });
    const synced = await deployArtifact(site, {
      app: APP,
      commit: V3,
      request: request(),
      stopBeforeInvalidation: true,
    });
    expect(synced.outcome).toBe('synced');
    return (await site.records.readPending()) as PendingDeploy;
  }

  /** The finish refuses TAMPERED saying `why`: V3 stays live, nothing is recorded. */
  async function finishRefused(site: Site, pending: PendingDeploy, why: RegExp) {
    await site.records.writePending(pending);
    const head = (await readAudit(site.state, t.target.statePrefix)).length;
    const error = await refusal(
      finishSyncedDeploy(site, pending.plan.deployId, { request: request(), verifyTimeoutMs: 300 }),
    );
    expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
    expect(error.message).toMatch(why);
    expect((await site.records.readPointer())?.value.commit).toBe(V3);
    expect(await readAudit(site.state, t.target.statePrefix)).toHaveLength(head);
  }

  it("an index.html to verify that is not the build's, or a release before it that was not: refused", async () => {
    const pending = await syncedAfterTwo(t.site);
    const v1 = (await t.site.records.readPointer())?.value.releases.find((r) => r.commit === V1);
    const wrongIndex = pending.plan.copies.map((c) =>
      c.key === 'index.html' ? { ...c, sha256: 'f'.repeat(64) } : c,
    );
    await finishRefused(
      t.site,
      { ...pending, plan: { ...pending.plan, copies: wrongIndex } },
      /with an index\.html to verify that is not that build's/,
    );
    await finishRefused(
      t.site,
      { ...pending, plan: { ...pending.plan, fromDeployId: v1?.deployId ?? '', fromCommit: V1 } },
      /names 1111111 as the release live before .*but the live pointer keeps 2222222 before it/,
    );
    // The record as the deploy wrote it is finished.
    await t.site.records.writePending(pending);
    const { record } = await finishSyncedDeploy(t.site, pending.plan.deployId, { request: request() });
    expect(record.outcome).toBe('succeeded');
    expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
  });

  it('keeping one release, a release before it that the chain does not record: not switched back to', async () => {
    const one: Site = { ...t.site, retain: 1 };
    const pending = await syncedAfterTwo(one);
    expect((await one.records.readPointer())?.value.releases).toHaveLength(1);
    await one.records.writePending({ ...pending, plan: { ...pending.plan, fromCommit: V1 } });
    cdn.frozen = Buffer.from('<html>the page before</html>'); // the CDN does not serve V3
    try {
      const error = await refusal(
        finishSyncedDeploy(one, pending.plan.deployId, { request: request(), verifyTimeoutMs: 300 }),
      );
      expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
      expect(error.message).toMatch(
        /names 1111111 as the release live before .* the audit chain records 2222222/,
      );
    } finally {
      cdn.frozen = null;
    }
    // Recorded as failed, and not switched anywhere.
    expect((await one.records.readPointer())?.value.commit).toBe(V3);
    expect((await one.records.readRecord(pending.plan.deployId))?.outcome).toBe('failed');
  });
});

describe('atomic: a synced deploy whose atomic/pending.json was edited before invalidate_cdn', () => {
  const env = deployedAtomicEnvFor({ stack: 'forged-switch-back-atomic' }, [V1, V2, V3], 2);

  it("an index.html to verify that is not the build's, or a release before it that was not: refused", async () => {
    const t = env();
    const key = `${t.target.statePrefix}atomic/pending.json`;
    const served = (await t.store().read()).value;
    const synced = await deployArtifact(t.site, {
      app: APP,
      commit: V3,
      request: request(),
      stopBeforeInvalidation: true,
    });
    const genuine = (await t.site.state.get(key))?.body.toString('utf8') ?? '';
    const pending = JSON.parse(genuine);
    const v1 = (await t.site.records.readPointer())?.value.releases.find((r) => r.commit === V1);
    expect(v1).toBeDefined();
    const edits = [
      [{ verify: { ...pending.plan.verify, indexSha256: 'f'.repeat(64) } }, /with an index\.html to verify/],
      [
        { pointerBefore: { ...pending.plan.pointerBefore, live: v1 && releaseIdFor(v1) } },
        /switched from a release the live pointer does not keep before it/,
      ],
      // "From nothing", as only a stack's first atomic switch is: a switch back would serve the bucket root.
      [{ pointerBefore: null }, /switched from a release the live pointer does not keep before it/],
    ] as const;
    for (const [edit, why] of edits) {
      await t.site.state.put(key, JSON.stringify({ ...pending, plan: { ...pending.plan, ...edit } }), {
        contentType: 'application/json',
      });
      const head = (await readAudit(t.site.state, t.target.statePrefix)).length;
      const error = await refusal(finishSyncedDeploy(t.site, synced.deployId, { request: request() }));
      expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
      expect(error.message).toMatch(why);
      expect((await t.store().read()).value).not.toEqual(served);
      expect(await readAudit(t.site.state, t.target.statePrefix)).toHaveLength(head);
    }
    await t.site.state.put(key, genuine, { contentType: 'application/json' });
    const { record } = await finishSyncedDeploy(t.site, synced.deployId, { request: request() });
    expect(record.outcome).toBe('succeeded');
    expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
  });
});

describe('atomic: a synced deploy whose record names a kept release as both what it switched from and its drift', () => {
  // Held to its recorded drift alone (what the store held when its run planned): a record whoever can
  // write the state bucket can make, naming any kept release. Before, a failed verification switched
  // back to that release, which nobody asked for; now the finish stops there, and the operator chooses.
  const env = deployedAtomicEnvFor({ stack: 'forged-drift-switch-back' }, [V1, V2, V3], 2);
  let deployed: AtomicSnapshot | undefined;
  beforeEach(async () => {
    deployed ??= await snapshotAtomicEnv(env());
    await deployed.restore();
  });

  /** V3 synced, its record edited to say it switched from kept V1 (`edit` of the record too). */
  async function forgedFromV1(edit: (from: unknown) => Record<string, unknown>) {
    const t = env();
    const key = `${t.target.statePrefix}atomic/pending.json`;
    const synced = await deployArtifact(t.site, {
      app: APP,
      commit: V3,
      request: request(),
      stopBeforeInvalidation: true,
    });
    const pending = JSON.parse((await t.site.state.get(key))?.body.toString('utf8') ?? '');
    const v1 = (await t.site.records.readPointer())?.value.releases.find((r) => r.commit === V1);
    if (!v1) throw new Error('v1 is kept');
    const from = { ...pending.plan.pointerBefore, live: releaseIdFor(v1) };
    await t.site.state.put(
      key,
      JSON.stringify({ ...pending, ...edit(from), plan: { ...pending.plan, pointerBefore: from } }),
      { contentType: 'application/json' },
    );
    return { t, synced, served: (await t.store().read()).value };
  }

  /** invalidate_cdn's finish, the "CDN" answering with a page that is not V3's: verification fails. */
  const finishNotServed = (t: ReturnType<typeof env>, deployId: string) =>
    refusal(
      finishSyncedDeploy(t.site, deployId, {
        request: request(),
        verifyTimeoutMs: 200,
        fetch: async () => new Response('<html>stale</html>', { status: 200 }),
      }),
    );

  it('is recorded as failed, not switched back: the site stays as it is, and the refusal says what to run', async () => {
    const { t, synced, served } = await forgedFromV1((from) => ({ drift: from }));
    const error = await finishNotServed(t, synced.deployId);
    expect(isFrontendOpsError(error, 'CONFLICT'), String(error)).toBe(true);
    expect(error.message).toMatch(/not switched back .*frontendops rollback --to/);
    expect((await t.store().read()).value).toEqual(served);
    expect((await t.site.records.readPointer())?.value.commit).toBe(V3);
    expect((await t.site.records.readRecord(synced.deployId))?.outcome).toBe('failed');
    expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
  });

  it('not marked switched, no drift: its switch is held to the release before it all the same', async () => {
    // The store names what its switch wrote (the switch landed before its record said so): finished
    // as switched, and held as a switched one is, before anything is written.
    const { t, synced, served } = await forgedFromV1(() => ({ switched: false }));
    const head = (await readAudit(t.site.state, t.target.statePrefix)).length;
    const error = await finishNotServed(t, synced.deployId);
    expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
    expect(error.message).toMatch(/switched from a release the live pointer does not keep before it/);
    expect((await t.store().read()).value).toEqual(served);
    expect(await readAudit(t.site.state, t.target.statePrefix)).toHaveLength(head);
  });
});
