/**
 * Someone who can write the state bucket (the deployer role is enough, no approver key, no access to
 * the CDN's release store) plants a crash-recovery record of an atomic operation that never switched
 * (atomic/pending.json, which no entry binds), naming a build that really was published, and edits
 * what that operation would have written after its switch:
 * - live.json, naming the record's deploy of a build never live on the stack as the live release;
 * - atomic/state.json, naming the record's canary of that build, which nobody started.
 * Before, `audit verify` called the edit "unfinished" on the record's word, the lock's check let the
 * next change act on it, and the change bound it: verify was then clean, a plain rollback made the
 * never-live build live (or a preview, which needs no approval, bound the forged canary, and a
 * promote of "the canary" made that build live for everyone).
 *
 * An atomic operation writes live.json and atomic/state.json only after its switch, and its switch is
 * what the CDN's release store names. Now a record whose switch the store does not serve excuses
 * neither: verify says tampered, and every change refuses TAMPERED with nothing written.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCanary } from '../../src/deploy/canary.ts';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { previewLink } from '../../src/deploy/preview.ts';
import { readManifest } from '../../src/deploy/publish.ts';
import { releaseIdFor } from '../../src/engine/atomic-plan.ts';
import { artifactDigest } from '../../src/engine/manifest.ts';
import { verifySite } from '../../src/read/verify-site.ts';
import { APP, type AtomicEnv, request, startAtomicEnv } from '../support/atomic-env.ts';
import { auditVerdict } from '../support/audit-forgery.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { writesSince } from '../support/refusal.ts';

const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3'] as const;

describe('an edit excused by a planted record of an atomic operation that never switched', () => {
  let t: AtomicEnv;
  const key = (name: string) => `${t.target.statePrefix}${name}`;
  const read = async (name: string) => (await t.site.state.get(key(name)))?.body as Buffer;
  const put = (name: string, value: unknown) =>
    t.site.state.put(
      key(name),
      typeof value === 'string' || Buffer.isBuffer(value) ? value : JSON.stringify(value, null, 2),
      {
        contentType: 'application/json',
      },
    );
  const verdict = () => auditVerdict(t, { releaseStore: t.store() });

  /** A dry run's plan of V3 (published, never live here), live.json as it is, and edited to make V3 live. */
  const v3NamedLive = async () => {
    const { plan } = await deployArtifact(t.site, {
      app: APP,
      commit: V3,
      request: request('x'),
      dryRun: true,
    });
    const original = await read('live.json');
    const live = JSON.parse(original.toString('utf8'));
    const v3 = {
      deployId: plan.deployId,
      app: APP,
      commit: V3,
      artifactDigest: plan.artifactDigest,
      releasedAt: new Date().toISOString(),
    };
    return { plan, original, edited: { ...v3, releases: [v3, ...live.releases] } };
  };

  /** live.json as it was, the planted record gone: verify is clean again. */
  const putBack = async (original: Buffer) => {
    await put('live.json', original);
    await t.site.state.delete([key('atomic/pending.json')]);
    expect(await verdict()).toEqual([]);
  };

  beforeAll(async () => {
    t = await startAtomicEnv({ stack: 'forged-unswitched' });
    await t.publishVersions([V1, V2, V3]);
    await deployArtifact(t.site, { app: APP, commit: V1, request: request('deploy v1') });
    await deployArtifact(t.site, { app: APP, commit: V2, request: request('deploy v2') });
  });
  afterAll(() => t?.stop());

  it('live.json naming the record deploy of a build never live: tampered, and a deploy and a preview refuse it', async () => {
    const { plan, original, edited } = await v3NamedLive();
    await put('atomic/pending.json', {
      op: 'deploy',
      plan,
      request: request('forged'),
      startedAt: new Date().toISOString(),
      switched: false,
    });
    await put('live.json', edited);

    expect(await verdict()).toContain('tampered: live.json');
    const mark = await t.mark();
    for (const change of [
      () => deployArtifact(t.site, { app: APP, commit: V1, request: request('deploy v1 again') }),
      () => previewLink(t.site, { app: APP, commit: V1, request: request('preview v1'), verify: false }),
    ]) {
      await expect(change()).rejects.toMatchObject({
        code: 'TAMPERED',
        message: expect.stringMatching(/^live\.json of forged-unswitched changed outside FrontendOps/),
      });
    }
    expect(await writesSince(t, mark)).toEqual([]);

    // Put back (the record goes too): verify is clean, and the stack deploys again.
    await putBack(original);
  });

  it('the same record naming as its switch what the store serves now: no switch of its own, still tampered', async () => {
    const { plan, original, edited } = await v3NamedLive();
    const served = (await t.store().read()).value;
    for (const forged of [
      // Its "switch" moves nothing.
      { ...plan, pointerBefore: served, pointerAfter: served },
      // Its "switch" moves to what is served, under a release id that is not its build's.
      {
        ...plan,
        releaseId: served?.live,
        pointerBefore: { live: 'a0a0a0a-r000000000000' },
        pointerAfter: served,
      },
    ]) {
      await put('atomic/pending.json', {
        op: 'deploy',
        plan: forged,
        request: request('forged'),
        startedAt: new Date().toISOString(),
        switched: true,
      });
      await put('live.json', edited);
      expect(await verdict()).toContain('tampered: live.json');
    }
    await putBack(original);
  });

  it('atomic/state.json naming the record canary nobody started: tampered, and a preview refuses it', async () => {
    const { plan } = await startCanary(t.site, {
      app: APP,
      commit: V3,
      weightPercent: 50,
      request: request('x'),
      dryRun: true,
    });
    const original = await read('atomic/state.json');
    await put('atomic/pending.json', {
      op: 'canary-start',
      plan,
      request: request('forged'),
      startedAt: new Date().toISOString(),
      switched: false,
    });
    await put('atomic/state.json', {
      ...JSON.parse(original.toString('utf8')),
      canary: {
        releaseId: plan.releaseId,
        app: APP,
        commit: V3,
        artifactDigest: plan.artifactDigest,
        deployId: plan.deployId,
        weight: 50,
        startedAt: new Date().toISOString(),
        request: request('nobody started this'),
      },
    });

    expect(await verdict()).toContain('tampered: atomic/state.json');
    const mark = await t.mark();
    await expect(
      previewLink(t.site, { app: APP, commit: V1, request: request('preview v1'), verify: false }),
    ).rejects.toMatchObject({
      code: 'TAMPERED',
      message: expect.stringMatching(/^atomic\/state\.json of forged-unswitched changed outside FrontendOps/),
    });
    expect(await writesSince(t, mark)).toEqual([]);

    await put('atomic/state.json', original);
    await t.site.state.delete([key('atomic/pending.json')]);
    expect(await verdict()).toEqual([]);
    expect(
      (await deployArtifact(t.site, { app: APP, commit: V1, request: request('deploy v1') })).outcome,
    ).toBe('succeeded');
  });
});

describe('in place: a planted record of an atomic operation, where the stack has no release store', () => {
  let t: TestDeployEnv;
  const key = (name: string) => `${t.target.statePrefix}${name}`;
  beforeAll(async () => {
    t = await startDeployEnv({ stack: 'forged-unswitched-in-place' });
    await publishFixtureBuilds(t, APP, [V1, V2, V3]);
    await deployArtifact(t.site, { app: APP, commit: V1, request: request('deploy v1') });
    await deployArtifact(t.site, { app: APP, commit: V2, request: request('deploy v2') });
  });
  afterAll(() => t?.stop());

  it('excuses nothing: verify and the lock check say tampered, and a rollback refuses', async () => {
    const live = JSON.parse((await t.site.state.get(key('live.json')))?.body.toString('utf8') ?? '{}');
    const manifest = await readManifest(t.site.artifacts, APP, V3);
    const never = {
      deployId: `${V3.slice(0, 7)}-0000000000`,
      app: APP,
      commit: V3,
      artifactDigest: artifactDigest(manifest as NonNullable<typeof manifest>),
      releasedAt: new Date().toISOString(),
    };
    const releaseId = releaseIdFor(never);
    await t.site.state.put(
      key('atomic/pending.json'),
      JSON.stringify({
        op: 'deploy',
        plan: { ...never, releaseId, pointerAfter: { live: releaseId } },
        request: request('forged'),
        startedAt: new Date().toISOString(),
        switched: true,
      }),
    );
    await t.site.state.put(
      key('live.json'),
      JSON.stringify({ ...never, releases: [never, ...live.releases] }),
    );
    const verified = await verifySite(t.site, []);
    expect(verified.result.problems).toContainEqual(
      expect.objectContaining({ kind: 'tampered', object: 'live.json' }),
    );
    await expect(rollbackRelease(t.site, { request: request('roll back') })).rejects.toMatchObject({
      code: 'TAMPERED',
    });
  });
});
