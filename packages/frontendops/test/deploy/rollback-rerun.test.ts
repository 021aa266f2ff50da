/**
 * A `rollback` (no --to: "the previous release") that stops after its switch — at the write of its
 * deployment record, as a process killed or cut off there would — and is run again: the re-run
 * finishes it, and the release rolled back to stays live and pinned. Before, the re-run read
 * live.json, where the stopped rollback had already made the old release live, took the release it
 * rolled back FROM for "the previous release", finished the stopped rollback, then rolled forward to
 * that bad release and pinned it. In place and atomic alike.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { publishArtifact } from '../../src/deploy/publish.ts';
import type { ObjectStore } from '../../src/ports.ts';
import type { Site } from '../../src/site.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { readPin } from '../../src/state/pin.ts';
import { createStateRecords, type RequestInfo } from '../../src/state/records.ts';
import { type AtomicEnv, startAtomicEnv } from '../support/atomic-env.ts';
import { startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';

const APP = 'sophia-dashboard';
const [GOOD, BAD] = ['a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2'] as const;
const request: RequestInfo = {
  text: 'rollback',
  actor: 'rm-alice',
  planner: 'cli',
  at: new Date().toISOString(),
};

/** The site as a process sees it that stops at its first write of a deployment record: that write and every later one fail. */
function stoppingAtRecord(site: Site): Site {
  let stopped = false;
  const guard = (hit: boolean) => {
    if (stopped || hit) {
      stopped = true;
      throw new Error('the process stopped');
    }
  };
  const state: ObjectStore = {
    ...site.state,
    put: async (key, body, ...rest) => {
      guard(/\/deployments\/[^/]+\.json$/.test(key));
      return site.state.put(key, body, ...rest);
    },
    delete: async (keys) => {
      guard(false);
      return site.state.delete(keys);
    },
  };
  return { ...site, state, records: createStateRecords(state, site.target.statePrefix) };
}

describe('rollback stopped after its switch, then run again', () => {
  let t: TestDeployEnv;
  beforeAll(async () => {
    t = await startDeployEnv({ stack: 'probe-rollback-rerun' });
    for (const [i, commit] of [GOOD, BAD].entries()) {
      const build = await writeFixtureBuild(join(t.tmp, `b${i}`), { version: `v${i + 1}` });
      await publishArtifact(t.site.artifacts, { dir: build.dir, app: APP, commit });
    }
  });
  afterAll(() => t?.stop());

  it('in place: the re-run finishes it; the release rolled back to stays live and pinned', async () => {
    await deployArtifact(t.site, { app: APP, commit: GOOD, request });
    await deployArtifact(t.site, { app: APP, commit: BAD, request });
    await expect(rollbackRelease(stoppingAtRecord(t.site), { request })).rejects.toThrow(/stopped/);
    // The interrupted rollback did switch: GOOD is live.
    expect((await t.site.records.readPointer())?.value.commit).toBe(GOOD);

    const again = await rollbackRelease(t.site, { request });
    expect(again.commit).toBe(GOOD);
    expect((await t.site.records.readPointer())?.value.commit).toBe(GOOD);
    expect((await readPin(t.site))?.commit).toBe(GOOD);
    expect((await verifyAudit(t.site.state, t.site.target.statePrefix)).problems).toEqual([]);
  });
});

describe('atomic rollback stopped after its switch, then run again', () => {
  let t: AtomicEnv;
  beforeAll(async () => {
    t = await startAtomicEnv({ propagationMs: 25, stack: 'probe-atomic-rollback-rerun' });
    await t.publish(GOOD, 'v1');
    await t.publish(BAD, 'v2');
  });
  afterAll(() => t?.stop());

  it('atomic: the re-run finishes it; the release rolled back to stays live and pinned', async () => {
    await deployArtifact(t.site, { app: APP, commit: GOOD, request });
    await deployArtifact(t.site, { app: APP, commit: BAD, request });
    await expect(rollbackRelease(stoppingAtRecord(t.site), { request })).rejects.toThrow(/stopped/);
    expect((await t.site.records.readPointer())?.value.commit).toBe(GOOD);

    const again = await rollbackRelease(t.site, { request });
    expect(again.commit).toBe(GOOD);
    expect((await t.site.records.readPointer())?.value.commit).toBe(GOOD);
    expect((await readPin(t.site))?.commit).toBe(GOOD);
    expect((await verifyAudit(t.site.state, t.site.target.statePrefix)).problems).toEqual([]);
  });
});
