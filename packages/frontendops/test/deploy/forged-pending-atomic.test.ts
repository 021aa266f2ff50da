/**
 * Forged crash-recovery records on an atomic stack (see forged-pending.test.ts for in place): an
 * atomic/pending.json naming a stopped rollback to a build that was published but never live, as the
 * deployer role can write one. Before, `rollback` with no destination went to that build, pinned it,
 * and `audit verify` passed. Now it refuses TAMPERED with nothing written, and verify says tampered;
 * a genuine stopped atomic rollback still finishes, its record saying it was finished from the
 * pending record.
 */
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deploymentRecord } from '../../src/deploy/apply.ts';
import { releaseIndexOf } from '../../src/deploy/atomic-apply.ts';
import { deployArtifact, finishSyncedDeploy, rollbackRelease } from '../../src/deploy/deploy.ts';
import { assertAtomicPendingSound } from '../../src/deploy/live.ts';
import { previewLink } from '../../src/deploy/preview.ts';
import { readManifest } from '../../src/deploy/publish.ts';
import { releaseIdFor } from '../../src/engine/atomic-plan.ts';
import { artifactDigest } from '../../src/engine/manifest.ts';
import type { DeployPlan } from '../../src/engine/plan.ts';
import type { Manifest } from '../../src/engine/types.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import type { Site } from '../../src/site.ts';
import type { AtomicPending } from '../../src/state/atomic.ts';
import { readAudit, stateDigest, verifyAudit } from '../../src/state/audit.ts';
import { readPin } from '../../src/state/pin.ts';
import { APP, type AtomicEnv, deployedAtomicEnvFor, request, startAtomicEnv } from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import { refusal } from '../support/refusal.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const [V1, V2, V3, V4] = [
  'a1a1a1a1a1a1a1a1a1a1',
  'b2b2b2b2b2b2b2b2b2b2',
  'c3c3c3c3c3c3c3c3c3c3',
  'd4d4d4d4d4d4d4d4d4d4',
] as const;

/** What the S3 server was asked to change since `mark` (copies, puts, deletes), the deploy lock's own object left out. */
const writesSince = async (t: AtomicEnv, mark: number) =>
  (await t.requestsSince(mark)).filter(
    (r) => r.method !== 'GET' && r.method !== 'HEAD' && !r.key.includes('/locks/'),
  );

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

  const putForged = () =>
    site.state.put(pendingKey(), JSON.stringify(forged()), { contentType: 'application/json' });
  /** V3 live after V2; then the forged record written, as the first case writes it: the cases start there. */
  let deployed: AtomicSnapshot;
  let forgedHere: AtomicSnapshot;

  beforeAll(async () => {
    t = await startAtomicEnv({ stack: 'forged-pending-atomic' });
    site = t.site;
    await t.publishVersions([V2, V3, V4], 2);
    for (const commit of [V2, V3]) await deployArtifact(site, { app: APP, commit, request: request() });
    deployed = await snapshotAtomicEnv(t);
    await putForged();
    forgedHere = await snapshotAtomicEnv(t);
  }, 180_000);
  afterAll(() => t?.stop());

  it('verify says tampered; rollback with no destination refuses TAMPERED and writes nothing', async () => {
    await deployed.restore();
    expect((await verifyAudit(site.state, t.target.statePrefix)).ok).toBe(true);
    await putForged();

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
    expect(await writesSince(t, mark)).toEqual([]);
    expect((await t.store().read()).value).toEqual(pointer);
    expect((await site.records.readPointer())?.value).toEqual(live);
    expect(await readPin(site)).toBeNull();
    expect(await readAudit(site.state, t.target.statePrefix)).toHaveLength(head);
  });

  it('the check the atomic settle calls refuses it too, before anything is written', async () => {
    await forgedHere.restore();
    const pending = (await site.state.get(pendingKey()))?.body.toString('utf8');
    expect(pending).toBeDefined();
    const error = await refusal(assertAtomicPendingSound(site, JSON.parse(pending ?? '') as AtomicPending));
    expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
    expect(error.message).toContain(`rollback to ${V4.slice(0, 7)}`);
  });

  it('a "switched" deploy of a build the live pointer does not have live is refused by that check too', async () => {
    await forgedHere.restore();
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
    await forgedHere.restore();
    const mark = await t.mark();
    const error = await refusal(deployArtifact(site, { app: APP, commit: V3, request: request() }));
    expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
    expect(await writesSince(t, mark)).toEqual([]);
  });

  it('removed, verify passes and rollback goes to the previous release', async () => {
    await forgedHere.restore();
    await site.state.delete([pendingKey()]);
    expect((await verifyAudit(site.state, t.target.statePrefix)).ok).toBe(true);
    const back = await rollbackRelease(site, { request: request() });
    expect(back.commit).toBe(V2);
    expect((await readPin(site))?.commit).toBe(V2);
  });
});

describe('atomic: a genuine rollback stopped after its switch', () => {
  const env = deployedAtomicEnvFor(
    { propagationMs: 25, stack: 'forged-pending-atomic-genuine' },
    [V1, V2],
    2,
  );

  it('verify says unfinished (never tampered); the re-run finishes it, marked as finished from the pending record', async () => {
    const t = env();
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

/**
 * A forged "switched" record does not need to name a rollback: a canary start, whose switch changes
 * nothing live, was finished from whatever the record said, and its entry bound the state and release
 * index the record named (digests from an object no entry binds). The reviewer's forgery: a state
 * naming V4 (published, never live) as a 50% canary, a release index for it saying its index.html is
 * a page nobody published, and a record saying a canary start of V4 switched. `deploy` of the live
 * build "finished" it (verify passed after), and `canary promote` then served that page to everyone.
 */
describe('atomic: a forged "switched" canary start, with the state and release index it would have a finish bind', () => {
  let t: AtomicEnv;
  let site: Site;
  let digest4: string;
  let R4: string;
  let stateBefore: string;
  const D4 = `${V4.slice(0, 7)}-0123456789`;
  const prefix = () => t.target.statePrefix;
  const forgedRequest = {
    text: 'canary approved by Ada',
    actor: 'Ada',
    planner: 'cli',
    at: '2026-12-03T21:00:00.000Z',
  };
  const evilPage = '<html><body>EVIL</body></html>';

  beforeAll(async () => {
    t = await startAtomicEnv({ stack: 'forged-switched-canary' });
    site = t.site;
    await t.publishVersions([V2, V3, V4], 2);
    for (const commit of [V2, V3]) await deployArtifact(site, { app: APP, commit, request: request() });
    digest4 = artifactDigest((await readManifest(site.artifacts, APP, V4)) as Manifest);
    R4 = releaseIdFor({ commit: V4, artifactDigest: digest4 });
    stateBefore = (await site.state.get(`${prefix()}atomic/state.json`))?.body.toString('utf8') ?? '';
  }, 180_000);
  afterAll(() => t?.stop());
  afterEach(async () => {
    await site.state.delete([`${prefix()}atomic/pending.json`, `${prefix()}atomic/releases/${R4}.json`]);
    await site.state.put(`${prefix()}atomic/state.json`, stateBefore, { contentType: 'application/json' });
    expect((await verifyAudit(site.state, prefix())).problems).toEqual([]);
  });

  /** Writes the forgery: the state with V4 as a canary of `weight`, V4's index, and a switched record. */
  async function forge(options: {
    pointerAfter: Record<string, unknown>;
    weight?: number;
    index: 'made-up' | 'genuine';
    switched?: boolean;
    /** Whether atomic/state.json is written with the canary (the record alone, when not). */
    state?: boolean;
  }) {
    const served = (await t.store().read()).value as Record<string, unknown>;
    const state = {
      canary: {
        deployId: D4,
        releaseId: R4,
        app: APP,
        commit: V4,
        artifactDigest: digest4,
        weight: options.weight ?? 50,
        startedAt: '2026-12-03T21:00:00.000Z',
        request: forgedRequest,
      },
      previews: [],
      retiring: [],
    };
    const manifest = (await readManifest(site.artifacts, APP, V4)) as Manifest;
    const ref = { releaseId: R4, app: APP, commit: V4, artifactDigest: digest4 };
    const index =
      options.index === 'genuine'
        ? releaseIndexOf(ref, manifest, '2026-12-03T21:00:00.000Z')
        : {
            ...ref,
            files: ['/index.html'],
            assets: 0,
            indexSha256: createHash('sha256').update(evilPage).digest('hex'),
            uploadedAt: '2026-12-03T21:00:00.000Z',
          };
    const indexName = `atomic/releases/${R4}.json`;
    if (options.state !== false) {
      await site.state.put(`${prefix()}atomic/state.json`, JSON.stringify(state), {
        contentType: 'application/json',
      });
    }
    await site.state.put(`${prefix()}${indexName}`, JSON.stringify(index), {
      contentType: 'application/json',
    });
    const pending = {
      op: 'canary-start',
      plan: {
        op: 'canary-start',
        kind: 'deploy',
        stack: t.target.stack,
        deployId: D4,
        app: APP,
        commit: V4,
        artifactDigest: digest4,
        releaseId: R4,
        liveChanges: false,
        inPlace: true,
        verify: { indexSha256: null },
        pointerBefore: served,
        pointerAfter: { ...served, ...options.pointerAfter },
        copies: [],
        prune: [],
        canaryAfter: { deployId: D4, releaseId: R4, weight: 50 },
        leaving: { releaseIds: [], root: false },
      },
      request: forgedRequest,
      startedAt: '2026-12-03T21:00:00.000Z',
      switched: options.switched ?? true,
      stateDigest: stateDigest(state),
      indexes: { [indexName]: stateDigest(index) },
    };
    await site.state.put(`${prefix()}atomic/pending.json`, JSON.stringify(pending), {
      contentType: 'application/json',
    });
  }

  /**
   * The next deploy (of the live build) refuses TAMPERED, saying `why`, with nothing written. By the
   * record itself, or (`byState`) by the lock's check, before the record is read: a record whose
   * switch the release store does not serve excuses no atomic/state.json (state/audit.ts).
   */
  async function refusedWithNothingWritten(why: RegExp, byState = false) {
    const pointer = (await t.store().read()).value;
    const head = (await readAudit(site.state, prefix())).length;
    const mark = await t.mark();
    const error = await refusal(deployArtifact(site, { app: APP, commit: V3, request: request() }));
    expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
    expect(error.message).toContain(byState ? 'atomic/state.json' : 'atomic/pending.json');
    expect(error.message).toMatch(why);
    expect(error.message).toMatch(byState ? /changed outside FrontendOps/ : /not written by FrontendOps/);
    expect(await writesSince(t, mark)).toEqual([]);
    expect((await t.store().read()).value).toEqual(pointer);
    const entries = await readAudit(site.state, prefix());
    expect(entries).toHaveLength(head);
    expect(JSON.stringify(entries)).not.toContain('approved by Ada');
  }

  it("the reviewer's forgery (its switch sends nobody to the canary): refused, nothing written or bound", async () => {
    await forge({ pointerAfter: {}, index: 'made-up' });
    // Its "switch" is what the store already serves, no switch of its own: the lock's check refuses
    // the forged state before the record is read (before, the record was refused: "does not send that
    // share of visitors to it").
    await refusedWithNothingWritten(/changed outside FrontendOps/, true);
  });

  it('its switch said to send 50% to V4, which the release store does not name: refused', async () => {
    await forge({ pointerAfter: { canary: R4, weight: 50 }, index: 'genuine' });
    // Before, the lock's check let the forged state through on the record's word, and the settle refused
    // the record ("the CDN's release store does not name what its switch wrote"); now the check does.
    await refusedWithNothingWritten(
      /its switch is not what the CDN's release store serves|changed outside/,
      true,
    );
  });

  it('a record stopped before its switch, naming a release index nobody made from V4: refused', async () => {
    // Dropped as superseded, it bound the indexes it names: this one says index.html is a page nobody published.
    // With the state it would write after its switch, it is refused by the lock's check, before the
    // record is read: no switch wrote that state (the release store serves none).
    await forge({ pointerAfter: { canary: R4, weight: 50 }, index: 'made-up', switched: false });
    await refusedWithNothingWritten(/changed outside FrontendOps/, true);
    // The record and its index alone: the record is refused for the index.
    await site.state.put(`${prefix()}atomic/state.json`, stateBefore, { contentType: 'application/json' });
    await forge({
      pointerAfter: { canary: R4, weight: 50 },
      index: 'made-up',
      switched: false,
      state: false,
    });
    await refusedWithNothingWritten(
      /release index .* is not one FrontendOps makes for it from that build's published manifest/,
    );
  });

  it('where the release store does name the switch, a state naming another share than it: refused', async () => {
    const served = await t.store().read();
    const pointerAfter = { canary: R4, weight: 50 };
    await forge({ pointerAfter, weight: 99, index: 'genuine' });
    await t.store().write({ ...(served.value as object), ...pointerAfter } as never, served.etag);
    try {
      await refusedWithNothingWritten(/whose state names another canary than its switch sends visitors to/);
    } finally {
      const now = await t.store().read();
      await t.store().write(served.value as NonNullable<typeof served.value>, now.etag);
    }
  });

  it('a "switched" canary abort of a canary the chain never had running, whose switch is what the store serves: refused', async () => {
    // Last stop's second review: an abort changes nothing visitors get once done, so a record of one
    // matching the store was recorded as an abort, with its request, of a canary nobody started.
    const served = (await t.store().read()).value as Record<string, unknown>;
    const state = JSON.parse(stateBefore);
    const pending = {
      op: 'canary-abort',
      plan: {
        op: 'canary-abort',
        kind: 'deploy',
        stack: t.target.stack,
        deployId: D4,
        app: APP,
        commit: V4,
        artifactDigest: digest4,
        releaseId: R4,
        liveChanges: false,
        inPlace: true,
        verify: { indexSha256: null },
        pointerBefore: { ...served, canary: R4, weight: 50 },
        pointerAfter: served,
        copies: [],
        prune: [],
        canaryAfter: null,
        leaving: { releaseIds: [R4], root: false },
      },
      request: forgedRequest,
      startedAt: '2026-12-03T21:00:00.000Z',
      switched: true,
      stateDigest: stateDigest(state),
    };
    await site.state.put(`${prefix()}atomic/pending.json`, JSON.stringify(pending), {
      contentType: 'application/json',
    });
    await refusedWithNothingWritten(/records no canary of it running to abort/);
  });

  /** Puts `key` (under the state prefix) back as it was when `run` ends. */
  async function keeping(name: string, run: () => Promise<void>) {
    const key = `${prefix()}${name}`;
    const before = (await site.state.get(key))?.body.toString('utf8');
    try {
      await run();
    } finally {
      if (before === undefined) await site.state.delete([key]);
      else await site.state.put(key, before, { contentType: 'application/json' });
    }
  }

  /** A record of the live build's deploy, stopped before its switch, whose switch the store already names. */
  async function stoppedLiveDeploy(more: Record<string, unknown> = {}) {
    const live = (await site.records.readPointer())?.value;
    const served = (await t.store().read()).value as Record<string, unknown>;
    const plan = {
      op: 'deploy',
      kind: 'deploy',
      stack: t.target.stack,
      deployId: live?.deployId,
      app: APP,
      commit: V3,
      artifactDigest: live?.artifactDigest,
      releaseId: served.live,
      liveChanges: true,
      inPlace: false,
      verify: { indexSha256: null },
      // The release the live pointer keeps before it: what a switch that went live is held to.
      pointerBefore: { live: live?.releases[1] ? releaseIdFor(live.releases[1]) : 'zzz' },
      pointerAfter: served,
      copies: [],
      prune: [],
      leaving: { releaseIds: [], root: false },
    };
    const pending = {
      op: 'deploy',
      plan,
      request: forgedRequest,
      startedAt: '2026-12-03T21:00:00.000Z',
      switched: false,
      ...more,
    };
    await site.state.put(`${prefix()}atomic/pending.json`, JSON.stringify(pending), {
      contentType: 'application/json',
    });
  }

  it("a pointer keeping another build under a kept release's id, excused by a record of the live deploy: tampered, refused", async () => {
    await keeping('live.json', async () => {
      const live = (await site.records.readPointer())?.value;
      const v2 = live?.releases.find((r) => r.commit === V2);
      expect(v2).toBeDefined();
      const edited = {
        ...live,
        releases: [live?.releases[0], { ...v2, commit: V4, artifactDigest: digest4 }],
      };
      await site.state.put(`${prefix()}live.json`, JSON.stringify(edited), {
        contentType: 'application/json',
      });
      await stoppedLiveDeploy();
      expect((await verifyAudit(site.state, prefix())).problems).toContainEqual(
        expect.objectContaining({
          kind: 'tampered',
          object: 'live.json',
          reason: expect.stringContaining(`${v2?.deployId} as ${V4.slice(0, 7)}`),
        }),
      );
      const mark = await t.mark();
      const error = await refusal(deployArtifact(site, { app: APP, commit: V3, request: request() }));
      expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
      expect(await writesSince(t, mark)).toEqual([]);
    });
  });

  it("a record naming another release's index, or a prune of a release the stack keeps: refused", async () => {
    // V4's index, as FrontendOps would make it, named by a stopped deploy of V3: dropped as superseded,
    // it was bound, and a later preview of V4 took it for "every file in place" and copied nothing.
    const manifest = (await readManifest(site.artifacts, APP, V4)) as Manifest;
    const index = releaseIndexOf(
      { releaseId: R4, app: APP, commit: V4, artifactDigest: digest4 },
      manifest,
      '2026-12-03T21:00:00.000Z',
    );
    await site.state.put(`${prefix()}atomic/releases/${R4}.json`, JSON.stringify(index), {
      contentType: 'application/json',
    });
    await stoppedLiveDeploy({ indexes: { [`atomic/releases/${R4}.json`]: stateDigest(index) } });
    await refusedWithNothingWritten(/is not one FrontendOps makes for it/);
    // A prune naming the index of V2, which the live pointer keeps.
    const kept = (await site.records.readPointer())?.value.releases.find((r) => r.commit === V2);
    await stoppedLiveDeploy({ pruning: [releaseIdFor(kept as { commit: string; artifactDigest: string })] });
    await refusedWithNothingWritten(/deleting the index of a release the stack still serves or keeps/);
  });

  it('a kept release index deleted, and named by a record with a made-up digest: verify says tampered, and nothing binds it', async () => {
    const kept = (await site.records.readPointer())?.value.releases.find((r) => r.commit === V2);
    const name = `atomic/releases/${releaseIdFor(kept as { commit: string; artifactDigest: string })}.json`;
    await keeping(name, async () => {
      await site.state.delete([`${prefix()}${name}`]);
      await stoppedLiveDeploy({ indexes: { [name]: `sha256:${'1'.repeat(64)}` } });
      expect((await verifyAudit(site.state, prefix())).problems).toContainEqual(
        expect.objectContaining({ kind: 'tampered', object: name }),
      );
      const head = (await readAudit(site.state, prefix())).length;
      // The deploy of the live build drops the record; its entry binds nothing the record claims.
      await deployArtifact(site, { app: APP, commit: V3, request: request() }).catch(() => undefined);
      const added = (await readAudit(site.state, prefix())).slice(head);
      expect(added.filter((e) => e.objects?.[name] !== undefined)).toEqual([]);
    });
  });

  it("a pointer naming another build than the stopped deploy's, under that deploy's id: tampered, refused", async () => {
    // The third review: only the deploy id was compared, so live.json could say V4 went live.
    await keeping('live.json', async () => {
      const live = (await site.records.readPointer())?.value;
      const X = `${V3.slice(0, 7)}-0123456789`;
      await stoppedLiveDeploy();
      const pending = JSON.parse(
        (await site.state.get(`${prefix()}atomic/pending.json`))?.body.toString('utf8') ?? '{}',
      );
      pending.plan.deployId = X;
      await site.state.put(`${prefix()}atomic/pending.json`, JSON.stringify(pending), {
        contentType: 'application/json',
      });
      const mine = {
        deployId: X,
        app: APP,
        commit: V3,
        artifactDigest: live?.artifactDigest,
        releasedAt: '2026-12-03T21:00:01.000Z',
      };
      const edited = { ...mine, commit: V4, artifactDigest: digest4, releases: [mine] };
      await site.state.put(`${prefix()}live.json`, JSON.stringify(edited), {
        contentType: 'application/json',
      });
      expect((await verifyAudit(site.state, prefix())).problems).toContainEqual(
        expect.objectContaining({ kind: 'tampered', object: 'live.json' }),
      );
      const error = await refusal(deployArtifact(site, { app: APP, commit: V3, request: request() }));
      expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
    });
  });

  it('a "switched" rollback to a kept release, asking for a pin, that the release store does not name: refused', async () => {
    const kept = (await site.records.readPointer())?.value.releases.find((r) => r.commit === V2);
    const R2 = releaseIdFor(kept as { commit: string; artifactDigest: string });
    await stoppedLiveDeploy({ op: 'rollback', switched: true, pinOnSuccess: true });
    const pending = JSON.parse(
      (await site.state.get(`${prefix()}atomic/pending.json`))?.body.toString('utf8') ?? '{}',
    );
    pending.plan = {
      ...pending.plan,
      op: 'rollback',
      kind: 'rollback',
      deployId: kept?.deployId,
      commit: V2,
      artifactDigest: kept?.artifactDigest,
      releaseId: R2,
      pointerAfter: { live: R2 },
    };
    await site.state.put(`${prefix()}atomic/pending.json`, JSON.stringify(pending), {
      contentType: 'application/json',
    });
    await refusedWithNothingWritten(/the CDN's release store does not name what its switch wrote/);
    expect(await readPin(site)).toBeNull();
  });

  it('a stopped deploy of V4 with a "succeeded" record written for it: the next change refuses to record it', async () => {
    // The fourth review: the record was kept when the stopped deploy was recorded superseded, and
    // bound, and `rollback --to` then made V4 live.
    await stoppedLiveDeploy();
    const pending = JSON.parse(
      (await site.state.get(`${prefix()}atomic/pending.json`))?.body.toString('utf8') ?? '{}',
    );
    const D = `${V4.slice(0, 7)}-0123456789`;
    pending.plan = {
      ...pending.plan,
      deployId: D,
      commit: V4,
      artifactDigest: digest4,
      releaseId: R4,
      pointerAfter: { live: R4 },
    };
    await site.state.put(`${prefix()}atomic/pending.json`, JSON.stringify(pending), {
      contentType: 'application/json',
    });
    const record = deploymentRecord(
      { plan: pending.plan, request: forgedRequest, startedAt: forgedRequest.at, pointerMoved: true },
      new Date('2026-12-03T21:00:05.000Z'),
      { copied: [], deleted: [], invalidation: null, verification: null, outcome: 'succeeded' },
    );
    await site.records.writeRecord(record);
    try {
      const head = (await readAudit(site.state, prefix())).length;
      const error = await refusal(deployArtifact(site, { app: APP, commit: V3, request: request() }));
      expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
      expect(error.message).toMatch(/was already there, and is not this deploy's/);
      expect(await readAudit(site.state, prefix())).toHaveLength(head);
    } finally {
      const rows = (await site.state.list(`${prefix()}history/`))
        .map((o) => o.key)
        .filter((k) => k.endsWith(D));
      await site.state.delete([`${prefix()}deployments/${D}.json`, ...rows]);
    }
  });

  it('invalidate_cdn for a deploy nothing is pending for, whose record was written around the chain: refused', async () => {
    const D = `${V4.slice(0, 7)}-0123456789`;
    const live = (await site.records.readPointer())?.value;
    const record = deploymentRecord(
      {
        plan: {
          ...((await deployArtifact(site, { app: APP, commit: V4, dryRun: true, request: request() }))
            .plan as DeployPlan),
          deployId: D,
        },
        request: forgedRequest,
        startedAt: forgedRequest.at,
        pointerMoved: true,
      },
      new Date('2026-12-03T21:00:05.000Z'),
      { copied: [], deleted: [], invalidation: null, verification: null, outcome: 'succeeded' },
    );
    await site.records.writeRecord(record);
    try {
      const error = await refusal(finishSyncedDeploy(site, D, { request: request() }));
      expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
      expect(error.message).toMatch(/no audit entry records it/);
    } finally {
      const rows = (await site.state.list(`${prefix()}history/`))
        .map((o) => o.key)
        .filter((k) => k.endsWith(D));
      await site.state.delete([`${prefix()}deployments/${D}.json`, ...rows]);
    }
    // The live deployment, which the chain records, asked again: its record.
    const { record: again } = await finishSyncedDeploy(site, live?.deployId ?? '', { request: request() });
    expect(again.deployId).toBe(live?.deployId);
  });

  it('verify: a release index the stopped operation does not name with that digest is tampered, not unfinished', async () => {
    await forge({ pointerAfter: { canary: R4, weight: 50 }, index: 'made-up' });
    // The record names another digest for it than the index stored.
    const pending = JSON.parse(
      (await site.state.get(`${prefix()}atomic/pending.json`))?.body.toString('utf8') ?? '{}',
    );
    pending.indexes = { [`atomic/releases/${R4}.json`]: `sha256:${'0'.repeat(64)}` };
    await site.state.put(`${prefix()}atomic/pending.json`, JSON.stringify(pending), {
      contentType: 'application/json',
    });
    const verdict = await verifyAudit(site.state, prefix());
    expect(verdict.problems).toContainEqual(
      expect.objectContaining({
        kind: 'tampered',
        object: `atomic/releases/${R4}.json`,
        reason: expect.stringMatching(/It was written around the chain/),
      }),
    );
  });
});

describe('atomic: a preview asked for between a sync and its finish', () => {
  const env = deployedAtomicEnvFor({ stack: 'synced-then-preview' }, [V1, V2, V3], 2);

  it("the finish does not bind its switch's state over the one the preview's entry bound: verify passes", async () => {
    const t = env();
    // The infra server's run_sync, then someone's preview, then invalidate_cdn finishing the deploy.
    const synced = await deployArtifact(t.site, {
      app: APP,
      commit: V3,
      request: request(),
      stopBeforeInvalidation: true,
    });
    await previewLink(t.site, { app: APP, commit: V1, request: request('preview v1') });
    const { record } = await finishSyncedDeploy(t.site, synced.deployId, { request: request() });
    expect(record.outcome).toBe('succeeded');
    expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
    const state = await t.site.state.get(`${t.target.statePrefix}atomic/state.json`);
    expect(JSON.parse(state?.body.toString('utf8') ?? '{}').previews).toHaveLength(1);
  });
});
