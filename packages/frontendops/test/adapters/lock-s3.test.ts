/**
 * The S3 lock, through a proxy that gives the embedded S3 server the conditional writes real S3,
 * MinIO and R2 honour (test/support/s3-proxy.ts): the Locker contract (test/support/contracts/locker.ts),
 * and what only this lock does — it lives under the state prefix, and expires by the clock it is given.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Locker } from '../../src/adapters/lock-s3.ts';
import { createS3Client, createS3Store } from '../../src/adapters/s3.ts';
import type { FrontendOpsError } from '../../src/errors.ts';
import { lockerContract } from '../support/contracts/locker.ts';
import { startTestS3, type TestS3 } from '../support/local-s3.ts';
import { type S3Proxy, startS3Proxy } from '../support/s3-proxy.ts';

const STATE = 'lock-state';

let s3: TestS3;
let proxy: S3Proxy;
let upstream: ReturnType<typeof createS3Client>;

beforeAll(async () => {
  s3 = await startTestS3([STATE]);
  upstream = createS3Client({ endpoint: s3.endpoint, credentials: s3.credentials });
  proxy = await startS3Proxy(s3.endpoint, upstream, { conditional: true });
});
afterAll(async () => {
  await proxy?.close();
  upstream?.destroy();
  await s3?.stop();
});

const store = () => createS3Store({ bucket: STATE, endpoint: proxy.endpoint, credentials: s3.credentials });

lockerContract('S3 lock (conditional writes)', async () => ({
  locker: createS3Locker(store(), 'contract/'),
  holderSpec: {
    kind: 's3',
    endpoint: proxy.endpoint,
    credentials: s3.credentials,
    bucket: STATE,
    prefix: 'contract/',
  },
  cleanup: async () => {},
}));

describe('S3 lock', () => {
  it('is one object under the state prefix, gone once released', async () => {
    const state = store();
    const held = await createS3Locker(state, 'site/').acquire('deploy-prod', {
      owner: 'alice',
      ttlMs: 60_000,
      waitMs: 0,
    });
    expect((await state.list('site/')).map((o) => o.key)).toEqual(['site/locks/deploy-prod.json']);
    expect(
      JSON.parse((await state.get('site/locks/deploy-prod.json'))?.body.toString() ?? '{}'),
    ).toMatchObject({
      owner: 'alice',
    });
    await held.release();
    expect(await state.list('site/')).toEqual([]);
  });

  it('takes a free lock with one request, and a held one only once it is released', async () => {
    const state = store();
    const locker = createS3Locker(state, 'free/');
    await state.supportsConditionalWrites();
    const before = proxy.seen.length;
    const held = await locker.acquire('deploy-prod', { owner: 'alice', ttlMs: 60_000, waitMs: 0 });
    expect(proxy.seen.slice(before).map((r) => `${r.method} ${r.status}`)).toEqual(['PUT 200']);
    // Held: refused at once (no wait), the holder named, the lock still Alice's.
    await expect(
      locker.acquire('deploy-prod', { owner: 'bob', ttlMs: 60_000, waitMs: 0 }),
    ).rejects.toMatchObject({ code: 'LOCKED', message: expect.stringContaining('alice') });
    expect(
      JSON.parse((await state.get('free/locks/deploy-prod.json'))?.body.toString() ?? '{}'),
    ).toMatchObject({ owner: 'alice' });
    await held.release();
    const bobs = await locker.acquire('deploy-prod', { owner: 'bob', ttlMs: 60_000, waitMs: 0 });
    await bobs.release();
    expect(await state.list('free/')).toEqual([]);
  });

  it('expires by its clock: an expired lock is taken over, and the late release frees nothing', async () => {
    let now = Date.parse('2026-11-25T10:00:00Z');
    const locker = createS3Locker(store(), 'locks-test/', () => now);
    const held = await locker.acquire('deploy-prod', {
      owner: 'alice on a (pid 1)',
      ttlMs: 60_000,
      waitMs: 0,
    });
    const refused = await locker
      .acquire('deploy-prod', { owner: 'bob', ttlMs: 60_000, waitMs: 0 })
      .catch((e: unknown) => e);
    expect((refused as FrontendOpsError).code).toBe('LOCKED');
    expect((refused as Error).message).toMatch(
      /locked by alice on a \(pid 1\) \(since 2026-11-25T10:00:00.000Z\)/,
    );
    now += 61_000; // alice's lock expired (no heartbeat in between)
    const taken = await locker.acquire('deploy-prod', { owner: 'bob', ttlMs: 60_000, waitMs: 0 });
    expect(taken.owner).toBe('bob');
    await held.release(); // alice's late release must not free bob's lock
    await expect(
      locker.acquire('deploy-prod', { owner: 'carol', ttlMs: 60_000, waitMs: 0 }),
    ).rejects.toMatchObject({ code: 'LOCKED' });
    await taken.release();
    const carol = await locker.acquire('deploy-prod', { owner: 'carol', ttlMs: 60_000, waitMs: 0 });
    await carol.release();
  });
});
