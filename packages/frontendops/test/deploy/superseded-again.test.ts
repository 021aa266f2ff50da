/**
 * A deploy that stopped before it went live is recorded "superseded" by the next operation (here a
 * no-op deploy of what is live). Deployment ids are derived from what a deploy changes, so the same
 * deploy run again later has the same id: before, it went live while its record (written once,
 * never replaced) still said "superseded", and `history` and the console said so. Now a record that
 * says superseded gives way to the outcome of the run that finished, and the chain verifies.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { APP, type AtomicEnv, heldAtSwitch, request, startDeployedAtomicEnv } from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';

const [V1, V2] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2'] as const;
let t: AtomicEnv;
/** The stack each case starts from, whichever ran before: V1 deployed and live; then V2 deployed over it. */
let v1Live: AtomicSnapshot;
let v2Live: AtomicSnapshot;

beforeAll(async () => {
  t = await startDeployedAtomicEnv({ propagationMs: 25, stack: 'superseded-again' }, [V1, V2], 1);
  v1Live = await snapshotAtomicEnv(t);
  await deployArtifact(t.site, { app: APP, commit: V2, request: request() });
  v2Live = await snapshotAtomicEnv(t);
}, 180_000);
afterAll(() => t?.stop());

it('the same deploy, stopped, superseded by a no-op, then run again: its record says succeeded', async () => {
  await v1Live.restore();
  // The process stops at its one key write: nothing went live.
  await expect(
    deployArtifact(await t.openKilledBeforeKeyWrite(), { app: APP, commit: V2, request: request() }),
  ).rejects.toThrow('killed before the key write');
  // The next operation, a no-op deploy of what is live, records the stopped one as superseded.
  await deployArtifact(t.site, { app: APP, commit: V1, request: request() });
  const history = async () => (await t.site.records.listRecords()).records;
  const stopped = (await history()).find((r) => r.commit === V2);
  expect(stopped?.outcome).toBe('superseded');

  const again = await deployArtifact(t.site, { app: APP, commit: V2, request: request('ship v2') });
  expect(again.deployId).toBe(stopped?.deployId);
  expect(again.outcome).toBe('succeeded');
  const listed = (await history()).filter((r) => r.deployId === again.deployId);
  expect(listed.map((r) => r.outcome)).toEqual(['succeeded']);
  expect((await t.site.records.readRecord(again.deployId))?.request.text).toBe('ship v2');
  expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
});

it('an operator whose lock does not meet ours records our deploy superseded; it goes live, and says so', async () => {
  await v2Live.restore();
  // Our deploy (back to V1) is held at its one key write; meanwhile operator B (a lock directory of
  // its own) runs a no-op deploy of V2, takes our pending plan for a crashed one and records it superseded.
  const held = heldAtSwitch(t.store());
  const ours = deployArtifact(await t.open({ releases: held.store }), {
    app: APP,
    commit: V1,
    request: request('back to v1'),
  });
  await held.reached;
  const b = await t.open({ lockDir: join(t.tmp, 'other-locks') });
  await deployArtifact(b, { app: APP, commit: V2, request: request('no-op') });
  const deployId = (await t.site.records.listRecords()).records.find((r) => r.outcome === 'superseded')
    ?.deployId as string;
  expect(deployId).toBeDefined();
  held.release();

  const done = await ours;
  expect(done).toMatchObject({ deployId, outcome: 'succeeded' });
  expect((await t.site.records.readRecord(deployId))?.outcome).toBe('succeeded');
  expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
});
