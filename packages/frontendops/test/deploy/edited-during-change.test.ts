/**
 * Someone who can write the state bucket edits live.json or atomic/state.json while a change runs,
 * after the lock's check held them to the audit chain (the lock object in the same bucket says when
 * a change runs). Before:
 * - a rollback chose "the previous release" from live.json read before it took the lock, and was
 *   never held to the pointer the check vouched for: an edit put back before the check sent it to a
 *   build the stack never had live;
 * - an atomic deploy read live.json again after its switch and carried the release list it found into
 *   the pointer it wrote and bound: an edit made while it copied became a release to roll back to;
 * - a preview read atomic/state.json again after its copies and bound what it found, a canary nobody
 *   started among it.
 * In each case `audit verify` was clean afterwards. Now each change holds what it reads to what the
 * check found (or what it wrote itself since): a rollback whose destination the checked pointer does
 * not keep is refused (CONFLICT), and a change that finds live.json or atomic/state.json changed since
 * the check stops before it writes them (TAMPERED where verify says so); verify reports the edit.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCanary } from '../../src/deploy/canary.ts';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { unpinRelease } from '../../src/deploy/pin.ts';
import { previewLink } from '../../src/deploy/preview.ts';
import { readManifest } from '../../src/deploy/publish.ts';
import { artifactDigest } from '../../src/engine/manifest.ts';
import type { ObjectStore } from '../../src/ports.ts';
import type { Site } from '../../src/site.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { APP, type AtomicEnv, request, startAtomicEnv } from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';

const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3'] as const;

describe('state edited while a change runs', () => {
  let t: AtomicEnv;
  /** V1 then V2 deployed, V2 live, nothing edited: each case starts from it, whichever ran before. */
  let deployed: AtomicSnapshot;
  const key = (name: string) => `${t.target.statePrefix}${name}`;
  const read = async (name: string) => (await t.site.state.get(key(name)))?.body as Buffer;
  const put = (name: string, value: unknown) =>
    t.site.state.put(key(name), Buffer.isBuffer(value) ? value : JSON.stringify(value, null, 2), {
      contentType: 'application/json',
    });
  const problems = async () => (await verifyAudit(t.site.state, t.target.statePrefix)).problems;
  /** V3 as a release of live.json, though it was never live here. */
  const neverLive = async () => {
    const manifest = await readManifest(t.site.artifacts, APP, V3);
    return {
      deployId: `${V3.slice(0, 7)}-0000000000`,
      app: APP,
      commit: V3,
      artifactDigest: artifactDigest(manifest as NonNullable<typeof manifest>),
      releasedAt: new Date(Date.now() - 3_600_000).toISOString(),
    };
  };
  /** The site as a change sees it, with `edit` run (once) as its first copy to the hosting bucket starts. */
  const editedAtFirstCopy = (edit: () => Promise<void>): { site: Site; edited: () => boolean } => {
    let done = false;
    const hosting: ObjectStore = {
      ...t.site.hosting,
      async copyFrom(source, target, meta) {
        if (!done) {
          done = true;
          await edit();
        }
        return t.site.hosting.copyFrom(source, target, meta);
      },
    };
    return { site: { ...t.site, hosting }, edited: () => done };
  };

  beforeAll(async () => {
    t = await startAtomicEnv({ stack: 'edited-during-change', conditionalWrites: true });
    await t.publishVersions([V1, V2, V3]);
    await deployArtifact(t.site, { app: APP, commit: V1, request: request('deploy v1') });
    await deployArtifact(t.site, { app: APP, commit: V2, request: request('deploy v2') });
    deployed = await snapshotAtomicEnv(t);
  }, 180_000);
  afterAll(() => t?.stop());
  beforeEach(() => deployed.restore());

  it('a rollback whose destination was edited in before the lock and put back: refused, nothing changed', async () => {
    const original = await read('live.json');
    const live = JSON.parse(original.toString('utf8'));
    await put('live.json', { ...live, releases: [live.releases[0], await neverLive()] });
    let restored = false;
    const site: Site = {
      ...t.site,
      locker: {
        ...t.site.locker,
        async acquire(name, options) {
          if (!restored) {
            restored = true;
            await put('live.json', original);
          }
          return t.site.locker.acquire(name, options);
        },
      },
    };
    const mark = await t.mark();
    await expect(rollbackRelease(site, { request: request('roll back') })).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringMatching(/no longer keeps: it changed meanwhile\. The rollback was not made\./),
    });
    expect(restored).toBe(true);
    // Nothing written but the lock's own object, and live.json put back by the test's "attacker".
    const written = (await t.requestsSince(mark))
      .filter((r) => r.method !== 'GET' && r.method !== 'HEAD')
      .flatMap((r) => r.deletedKeys ?? [r.key])
      .filter((key) => !key.includes('/locks/'));
    expect(written).toEqual([key('live.json')]);
    expect((await t.site.records.readPointer())?.value.commit).toBe(V2);
    // Run again, it goes to the release the stack keeps.
    expect((await rollbackRelease(t.site, { request: request('roll back') })).commit).toBe(V1);
    expect(await problems()).toEqual([]);
    // The rollback pinned V1; unpinned, V2 goes live again.
    await unpinRelease(t.site, { request: request('unpin') });
    expect(
      (await deployArtifact(t.site, { app: APP, commit: V2, request: request('deploy v2') })).outcome,
    ).toBe('succeeded');
  });

  it('live.json edited while an atomic deploy copies: the deploy stops before it writes it; verify reports the edit', async () => {
    const original = await read('live.json');
    const fake = await neverLive();
    const { site, edited } = editedAtFirstCopy(async () => {
      const live = JSON.parse((await read('live.json')).toString('utf8'));
      await put('live.json', { ...live, releases: [fake] });
    });
    await expect(
      deployArtifact(site, { app: APP, commit: V3, request: request('deploy v3') }),
    ).rejects.toMatchObject({
      code: 'TAMPERED',
      message: expect.stringMatching(/live\.json .*changed outside FrontendOps/),
    });
    expect(edited()).toBe(true);
    expect((await t.site.records.readPointer())?.value.releases).toEqual([fake]);
    expect(await problems()).toContainEqual(
      expect.objectContaining({ kind: 'tampered', object: 'live.json' }),
    );

    // Put back: the deploy, run again, finishes what the stopped one switched, and verify is clean.
    await put('live.json', original);
    const again = await deployArtifact(t.site, { app: APP, commit: V3, request: request('deploy v3 again') });
    // The settle finished the stopped deploy's switch; nothing is left to do.
    expect(again.outcome).toBe('noop');
    expect(again.finishedInterrupted?.deployId).toMatch(/^c3c3c3c-/);
    expect((await t.site.records.readPointer())?.value.releases.map((r) => r.commit)).toEqual([V3, V2, V1]);
    expect(await problems()).toEqual([]);
  });

  it('atomic/state.json edited while a preview copies: the preview stops before it binds it; verify reports the edit', async () => {
    await t.publish('d4d4d4d4d4d4d4d4', 'v4');
    const { plan } = await startCanary(t.site, {
      app: APP,
      commit: V1,
      weightPercent: 50,
      request: request('x'),
      dryRun: true,
    });
    const original = await read('atomic/state.json');
    const { site, edited } = editedAtFirstCopy(async () => {
      const state = JSON.parse((await read('atomic/state.json')).toString('utf8'));
      await put('atomic/state.json', {
        ...state,
        canary: {
          releaseId: plan.releaseId,
          app: APP,
          commit: V1,
          artifactDigest: plan.artifactDigest,
          deployId: plan.deployId,
          weight: 50,
          startedAt: new Date().toISOString(),
          request: request('nobody started this'),
        },
      });
    });
    const head = (await problems()).length;
    expect(head).toBe(0);
    await expect(
      previewLink(site, {
        app: APP,
        commit: 'd4d4d4d4d4d4d4d4',
        request: request('preview v4'),
        verify: false,
      }),
    ).rejects.toMatchObject({
      code: 'TAMPERED',
      message: expect.stringMatching(/atomic\/state\.json .*changed outside FrontendOps/),
    });
    expect(edited()).toBe(true);
    expect(await problems()).toContainEqual(
      expect.objectContaining({ kind: 'tampered', object: 'atomic/state.json' }),
    );

    await put('atomic/state.json', original);
    await previewLink(t.site, {
      app: APP,
      commit: 'd4d4d4d4d4d4d4d4',
      request: request('preview v4'),
      verify: false,
    });
    expect(await problems()).toEqual([]);
  });
});

describe('two operators rolling back at once (genuine)', () => {
  let t: AtomicEnv;
  beforeAll(async () => {
    t = await startAtomicEnv({ stack: 'two-rollbacks' });
    await t.publishVersions([V1, V2]);
    await deployArtifact(t.site, { app: APP, commit: V1, request: request('deploy v1') });
    await deployArtifact(t.site, { app: APP, commit: V2, request: request('deploy v2') });
  });
  afterAll(() => t?.stop());

  it('the second, which chose the same release before the first ran, is not refused: that build is kept (live)', async () => {
    const first: { commit?: string } = {};
    const site: Site = {
      ...t.site,
      locker: {
        ...t.site.locker,
        async acquire(name, options) {
          // The other operator's rollback runs after this one read the pointer, before it takes the lock.
          if (!first.commit)
            first.commit = (await rollbackRelease(t.site, { request: request('the other operator') })).commit;
          return t.site.locker.acquire(name, options);
        },
      },
    };
    const second = await rollbackRelease(site, { request: request('roll back') });
    expect(first.commit).toBe(V1);
    // The release the first one made live under its own new deploy id: nothing more to do.
    expect(second.commit).toBe(V1);
    expect(second.outcome).toBe('noop');
    expect((await t.site.records.readPointer())?.value.commit).toBe(V1);
    expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
  });
});
