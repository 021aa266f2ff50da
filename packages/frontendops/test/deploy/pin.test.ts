/**
 * The pin after a rollback, against the real S3 protocol: a rollback pins; a deploy past the pin is
 * refused (PINNED) and changes nothing; pin, unpin and promote move it, each in the audit chain.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createS3Client } from '../../src/adapters/s3.ts';
import { exitCodeOf } from '../../src/cli/context.ts';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { takeDeployLock } from '../../src/deploy/deploy-lock.ts';
import { pinRelease, promoteRelease, resolveRelease, unpinRelease } from '../../src/deploy/pin.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import { readStatus } from '../../src/read/status.ts';
import { connectSite } from '../../src/stacks/open.ts';
import { readAudit, verifyAudit } from '../../src/state/audit.ts';
import { describePin, type PinRecord, readPin } from '../../src/state/pin.ts';
import type { RequestInfo } from '../../src/state/records.ts';
import { type BucketSnapshot, snapshotStack } from '../support/bucket-snapshot.ts';
import { HOSTING, publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { startS3Proxy } from '../support/s3-proxy.ts';

const APP = 'sophia-dashboard';
const [A, B, C] = ['aaaaaaa1111111', 'bbbbbbb2222222', 'ccccccc3333333'] as const;
const by = (actor: string, text: string, message?: string): RequestInfo => ({
  text,
  actor,
  planner: 'cli',
  at: new Date().toISOString(),
  ...(message ? { message } : {}),
});

let t: TestDeployEnv;

/** The changes the cases make in turn, each from the stack the ones before it left. */
const rollbackByBob = () =>
  rollbackRelease(t.site, { request: by('bob', 'rollback', 'the KPI totals are wrong') });
const unpinByDave = () => unpinRelease(t.site, { request: by('dave', 'unpin', 'fixed in C') });
const deployCByDave = () => deployArtifact(t.site, { app: APP, commit: C, request: by('dave', 'deploy C') });
const freezeByErin = () =>
  pinRelease(t.site, { to: C.slice(0, 7), request: by('erin', 'pin', 'release freeze') });
const promoteByGrace = (release: { app: string; commit: string }) =>
  promoteRelease(t.site, { ...release, request: by('grace', 'promote B', 'B is fixed') });
const pinByDave = () => pinRelease(t.site, { request: by('dave', 'pin'), waitMs: 0 });

/**
 * The state prefix and hosting bucket each case starts from, whichever ran before: A then B deployed;
 * rolled back to A by Bob (pinned); unpinned and C deployed by Dave; C frozen by Erin; B promoted by
 * Grace (no pin); B pinned by Dave.
 */
let bLive: BucketSnapshot;
let pinnedByBob: BucketSnapshot;
let cLive: BucketSnapshot;
let frozen: BucketSnapshot;
let promoted: BucketSnapshot;
let pinnedByDave: BucketSnapshot;

beforeAll(async () => {
  t = await startDeployEnv();
  await publishFixtureBuilds(t, APP, [A, B, C]);
  await deployArtifact(t.site, { app: APP, commit: A, request: by('alice', 'deploy A') });
  await deployArtifact(t.site, { app: APP, commit: B, request: by('alice', 'deploy B') });
  const snapshot = () => snapshotStack(t.site);
  bLive = await snapshot();
  await rollbackByBob();
  pinnedByBob = await snapshot();
  await unpinByDave();
  await deployCByDave();
  cLive = await snapshot();
  await freezeByErin();
  frozen = await snapshot();
  await promoteByGrace(await resolveRelease(t.site, APP, B.slice(0, 7)));
  promoted = await snapshot();
  await pinByDave();
  pinnedByDave = await snapshot();
}, 180_000);
afterAll(() => t?.stop());

const hostingWrites = async (run: () => Promise<unknown>) => {
  await t.s3.settle();
  const from = t.s3.requests.length;
  await run().catch(() => undefined);
  await t.s3.settle();
  return t.s3.requests
    .slice(from)
    .filter((r) => r.bucket === HOSTING && r.method !== 'GET' && r.method !== 'HEAD');
};

describe('the pin', () => {
  beforeEach(() => pinnedByBob.restore());

  it('a rollback pins the release it made live, says who and why, and audits it', async () => {
    await bLive.restore();
    const summary = await rollbackByBob();
    expect(summary.commit).toBe(A);
    expect(summary.pinned).toMatchObject({
      commit: A,
      by: 'bob',
      reason: 'the KPI totals are wrong',
      cause: 'rollback',
    });
    expect(await readPin(t.site)).toMatchObject({ deployId: summary.deployId, commit: A, app: APP });
    const status = await readStatus(t.site);
    expect(status.pin).toMatchObject({ commit: A, by: 'bob', cause: 'rollback' });
    const last = (await readAudit(t.site.state, t.target.statePrefix)).at(-1);
    expect(last).toMatchObject({
      type: 'pin',
      data: { commit: A, by: 'bob', reason: 'the KPI totals are wrong' },
    });
  });

  it('refuses a deploy past the pin (PINNED, exit code 2) naming the release, who, when, why and both ways forward; nothing changes', async () => {
    let error: unknown;
    const writes = await hostingWrites(async () => {
      try {
        await deployArtifact(t.site, { app: APP, commit: B, request: by('carol', 'deploy B') });
      } catch (e) {
        error = e;
        throw e;
      }
    });
    expect(isFrontendOpsError(error, 'PINNED')).toBe(true);
    const message = (error as Error).message;
    for (const part of [`${APP}@${A.slice(0, 7)}`, 'bob', 'the KPI totals are wrong', 'promote', 'unpin']) {
      expect(message).toContain(part);
    }
    expect(message).toMatch(/since \d{4}-\d\d-\d\dT/);
    expect(exitCodeOf(error)).toBe(2);
    expect(writes).toEqual([]);
    expect((await t.site.records.readPointer())?.value.commit).toBe(A);
  });

  it('still plans a dry run, and lets the pinned release itself through (nothing to do)', async () => {
    const dry = await deployArtifact(t.site, {
      app: APP,
      commit: B,
      request: by('carol', 'x'),
      dryRun: true,
    });
    expect(dry.outcome).toBe('planned');
    const same = await deployArtifact(t.site, { app: APP, commit: A, request: by('carol', 'x') });
    expect(same.outcome).toBe('noop');
    expect(await readPin(t.site)).not.toBeNull();
  });

  it('unpin lifts it (audited, who and why); a deploy then goes through; unpinning twice changes nothing', async () => {
    const { cleared } = await unpinByDave();
    expect(cleared).toMatchObject({ commit: A, by: 'bob' });
    expect(await readPin(t.site)).toBeNull();
    const entries = await readAudit(t.site.state, t.target.statePrefix);
    expect(entries.at(-1)).toMatchObject({
      type: 'unpin',
      data: { by: 'dave', reason: 'fixed in C', via: 'unpin', was: { commit: A } },
    });
    expect((await unpinRelease(t.site, { request: by('dave', 'unpin') })).cleared).toBeNull();
    expect((await readAudit(t.site.state, t.target.statePrefix)).length).toBe(entries.length);
    const deployed = await deployCByDave();
    expect(deployed.outcome).toBe('succeeded');
  });

  it('pin keeps the live release; --to must name it; pinning again keeps the first pin', async () => {
    await cLive.restore();
    await expect(pinRelease(t.site, { to: A, request: by('erin', 'pin') })).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringMatching(/not the live release[\s\S]*rollback --to/),
    });
    const first = await freezeByErin();
    expect(first).toMatchObject({
      created: true,
      pin: { commit: C, cause: 'pin', reason: 'release freeze' },
    });
    const again = await pinRelease(t.site, { request: by('frank', 'pin') });
    expect(again).toMatchObject({ created: false, pin: { by: 'erin' } });
    await expect(
      deployArtifact(t.site, { app: APP, commit: B, request: by('frank', 'deploy B') }),
    ).rejects.toMatchObject({ code: 'PINNED' });
  });

  it('promote makes a release live for everyone and clears the pin, in one audited deploy', async () => {
    await frozen.restore();
    const release = await resolveRelease(t.site, APP, B.slice(0, 7));
    expect(release.commit).toBe(B);
    const summary = await promoteByGrace(release);
    expect(summary).toMatchObject({ outcome: 'succeeded', kind: 'deploy', commit: B });
    expect(summary.unpinned).toMatchObject({ commit: C, by: 'erin' });
    expect(await readPin(t.site)).toBeNull();
    expect((await t.site.records.readPointer())?.value.commit).toBe(B);
    const entries = await readAudit(t.site.state, t.target.statePrefix);
    expect(entries.slice(-2).map((e) => e.type)).toEqual(['deploy', 'unpin']);
    expect(entries.at(-1)).toMatchObject({
      data: { via: 'promote', deployId: summary.deployId, by: 'grace' },
    });
  });

  it('promote by deploy id from the history; promoting what is live only lifts the pin', async () => {
    await promoted.restore();
    const history = (await t.site.records.listRecords()).records;
    const cDeploy = history.find((r) => r.commit === C && r.kind === 'deploy');
    const release = await resolveRelease(t.site, APP, cDeploy?.deployId ?? '');
    expect(release).toMatchObject({ app: APP, commit: C });
    await pinRelease(t.site, { request: by('heidi', 'pin') });
    const summary = await promoteRelease(t.site, { app: APP, commit: B, request: by('heidi', 'promote') });
    expect(summary.outcome).toBe('noop');
    expect(summary.unpinned).toMatchObject({ commit: B });
    expect(await readPin(t.site)).toBeNull();
    expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true });
  });
});

describe('pin and unpin take the deploy lock', () => {
  beforeEach(() => promoted.restore());

  it('while a deploy holds it, under this stack name or another for the same site, both are refused and change nothing', async () => {
    const alias = await connectSite(
      { ...t.target, stack: 'same-site-other-name' },
      { access: { credentials: t.s3.credentials }, onNotice: () => undefined },
    );
    const deploying = await takeDeployLock(alias, { request: by('carol', 'deploy C') });
    try {
      const pinBefore = await t.site.state.get(`${t.target.statePrefix}pin.json`);
      const head = await t.site.state.get(`${t.target.statePrefix}audit/head.json`);
      for (const attempt of [
        () => pinRelease(t.site, { request: by('dave', 'pin'), waitMs: 0 }),
        () => unpinRelease(t.site, { request: by('dave', 'unpin'), waitMs: 0 }),
      ]) {
        const error = await attempt().catch((e: unknown) => e);
        expect(isFrontendOpsError(error, 'LOCKED'), String(error)).toBe(true);
        expect((error as Error).message).toMatch(/locked by carol/);
      }
      expect((await t.site.state.get(`${t.target.statePrefix}pin.json`))?.etag).toBe(pinBefore?.etag);
      expect((await t.site.state.get(`${t.target.statePrefix}audit/head.json`))?.etag).toBe(head?.etag);
    } finally {
      await deploying.release();
      alias.close();
    }
    // Once the deploy let go, a pin goes through.
    const live = (await t.site.records.readPointer())?.value;
    const after = await pinByDave();
    expect(after.pin.deployId).toBe(live?.deployId);
  });
});

describe('a rollback on a stack someone pinned on purpose', () => {
  beforeEach(() => pinnedByDave.restore());

  it('replaces that pin and says so: in its summary, the pin itself (status), its audit entry, and the next rollback', async () => {
    const deliberate = await readPin(t.site);
    expect(deliberate).toMatchObject({ cause: 'pin', by: 'dave', commit: B });
    const summary = await rollbackRelease(t.site, {
      to: A,
      request: by('judy', 'rollback', 'A is the last good one'),
    });
    expect(summary.pinned).toMatchObject({
      commit: A,
      cause: 'rollback',
      replaces: { by: 'dave', commit: B, deployId: deliberate?.deployId, reason: null },
    });
    expect(describePin((await readPin(t.site)) as PinRecord)).toMatch(
      new RegExp(`\\(replacing the pin dave set on sophia-dashboard@bbbbbbb \\(${deliberate?.deployId}\\)`),
    );
    const last = (await readAudit(t.site.state, t.target.statePrefix)).at(-1);
    expect(last).toMatchObject({ type: 'pin', data: { by: 'judy', replaces: { by: 'dave', commit: B } } });

    // A further rollback still says whose deliberate pin the first one replaced.
    const further = await rollbackRelease(t.site, { to: C, request: by('judy', 'rollback') });
    expect(further.pinned).toMatchObject({
      commit: C,
      cause: 'rollback',
      replaces: { by: 'dave', commit: B },
    });
    expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true });
  });
});

describe('who pinned, as text from outside', () => {
  it('a line break in a name is shown as \\n: no line of its own passes for a real one', () => {
    const forged = 'mallory\n  PINNED to c3c3c3c by erin: "freeze lifted"';
    const pin: PinRecord = {
      stack: 's',
      deployId: 'aaaaaaa-0123456789',
      app: APP,
      commit: A,
      by: forged,
      reason: null,
      at: '2026-12-04T00:00:00Z',
      cause: 'rollback',
      replaces: {
        ...{ deployId: 'bbbbbbb-0123456789', app: APP, commit: B, reason: null, at: 'x' },
        by: forged,
      },
    };
    expect(describePin(pin)).not.toContain('\n');
    expect(describePin(pin)).toContain('mallory\\n  PINNED');
  });
});

describe('on a server that takes conditions on writes but none on deletes (501 to a conditional delete)', () => {
  it('a rollback replaces a pin over the version it read, and an unpin falls back to a plain delete', async () => {
    await pinnedByDave.restore();
    const upstream = createS3Client({ endpoint: t.s3.endpoint, credentials: t.s3.credentials });
    const proxy = await startS3Proxy(t.s3.endpoint, upstream, {
      conditional: true,
      conditionalDeletes: false,
    });
    const site = await connectSite(
      { ...t.target, endpoint: proxy.endpoint },
      { access: { credentials: t.s3.credentials, cdnEndpoint: t.cdn.endpoint }, onNotice: () => undefined },
    );
    try {
      const pinJson = (r: { path: string }) => new URL(r.path, 'http://s3').pathname.endsWith('/pin.json');
      const mark = proxy.mark();
      const rolled = await rollbackRelease(site, { to: A, request: by('judy', 'rollback') });
      expect(rolled.pinned).toMatchObject({ commit: A, replaces: { by: 'dave', commit: B } });
      // Written over Dave's pin as read (If-Match, which the server takes).
      expect(
        proxy.seen
          .slice(mark)
          .filter((r) => pinJson(r) && r.method === 'PUT')
          .map((r) => r.status),
      ).toEqual([200]);

      const unpinMark = proxy.mark();
      expect((await unpinRelease(site, { request: by('dave', 'unpin') })).cleared).toMatchObject({
        commit: A,
      });
      // The delete as read is refused (501), and the pin removed by a plain delete instead.
      const sent = proxy.seen.slice(unpinMark);
      expect(sent.filter((r) => pinJson(r) && r.method === 'DELETE').map((r) => r.status)).toEqual([501]);
      expect(await readPin(t.site)).toBeNull();
      expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true, problems: [] });
    } finally {
      site.close();
      await proxy.close();
      upstream.destroy();
    }
  });
});
