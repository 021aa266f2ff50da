/**
 * Two operators whose locks do not meet (two machines on an endpoint without conditional writes, or
 * a lock lost to a failed renewal). Operator A's deploy has switched and reads the state for its
 * prune; before it deletes, operator B finishes A's deploy for it (B takes A's pending plan for a
 * crashed one) and makes a revert build live that shares the hashed assets A is about to delete.
 * Before, A then deleted them from under the live release and recorded its deploy a second time.
 * Now A reads the store's pointer and its pending plan again right before deleting: another switch,
 * or its plan finished by someone else, and A deletes nothing and records nothing more.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import type { ObjectStore, ReleaseStore } from '../../src/ports.ts';
import type { Site } from '../../src/site.ts';
import { readAudit, verifyAudit } from '../../src/state/audit.ts';
import { createStateRecords } from '../../src/state/records.ts';
import { APP, type AtomicEnv, type ReleaseBuild, request, startAtomicEnv } from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import { get, releaseOf } from '../support/edge-probe.ts';

const [V1, V2, V3, V2_AGAIN] = [
  'a1a1a1a1a1a1a1a1',
  'b2b2b2b2b2b2b2b2',
  'c3c3c3c3c3c3c3c3',
  'd4d4d4d4d4d4d4d4',
] as const;
let t: AtomicEnv;
let revert: ReleaseBuild;
/**
 * The stack each case starts from, whichever ran before: V1 then V2 deployed, V2 live; and the same
 * with the revert build deployed over it, for the case that needs it live.
 */
let v2Live: AtomicSnapshot;
let revertLive: AtomicSnapshot;

beforeAll(async () => {
  t = await startAtomicEnv({ propagationMs: 25, retain: 1, stack: 'atomic-stale-prune' });
  await t.publish(V1, 'v1');
  await t.publish(V2, 'v2');
  await t.publish(V3, 'v3');
  revert = await t.publish(V2_AGAIN, 'v2'); // the same build as V2: the same hashed assets
  await deployArtifact(t.site, { app: APP, commit: V1, request: request() });
  await deployArtifact(t.site, { app: APP, commit: V2, request: request() });
  v2Live = await snapshotAtomicEnv(t);
  await deployArtifact(t.site, { app: APP, commit: V2_AGAIN, request: request('revert to v2') });
  revertLive = await snapshotAtomicEnv(t);
}, 180_000);
afterAll(() => t?.stop());
beforeEach(() => v2Live.restore());

/**
 * The site as operator A's process sees it: once its deploy has switched (its pending plan says so),
 * its next read of the atomic state returns what it read, but only after `meanwhile` has run.
 */
function heldAfterSwitch(site: Site, meanwhile: () => Promise<void>): Site & { said: string[] } {
  let switched = false;
  let held = false;
  let after = false;
  /** After `meanwhile`: each read of a deployment record or the audit chain, as it starts and ends. */
  const said: string[] = [];
  const noted = async <T>(key: string, read: () => Promise<T>): Promise<T> => {
    const what = key.includes('/deployments/') ? 'record' : key.includes('/audit/') ? 'chain' : null;
    if (!after || what === null) return read();
    said.push(`${what} asked`);
    const result = await read();
    said.push(`${what} read`);
    return result;
  };
  const state: ObjectStore = {
    ...site.state,
    put: async (key, body, ...rest) => {
      if (key.endsWith('atomic/pending.json') && /"switched": ?true/.test(String(body))) switched = true;
      return site.state.put(key, body, ...rest);
    },
    get: async (key) => {
      const read = await noted(key, () => site.state.get(key));
      if (switched && !held && key.endsWith('atomic/state.json')) {
        held = true;
        await meanwhile();
        after = true;
      }
      return read;
    },
    list: (prefix, ...rest) => noted(prefix ?? '', () => site.state.list(prefix, ...rest)),
  };
  return { ...site, state, records: createStateRecords(state, site.target.statePrefix), said };
}

it('a prune whose switch was replaced meanwhile deletes nothing the live release uses, and records once', async () => {
  // Operator B: the same stack, a lock directory of its own.
  // No grace to wait out: A prunes from the state it read first (a long grace only widens the window).
  const b = await t.open({ lockDir: join(t.tmp, 'other-locks'), releaseGraceMs: 0 });
  let bDeployed = false;
  const a = heldAfterSwitch(await t.open({ releaseGraceMs: 0 }), async () => {
    await deployArtifact(b, { app: APP, commit: V2_AGAIN, request: request('revert to v2') });
    bDeployed = true;
  });

  const deployed = await deployArtifact(a, { app: APP, commit: V3, request: request('ship v3') });
  expect(bDeployed).toBe(true);
  expect(deployed.outcome).toBe('succeeded');

  // The revert build is live, whole: its page, and every asset it names is in the bucket.
  expect(releaseOf((await get(`${t.edge.url}/`, {})).body)).toBe('v2');
  for (const path of Object.keys(revert.files).filter((p) => p.startsWith('/assets/'))) {
    expect(await t.site.hosting.head(path.slice(1)), path).not.toBeNull();
  }
  // A's deploy is recorded once (by B, which finished it), and the chain verifies.
  const entries = await readAudit(t.site.state, t.target.statePrefix);
  const own = entries.filter((e) => e.type === 'deploy' && e.data.deployId === deployed.deployId);
  expect(own).toHaveLength(1);
  expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
  // A's answer names the head at that entry, as B's tag of it carries it (finishedFirstTag), not the
  // chain's head after B's own deploy: before, A tagged the deployment a second time with that one.
  expect(deployed.auditHead).toEqual({ seq: own[0]?.seq, hash: own[0]?.hash });
  expect(entries.at(-1)?.seq).toBeGreaterThan(own[0]?.seq ?? Infinity);
  // A read its record and walked the chain for the entry binding it side by side: the chain was
  // asked before the record came back (before, only after it).
  expect(a.said.indexOf('chain asked')).toBeGreaterThan(-1);
  expect(a.said.indexOf('chain asked')).toBeLessThan(a.said.indexOf('record read'));
});

it('a prune whose switch was replaced by hand meanwhile keeps the files of what the store names', async () => {
  await revertLive.restore();
  const store = t.store();
  const before = await store.read(); // the revert build, live
  const a = heldAfterSwitch(await t.open({ releaseGraceMs: 0 }), async () => {
    // Someone outside FrontendOps puts the store back (the console of the KeyValueStore, a script).
    await store.write(before.value as NonNullable<typeof before.value>, (await store.read()).etag);
  });
  const deployed = await deployArtifact(a, { app: APP, commit: V3, request: request('ship v3 again') });
  expect(deployed.outcome).toBe('succeeded');
  expect(deployed.pruned).toBe(0);
  const live = (before.value as NonNullable<typeof before.value>).live;
  for (const path of ['index.html', 'favicon.ico']) {
    expect(await t.site.hosting.head(`_releases/${live}/${path}`), path).not.toBeNull();
  }
  expect(releaseOf((await get(`${t.edge.url}/`, {})).body)).toBe('v2');
});

it('a store that cannot be read after the switch: the deploy is recorded, and its prune left for later', async () => {
  const real = t.store();
  let switched = false;
  const flaky: ReleaseStore = {
    read: async () => {
      if (switched) throw new Error('the KeyValueStore did not answer');
      return real.read();
    },
    previewSecret: () => real.previewSecret(),
    anchorAuditHead: (head, etag) => real.anchorAuditHead(head, etag),
    write: async (value, etag) => {
      const written = await real.write(value, etag);
      switched = true;
      return written;
    },
  };
  const site = await t.open({ releaseGraceMs: 0, releases: flaky });
  const deployed = await deployArtifact(site, { app: APP, commit: V1, request: request('ship v1') });
  expect(deployed).toMatchObject({ outcome: 'succeeded', pruned: 0 });
  expect((await t.site.records.readRecord(deployed.deployId))?.outcome).toBe('succeeded');
  expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
});
