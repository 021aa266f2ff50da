/**
 * Review of 9805212 / 24bd335: a genuine sequence readRelease refuses as written around the chain.
 * v2's deploy stops before its switch; a canary start supersedes it (v2's record, "superseded", bound);
 * the canary is aborted; v2 is deployed again, under the same deploy id (same build, same release
 * before it), and stops between replacing the superseded record (records.ts writeRecord) and its
 * entry. Asked for by that deploy id, the record is refused TAMPERED, "not written by FrontendOps ...
 * delete that record" (verify calls it tampered too: the record was changed after its entry bound it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyArtifactFile } from '../../src/deploy/artifact-copy.ts';
import { abortCanary, startCanary } from '../../src/deploy/canary.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { resolveRelease } from '../../src/deploy/pin.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { APP, type AtomicEnv, request, startAtomicEnv } from '../support/atomic-env.ts';
import { livePointerNaming } from '../support/audit-forgery.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { refusal } from '../support/refusal.ts';
import { stoppedAtEntryAfter, stoppingSite } from '../support/stopping-site.ts';

const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3c3c3'] as const;

describe('a superseded record replaced by its deploy run again, stopped before its entry', () => {
  let t: AtomicEnv;
  beforeAll(async () => {
    t = await startAtomicEnv({ stack: 'stopped-replaced-record' });
    await t.publishVersions([V1, V2, V3]);
    await deployArtifact(t.site, { app: APP, commit: V1, request: request('first') });
  }, 180_000);
  afterAll(() => t?.stop());

  it('is refused as a stopped change, not as one written around FrontendOps', async () => {
    const prefix = t.target.statePrefix;
    const killed = await t.openKilledBeforeKeyWrite();
    await expect(
      deployArtifact(killed, { app: APP, commit: V2, request: request('ship v2') }),
    ).rejects.toThrow('killed before the key write');
    await startCanary(t.site, { app: APP, commit: V3, weightPercent: 10, request: request('try v3') });
    await abortCanary(t.site, { request: request('abort') });
    const [superseded] = (await t.site.records.listReleases(5)).releases.filter(
      (r) => r.commit === V2 && r.outcome === 'superseded',
    );
    if (!superseded) throw new Error("v2's stopped deploy is recorded superseded");
    const deployId = superseded.deployId;

    const stopping = stoppedAtEntryAfter(t.site, (key) => key === `${prefix}deployments/${deployId}.json`);
    await expect(
      deployArtifact(stopping, { app: APP, commit: V2, request: request('ship v2 again') }),
    ).rejects.toThrow('the process stopped');
    const record = await t.site.records.readRecord(deployId);
    expect(record?.outcome).toBe('succeeded');

    const { problems } = await verifyAudit(t.site.state, prefix, { releaseStore: t.store() });
    const verdict = problems.filter((p) => p.object === `deployments/${deployId}.json`).map((p) => p.kind);
    const error = await refusal(resolveRelease(t.site, APP, deployId));
    expect({ verdict, code: error.code, says: /not written by FrontendOps/.test(error.message) }).toEqual({
      verdict: ['unfinished'],
      code: 'CONFLICT',
      says: false,
    });
    // The next deploy finishes it: the record is bound, and resolves.
    await deployArtifact(t.site, { app: APP, commit: V2, request: request('ship v2, third time') });
    expect((await verifyAudit(t.site.state, prefix, { releaseStore: t.store() })).problems).toEqual([]);
    expect(await resolveRelease(t.site, APP, deployId)).toEqual({ app: APP, commit: V2, deployId });
  });
});

describe('in place: a record bound superseded, edited beside its crash-recovery record put back', () => {
  let t: TestDeployEnv;
  beforeAll(async () => {
    t = await startDeployEnv({ stack: 'edited-superseded-in-place' });
    await publishFixtureBuilds(t, APP, [V1, V2]);
    await deployArtifact(t.site, { app: APP, commit: V1, request: request('first') });
  }, 180_000);
  afterAll(() => t?.stop());

  it('is tampered, not unfinished (live.json does not name that deploy); made to look live, never bound as found', async () => {
    const prefix = t.target.statePrefix;
    const stopping = stoppingSite(t.site, (key) => key === `${prefix}live.json`);
    await expect(
      deployArtifact(stopping, { app: APP, commit: V2, request: request('ship v2') }),
    ).rejects.toThrow('the process stopped');
    const pending = await t.site.records.readPending();
    if (!pending) throw new Error('the stopped deploy left its crash-recovery record');
    const D = pending.plan.deployId;
    // A deploy of the live build supersedes it (nothing goes live): D is bound as superseded.
    await deployArtifact(t.site, { app: APP, commit: V1, request: request('v1 again') });
    const superseded = await t.site.records.readRecord(D);
    expect(superseded?.outcome).toBe('superseded');
    // The deployer role puts the crash-recovery record back, and rewrites D's record as gone live.
    const put = (name: string, value: unknown) =>
      t.site.state.put(`${prefix}${name}`, JSON.stringify(value), { contentType: 'application/json' });
    await put('pending.json', pending);
    await put(`deployments/${D}.json`, { ...superseded, outcome: 'succeeded', verification: { ok: true } });
    // Before, verify called it unfinished ("run the deploy again"), for good: every change refuses it.
    const { problems } = await verifyAudit(t.site.state, prefix, { releaseStore: null });
    expect(problems.filter((p) => p.object === `deployments/${D}.json`).map((p) => p.kind)).toEqual([
      'tampered',
    ]);

    // Made to look like the deploy went live (its pointer, its files, its crash-recovery record saying
    // so): verify calls it unfinished, and the next deploy finishes it. Before, that deploy kept the
    // record as it found it and bound it (its forged error and verification), and verify was clean.
    const plan = pending.plan;
    const live = await t.site.records.readPointer();
    const kept = (live?.value.releases ?? []).filter((r) => plan.retained.includes(r.deployId));
    await put('live.json', livePointerNaming(plan, kept));
    await put('pending.json', { ...pending, request: superseded?.request, pointerMoved: true });
    for (const c of plan.copies) await copyArtifactFile(t.site, plan, c.path, c.key, c);
    await put(`deployments/${D}.json`, {
      ...superseded,
      outcome: 'succeeded',
      verification: { ok: true, attempts: 1, detail: 'FORGED' },
      error: { code: 'UPSTREAM', message: 'v1 carried a backdoor' },
    });
    await deployArtifact(t.site, { app: APP, commit: V2, request: request('ship v2 again') });
    const bound = await t.site.records.readRecord(D);
    expect(JSON.stringify(bound)).not.toContain('backdoor');
    expect(JSON.stringify(bound)).not.toContain('FORGED');
    expect((await verifyAudit(t.site.state, prefix, { releaseStore: null })).problems).toEqual([]);
  });
});
