/**
 * Forged crash-recovery records. pending.json (in place) and atomic/pending.json (atomic) are not
 * bound by the audit chain: whoever can write the state bucket (the deployer role) can write one.
 * Before, the tool trusted them:
 * - a "stopped rollback" naming a build that was published but never live sent `rollback` with no
 *   destination (the agent's "undo the last deploy") to that build, pinned, and `audit verify`
 *   passed before and after;
 * - a "deploy whose pointer moved" naming the live deploy id, with a prune list naming a live asset
 *   and a request "approved by Ada", was finished by the next deploy: the asset was deleted (and
 *   copied back in the same run) and the chain recorded the forged request as Ada's.
 * Now a stopped rollback is finished only towards a release the stack had (retained by the live
 * pointer, or a deployment of this stack that went live), a finished prune never touches what a kept
 * release uses, both refuse TAMPERED with nothing written, verify calls such a record tampered, and
 * what is finished from a pending record says so. A genuine interrupted rollback still finishes.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deploymentRecord, recordDeployment } from '../../src/deploy/apply.ts';
import { deployArtifact, finishSyncedDeploy, rollbackRelease } from '../../src/deploy/deploy.ts';
import { readManifest } from '../../src/deploy/publish.ts';
import type { DeployPlan } from '../../src/engine/plan.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import type { Site } from '../../src/site.ts';
import { readAudit, verifyAudit } from '../../src/state/audit.ts';
import { readPin } from '../../src/state/pin.ts';
import type { PendingDeploy, RequestInfo } from '../../src/state/records.ts';
import { type BucketSnapshot, snapshotStack } from '../support/bucket-snapshot.ts';
import {
  publishAsCi,
  publishFixtureBuilds,
  startDeployEnv,
  type TestDeployEnv,
} from '../support/deploy-env.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';
import type { TestS3 } from '../support/local-s3.ts';
import { refusal } from '../support/refusal.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const APP = 'sophia-dashboard';
const [V1, V2, V3, V4] = [
  'a1a1a1a1a1a1a1a1a1a1',
  'b2b2b2b2b2b2b2b2b2b2',
  'c3c3c3c3c3c3c3c3c3c3',
  'd4d4d4d4d4d4d4d4d4d4',
] as const;
const request: RequestInfo = {
  text: 'rollback',
  actor: 'rm-alice',
  planner: 'cli',
  at: new Date().toISOString(),
};
const forgedRequest: RequestInfo = {
  text: 'deploy approved by Ada',
  actor: 'Ada',
  planner: 'cli',
  at: '2026-12-03T21:00:00.000Z',
};

/** A crash-recovery record of `plan` as a forger writes it, asked by "Ada" (`more`: other fields). */
const forged = (
  plan: DeployPlan,
  pointerMoved: boolean,
  more: Partial<PendingDeploy> = {},
): PendingDeploy => ({
  plan,
  request: forgedRequest,
  startedAt: forgedRequest.at,
  pointerMoved,
  ...more,
});

/** Everything the S3 server was asked to change since `mark` (copies, puts, deletes), the deploy lock's own object left out. */
async function writesSince(s3: TestS3, mark: number) {
  await s3.settle();
  return s3.requests
    .slice(mark)
    .filter((r) => r.method !== 'GET' && r.method !== 'HEAD' && !r.key.includes('/locks/'))
    .map((r) => `${r.method} ${r.bucket}/${r.key}${r.query ? `?${r.query}` : ''}`);
}

const mark = async (s3: TestS3) => {
  await s3.settle();
  return s3.requests.length;
};

/** The words a TAMPERED refusal of a forged record must carry. */
function expectTamperedRefusal(error: Error & { code?: string }, object: string) {
  expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
  expect(error.message).toContain(object);
  expect(error.message).toMatch(/not written by FrontendOps/);
  expect(error.message).toMatch(/Nothing was changed/);
  expect(error.message).toMatch(/frontendops audit verify/);
  // The object by its name under the state prefix, never the bucket.
  expect(error.message).not.toMatch(/sophia-dashboard-build-artifacts|atomic-artifacts/);
}

describe('in place: a forged pending.json', () => {
  let t: TestDeployEnv;
  let site: Site;
  let manifests: Record<string, string[]>;
  /** V1, V2 and V3 deployed in turn, nothing forged: each case starts there (some finish or record what they forge). */
  let deployed: BucketSnapshot;

  beforeAll(async () => {
    t = await startDeployEnv({ stack: 'forged-pending' });
    site = t.site;
    for (const [i, commit] of [V1, V2, V3, V4].entries()) {
      const build = await writeFixtureBuild(join(t.tmp, `b${i}`), { version: `v${i + 1}` });
      await publishAsCi(site, { dir: build.dir, app: APP, commit });
    }
    for (const commit of [V1, V2, V3]) await deployArtifact(site, { app: APP, commit, request });
    manifests = {};
    for (const commit of [V1, V2, V3, V4]) {
      const manifest = await readManifest(site.artifacts, APP, commit);
      manifests[commit] = Object.keys(manifest?.files ?? {}).map((p) => p.slice(1));
    }
    deployed = await snapshotStack(site);
  }, 180_000);
  afterAll(() => t?.stop());
  beforeEach(() => deployed.restore());

  /** A plan FrontendOps would make for `commit` from what is live (a dry run), edited as a forger would. */
  async function planOf(commit: string, kind: 'deploy' | 'rollback', edit: Partial<DeployPlan> = {}) {
    const { plan } = await deployArtifact(site, { app: APP, commit, kind, dryRun: true, request });
    return { ...(plan as DeployPlan), ...edit };
  }
  /** The next deploy (of the live build) refuses TAMPERED, naming `object`, with nothing written. */
  async function deployRefusedOver(object: string) {
    const before = await mark(t.s3);
    const error = await refusal(deployArtifact(site, { app: APP, commit: V3, request }));
    expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
    expect(error.message).toContain(object);
    expect(await writesSince(t.s3, before)).toEqual([]);
  }
  const forge = (plan: DeployPlan, pointerMoved: boolean) =>
    site.records.writePending(forged(plan, pointerMoved));

  it('a stopped rollback to a build never live: verify says tampered; rollback refuses, nothing written', async () => {
    expect((await verifyAudit(site.state, t.target.statePrefix)).ok).toBe(true);
    await forge(await planOf(V4, 'rollback'), false);

    const verdict = await verifyAudit(site.state, t.target.statePrefix);
    expect(verdict.problems).toContainEqual(
      expect.objectContaining({
        kind: 'tampered',
        object: 'pending.json',
        reason: expect.stringContaining(`rollback to ${V4.slice(0, 7)}`),
      }),
    );
    expect(verdict.problems.filter((p) => p.kind === 'unfinished')).toEqual([]);

    const head = (await readAudit(site.state, t.target.statePrefix)).length;
    const before = await mark(t.s3);
    const error = await refusal(rollbackRelease(site, { request }));
    expectTamperedRefusal(error, 'pending.json');
    expect(error.message).toContain(`rollback to ${V4.slice(0, 7)}`);
    expect(error.message).toMatch(/never live/);
    expect(await writesSince(t.s3, before)).toEqual([]);
    expect((await site.records.readPointer())?.value.commit).toBe(V3);
    expect(await readPin(site)).toBeNull();
    expect(await readAudit(site.state, t.target.statePrefix)).toHaveLength(head);

    // Any change under the lock finds it too, and refuses alike, rather than recording it.
    const deploy = await refusal(deployArtifact(site, { app: APP, commit: V3, request }));
    expectTamperedRefusal(deploy, 'pending.json');
    expect(await writesSince(t.s3, before)).toEqual([]);
  });

  it('the same with its pointer "moved" and the live deploy id: refused, nothing written', async () => {
    const live = (await site.records.readPointer())?.value;
    await forge(await planOf(V4, 'rollback', { deployId: live?.deployId ?? '' }), true);
    expect((await verifyAudit(site.state, t.target.statePrefix)).problems).toContainEqual(
      expect.objectContaining({ kind: 'tampered', object: 'pending.json' }),
    );
    const before = await mark(t.s3);
    expectTamperedRefusal(await refusal(rollbackRelease(site, { request })), 'pending.json');
    expectTamperedRefusal(
      await refusal(deployArtifact(site, { app: APP, commit: V3, request })),
      'pending.json',
    );
    expect(await writesSince(t.s3, before)).toEqual([]);
    expect((await site.records.readPointer())?.value.commit).toBe(V3);
  });

  const pruned = {
    'a file of the live release (the plan its own target)': () =>
      manifests[V3]?.find((k) => k.startsWith('assets/index-') && k.endsWith('.js')) ?? '',
    'a file of a retained release the live one lacks': () =>
      manifests[V2]?.find((k) => !manifests[V3]?.includes(k)) ?? '',
    "the environment marker (FrontendOps' own)": () => '.frontendops/environment.json',
  };
  for (const [what, key] of Object.entries(pruned)) {
    it(`a "moved" pending of the live deploy whose prune names ${what}: refused, nothing deleted or recorded`, async () => {
      const live = (await site.records.readPointer())?.value;
      const name = key();
      expect(name).not.toBe('');
      expect((await site.hosting.head(name)) !== null).toBe(true);
      // The live deploy as it was made (from the release the pointer keeps before it), but its prune.
      const from = live?.releases[1];
      await forge(
        await planOf(V3, 'deploy', {
          deployId: live?.deployId ?? '',
          fromDeployId: from?.deployId ?? null,
          fromCommit: from?.commit ?? null,
          prune: [name],
          invalidationPaths: [],
        }),
        true,
      );
      const head = (await readAudit(site.state, t.target.statePrefix)).length;
      const before = await mark(t.s3);
      const error = await refusal(deployArtifact(site, { app: APP, commit: V3, request }));
      expectTamperedRefusal(error, 'pending.json');
      expect(error.message).toContain(name);
      expect(await writesSince(t.s3, before)).toEqual([]);
      expect(await site.hosting.head(name)).not.toBeNull();
      const entries = await readAudit(site.state, t.target.statePrefix);
      expect(entries).toHaveLength(head);
      expect(JSON.stringify(entries)).not.toContain('approved by Ada');
    });
  }

  /** Writes live.json as someone with the state bucket would, and puts the one before back when `run` ends. */
  async function withLivePointer(pointer: unknown, run: () => Promise<void>) {
    const key = `${t.target.statePrefix}live.json`;
    const before = (await site.state.get(key))?.body.toString('utf8') ?? '';
    await site.state.put(key, JSON.stringify(pointer), { contentType: 'application/json' });
    try {
      await run();
    } finally {
      await site.state.put(key, before, { contentType: 'application/json' });
    }
  }

  it('a "moved" deploy of a build never copied, with a live pointer to match: the re-run refuses to record it', async () => {
    // The reviewer's forgery: V4 (published, never live) said to have moved the pointer, and live.json
    // written to name it, its releases V4 then the ones kept; nothing copied to the hosting bucket.
    const plan = await planOf(V4, 'deploy', { prune: [], copies: [], invalidationPaths: [] });
    const live = (await site.records.readPointer())?.value;
    const ref = {
      deployId: plan.deployId,
      app: APP,
      commit: V4,
      artifactDigest: plan.artifactDigest,
      releasedAt: '2026-12-03T21:00:01.000Z',
    };
    await forge(plan, true);
    await withLivePointer({ ...ref, releases: [ref, ...(live?.releases ?? [])] }, async () => {
      expect((await verifyAudit(site.state, t.target.statePrefix)).ok).toBe(false);
      const head = (await readAudit(site.state, t.target.statePrefix)).length;
      const before = await mark(t.s3);
      const error = await refusal(deployArtifact(site, { app: APP, commit: V3, request }));
      expectTamperedRefusal(error, 'pending.json');
      expect(error.message).toMatch(/the hosting bucket's index\.html is not that build's/);
      expect(await writesSince(t.s3, before)).toEqual([]);
      expect(await readAudit(site.state, t.target.statePrefix)).toHaveLength(head);
      expect(await site.records.readRecord(plan.deployId)).toBeNull();
    });
  });

  it('a "moved" deploy whose build is not the one published, or whose pointer lists other releases first: refused', async () => {
    const plan = await planOf(V3, 'deploy', { prune: [], invalidationPaths: [] });
    const live = (await site.records.readPointer())?.value;
    const zero = `sha256:${'0'.repeat(64)}`;
    const ref = { deployId: plan.deployId, app: APP, commit: V3, releasedAt: '2026-12-03T21:00:01.000Z' };
    // Another digest than the build published for V3, in the record and the pointer alike.
    await forge({ ...plan, artifactDigest: zero }, true);
    await withLivePointer(
      { ...ref, artifactDigest: zero, releases: [{ ...ref, artifactDigest: zero }] },
      async () => {
        const before = await mark(t.s3);
        const error = await refusal(deployArtifact(site, { app: APP, commit: V3, request }));
        expectTamperedRefusal(error, 'pending.json');
        expect(error.message).toMatch(/not a build published for it/);
        expect(await writesSince(t.s3, before)).toEqual([]);
      },
    );
    // Its release list beginning with another release: verify does not excuse it, so no change starts.
    await forge(plan, true);
    const pointer = { ...ref, artifactDigest: plan.artifactDigest, releases: live?.releases.slice(1) ?? [] };
    await withLivePointer(pointer, async () => {
      expect((await verifyAudit(site.state, t.target.statePrefix)).problems).toContainEqual(
        expect.objectContaining({ kind: 'tampered', object: 'live.json' }),
      );
      const before = await mark(t.s3);
      const error = await refusal(deployArtifact(site, { app: APP, commit: V3, request }));
      expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
      expect(await writesSince(t.s3, before)).toEqual([]);
    });
  });

  it('a "moved" record of the live build whose pointer keeps another build under a kept release\'s id: refused', async () => {
    // The second review: V3's index.html is in place, so the finish's own checks pass, and the pointer's
    // other releases were bound as stored: one saying V2's deploy id was V4 sent `rollback` to V4, pinned.
    const plan = await planOf(V3, 'deploy', { prune: [], copies: [], invalidationPaths: [] });
    const live = (await site.records.readPointer())?.value;
    const v2 = live?.releases.find((r) => r.commit === V2);
    expect(v2).toBeDefined();
    const ref = {
      deployId: plan.deployId,
      app: APP,
      commit: V3,
      artifactDigest: plan.artifactDigest,
      releasedAt: '2026-12-03T21:00:01.000Z',
    };
    const v4 = { ...v2, commit: V4, artifactDigest: (await planOf(V4, 'deploy')).artifactDigest };
    await forge(plan, true);
    await withLivePointer({ ...ref, releases: [ref, v4] }, async () => {
      const verdict = await verifyAudit(site.state, t.target.statePrefix);
      expect(verdict.problems).toContainEqual(
        expect.objectContaining({
          kind: 'tampered',
          object: 'live.json',
          reason: expect.stringContaining(`${v2?.deployId} as ${V4.slice(0, 7)}`),
        }),
      );
      await deployRefusedOver('live.json');
    });
  });

  it('a record of the live deploy asking to be pinned, as a rollback is: no pin', async () => {
    // The third review: "moved", of the live deploy, kind deploy, pinOnSuccess, a request by "Ada": the
    // next deploy pinned the stack to it by Ada, and every later deploy was refused PINNED.
    const live = (await site.records.readPointer())?.value;
    const plan = await planOf(V3, 'deploy', {
      deployId: live?.deployId ?? '',
      prune: [],
      copies: [],
      invalidationPaths: [],
    });
    await site.records.writePending(forged(plan, true, { pinOnSuccess: true }));
    const head = (await readAudit(site.state, t.target.statePrefix)).length;
    await deployArtifact(site, { app: APP, commit: V3, request }).catch(() => undefined);
    expect(await readPin(site)).toBeNull();
    const added = (await readAudit(site.state, t.target.statePrefix)).slice(head);
    expect(added.map((e) => e.type)).not.toContain('pin');
    expect(JSON.stringify(added)).not.toContain('approved by Ada');
  });

  it('a record of a deploy never live, with a deployment record written to vouch for it: refused', async () => {
    // Records are bound only once their entry is written; one written around the chain was taken as
    // proof that the deploy went live, then bound with its facts (succeeded, asked by Ada).
    const plan = await planOf(V4, 'deploy', { prune: [], copies: [], invalidationPaths: [] });
    const pending: PendingDeploy = forged(plan, true);
    const remove = await forgeRecord(pending);
    try {
      await site.records.writePending(pending);
      const head = (await readAudit(site.state, t.target.statePrefix)).length;
      const before = await mark(t.s3);
      const error = await refusal(deployArtifact(site, { app: APP, commit: V3, request }));
      expectTamperedRefusal(error, 'pending.json');
      expect(error.message).toMatch(/never had live/);
      expect(await writesSince(t.s3, before)).toEqual([]);
      const entries = await readAudit(site.state, t.target.statePrefix);
      expect(entries).toHaveLength(head);
      expect(JSON.stringify(entries)).not.toContain(plan.deployId);
    } finally {
      await remove();
    }
  });

  it('a deploy recorded as superseded never went live: a pointer keeping it is tampered', async () => {
    // A stopped deploy of V4 is recorded superseded by the next deploy; a pointer then keeping V4
    // under that deploy id was excused, and `rollback` went to V4.
    const v4 = await planOf(V4, 'deploy');
    await forge(v4, false);
    await deployArtifact(site, { app: APP, commit: V3, request });
    const superseded = (await readAudit(site.state, t.target.statePrefix)).find(
      (e) => e.data.deployId === v4.deployId,
    );
    expect(superseded?.data.outcome).toBe('superseded');
    const live = (await site.records.readPointer())?.value;
    const plan = await planOf(V3, 'deploy', {
      deployId: live?.deployId ?? '',
      prune: [],
      copies: [],
      invalidationPaths: [],
    });
    await forge(plan, true);
    const kept = {
      deployId: v4.deployId,
      app: APP,
      commit: V4,
      artifactDigest: v4.artifactDigest,
      releasedAt: '2026-12-03T21:00:01.000Z',
    };
    await withLivePointer({ ...live, releases: [live?.releases[0], kept] }, async () => {
      expect((await verifyAudit(site.state, t.target.statePrefix)).problems).toContainEqual(
        expect.objectContaining({
          kind: 'tampered',
          object: 'live.json',
          reason: expect.stringContaining(`${v4.deployId} as ${V4.slice(0, 7)}`),
        }),
      );
      const before = await mark(t.s3);
      expect(
        isFrontendOpsError(
          await refusal(deployArtifact(site, { app: APP, commit: V3, request })),
          'TAMPERED',
        ),
      ).toBe(true);
      expect(await writesSince(t.s3, before)).toEqual([]);
    });
  });

  /** A deployment record of `pending`'s deploy ("succeeded" unless said), written around the chain (with its history row). */
  async function forgeRecord(pending: PendingDeploy, outcome: 'succeeded' | 'superseded' = 'succeeded') {
    const record = deploymentRecord(pending, new Date('2026-12-03T21:00:05.000Z'), {
      copied: [],
      deleted: [],
      invalidation: null,
      verification: null,
      outcome,
    });
    await site.records.writeRecord(record);
    return async () => {
      const prefix = t.target.statePrefix;
      const rows = (await site.state.list(`${prefix}history/`))
        .map((o) => o.key)
        .filter((k) => k.endsWith(record.deployId));
      await site.state.delete([`${prefix}deployments/${record.deployId}.json`, ...rows]);
    };
  }

  it('a stopped deploy never live, with a "succeeded" record written for it: not bound as recorded, refused', async () => {
    // The fourth review: the next change recorded it superseded, kept the forged record and bound it.
    const pending: PendingDeploy = forged(await planOf(V4, 'deploy'), false);
    const remove = await forgeRecord(pending);
    try {
      await site.records.writePending(pending);
      const head = (await readAudit(site.state, t.target.statePrefix)).length;
      const error = await refusal(deployArtifact(site, { app: APP, commit: V3, request }));
      expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
      expect(error.message).toMatch(/was already there, and is not this deploy's/);
      const entries = await readAudit(site.state, t.target.statePrefix);
      expect(entries).toHaveLength(head);
      // Nor does `rollback --to` take a record the chain does not bind as a release the stack had.
      await site.records.clearPending();
      const to = await refusal(rollbackRelease(site, { to: pending.plan.deployId, request }));
      expect(isFrontendOpsError(to, 'NOT_FOUND'), String(to)).toBe(true);
      expect((await site.records.readPointer())?.value.commit).toBe(V3);
    } finally {
      await remove();
    }
  });

  it('a stopped deploy, with a "superseded" record of it written around the chain naming Ada and her approval: refused', async () => {
    // Kept as "a deploy stopped twice" before: the entry binding it carried the forged request as
    // FrontendOps' own, and an approval nobody used, which verify then called tampered for good.
    const plan = await planOf(V4, 'deploy');
    await site.records.writePending({ plan, request, startedAt: request.at, pointerMoved: false });
    const remove = await forgeRecord(
      forged(plan, false, { approval: { nonce: 'n-123456789012345678901', by: 'Ada', via: 'signed' } }),
      'superseded',
    );
    try {
      const head = (await readAudit(site.state, t.target.statePrefix)).length;
      const error = await refusal(deployArtifact(site, { app: APP, commit: V3, request }));
      expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
      expect(error.message).toMatch(/was already there, and is not this deploy's/);
      const entries = await readAudit(site.state, t.target.statePrefix);
      expect(entries).toHaveLength(head);
    } finally {
      await remove();
    }
    // Once it is removed (as the refusal says), the stopped deploy is recorded as it was.
    await deployArtifact(site, { app: APP, commit: V3, request });
    expect(await site.records.readRecord(plan.deployId)).toMatchObject({ outcome: 'superseded', request });
    expect((await verifyAudit(site.state, t.target.statePrefix)).problems).toEqual([]);
  });

  it('the same deploy stopped twice, under two requests: recorded superseded twice, as first recorded', async () => {
    const plan = await planOf(V4, 'deploy');
    const other: RequestInfo = { ...request, text: 'deploy v4 again', at: new Date().toISOString() };
    for (const asked of [request, other]) {
      await site.records.writePending({ plan, request: asked, startedAt: asked.at, pointerMoved: false });
      await deployArtifact(site, { app: APP, commit: V3, request });
    }
    const entries = (await readAudit(site.state, t.target.statePrefix)).filter(
      (e) => e.data.deployId === plan.deployId,
    );
    expect(entries.map((e) => [e.data.outcome, (e.data.request as RequestInfo).text])).toEqual([
      ['superseded', request.text],
      ['superseded', request.text],
    ]);
    expect((await verifyAudit(site.state, t.target.statePrefix)).problems).toEqual([]);
  });

  it('invalidate_cdn for a deploy nothing is pending for, whose record was written around the chain: refused', async () => {
    // Answered as FrontendOps' before: the agent told "succeeded" of a deploy nobody made.
    const pending: PendingDeploy = forged(await planOf(V4, 'deploy'), false);
    const remove = await forgeRecord(pending);
    try {
      const before = await mark(t.s3);
      const error = await refusal(finishSyncedDeploy(site, pending.plan.deployId, { request }));
      expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
      expect(error.message).toContain(`deployments/${pending.plan.deployId}.json`);
      expect(error.message).toMatch(/no audit entry records it/);
      expect(await writesSince(t.s3, before)).toEqual([]);
    } finally {
      await remove();
    }
    // One the chain records, asked again (its answer was lost): its record, as before.
    const live = (await site.records.readPointer())?.value.deployId ?? '';
    const { record } = await finishSyncedDeploy(site, live, { request });
    expect(record).toMatchObject({ deployId: live, commit: V3 });
  });

  it('a stopped rollback to a build never live, vouched for by a record written around the chain: refused', async () => {
    const plan = await planOf(V4, 'rollback');
    const remove = await forgeRecord(forged(plan, false));
    try {
      await forge(plan, false);
      const error = await refusal(rollbackRelease(site, { request }));
      expectTamperedRefusal(error, 'pending.json');
      expect(error.message).toMatch(/never live/);
      expect((await site.records.readPointer())?.value.commit).toBe(V3);
      expect(await readPin(site)).toBeNull();
    } finally {
      await remove();
    }
  });

  it('a stopped deploy naming an approval nobody used, or an error that is not text: recorded superseded without them', async () => {
    const plan = await planOf(V4, 'deploy');
    await site.records.writePending(
      forged(plan, false, {
        approval: { nonce: 'n-123456789012345678901', by: 'Ada', via: 'signed' },
        stoppedBy: { code: 'UPSTREAM', message: { toString: 1 } } as unknown as PendingDeploy['stoppedBy'],
      }),
    );
    await deployArtifact(site, { app: APP, commit: V3, request });
    const record = await site.records.readRecord(plan.deployId);
    expect(record).toMatchObject({ outcome: 'superseded', error: { code: 'INTERRUPTED' } });
    expect(record?.approval).toBeUndefined();
    expect((await verifyAudit(site.state, t.target.statePrefix)).problems).toEqual([]);
  });

  it('verify: a pending record of one deploy does not excuse a live pointer put back to another release', async () => {
    // A deploy of V4 said to have stopped before its pointer moved; live.json put back to V2 by hand.
    await forge(await planOf(V4, 'deploy'), false);
    const v2 = (await site.records.readPointer())?.value.releases.find((r) => r.commit === V2);
    expect(v2).toBeDefined();
    await withLivePointer({ ...v2, releases: [v2] }, async () => {
      const verdict = await verifyAudit(site.state, t.target.statePrefix);
      expect(verdict.problems).toContainEqual(
        expect.objectContaining({ kind: 'tampered', object: 'live.json' }),
      );
      expect(verdict.problems.filter((p) => p.kind === 'unfinished')).toEqual([]);
      await deployRefusedOver('live.json');
    });
  });

  it('once the record is removed (as the refusal says), verify passes and rollback goes to the previous release', async () => {
    await forge(await planOf(V4, 'rollback'), false);
    const error = await refusal(rollbackRelease(site, { request }));
    expect(error.message).toMatch(/delete pending\.json/);
    await site.state.delete([`${t.target.statePrefix}pending.json`]);
    expect((await verifyAudit(site.state, t.target.statePrefix)).ok).toBe(true);
    const back = await rollbackRelease(site, { request });
    expect(back.commit).toBe(V2);
    expect((await readPin(site))?.commit).toBe(V2);
    expect((await verifyAudit(site.state, t.target.statePrefix)).problems).toEqual([]);
  });
});

describe('in place: a genuine interrupted rollback or deploy is still finished', () => {
  let t: TestDeployEnv;
  /** V2 live after V1; then rolled back to V1, as the first case does: the cases start there. */
  let twoDeployed: BucketSnapshot;
  let rolledBack: BucketSnapshot;
  beforeAll(async () => {
    t = await startDeployEnv({ stack: 'forged-pending-genuine' });
    await publishFixtureBuilds(t, APP, [V1, V2, V3, V4]);
    await deployArtifact(t.site, { app: APP, commit: V1, request });
    await deployArtifact(t.site, { app: APP, commit: V2, request });
    twoDeployed = await snapshotStack(t.site);
    await rollbackRelease(t.site, { request });
    rolledBack = await snapshotStack(t.site);
  }, 180_000);
  afterAll(() => t?.stop());

  it('a rollback stopped after its switch: verify says unfinished, the re-run finishes it and says it was finished from pending.json', async () => {
    await twoDeployed.restore();
    const { site } = t;
    const prefix = t.target.statePrefix;
    // Stopped at the entry that vouches for the moved pointer: live.json is the rollback's, unbound.
    const stopping = stoppingSite(
      site,
      (key, body) => /\/audit\/\d{10}\.json$/.test(key) && /"type":"release"/.test(String(body)),
    );
    await expect(rollbackRelease(stopping, { request })).rejects.toThrow(/stopped/);
    expect((await site.records.readPointer())?.value.commit).toBe(V1);
    const stopped = await site.records.readPending();
    expect(stopped?.plan.kind).toBe('rollback');
    const verdict = await verifyAudit(site.state, prefix);
    expect(verdict.problems).toContainEqual(
      expect.objectContaining({ kind: 'unfinished', object: 'live.json' }),
    );
    expect(verdict.problems.map((p) => p.kind)).not.toContain('tampered');

    const again = await rollbackRelease(site, { request: { ...request, actor: 'rm-bob' } });
    expect(again.commit).toBe(V1);
    expect((await readPin(site))?.commit).toBe(V1);
    expect((await verifyAudit(site.state, prefix)).problems).toEqual([]);
    // What was finished from the crash-recovery record keeps its request, marked as read back from it.
    const record = await site.records.readRecord(stopped?.plan.deployId ?? '');
    expect(record?.request).toMatchObject({ actor: 'rm-alice', resumedFrom: 'pending.json' });
    const entry = (await readAudit(site.state, prefix)).find(
      (e) => e.type === 'rollback' && e.data.deployId === stopped?.plan.deployId,
    );
    expect(entry?.data.request).toMatchObject({ actor: 'rm-alice', resumedFrom: 'pending.json' });
    const release = (await readAudit(site.state, prefix)).find(
      (e) => e.type === 'release' && e.data.deployId === stopped?.plan.deployId,
    );
    expect(release?.data).toMatchObject({ actor: 'rm-alice', resumedFrom: 'pending.json' });
  });

  it('a deploy stopped after its prune is finished by the next deploy; a deploy run straight through is not marked', async () => {
    await rolledBack.restore();
    const { site } = t;
    const prefix = t.target.statePrefix;
    // Live: V1 (the rollback), retained V2 and V1's first deploy. V3 keeps all three; V4 drops V2.
    await deployArtifact(site, { app: APP, commit: V3, request, pin: 'clear' });
    const stopping = stoppingSite(site, (key) => /\/deployments\/[^/]+\.json$/.test(key));
    await expect(deployArtifact(stopping, { app: APP, commit: V4, request })).rejects.toThrow(/stopped/);
    const stopped = await site.records.readPending();
    expect(stopped?.pointerMoved).toBe(true);
    // A genuine prune (V2's own files) passes the check when it is finished.
    expect(stopped?.plan.prune.length).toBeGreaterThan(0);
    const next = await deployArtifact(site, { app: APP, commit: V4, request });
    expect(next.commit).toBe(V4);
    const record = await site.records.readRecord(stopped?.plan.deployId ?? '');
    expect(record).toMatchObject({ outcome: 'succeeded', request: { resumedFrom: 'pending.json' } });
    const straight = (await site.records.listRecords()).records.find((r) => r.commit === V2);
    expect(straight?.request).not.toHaveProperty('resumedFrom');
    expect((await verifyAudit(site.state, prefix)).problems).toEqual([]);
  });
});

describe('in place: a deployment recorded again', () => {
  let t: TestDeployEnv;
  beforeAll(async () => {
    t = await startDeployEnv({ stack: 'recorded-again' });
    const build = await writeFixtureBuild(join(t.tmp, 'b'), { version: 'v1' });
    await publishAsCi(t.site, { dir: build.dir, app: APP, commit: V1 });
  }, 180_000);
  afterAll(() => t?.stop());

  it('the record stays as first written, and the entry binding it again says what it says', async () => {
    // A finish run again from a crash-recovery record (which anyone with the state bucket can write)
    // made its own outcome: a failed deployment's second entry said "succeeded" beside the failed record.
    const { plan } = await deployArtifact(t.site, { app: APP, commit: V1, dryRun: true, request });
    const pending: PendingDeploy = {
      plan: plan as DeployPlan,
      request,
      startedAt: new Date().toISOString(),
      pointerMoved: true,
    };
    const facts = { copied: [], deleted: [], invalidation: null, verification: null };
    const failed = deploymentRecord(pending, new Date(), {
      ...facts,
      outcome: 'failed',
      error: { code: 'VERIFY_FAILED', message: 'The CDN did not serve it.' },
    });
    const first = await recordDeployment(t.site, failed);
    const again = await recordDeployment(
      t.site,
      deploymentRecord(pending, new Date(), { ...facts, outcome: 'succeeded' }),
    );
    expect(again.objects).toEqual(first.objects);
    expect(again.data).toMatchObject({ outcome: 'failed', error: { code: 'VERIFY_FAILED' } });
    expect((await t.site.records.readRecord(plan.deployId))?.outcome).toBe('failed');
  });
});
