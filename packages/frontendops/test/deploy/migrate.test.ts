/**
 * Migration of an in-place stack to atomic releases through the real engine and the local edge:
 * the stack deploys in place (the release router serves the bucket root while the store holds no
 * pointer), then migrates — its live and retained releases go up under their prefixes and one key
 * write switches — while a concurrent prober sees no broken page; the old root files go after the
 * grace, and the first rollback afterwards is a pure switch.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { migrateToAtomic } from '../../src/deploy/migrate.ts';
import { resolveDeployTarget } from '../../src/engine/target.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import type { Site } from '../../src/site.ts';
import { readAudit, verifyAudit } from '../../src/state/audit.ts';
import { APP, type AtomicEnv, hostingCopies, request, startAtomicEnv } from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import { Browser, Probe, releaseOf } from '../support/edge-probe.ts';

const C = ['7a7a7a7a7a7a7a7a', '8b8b8b8b8b8b8b8b', '9c9c9c9c9c9c9c9c'];
/**
 * Three stacks, each case on the one its start needs, whichever ran before (a release store cannot be
 * emptied again, so no snapshot taken after a migration can start the cases before it): nothing
 * deployed, for the first; C0 then C1 deployed in place, for the migration; and the same migrated,
 * for the cases after it, restored before each (then also C0 rolled back to and C2 deployed).
 */
interface Stack {
  t: AtomicEnv;
  inPlace: Site;
}
let empty: Stack;
let inPlaceTwo: Stack;
let atomic: Stack;
let migrated: AtomicSnapshot;
let v3Live: AtomicSnapshot;
/** The stack of the running case. */
let t: AtomicEnv;
let inPlace: Site;

async function started(deployedInPlace: number): Promise<Stack> {
  const t = await startAtomicEnv({ propagationMs: 40 });
  await t.publishVersions(C);
  const inPlace = await t.open({ inPlace: true });
  for (const commit of C.slice(0, deployedInPlace))
    await deployArtifact(inPlace, { app: APP, commit, request: request() });
  return { t, inPlace };
}
const use = (stack: Stack) => {
  ({ t, inPlace } = stack);
};

beforeAll(async () => {
  [empty, inPlaceTwo, atomic] = await Promise.all([started(0), started(2), started(2)]);
  await migrateToAtomic(atomic.t.site, { request: request('migrate to atomic') });
  migrated = await snapshotAtomicEnv(atomic.t);
  await rollbackRelease(atomic.t.site, { request: request() });
  await deployArtifact(atomic.t.site, { app: APP, commit: C[2] as string, request: request(), pin: 'clear' });
  v3Live = await snapshotAtomicEnv(atomic.t);
}, 180_000);
afterAll(() => Promise.all([empty, inPlaceTwo, atomic].map((stack) => stack?.t.stop())));
beforeEach(async () => {
  use(atomic);
  await migrated.restore();
});

const served = async () => releaseOf((await new Browser(t.edge.url).navigate('/')).body);

describe('migrate --to atomic', () => {
  it('an in-place stack deploys in place; with no pointer the release router serves the bucket root', async () => {
    use(empty);
    expect([inPlace.mode, t.site.mode]).toEqual(['in-place', 'atomic']);
    for (const commit of C.slice(0, 2)) {
      const summary = await deployArtifact(inPlace, { app: APP, commit, request: request() });
      expect(summary).toMatchObject({ outcome: 'succeeded' });
    }
    expect(await served()).toBe('v2');
    expect((await t.store().read()).value).toBeNull();
    await expect(migrateToAtomic(inPlace, { request: request() })).rejects.toThrow(/deploys in place/);
  });

  it('moves to atomic releases with no broken page: the same release, now from its prefix; old root files pruned after the grace', async () => {
    use(inPlaceTwo);
    const probe = new Probe();
    const probers = [
      probe.run(new Browser(t.edge.url)),
      probe.run(new Browser(t.edge.url, { keepsCookies: false })),
      probe.run(new Browser(t.edge.url, { navigates: false, keepsCookies: false })),
    ];
    const mark = await t.mark();
    let summary: Awaited<ReturnType<typeof migrateToAtomic>>;
    try {
      await probe.pagesAfterNow(6);
      summary = await migrateToAtomic(t.site, { request: request('migrate to atomic') });
      await probe.pagesAfterNow(10);
    } finally {
      probe.stop();
      await Promise.all(probers);
    }
    expect(probe.broken).toEqual([]);
    expect([...probe.releasesSeen]).toEqual(['v2']);
    expect(summary).toMatchObject({ op: 'migrate', outcome: 'succeeded', commit: C[1] });
    expect(summary.verification?.ok).toBe(true);
    // The live and the retained release's four non-asset files each; their assets were in place.
    const copies = hostingCopies(await t.requestsSince(mark)).map((r) => r.key);
    expect(copies).toHaveLength(8);
    expect(copies.every((k) => k.startsWith('_releases/'))).toBe(true);
    expect((await t.store().read()).value).toEqual({ live: summary.releaseId });
    // The history is untouched: the same deployment is live; the migration is in the audit chain.
    const live = (await t.site.records.readPointer())?.value;
    expect(live?.deployId).toBe(summary.deployId);
    const root = (await t.site.hosting.list())
      .map((o) => o.key)
      .filter((k) => !k.startsWith('_releases/') && !k.startsWith('.frontendops/'));
    expect(root.every((k) => k.startsWith('assets/'))).toBe(true);
    expect(summary.pruned).toBe(4);
    const last = (await readAudit(t.site.state, t.target.statePrefix)).at(-1);
    expect(last).toMatchObject({
      type: 'migrate',
      data: { releaseId: summary.releaseId, outcome: 'succeeded' },
    });
    expect(t.edge.stats().invalidations.length).toBe(2); // the two in-place deploys' own
  });

  it('then rolls back by one key write, and deploys atomically', async () => {
    const mark = await t.mark();
    const back = await rollbackRelease(t.site, { request: request() });
    expect(back).toMatchObject({ outcome: 'succeeded', commit: C[0], copied: 0 });
    expect(hostingCopies(await t.requestsSince(mark))).toEqual([]);
    expect(await served()).toBe('v1');
    // The rollback pinned v1; promoting the next build lifts the pin.
    const next = await deployArtifact(t.site, {
      app: APP,
      commit: C[2] as string,
      request: request(),
      pin: 'clear',
    });
    expect(next).toMatchObject({ outcome: 'succeeded', copied: 6 });
    expect(await served()).toBe('v3');
    expect(t.edge.stats().invalidations.length).toBe(2);
    expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true });
  });

  it('once atomic, a deploy through outputs that still say in place is refused, and nothing changes', async () => {
    await v3Live.restore();
    // The seed's syncCommand outputs, or an outputs file from before the update: its prune would
    // delete the releases the site serves.
    const pointer = (await t.store().read()).value;
    const keys = (await t.site.hosting.list()).map((o) => o.key).sort();
    const head = await readAudit(t.site.state, t.target.statePrefix);
    const error = await deployArtifact(inPlace, {
      app: APP,
      commit: C[1] as string,
      request: request(),
    }).catch((e: unknown) => e);
    expect(isFrontendOpsError(error, 'BAD_INPUT')).toBe(true);
    expect((error as Error).message).toMatch(/serves atomic releases .* Nothing was changed/);
    await expect(rollbackRelease(inPlace, { request: request() })).rejects.toThrow(/serves atomic releases/);
    // A dry run (what `deploy --dry-run` and `approve` show) says so too, rather than planning an
    // in-place change that the real run would refuse.
    for (const pin of [undefined, 'clear'] as const) {
      await expect(
        deployArtifact(inPlace, { app: APP, commit: C[1] as string, request: request(), dryRun: true, pin }),
      ).rejects.toThrow(/serves atomic releases .* Nothing was changed/);
    }
    await expect(rollbackRelease(inPlace, { request: request(), dryRun: true })).rejects.toThrow(
      /serves atomic releases/,
    );
    expect((await t.store().read()).value).toEqual(pointer);
    expect((await t.site.hosting.list()).map((o) => o.key).sort()).toEqual(keys);
    expect(await readAudit(t.site.state, t.target.statePrefix)).toEqual(head);
    expect(await served()).toBe('v3');
  });

  it('is a no-op once atomic, and refused when nothing is deployed', async () => {
    expect((await migrateToAtomic(t.site, { request: request() })).outcome).toBe('noop');
    const fresh = await startAtomicEnv();
    try {
      const error = await migrateToAtomic(fresh.site, { request: request() }).catch((e: unknown) => e);
      expect(isFrontendOpsError(error, 'NOT_FOUND')).toBe(true);
      expect((error as Error).message).toMatch(/first deploy will be atomic/);
    } finally {
      await fresh.stop();
    }
  });

  it('a stack whose outputs give only the seed syncCommand stays in-place, whatever else it says', () => {
    const target = resolveDeployTarget({
      stack: 'seed',
      outputs: {
        syncCommand:
          'aws s3 sync s3://sophia-dashboard-build-artifacts/latest s3://sophia-dashboard-hosting-prod --delete',
        releaseStoreArn: 'arn:aws:cloudfront::123456789012:key-value-store/abc-123',
      },
      secretNames: [],
      source: 'test',
    });
    expect(target.releaseStoreArn).toBeUndefined();
    const atomic = resolveDeployTarget({
      stack: 'prod',
      outputs: {
        artifactsBucket: 'sophia-artifacts',
        hostingBucket: 'sophia-hosting',
        releaseStoreArn: 'arn:aws:cloudfront::123456789012:key-value-store/abc-123',
      },
      secretNames: [],
      source: 'test',
    });
    expect(atomic.releaseStoreArn).toBe('arn:aws:cloudfront::123456789012:key-value-store/abc-123');
    expect(() =>
      resolveDeployTarget({
        stack: 'prod',
        outputs: {
          artifactsBucket: 'sophia-artifacts',
          hostingBucket: 'sophia-hosting',
          releaseStoreArn: 'kvs',
        },
        secretNames: [],
        source: 'test',
      }),
    ).toThrow(/not a CloudFront KeyValueStore ARN/);
  });
});
