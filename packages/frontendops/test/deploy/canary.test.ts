/**
 * Canary releases through the real engine and the local edge: a sticky share of visitors on the
 * canary, promote and abort as one key write each, audited, with a prober seeing no broken page.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { abortCanary, promoteCanary, readCanaryStatus, startCanary } from '../../src/deploy/canary.ts';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { bucketFor } from '../../src/engine/atomic-plan.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import type { S3RequestRecord } from '../../src/local/s3-server.ts';
import { readAudit, verifyAudit } from '../../src/state/audit.ts';
import { APP, type AtomicEnv, hostingWrites, request, startAtomicEnv } from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import { Browser, Probe, releaseOf } from '../support/edge-probe.ts';

const C = ['1a1a1a1a1a1a1a1a', '2b2b2b2b2b2b2b2b', '3c3c3c3c3c3c3c3c'];
let t: AtomicEnv;
/** The visitors, kept for the whole file: their cookies (their canary buckets) outlive each change. */
let browsers: Browser[] = [];
/** What every probe saw, over the whole file. */
const broken: string[] = [];
const releasesSeen = new Set<string>();

afterAll(() => t?.stop());

/**
 * Runs `change` while every browser loads pages over and over: from 4 pages before it starts until 8
 * after it ended. Only a change moves what the edge serves, so between changes the browsers rest
 * (pages there would see what the 8 after the last change saw).
 */
async function probed<T>(change: (probe: Probe) => Promise<T>): Promise<T> {
  const probe = new Probe();
  const probers = browsers.map((browser) => probe.run(browser));
  try {
    await probe.pagesAfterNow(4);
    const value = await change(probe);
    await probe.pagesAfterNow(8);
    return value;
  } finally {
    probe.stop();
    await Promise.all(probers);
    broken.push(...probe.broken);
    for (const release of probe.releasesSeen) releasesSeen.add(release);
  }
}

const pointer = async () => (await t.store().read()).value;
/** The release a browser with this fo_bucket cookie gets. */
const asBucket = async (bucket: number) =>
  releaseOf((await new Browser(t.edge.url).get('/', { cookie: `fo_bucket=${bucket}` })).body);

/** What each step of the file's history returned, and the stack after it: each case starts from its own. */
let history: {
  /** deploy --canary 10% of C1 over C0 live. */
  start: Awaited<ReturnType<typeof startCanary>>;
  onCanary10: AtomicSnapshot;
  /** What a deploy, a rollback and another canary threw while C1 ran on 10%. */
  refusals: unknown[];
  /** The same canary raised to 50%, and the hosting writes it made. */
  raise: Awaited<ReturnType<typeof startCanary>>;
  raiseWrites: S3RequestRecord[];
  onCanary50: AtomicSnapshot;
  /** C1 promoted, and the hosting writes it made. */
  promote: Awaited<ReturnType<typeof promoteCanary>>;
  promoteWrites: S3RequestRecord[];
  promoted: AtomicSnapshot;
  /** C2 started on 30%, then aborted; the release the canary's bucket got while it ran. */
  started: Awaited<ReturnType<typeof startCanary>>;
  canaryBucket: number;
  servedWhileCanary: string | undefined;
  abort: Awaited<ReturnType<typeof abortCanary>>;
  aborted: AtomicSnapshot;
};

beforeAll(async () => {
  t = await startAtomicEnv({ propagationMs: 25 });
  await t.publishVersions(C);
  await deployArtifact(t.site, { app: APP, commit: C[0] as string, request: request() });
  // Browsers that keep their bucket, one that drops cookies, one that never navigates (a crawler).
  browsers = [
    new Browser(t.edge.url),
    new Browser(t.edge.url),
    new Browser(t.edge.url),
    new Browser(t.edge.url, { keepsCookies: false }),
    new Browser(t.edge.url, { navigates: false, keepsCookies: false }),
  ];

  const start = await probed(() =>
    startCanary(t.site, {
      app: APP,
      commit: C[1] as string,
      weightPercent: 10,
      request: request('deploy to 10% first'),
    }),
  );
  const onCanary10 = await snapshotAtomicEnv(t);
  const refusals = await probed(async () => {
    const errors: unknown[] = [];
    for (const attempt of [
      () => deployArtifact(t.site, { app: APP, commit: C[2] as string, request: request() }),
      () => rollbackRelease(t.site, { to: C[0] as string, request: request() }),
      () => startCanary(t.site, { app: APP, commit: C[2] as string, weightPercent: 5, request: request() }),
    ])
      errors.push(await attempt().catch((e: unknown) => e));
    return errors;
  });

  let mark = await t.mark();
  const raise = await probed(() =>
    startCanary(t.site, { app: APP, commit: C[1] as string, weightPercent: 50, request: request() }),
  );
  const raiseWrites = hostingWrites(await t.requestsSince(mark));
  const onCanary50 = await snapshotAtomicEnv(t);

  mark = await t.mark();
  const promote = await probed(() => promoteCanary(t.site, { request: request('promote') }));
  const promoteWrites = hostingWrites(await t.requestsSince(mark));
  const promoted = await snapshotAtomicEnv(t);

  const started = await probed(() =>
    startCanary(t.site, { app: APP, commit: C[2] as string, weightPercent: 30, request: request() }),
  );
  const canaryBucket = bucketFor(started.releaseId, 'canary');
  // A prober whose bucket the canary serves: the probe sees the canary while it runs (which of the
  // other probers' buckets a 30% share takes is chance).
  const onCanary = new Browser(t.edge.url);
  onCanary.cookies.set('fo_bucket', String(canaryBucket));
  browsers.push(onCanary);
  let servedWhileCanary: string | undefined;
  const abort = await probed(async (probe) => {
    // Paced by the probers' pages (a prober on the canary's bucket sees it once the edge serves it).
    for (let pages = 0; pages < 200 && !probe.releasesSeen.has('v3'); pages++) await probe.pagesAfterNow(1);
    await probe.pagesAfterNow(8);
    servedWhileCanary = await asBucket(canaryBucket);
    return abortCanary(t.site, { request: request('abort the canary') });
  });
  const aborted = await snapshotAtomicEnv(t);
  history = {
    start,
    onCanary10,
    refusals,
    raise,
    raiseWrites,
    onCanary50,
    promote,
    promoteWrites,
    promoted,
    started,
    canaryBucket,
    servedWhileCanary,
    abort,
    aborted,
  };
}, 180_000);

describe('canary', () => {
  it('deploy --canary 10%: the build goes up like a deploy, one key write sends a sticky 10% to it', async () => {
    const summary = history.start;
    await history.onCanary10.restore();
    expect(summary).toMatchObject({ outcome: 'succeeded', op: 'canary-start', canary: { weight: 10 } });
    expect(summary.copied).toBe(6); // its two own assets and four release files
    expect(summary.verification?.ok).toBe(true);
    const id = summary.releaseId;
    expect(await pointer()).toEqual({ live: summary.plan.pointerBefore?.live, canary: id, weight: 10 });
    // The live release stays what the state names; the canary is recorded beside it.
    expect((await t.site.records.readPointer())?.value.commit).toBe(C[0]);
    expect((await readCanaryStatus(t.site)).canary).toMatchObject({ commit: C[1], weight: 10 });
    expect(await asBucket(bucketFor(id, 'canary'))).toBe('v2');
    expect(await asBucket(bucketFor(id, 'live'))).toBe('v1');

    // Exactly 10 of the 100 buckets the function deals out get the canary.
    const releases = await Promise.all(Array.from({ length: 100 }, (_, bucket) => asBucket(bucket)));
    expect(releases.filter((r) => r === 'v2')).toHaveLength(10);
    expect(releases.filter((r) => r === 'v1')).toHaveLength(90);
    // A new visitor is dealt a bucket on its first page and stays on its release.
    for (let i = 0; i < 5; i++) {
      const browser = new Browser(t.edge.url);
      const first = releaseOf((await browser.navigate('/')).body);
      expect(browser.cookies.get('fo_bucket')).toMatch(/^\d{1,2}$/);
      expect(releaseOf((await browser.navigate('/accounts')).body)).toBe(first);
    }
  });

  it('refuses a deploy, a rollback or another canary while one runs', async () => {
    // A deploy, a rollback and another canary, tried in turn.
    expect(history.refusals).toHaveLength(3);
    for (const error of history.refusals) {
      expect(isFrontendOpsError(error, 'CONFLICT'), String(error)).toBe(true);
      expect((error as Error).message).toMatch(/Promote it or abort it first/);
    }
  });

  it('raises the share with the same build: one key write, nothing copied; earlier canary visitors stay', async () => {
    const id = history.start.releaseId;
    const summary = history.raise;
    await history.onCanary50.restore();
    expect(summary).toMatchObject({ outcome: 'succeeded', copied: 0 });
    expect(history.raiseWrites).toEqual([]);
    expect((await readCanaryStatus(t.site)).canary?.releaseId).toBe(id);
    expect((await pointer())?.weight).toBe(50);
    expect(await asBucket(bucketFor(id, 'canary'))).toBe('v2');
  });

  it('promote: the canary is live for everyone, with a deployment record, one key write', async () => {
    const summary = history.promote;
    await history.promoted.restore();
    expect(summary).toMatchObject({ outcome: 'succeeded', op: 'canary-promote', copied: 0, commit: C[1] });
    expect(history.promoteWrites).toEqual([]);
    expect(await pointer()).toEqual({ live: summary.releaseId });
    const live = (await t.site.records.readPointer())?.value;
    expect(live).toMatchObject({ commit: C[1], deployId: summary.deployId });
    expect((await t.site.records.readRecord(summary.deployId))?.outcome).toBe('succeeded');
    expect((await readCanaryStatus(t.site)).canary).toBeNull();
    for (let i = 0; i < 10; i++)
      expect(releaseOf((await new Browser(t.edge.url).navigate('/')).body)).toBe('v2');
  });

  it('abort: everyone back on the live release, one key write', async () => {
    const { started, canaryBucket, abort: summary } = history;
    await history.aborted.restore();
    expect(started).toMatchObject({ outcome: 'succeeded', op: 'canary-start', commit: C[2] });
    // The canary's bucket got the canary while it ran, and the probers saw it.
    expect(history.servedWhileCanary).toBe('v3');
    expect(releasesSeen.has('v3')).toBe(true);
    expect(summary).toMatchObject({ outcome: 'succeeded', op: 'canary-abort', commit: C[2] });
    expect(summary.verification?.ok).toBe(true);
    expect((await pointer())?.canary).toBeUndefined();
    expect(await asBucket(canaryBucket)).toBe('v2');
    expect((await t.site.records.readPointer())?.value.commit).toBe(C[1]);
    await expect(abortCanary(t.site, { request: request() })).rejects.toThrow(/No canary runs/);
  });

  it('no visitor ever got a broken page, nothing was invalidated, and every step is audited', async () => {
    await history.aborted.restore();
    expect(broken).toEqual([]);
    expect([...releasesSeen].sort()).toEqual(['v1', 'v2', 'v3']);
    expect(t.edge.stats().invalidations).toEqual([]);
    const types = (await readAudit(t.site.state, t.target.statePrefix)).map((e) => e.type);
    // The environment marked, the first release going live and recorded; a release entry whenever
    // the live pointer moves (the promotion), never for a canary's share alone.
    expect(types).toEqual([
      'environment',
      'release',
      'deploy',
      'canary-start',
      'canary-start',
      'release',
      'canary-promote',
      'canary-start',
      'canary-abort',
    ]);
    expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true });
  });

  it('a rollback pins the stack: a canary of another build is refused (PINNED) and nothing is written', async () => {
    await history.aborted.restore();
    await rollbackRelease(t.site, { request: request('roll back') });
    const before = await pointer();
    const error = await startCanary(t.site, {
      app: APP,
      commit: C[2] as string,
      weightPercent: 10,
      request: request(),
    }).catch((e: unknown) => e);
    expect(isFrontendOpsError(error, 'PINNED')).toBe(true);
    expect(await pointer()).toEqual(before);
    expect((await readAudit(t.site.state, t.target.statePrefix)).at(-1)?.type).not.toBe('canary-start');
  });
});
