/**
 * On an atomic stack what visitors get is decided by the CDN's release store (the KeyValueStore key
 * the viewer-request function routes by), which the deployer role can write outside FrontendOps.
 * `status` (readStatus: the CLI, get_status, the console) reads that key beside the recorded state
 * and says when they differ: what is served, what was recorded, what to do. `audit verify`, given the
 * store's reader, holds the key against the pointer the audit chain recorded last. And an atomic
 * operation that was stopped is reported as the interrupted deploy it is, in `pending`.
 *
 * Before: status read only live.json, so a store pointed at an older release or at a canary no one
 * started was reported as the recorded release, verify passed, and `pending` was null while
 * atomic/pending.json existed.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RELEASE_KEY, type ReleasePointer } from '../../src/atomic/release-pointer.ts';
import type { DeploySummary } from '../../src/deploy/deploy.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import type { ReleaseStore } from '../../src/ports.ts';
import { readStatus } from '../../src/read/status.ts';
import { statusView } from '../../src/read/views.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { APP, type AtomicEnv, request, startAtomicEnv } from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import { get, releaseOf } from '../support/edge-probe.ts';
import { type RawKvs, rawKvs } from '../support/raw-kvs.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3'] as const;
let t: AtomicEnv;
let d1: DeploySummary & { releaseId?: string };
let d2: DeploySummary & { releaseId?: string };
let raw: RawKvs;
/** The stack once v1 then v2 were deployed: every case starts there, whichever ran before. */
let v2Live: AtomicSnapshot;

beforeAll(async () => {
  t = await startAtomicEnv({ stack: 'status-served' });
  await t.publish(V1, 'v1');
  await t.publish(V2, 'v2');
  await t.publish(V3, 'v3');
  d1 = await deployArtifact(t.site, { app: APP, commit: V1, request: request('ship v1') });
  d2 = await deployArtifact(t.site, { app: APP, commit: V2, request: request('ship v2') });
  v2Live = await snapshotAtomicEnv(t);
  raw = rawKvs(t);
});
beforeEach(() => v2Live.restore());
afterAll(async () => {
  raw?.destroy();
  await t?.stop();
});

const ARN = () => t.target.releaseStoreArn as string;
const releaseIdOf = (summary: { releaseId?: string }) => summary.releaseId as string;

/** Someone with the deployer role writes the key, outside FrontendOps (the AWS console, a script). */
async function putByHand(pointer: ReleasePointer): Promise<void> {
  const store = t.store();
  await store.write(pointer, (await store.read()).etag);
}

const served = async () => releaseOf((await get(`${t.edge.url}/`, {})).body);
const verifyWithStore = () =>
  verifyAudit(t.site.state, t.target.statePrefix, { releaseStore: t.site.releases as ReleaseStore });

/** A release store that counts its reads. */
function counting(real: ReleaseStore): { store: ReleaseStore; reads: () => number } {
  let reads = 0;
  return {
    store: {
      read: () => {
        reads += 1;
        return real.read();
      },
      write: (value, etag) => real.write(value, etag),
      previewSecret: () => real.previewSecret(),
      anchorAuditHead: (head, etag) => real.anchorAuditHead(head, etag),
    },
    reads: () => reads,
  };
}

describe('status says what the CDN serves', () => {
  it('as recorded: the release store names the live release; one read of the store per status', async () => {
    const { store, reads } = counting(t.store());
    const site = await t.open({ releases: store });
    const status = await readStatus(site);
    expect(status.live?.commit).toBe(V2);
    expect(status.served).toEqual({
      state: 'as-recorded',
      live: { releaseId: releaseIdOf(d2), app: APP, commit: V2, deployId: d2.deployId },
      canary: null,
      note: null,
    });
    expect(reads()).toBe(1);
    // What get_status returns is what its contract says.
    expect(statusView.parse(status)).toEqual(status);
    // In place there is no release store: nothing to read, nothing said.
    const inPlace = await readStatus(await t.open({ inPlace: true }));
    expect(inPlace.served).toBeNull();
    expect((await verifyWithStore()).problems).toEqual([]);
  });

  it('an older release put in the store by hand: status says what is served and what was recorded', async () => {
    await putByHand({ live: releaseIdOf(d1) });
    expect(await served()).toBe('v1'); // what visitors get

    const status = await readStatus(t.site);
    expect(status.live?.commit).toBe(V2); // what FrontendOps recorded
    expect(status.served).toMatchObject({
      state: 'changed-outside',
      live: { releaseId: releaseIdOf(d1), app: APP, commit: V1, deployId: d1.deployId },
      canary: null,
    });
    const note = status.served?.note ?? '';
    expect(note).toMatch(/sophia-dashboard@a1a1a1a/);
    expect(note).toMatch(/recorded.*sophia-dashboard@b2b2b2b/);
    expect(note).toMatch(/changed outside FrontendOps/);
    expect(note).toMatch(/frontendops audit verify/);
    expect(note).toMatch(/frontendops deploy --commit b2b2b2b/);
    expect(JSON.stringify(status)).not.toContain(ARN());
    expect(statusView.parse(status)).toEqual(status);
  });

  it('audit verify, given the store, names it: the chain recorded another pointer', async () => {
    await putByHand({ live: releaseIdOf(d1) });
    // Without the store's reader, verify is as it was: the state bucket alone is whole.
    expect((await verifyAudit(t.site.state, t.target.statePrefix)).ok).toBe(true);
    const result = await verifyWithStore();
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual([
      {
        kind: 'tampered',
        seq: expect.any(Number),
        object: `KeyValueStore key ${RELEASE_KEY}`,
        reason: expect.stringMatching(
          new RegExp(
            `^the CDN's release store names release ${releaseIdOf(d1)}, no canary, but entry \\d+ records release ${releaseIdOf(d2)}.*outside FrontendOps`,
          ),
        ),
      },
    ]);
    expect(JSON.stringify(result)).not.toContain(ARN());
  });

  it('a canary no one started, for every visitor: status and verify say so', async () => {
    await putByHand({ live: releaseIdOf(d2), canary: 'evil', weight: 100 });
    const status = await readStatus(t.site);
    expect(status.canary).toBeNull(); // none recorded
    expect(status.served).toMatchObject({
      state: 'changed-outside',
      live: { releaseId: releaseIdOf(d2), commit: V2 },
      canary: { releaseId: 'evil', app: null, commit: null, deployId: null, percent: 100 },
    });
    expect(status.served?.note).toMatch(/100% of visitors .*release evil/);
    const result = await verifyWithStore();
    expect(result.problems.map((p) => p.kind)).toEqual(['tampered']);
    expect(result.problems[0]?.reason).toMatch(/canary evil for 100%/);
  });

  it('redeploying the recorded release puts it back: status and verify agree again', async () => {
    await putByHand({ live: releaseIdOf(d2), canary: 'evil', weight: 100 });
    const again = await deployArtifact(t.site, { app: APP, commit: V2, request: request('put v2 back') });
    expect(again).toMatchObject({ outcome: 'succeeded', drift: { canary: 'evil', weight: 100 } });
    expect(await served()).toBe('v2');
    expect((await readStatus(t.site)).served).toMatchObject({ state: 'as-recorded', note: null });
    expect((await verifyWithStore()).problems).toEqual([]);
  });

  it('a key that is no release pointer, or no key: edges serve the bucket root, and both say so', async () => {
    const recorded = (await readStatus(t.site)).live?.deployId;
    try {
      for (const change of [{ value: '{"live":"../../etc"}' }, 'delete'] as const) {
        await raw.write(change);
        const status = await readStatus(t.site);
        expect(status.live?.deployId).toBe(recorded);
        expect(status.served).toMatchObject({ state: 'changed-outside', live: null, canary: null });
        expect(status.served?.note).toMatch(/bucket root/);
        const result = await verifyWithStore();
        expect(result.problems.map((p) => [p.kind, p.object])).toEqual([
          ['tampered', `KeyValueStore key ${RELEASE_KEY}`],
        ]);
        expect(result.problems[0]?.reason).toMatch(/bucket root/);
      }
    } finally {
      await raw.write({ value: JSON.stringify({ live: releaseIdOf(d2) }) });
    }
    expect((await readStatus(t.site)).served?.state).toBe('as-recorded');
  });

  it('a store that cannot be read: status still answers, and says what it could not check', async () => {
    const site = await t.open({
      releases: {
        read: () =>
          Promise.reject(
            Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
          ),
        write: () => Promise.reject(new Error('unused')),
        previewSecret: () => Promise.reject(new Error('unused')),
        anchorAuditHead: () => Promise.reject(new Error('unused')),
      },
    });
    const status = await readStatus(site);
    expect(status.live?.commit).toBe(V2);
    expect(status.served).toMatchObject({ state: 'unknown', live: null, canary: null });
    expect(status.served?.note).toMatch(
      /could not be read \(ECONNREFUSED\).*reach the store and read it, then ask again/,
    );
    expect(status.served?.note).not.toMatch(/127\.0\.0\.1/);
  });
});

describe('an interrupted atomic operation is pending', () => {
  /**
   * `run` on the stack, with how often it read the release store, the atomic state and the
   * crash-recovery record (atomic/pending.json): once each, the record's check going by that same
   * reading (before, it read the store and the state again, and a dry run read the record twice).
   */
  async function counted<T>(run: (site: Awaited<ReturnType<AtomicEnv['open']>>) => Promise<T>) {
    const { store, reads } = counting(t.store());
    const site = await t.open({ releases: store });
    const mark = await t.mark();
    const result = await run(site);
    const gets = (await t.requestsSince(mark)).filter((r) => r.method === 'GET');
    const readsOf = (name: string) => gets.filter((r) => r.key.endsWith(`/atomic/${name}`)).length;
    return {
      result,
      reads: { store: reads(), state: readsOf('state.json'), pending: readsOf('pending.json') },
    };
  }
  const statusCounted = async () => {
    const { result, reads } = await counted(readStatus);
    return { status: result, reads };
  };
  /** A dry run of a deploy of `commit`, counted as status is: its check reads neither again. */
  const dryRunCounted = (commit: string) =>
    counted((site) => deployArtifact(site, { app: APP, commit, request: request('plan'), dryRun: true }));

  it('stopped before its switch: pending (not live), and running it again finishes it', async () => {
    const stopped = stoppingSite(t.site, (key) => key.includes('/atomic/releases/'));
    await expect(
      deployArtifact(stopped, { app: APP, commit: V3, request: request('ship v3') }),
    ).rejects.toThrow(/stopped/);
    const { status, reads } = await statusCounted();
    expect(reads).toEqual({ store: 1, state: 1, pending: 1 });
    const planned = await dryRunCounted(V3);
    expect(planned.reads).toEqual({ store: 1, state: 1, pending: 1 });
    expect(planned.result.outcome).toBe('planned');
    expect(status.live?.commit).toBe(V2);
    expect(status.pending).toEqual({
      deployId: expect.stringMatching(/^c3c3c3c-/),
      op: 'deploy',
      app: APP,
      commit: V3,
      startedAt: expect.any(String),
      pointerMoved: false,
    });
    expect(status.served?.state).toBe('as-recorded');
    expect(statusView.parse(status)).toEqual(status);

    const again = await deployArtifact(t.site, { app: APP, commit: V3, request: request('ship v3 again') });
    expect(again.outcome).toBe('succeeded');
    const after = await readStatus(t.site);
    expect([after.pending, after.live?.commit, after.served?.state]).toEqual([null, V3, 'as-recorded']);
  });

  it('stopped right after its switch: pending and served, which is not a change made outside', async () => {
    const stopped = stoppingSite(t.site, (key) => key.endsWith('/atomic/state.json'));
    await expect(
      deployArtifact(stopped, { app: APP, commit: V1, request: request('back to v1') }),
    ).rejects.toThrow(/stopped/);
    expect(await served()).toBe('v1');

    const { status, reads } = await statusCounted();
    expect(reads).toEqual({ store: 1, state: 1, pending: 1 });
    const planned = await dryRunCounted(V1);
    expect(planned.reads).toEqual({ store: 1, state: 1, pending: 1 });
    expect(planned.result.outcome).toBe('planned');
    expect(status.live?.commit).toBe(V2); // not recorded yet
    expect(status.pending).toMatchObject({ op: 'deploy', commit: V1, pointerMoved: true });
    expect(status.served).toMatchObject({
      state: 'switching',
      live: { releaseId: releaseIdOf(d1), commit: V1 },
    });
    expect(status.served?.note).toMatch(/interrupted deploy .*Run it again/);
    const result = await verifyWithStore();
    expect(result.problems.filter((p) => p.kind === 'tampered')).toEqual([]);
    expect(result.problems.find((p) => p.object === `KeyValueStore key ${RELEASE_KEY}`)?.kind).toBe(
      'unfinished',
    );

    await deployArtifact(t.site, { app: APP, commit: V1, request: request('back to v1, again') });
    const after = await readStatus(t.site);
    expect([after.pending, after.live?.commit, after.served?.state]).toEqual([null, V1, 'as-recorded']);
    expect((await verifyWithStore()).problems).toEqual([]);
  });
  it("a pointer written by hand, named as its switch by a crash-recovery record of another release's operation: changed outside", async () => {
    // A deploy of V3 stopped before its switch (genuine), its record's "after" then made to name the
    // older release the store is pointed at by hand: no switch of that deploy (its release is V3's).
    // Before, status called it the interrupted deploy's switch ("switching": run it again) and verify
    // "unfinished", while running it again was refused TAMPERED.
    const stopped = stoppingSite(t.site, (key) => key.includes('/atomic/releases/'));
    await expect(deployArtifact(stopped, { app: APP, commit: V3, request: request('v3') })).rejects.toThrow(
      /stopped/,
    );
    const pendingKey = `${t.target.statePrefix}atomic/pending.json`;
    const pending = JSON.parse((await t.site.state.get(pendingKey))?.body.toString('utf8') ?? '{}');
    const older = { live: releaseIdOf(d1) };
    await t.site.state.put(
      pendingKey,
      JSON.stringify({ ...pending, plan: { ...pending.plan, pointerAfter: older } }),
    );
    await putByHand(older);

    const status = await readStatus(t.site);
    expect(status.served?.state).toBe('changed-outside');
    expect(status.served?.note).toMatch(/changed outside FrontendOps/);
    expect((await verifyWithStore()).problems).toContainEqual(
      expect.objectContaining({ kind: 'tampered', object: `KeyValueStore key ${RELEASE_KEY}` }),
    );
    // As the change says: it refuses the record, nothing switched.
    await expect(
      deployArtifact(t.site, { app: APP, commit: V3, request: request('v3 again') }),
    ).rejects.toMatchObject({ code: 'TAMPERED' });
  });
});
