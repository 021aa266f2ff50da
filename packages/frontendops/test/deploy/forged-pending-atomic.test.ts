/**
 * Forged crash-recovery records on an atomic stack (see forged-pending.test.ts for in place): an
 * atomic/pending.json naming a stopped rollback to a build that was published but never live, as the
 * deployer role can write one. Before, `rollback` with no destination went to that build, pinned it,
 * and `audit verify` passed. Now it refuses TAMPERED with nothing written, and verify says tampered;
 * a genuine stopped atomic rollback still finishes, its record saying it was finished from the
 * pending record.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { assertAtomicPendingSound } from '../../src/deploy/live.ts';
import { readManifest } from '../../src/deploy/publish.ts';
import { releaseIdFor } from '../../src/engine/atomic-plan.ts';
import { artifactDigest } from '../../src/engine/manifest.ts';
import type { Manifest } from '../../src/engine/types.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import type { Site } from '../../src/site.ts';
import type { AtomicPending } from '../../src/state/atomic.ts';
import { readAudit, verifyAudit } from '../../src/state/audit.ts';
import { readPin } from '../../src/state/pin.ts';
import { APP, type AtomicEnv, request, startAtomicEnv } from '../support/atomic-env.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const [V1, V2, V3, V4] = [
  'a1a1a1a1a1a1a1a1a1a1',
  'b2b2b2b2b2b2b2b2b2b2',
  'c3c3c3c3c3c3c3c3c3c3',
  'd4d4d4d4d4d4d4d4d4d4',
] as const;

async function refusal(run: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await run;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected a refusal, but it went through');
}

describe('atomic: a forged atomic/pending.json', () => {
  let t: AtomicEnv;
  let site: Site;
  const pendingKey = () => `${t.target.statePrefix}atomic/pending.json`;
  /** The reviewer's reproduction: a stopped rollback to V4, published but never live. */
  const forged = () => ({
    op: 'rollback',
    plan: {
      op: 'rollback',
      stack: t.target.stack,
      deployId: `${V4.slice(0, 7)}-0000000000`,
      app: APP,
      commit: V4,
      releaseId: `${V4.slice(0, 7)}-r000000000000`,
      liveChanges: false,
      pointerBefore: { live: 'zzz' },
      pointerAfter: { live: 'zzz' },
    },
    request: { text: 'rollback', actor: 'root@vm', planner: 'cli', at: '2026-12-03T21:00:00.000Z' },
    startedAt: '2026-12-03T21:00:00.000Z',
    switched: false,
  });

  beforeAll(async () => {
    t = await startAtomicEnv({ stack: 'forged-pending-atomic' });
    site = t.site;
    for (const [i, commit] of [V2, V3, V4].entries()) await t.publish(commit, `v${i + 2}`);
    for (const commit of [V2, V3]) await deployArtifact(site, { app: APP, commit, request: request() });
  }, 180_000);
  afterAll(() => t?.stop());

  it('verify says tampered; rollback with no destination refuses TAMPERED and writes nothing', async () => {
    expect((await verifyAudit(site.state, t.target.statePrefix)).ok).toBe(true);
    await site.state.put(pendingKey(), JSON.stringify(forged()), { contentType: 'application/json' });

    const verdict = await verifyAudit(site.state, t.target.statePrefix);
    expect(verdict.problems).toContainEqual(
      expect.objectContaining({
        kind: 'tampered',
        object: 'atomic/pending.json',
        reason: expect.stringContaining(`rollback to ${V4.slice(0, 7)}`),
      }),
    );
    expect(verdict.problems.filter((p) => p.kind === 'unfinished')).toEqual([]);

    const pointer = (await t.store().read()).value;
    const live = (await site.records.readPointer())?.value;
    const head = (await readAudit(site.state, t.target.statePrefix)).length;
    const mark = await t.mark();
    const error = await refusal(rollbackRelease(site, { request: request('undo the last deploy') }));
    expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
    expect(error.message).toContain('atomic/pending.json');
    expect(error.message).toContain(`rollback to ${V4.slice(0, 7)}`);
    expect(error.message).toMatch(/never live/);
    expect(error.message).toMatch(/not written by FrontendOps/);
    expect(error.message).toMatch(/Nothing was changed/);
    expect(error.message).toMatch(/frontendops audit verify/);
    expect(error.message).not.toContain('atomic-artifacts');
    const writes = (await t.requestsSince(mark)).filter(
      (r) => r.method !== 'GET' && r.method !== 'HEAD' && !r.key.includes('/locks/'),
    );
    expect(writes).toEqual([]);
    expect((await t.store().read()).value).toEqual(pointer);
    expect((await site.records.readPointer())?.value).toEqual(live);
    expect(await readPin(site)).toBeNull();
    expect(await readAudit(site.state, t.target.statePrefix)).toHaveLength(head);
  });

  it('the check the atomic settle calls refuses it too, before anything is written', async () => {
    const pending = (await site.state.get(pendingKey()))?.body.toString('utf8');
    expect(pending).toBeDefined();
    const error = await refusal(assertAtomicPendingSound(site, JSON.parse(pending ?? '') as AtomicPending));
    expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
    expect(error.message).toContain(`rollback to ${V4.slice(0, 7)}`);
  });

  it('a "switched" deploy of a build the live pointer does not have live is refused by that check too', async () => {
    const digest = artifactDigest((await readManifest(site.artifacts, APP, V4)) as Manifest);
    const releaseId = releaseIdFor({ commit: V4, artifactDigest: digest });
    const plan = { ...forged().plan, op: 'deploy', kind: 'deploy', artifactDigest: digest, releaseId };
    const switched = {
      ...forged(),
      op: 'deploy',
      plan: { ...plan, liveChanges: true, pointerAfter: { live: releaseId } },
      switched: true,
    } as unknown as AtomicPending;
    const error = await refusal(assertAtomicPendingSound(site, switched));
    expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
    expect(error.message).toMatch(/live pointer does not have it live/);
    // Its switch naming another release than its build's is refused alike.
    const elsewhere = {
      ...switched,
      plan: { ...switched.plan, pointerAfter: { live: 'zzz' } },
    } as AtomicPending;
    expect((await refusal(assertAtomicPendingSound(site, elsewhere))).message).toMatch(
      /its switch makes another release live/,
    );
  });

  it('any atomic operation under the lock refuses the forged record rather than record it', async () => {
    const mark = await t.mark();
    const error = await refusal(deployArtifact(site, { app: APP, commit: V3, request: request() }));
    expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
    const writes = (await t.requestsSince(mark)).filter(
      (r) => r.method !== 'GET' && r.method !== 'HEAD' && !r.key.includes('/locks/'),
    );
    expect(writes).toEqual([]);
  });

  it('removed, verify passes and rollback goes to the previous release', async () => {
    await site.state.delete([pendingKey()]);
    expect((await verifyAudit(site.state, t.target.statePrefix)).ok).toBe(true);
    const back = await rollbackRelease(site, { request: request() });
    expect(back.commit).toBe(V2);
    expect((await readPin(site))?.commit).toBe(V2);
  });
});

describe('atomic: a genuine rollback stopped after its switch', () => {
  let t: AtomicEnv;
  beforeAll(async () => {
    t = await startAtomicEnv({ propagationMs: 25, stack: 'forged-pending-atomic-genuine' });
    await t.publish(V1, 'v1');
    await t.publish(V2, 'v2');
    await deployArtifact(t.site, { app: APP, commit: V1, request: request() });
    await deployArtifact(t.site, { app: APP, commit: V2, request: request() });
  }, 180_000);
  afterAll(() => t?.stop());

  it('verify says unfinished (never tampered); the re-run finishes it, marked as finished from the pending record', async () => {
    const { site } = t;
    const prefix = t.target.statePrefix;
    const stopping = stoppingSite(site, (key) => /\/deployments\/[^/]+\.json$/.test(key));
    await expect(rollbackRelease(stopping, { request: { ...request(), actor: 'rm-alice' } })).rejects.toThrow(
      /stopped/,
    );
    const stopped = JSON.parse(
      (await site.state.get(`${prefix}atomic/pending.json`))?.body.toString('utf8') ?? 'null',
    ) as AtomicPending | null;
    expect(stopped?.op).toBe('rollback');
    const verdict = await verifyAudit(site.state, prefix);
    expect(verdict.problems.map((p) => p.kind)).toContain('unfinished');
    expect(verdict.problems.map((p) => p.kind)).not.toContain('tampered');

    const again = await rollbackRelease(site, { request: request() });
    expect(again.commit).toBe(V1);
    expect((await readPin(site))?.commit).toBe(V1);
    expect((await verifyAudit(site.state, prefix)).problems).toEqual([]);
    const record = await site.records.readRecord(stopped?.plan.deployId ?? '');
    expect(record?.request).toMatchObject({ actor: 'rm-alice', resumedFrom: 'atomic/pending.json' });
  });
});
