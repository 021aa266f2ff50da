/**
 * A retained release whose files someone deleted from the hosting bucket behind FrontendOps' back
 * (`aws s3 rm --recursive s3://<hosting>/_releases/<releaseId>/`): its release index still says "all
 * files present", so a rollback or a promote to it was one key write with nothing looked at. Before,
 * the switch went through, the edge answered 404 to every visitor, verification failed and the
 * command exited 1 — with the site left on the missing release (a rollback and a canary promote were
 * not switched back, as a deploy and a canary start are) and `status` calling it live and unpinned.
 *
 * Now:
 * - a rollback or a canary promote to a release in place lists its prefix first (one LIST request
 *   for up to 1,000 files) and refuses, before anything is written, when files its index names are
 *   missing (CONFLICT, exit 2: nothing changed), naming the release, how many and which files, and
 *   what to do;
 * - a deploy (a release promote is one) of that commit copies the missing files again from its
 *   published build before its switch: the remedy the refusal names;
 * - a rollback, canary promote or release promote that did switch and that the CDN does not serve
 *   (here: the files go between the check and the switch) is switched back to the release live
 *   before, recorded as failed, not pinned, not tagged.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { promoteCanary, readCanaryStatus, startCanary } from '../../src/deploy/canary.ts';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { promoteRelease } from '../../src/deploy/pin.ts';
import { RELEASES_KEY_PREFIX } from '../../src/engine/manifest.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import { createAtomicRecords } from '../../src/state/atomic.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { readPin } from '../../src/state/pin.ts';
import {
  APP,
  ARTIFACTS,
  type AtomicEnv,
  HOSTING,
  heldAtSwitch,
  request,
  startAtomicEnv,
} from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import { releaseOf } from '../support/edge-probe.ts';
import { cli } from '../support/run-cli.ts';

const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3'] as const;
/**
 * Verification of a release the edge answers 404 for gives up after this: four tries, at 0, 50, 150
 * and 350 ms (atomic-verify.ts doubles the wait from 50 ms). The switch back is verified with it too,
 * and succeeds at its first try: the edge sees a key write at once (no propagation delay here).
 */
const VERIFY_MS = 400;
let t: AtomicEnv;
const releases: Record<string, string> = {};
let deployed: AtomicSnapshot;

// Every case starts from V1 then V2 deployed (all three published): deployed once, then put back.
beforeAll(async () => {
  t = await startAtomicEnv({ stack: 'atomic-missing' });
  await t.publishVersions([V1, V2, V3]);
  for (const commit of [V1, V2]) {
    const summary = await deployArtifact(t.site, { app: APP, commit, request: request() });
    expect(summary.outcome).toBe('succeeded');
    releases[commit] = (await t.store().read()).value?.live as string;
  }
  deployed = await snapshotAtomicEnv(t);
}, 120_000);
afterAll(() => t?.stop());
beforeEach(() => deployed.restore());

const served = async () => {
  const response = await fetch(t.edge.url);
  const body = await response.text();
  return response.status === 200 ? releaseOf(body) : `HTTP ${response.status}`;
};
const atomic = () => createAtomicRecords(t.site.state, t.target.statePrefix);

/** What `aws s3 rm --recursive s3://<hosting>/_releases/<id>/` does (or only the keys given). */
async function deleteReleaseFiles(releaseId: string, only?: (key: string) => boolean): Promise<string[]> {
  const keys = (await t.site.hosting.list(`${RELEASES_KEY_PREFIX}${releaseId}/`))
    .map((o) => o.key)
    .filter((k) => !only || only(k));
  expect(keys.length).toBeGreaterThan(0);
  await t.site.hosting.delete(keys);
  return keys;
}

/** Nothing the operation could have changed did: the store, the state, the pin, the chain. */
async function expectUnchanged(before: { etag: string | undefined; live: string; commit: string }) {
  expect(t.edge.atomic?.currentEtag()).toBe(before.etag);
  expect((await t.store().read()).value?.live).toBe(before.live);
  expect((await t.site.records.readPointer())?.value.commit).toBe(before.commit);
  expect(await atomic().readPending()).toBeNull();
  expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true, problems: [] });
}

describe('a rollback to a release whose files were deleted from the hosting bucket', () => {
  it('is refused before anything is written, with one LIST of its prefix (CLI: exit 2, status unchanged)', async () => {
    const r1 = releases[V1] as string;
    const deleted = await deleteReleaseFiles(r1);
    const before = { etag: t.edge.atomic?.currentEtag(), live: releases[V2] as string, commit: V2 };
    const chainBefore = await t.site.state.list(`${t.target.statePrefix}audit/`);

    const mark = await t.mark();
    const refused = await rollbackRelease(t.site, { to: V1.slice(0, 7), request: request() }).catch(
      (e: unknown) => e,
    );
    expect(isFrontendOpsError(refused, 'CONFLICT'), String(refused)).toBe(true);
    const message = (refused as Error).message;
    expect(message).toContain(r1);
    expect(message).toContain(`${deleted.length} of its ${deleted.length} files`);
    expect(message).toContain('/index.html');
    expect(message).toMatch(/outside FrontendOps/);
    expect(message).toMatch(/Nothing was changed/);
    expect(message).toContain(`frontendops deploy --commit ${V1.slice(0, 7)}`);

    // The cost: one LIST of the release's prefix, beside the reads any rollback makes (and the
    // check of its shared assets: one LIST of their folder, one of its build's published files);
    // no write.
    const requests = await t.requestsSince(mark);
    const lists = requests.filter((r) => r.query.includes('list-type'));
    const listed = lists.map((r) => `${r.bucket} ${decodeURIComponent(r.query)}`);
    expect(listed).toHaveLength(3);
    expect(listed).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`^${ARTIFACTS} .*prefix=${APP}/${V1}/`)),
        expect.stringMatching(new RegExp(`^${HOSTING} .*prefix=${RELEASES_KEY_PREFIX}${r1}/`)),
        expect.stringMatching(new RegExp(`^${HOSTING} .*prefix=assets/`)),
      ]),
    );
    expect(requests.filter((r) => r.method !== 'GET' && r.method !== 'HEAD')).toEqual([]);
    await expectUnchanged(before);
    expect(await t.site.state.list(`${t.target.statePrefix}audit/`)).toEqual(chainBefore);
    expect(await served()).toBe('v2');
    expect(await readPin(t.site)).toBeNull();

    // The reviewer's reproduction, at the terminal.
    const outputs = await t.writeOutputs();
    const run = (argv: string[]) => cli([...argv, '--stack', outputs], { env: t.cliEnv(), cwd: t.tmp });
    const cliRollback = await run(['rollback', '--to', V1.slice(0, 7), '--yes']);
    expect(cliRollback.code, cliRollback.stderr).toBe(2);
    expect(cliRollback.stderr).toContain(`${deleted.length} of its ${deleted.length} files`);
    const status = await run(['status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ live: { commit: V2 }, pin: null });
    expect(await served()).toBe('v2');
    await expectUnchanged(before);
  });

  it('names a few of the missing files when only some are gone', async () => {
    const r1 = releases[V1] as string;
    await deleteReleaseFiles(r1, (k) => k.endsWith('/robots.txt'));
    const refused = await rollbackRelease(t.site, { to: V1, request: request() }).catch((e: unknown) => e);
    expect(isFrontendOpsError(refused, 'CONFLICT'), String(refused)).toBe(true);
    expect((refused as Error).message).toMatch(/1 of its 4 files .*\(\/robots\.txt\)/);
    expect(await served()).toBe('v2');
  });

  it('deploying that commit again copies the missing files back and makes it live; a rollback then works', async () => {
    const r1 = releases[V1] as string;
    const deleted = await deleteReleaseFiles(r1);
    const redeployed = await deployArtifact(t.site, { app: APP, commit: V1, request: request() });
    expect(redeployed.outcome).toBe('succeeded');
    // What was put back is in the deployment record (bound by the audit chain).
    const record = await t.site.records.readRecord(redeployed.deployId);
    expect([...(record?.copied ?? [])].sort()).toEqual(deleted.map((k) => `/${k}`).sort());
    expect(await served()).toBe('v1');
    expect((await t.site.hosting.list(`${RELEASES_KEY_PREFIX}${r1}/`)).map((o) => o.key).sort()).toEqual(
      [...deleted].sort(),
    );
    const back = await rollbackRelease(t.site, { to: V2, request: request() });
    expect(back).toMatchObject({ outcome: 'succeeded', copied: 0, commit: V2 });
    expect(await served()).toBe('v2');
    expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true, problems: [] });
  });
});

describe('a canary promote whose canary files were deleted', () => {
  it('is refused before anything is written; the canary still runs', async () => {
    const started = await startCanary(t.site, {
      app: APP,
      commit: V3,
      weightPercent: 10,
      request: request(),
    });
    expect(started.outcome).toBe('succeeded');
    const r3 = started.releaseId;
    await deleteReleaseFiles(r3, (k) => k.endsWith('/index.html'));
    const before = { etag: t.edge.atomic?.currentEtag(), live: releases[V2] as string, commit: V2 };

    const refused = await promoteCanary(t.site, { request: request() }).catch((e: unknown) => e);
    expect(isFrontendOpsError(refused, 'CONFLICT'), String(refused)).toBe(true);
    expect((refused as Error).message).toContain(r3);
    expect((refused as Error).message).toMatch(/1 of its 4 files .*\(\/index\.html\)/);
    expect((refused as Error).message).toMatch(/canary abort/);
    await expectUnchanged(before);
    expect((await readCanaryStatus(t.site)).canary).toMatchObject({ releaseId: r3, weight: 10 });
    expect(await served()).toBe('v2');

    // The remedy it names: the canary started again copies the missing file back; then it promotes.
    const again = await startCanary(t.site, { app: APP, commit: V3, weightPercent: 10, request: request() });
    expect(again).toMatchObject({ outcome: 'succeeded', copied: 1 });
    const promoted = await promoteCanary(t.site, { request: request() });
    expect(promoted).toMatchObject({ outcome: 'succeeded', copied: 0 });
    expect(await served()).toBe('v3');
    expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true, problems: [] });
  });
});

describe('a switch the CDN then does not serve (the files go between the check and the key write)', () => {
  /** A site whose key write waits until the release's files are deleted. */
  async function deletingAtSwitch(releaseId: () => string) {
    const held = heldAtSwitch(t.store());
    const site = await t.open({ releases: held.store });
    void held.reached.then(async () => {
      await deleteReleaseFiles(releaseId());
      held.release();
    });
    return site;
  }

  it('a rollback is switched back to the release live before: recorded failed, not pinned', async () => {
    const site = await deletingAtSwitch(() => releases[V1] as string);
    const summary = await rollbackRelease(site, {
      to: V1,
      request: request('back to v1'),
      verifyTimeoutMs: VERIFY_MS,
    });
    expect(summary.outcome).toBe('failed');
    expect(summary.error?.code).toBe('VERIFY_FAILED');
    expect(summary.rolledBackTo).toMatch(/^b2b2b2b-/);
    expect(await served()).toBe('v2');
    expect((await t.store().read()).value).toEqual({ live: releases[V2] });
    expect((await t.site.records.readPointer())?.value.commit).toBe(V2);
    expect(await readPin(t.site)).toBeNull();
    expect((await t.site.records.readRecord(summary.deployId))?.outcome).toBe('failed');
    expect(await atomic().readPending()).toBeNull();
    expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true, problems: [] });
  });

  it('when the release before is not whole either, it is not switched back to: failed, and the event says why', async () => {
    await deleteReleaseFiles(releases[V2] as string, (k) => k.endsWith('/favicon.ico'));
    const site = await deletingAtSwitch(() => releases[V1] as string);
    const events: string[] = [];
    const summary = await rollbackRelease(site, {
      to: V1,
      request: request(),
      verifyTimeoutMs: VERIFY_MS,
      onEvent: (e) => {
        if (e.type === 'step' && e.step === 'rollback') events.push(e.detail);
      },
    });
    expect(summary.outcome).toBe('failed');
    expect(summary.rolledBackTo).toBeUndefined();
    expect(events.join('\n')).toMatch(/cannot be switched back to: .*1 of its 4 files .*\/favicon\.ico/);
    expect(await readPin(t.site)).toBeNull();
    expect(await atomic().readPending()).toBeNull();
    expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true, problems: [] });
  });

  it('a canary promote is switched back to the release live before (the canary ended): recorded failed', async () => {
    const started = await startCanary(t.site, {
      app: APP,
      commit: V3,
      weightPercent: 10,
      request: request(),
    });
    const site = await deletingAtSwitch(() => started.releaseId);
    const summary = await promoteCanary(site, { request: request(), verifyTimeoutMs: VERIFY_MS });
    expect(summary.outcome).toBe('failed');
    expect(summary.rolledBackTo).toMatch(/^b2b2b2b-/);
    expect(await served()).toBe('v2');
    expect((await t.store().read()).value).toEqual({ live: releases[V2] });
    expect((await t.site.records.readPointer())?.value.commit).toBe(V2);
    expect((await t.site.records.readRecord(summary.deployId))?.outcome).toBe('failed');
    expect((await readCanaryStatus(t.site)).canary).toBeNull();
    expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true, problems: [] });
  });

  it('a release promote is switched back, and the pin it would have lifted stays', async () => {
    // Pinned to v2 (a rollback to it pins); promote v1, whose files go at the switch.
    await rollbackRelease(t.site, { to: V1, request: request() });
    await rollbackRelease(t.site, { to: V2, request: request() });
    expect((await readPin(t.site))?.commit).toBe(V2);
    const site = await deletingAtSwitch(() => releases[V1] as string);
    const summary = await promoteRelease(site, {
      app: APP,
      commit: V1,
      request: request(),
      verifyTimeoutMs: VERIFY_MS,
    });
    expect(summary.outcome).toBe('failed');
    expect(summary.rolledBackTo).toMatch(/^b2b2b2b-/);
    expect(await served()).toBe('v2');
    expect((await t.site.records.readPointer())?.value.commit).toBe(V2);
    expect((await readPin(t.site))?.commit).toBe(V2);
    expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true, problems: [] });
  });
});
