/**
 * After its switch an atomic operation reads atomic/state.json and writes it back whole (the canary,
 * the open previews, the releases edges may still serve). Where the store honours conditional
 * writes, that write is made only over the version it read. Another operator whose lock did not meet
 * this one's (its lock taken over before this holder noticed) may write the state in between: here
 * it finishes this deploy's switch itself, as any operation finishes a stopped one, and opens a
 * preview. Written unconditionally, the stale state put back what was read and the preview vanished
 * from the state while its link still worked. Now the stale holder stops, LOCKED, and the state is
 * the other operator's.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createFileLocker } from '../../src/adapters/lock-file.ts';
import { startCanary } from '../../src/deploy/canary.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { previewLink } from '../../src/deploy/preview.ts';
import type { ObjectStore } from '../../src/ports.ts';
import type { Site } from '../../src/site.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { APP, type AtomicEnv, request, startAtomicEnv } from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';

const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3'] as const;

describe('the atomic state is written over the version read, where writes are conditional', () => {
  let t: AtomicEnv;
  /**
   * A stack of the same name, nothing deployed on it: the first write's case runs there, whichever
   * ran before (a release store cannot be emptied again, so no snapshot of `t` can start it).
   */
  let fresh: AtomicEnv;
  /** V1 then V2 deployed on `t`: each other case starts from it, whichever ran before. */
  let v2Live: AtomicSnapshot;
  const stateKey = (env = t) => `${env.target.statePrefix}atomic/state.json`;
  const state = async (env = t) => {
    const object = await env.site.state.get(stateKey(env));
    return object && { etag: object.etag, value: JSON.parse(object.body.toString('utf8')) };
  };
  const started = async () => {
    const env = await startAtomicEnv({ conditionalWrites: true, stack: 'state-race' });
    await env.publishVersions([V1, V2, V3]);
    return env;
  };
  beforeAll(async () => {
    fresh = await started();
    t = await started();
    await deployArtifact(t.site, { app: APP, commit: V1, request: request('deploy v1') });
    await deployArtifact(t.site, { app: APP, commit: V2, request: request('deploy v2') });
    v2Live = await snapshotAtomicEnv(t);
  }, 180_000);
  afterAll(async () => {
    await fresh?.stop();
    await t?.stop();
  });
  beforeEach(() => v2Live.restore());

  it('a first write creates it, later ones replace the version read: deploys go through', async () => {
    const t = fresh;
    expect(await state(t)).toBeNull();
    await deployArtifact(t.site, { app: APP, commit: V1, request: request('deploy v1') });
    const first = await state(t);
    expect(first).not.toBeNull();
    const second = await deployArtifact(t.site, { app: APP, commit: V2, request: request('deploy v2') });
    expect(second.outcome).toBe('succeeded');
    expect((await state(t))?.etag).not.toBe(first?.etag);
    expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
  });

  it('another operator writes the state after this one read it: this one stops, LOCKED, and writes nothing over it', async () => {
    // Bob's operator: a lock of its own (a file on another machine), so nothing keeps him out.
    const bob: Site = { ...t.site, locker: createFileLocker(join(t.tmp, 'bob-locks')) };
    let preview: Awaited<ReturnType<typeof previewLink>> | undefined;
    const racing: ObjectStore = {
      ...t.site.state,
      async put(key, body, meta, condition) {
        // Ours read the state after its switch and is about to write it: Bob goes first.
        if (key === stateKey() && !preview) {
          preview = await previewLink(bob, { app: APP, commit: V1, request: request('preview v1') });
        }
        return t.site.state.put(key, body, meta, condition);
      },
    };
    const ours: Site = { ...t.site, state: racing };
    await expect(
      deployArtifact(ours, { app: APP, commit: V3, request: request('deploy v3') }),
    ).rejects.toMatchObject({
      code: 'LOCKED',
      message: expect.stringMatching(
        /^Deploying to state-race lost its lock: the atomic state changed after this run read it, so another holder has taken it over\. Nothing more was changed/,
      ),
    });
    expect(preview?.releaseId).toMatch(/^a1a1a1a-/);
    // The state is Bob's: his preview is in it (and the switch to v3 he finished).
    const after = await state();
    expect(after?.value.previews).toEqual([expect.objectContaining({ releaseId: preview?.releaseId })]);
    expect((await t.store().read()).value).toMatchObject({ live: expect.stringMatching(/^c3c3c3c-/) });
    expect((await t.site.records.readPointer())?.value.commit).toBe(V3);
    // Nothing for the next operator to finish or to refuse: deploying v3 again changes nothing.
    const again = await deployArtifact(t.site, { app: APP, commit: V3, request: request('deploy v3 again') });
    expect(again.outcome).toBe('noop');
    expect((await state())?.value.previews).toEqual([
      expect.objectContaining({ releaseId: preview?.releaseId }),
    ]);
    expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
  });

  it('a preview whose state another operator wrote meanwhile stops, LOCKED; the canary that operator started stays', async () => {
    const bob: Site = { ...t.site, locker: createFileLocker(join(t.tmp, 'bob-locks-2')) };
    let canaryStarted = false;
    const racing: ObjectStore = {
      ...t.site.state,
      async put(key, body, meta, condition) {
        // The preview read the state and recorded its entry; before its state write, Bob starts a canary.
        if (key === stateKey() && !canaryStarted) {
          canaryStarted = true;
          await startCanary(bob, { app: APP, commit: V1, weightPercent: 10, request: request('canary v1') });
        }
        return t.site.state.put(key, body, meta, condition);
      },
    };
    await expect(
      previewLink({ ...t.site, state: racing }, { app: APP, commit: V2, request: request('preview v2') }),
    ).rejects.toMatchObject({
      code: 'LOCKED',
      message: expect.stringContaining('the atomic state changed after this run read it'),
    });
    // Bob's canary is in the state, as in the release store: nothing put the state read before it back.
    const after = await state();
    expect(after?.value.canary).toMatchObject({ commit: V1, weight: 10 });
    expect((await t.store().read()).value).toMatchObject({ canary: expect.stringMatching(/^a1a1a1a-/) });
    expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
    // Asked again, the preview opens beside the canary.
    const preview = await previewLink(t.site, { app: APP, commit: V2, request: request('preview v2 again') });
    expect((await state())?.value).toMatchObject({
      canary: expect.objectContaining({ commit: V1 }),
      previews: expect.arrayContaining([expect.objectContaining({ releaseId: preview.releaseId })]),
    });
    expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
  });
});
