/**
 * The S3 lock, through a proxy that gives the embedded S3 server the conditional writes real S3,
 * MinIO and R2 honour (test/support/s3-proxy.ts): the Locker contract (test/support/contracts/locker.ts),
 * and what only this lock does — it lives under the state prefix, expires by the clock it is given,
 * renews through a failed request, and tells its holder once it is lost.
 */
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processSpace } from '../../src/adapters/lock-holder.ts';
import { createS3Locker } from '../../src/adapters/lock-s3.ts';
import { createS3Client, createS3Store, lostConditionalWrite } from '../../src/adapters/s3.ts';
import { FrontendOpsError } from '../../src/errors.ts';
import type { ObjectStore } from '../../src/ports.ts';
import { lockerContract, testClock } from '../support/contracts/locker.ts';
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

lockerContract('S3 lock (conditional writes)', async () => {
  const clock = testClock();
  return {
    locker: createS3Locker(store(), 'contract/', clock.now),
    clock,
    holderSpec: {
      kind: 's3',
      endpoint: proxy.endpoint,
      credentials: s3.credentials,
      bucket: STATE,
      prefix: 'contract/',
    },
    cleanup: async () => {},
  };
});

describe('S3 lock', () => {
  it('an acquire whose create landed but whose answer was lost holds the lock (not LOCKED by itself)', async () => {
    const state = store();
    let lost = false;
    const lossy: ObjectStore = {
      ...state,
      async put(key, body, meta, condition) {
        const answer = await state.put(key, body, meta, condition);
        if (!lost && key.endsWith('/locks/deploy-lost.json')) {
          lost = true;
          throw lostConditionalWrite(key);
        }
        return answer;
      },
    };
    const held = await createS3Locker(lossy, 'lost/').acquire('deploy-lost', {
      owner: 'alice',
      ttlMs: 60_000,
      waitMs: 0,
    });
    expect(lost).toBe(true);
    await held.assertHeld();
    // Held as any lock is: another acquire is refused, and releasing frees it.
    await expect(
      createS3Locker(store(), 'lost/').acquire('deploy-lost', { owner: 'bob', ttlMs: 60_000, waitMs: 0 }),
    ).rejects.toMatchObject({ code: 'LOCKED' });
    await held.release();
    expect(await state.get('lost/locks/deploy-lost.json')).toBeNull();
  });

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

  it('a holder with this host name but another pid space (another container) is not taken for dead', async () => {
    // Containers with host networking, or the same --hostname, share the host name, not their pids:
    // a pid that is dead here may be alive there. Before, the lock was taken over at once.
    const state = store();
    const locker = createS3Locker(state, 'space/');
    const dead = 2 ** 22 + 17; // above Linux's pid_max: no process here has it
    const body = (space?: string) =>
      JSON.stringify({
        owner: 'ci-job-b',
        host: hostname(),
        pid: dead,
        ...(space ? { space } : {}),
        acquiredAt: new Date().toISOString(),
        expiresAt: new Date(Date.now() + 60_000).toISOString(),
      });
    await state.put('space/locks/deploy-prod.json', body('another-container'));
    await expect(
      locker.acquire('deploy-prod', { owner: 'ci-job-a', ttlMs: 60_000, waitMs: 0 }),
    ).rejects.toMatchObject({ code: 'LOCKED', message: expect.stringContaining('ci-job-b') });
    // In this process space its death is known: taken over at once, as before.
    await state.put('space/locks/deploy-prod.json', body(processSpace()));
    const held = await locker.acquire('deploy-prod', { owner: 'ci-job-a', ttlMs: 60_000, waitMs: 0 });
    await held.release();
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

describe('S3 lock written around FrontendOps (whoever writes the state bucket)', () => {
  const at = Date.parse('2026-11-25T10:00:00Z');
  const holder = { owner: 'mallory', host: 'elsewhere', pid: 1, acquiredAt: '2026-11-25T10:00:00.000Z' };
  const planted = (expiresAt: unknown) => JSON.stringify({ ...holder, expiresAt });
  const acquire = (prefix: string) =>
    createS3Locker(store(), prefix, () => at).acquire('deploy-prod', {
      owner: 'alice',
      ttlMs: 60_000,
      waitMs: 0,
      label: 'Deploying to prod',
    });

  it.each([
    ['not JSON', 'not json {', /is not JSON/],
    ['no expiry', JSON.stringify(holder), /names no owner, start or expiry a holder writes/],
    ['an expiry that is no date', planted('never'), /names no owner, start or expiry a holder writes/],
    ['an array', '[]', /names no owner, start or expiry a holder writes/],
    ['null', 'null', /names no owner, start or expiry a holder writes/],
    ['an expiry past any lease', planted('9999-12-31T23:59:59.000Z'), /expires at 9999-12-31T23:59:59\.000Z/],
  ])(
    'one holding %s, which would never expire, is refused TAMPERED, saying what to delete',
    async (_what, body, why) => {
      const prefix = `planted-${_what.replace(/\W+/g, '-')}/`;
      const key = `${prefix}locks/deploy-prod.json`;
      await store().put(key, body);
      const refused = await acquire(prefix).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(FrontendOpsError);
      expect(refused).toMatchObject({ code: 'TAMPERED' });
      const message = (refused as Error).message;
      expect(message).toMatch(why);
      expect(message).toMatch(/^Deploying to prod is held by a lock object no FrontendOps holder wrote/);
      expect(message).toContain("delete locks/deploy-prod.json under the stack's state prefix");
      expect(message).not.toContain('mallory');
      expect(message).not.toContain(STATE);
      // Left as it is: the operator checks and deletes it.
      expect((await store().get(key))?.body.toString()).toBe(body);
      await store().delete([key]);
    },
  );

  it("a holder's clock ahead by less than the skew allowed is still a holder: LOCKED, not TAMPERED", async () => {
    const prefix = 'planted-skewed/';
    const key = `${prefix}locks/deploy-prod.json`;
    await store().put(key, planted(new Date(at + 60_000 + 4 * 60_000).toISOString()));
    await expect(acquire(prefix)).rejects.toMatchObject({
      code: 'LOCKED',
      message: expect.stringContaining('mallory'),
    });
    await store().delete([key]);
  });
});

describe('S3 lock renewal', () => {
  const lockOptions = { owner: 'alice', ttlMs: 900, waitMs: 0, label: 'Deploying to prod' };

  it('keeps the lock through a failed renewal: it tries again sooner and goes on renewing', async () => {
    const { store: flaky, renewals } = renewalsFailing(store(), 'flaky/locks/deploy-prod.json', (n) =>
      n === 1 ? new FrontendOpsError('UPSTREAM', 'S3 500') : undefined,
    );
    const held = await createS3Locker(flaky, 'flaky/').acquire('deploy-prod', lockOptions);
    try {
      await expect.poll(() => renewals.failed).toBe(1);
      await expect.poll(() => renewals.succeeded).toBeGreaterThanOrEqual(2);
      await expect(held.assertHeld()).resolves.toBeUndefined();
      // Renewed, the lock still says since when alice holds it (what a LOCKED message tells bob).
      const body = JSON.parse((await store().get('flaky/locks/deploy-prod.json'))?.body.toString() ?? '{}');
      expect(Date.parse(body.expiresAt) - Date.parse(body.acquiredAt)).toBeGreaterThan(lockOptions.ttlMs);
      await expect(
        createS3Locker(store(), 'flaky/').acquire('deploy-prod', { ...lockOptions, owner: 'bob' }),
      ).rejects.toMatchObject({ code: 'LOCKED', message: expect.stringContaining('alice') });
    } finally {
      await held.release();
    }
    expect(await store().list('flaky/')).toEqual([]);
  });

  it('tells its holder the lock is lost once renewals have failed for most of its ttl', async () => {
    let now = Date.parse('2026-11-25T10:00:00Z');
    const { store: failing, renewals } = renewalsFailing(
      store(),
      'failing/locks/deploy-prod.json',
      () => new FrontendOpsError('UPSTREAM', 'S3 500'),
    );
    const held = await createS3Locker(failing, 'failing/', () => now).acquire('deploy-prod', lockOptions);
    try {
      await expect.poll(() => renewals.failed).toBeGreaterThanOrEqual(2);
      // Failing, but not for long: the lock has not expired, so nobody can have taken it.
      now += 600;
      await expect(held.assertHeld()).resolves.toBeUndefined();
      // Most of its ttl gone (0.75 × 900 ms) with no renewal: another may take it any moment.
      now += 100;
      const lost = await held.assertHeld().then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(lost).toBeInstanceOf(FrontendOpsError);
      expect(lost).toMatchObject({
        code: 'LOCKED',
        details: { lost: true, reason: expect.stringMatching(/renewal has failed for \d+ s \(S3 500\)/) },
      });
      expect((lost as Error).message).toMatch(
        /^Deploying to prod lost its lock: its renewal has failed .*Nothing more was changed by this run; check `frontendops status` and run the command again\.$/,
      );
    } finally {
      await held.release();
    }
  });

  it('tells its holder the lock is lost once another overwrote it, and its release leaves that one alone', async () => {
    const state = store();
    const key = 'overwritten/locks/deploy-prod.json';
    const { store: watched, renewals } = renewalsFailing(state, key, () => undefined);
    const held = await createS3Locker(watched, 'overwritten/').acquire('deploy-prod', lockOptions);
    try {
      await expect(held.assertHeld()).resolves.toBeUndefined();
      const theirs = JSON.stringify({ owner: 'bob', host: 'elsewhere', pid: 1, acquiredAt: 'now' });
      await state.put(key, theirs);
      // The next renewal's If-Match is refused: alice learns at once, without waiting out the ttl.
      await expect
        .poll(() =>
          held.assertHeld().then(
            () => 'held',
            (error: FrontendOpsError) => error.details?.reason,
          ),
        )
        .toMatch(/taken over by another holder/);
      expect(renewals.preconditionFailed).toBe(1);
      await held.release();
      expect((await state.get(key))?.body.toString()).toBe(theirs);
    } finally {
      await held.release();
      await state.delete([key]);
    }
  });
  it('tells its holder the lock is lost once the lock object was deleted under it (a second holder may take it meanwhile)', async () => {
    const state = store();
    const key = 'deleted/locks/deploy-prod.json';
    const { store: watched, renewals } = renewalsFailing(state, key, () => undefined);
    const held = await createS3Locker(watched, 'deleted/').acquire('deploy-prod', lockOptions);
    try {
      await state.delete([key]);
      // Deleted, the lock is free to the next acquire at once: until its next renewal, the holder does not know.
      const bobs = await createS3Locker(state, 'deleted/').acquire('deploy-prod', {
        ...lockOptions,
        owner: 'bob',
      });
      // That renewal's If-Match finds another object (or none): lost, told as taken over.
      await expect
        .poll(() =>
          held.assertHeld().then(
            () => 'held',
            (error: FrontendOpsError) => error.details?.reason,
          ),
        )
        .toMatch(/taken over by another holder/);
      expect(renewals.preconditionFailed).toBe(1);
      await held.release();
      expect(JSON.parse((await state.get(key))?.body.toString() ?? '{}')).toMatchObject({ owner: 'bob' });
      await bobs.release();
    } finally {
      await held.release();
    }
    expect(await state.list('deleted/')).toEqual([]);
  });
});

/**
 * The store, its puts of `key` after the first (the acquire) counted and failing with whatever
 * `failure` returns for the nth of them.
 */
function renewalsFailing(inner: ObjectStore, key: string, failure: (n: number) => Error | undefined) {
  const renewals = { succeeded: 0, failed: 0, preconditionFailed: 0 };
  let puts = 0;
  const store: ObjectStore = {
    ...inner,
    async put(putKey, body, meta, condition) {
      if (putKey !== key || puts++ === 0) return inner.put(putKey, body, meta, condition);
      const error = failure(puts - 1);
      if (error) {
        renewals.failed++;
        throw error;
      }
      try {
        const written = await inner.put(putKey, body, meta, condition);
        renewals.succeeded++;
        return written;
      } catch (error) {
        if ((error as FrontendOpsError).code === 'PRECONDITION_FAILED') renewals.preconditionFailed++;
        throw error;
      }
    },
  };
  return { store, renewals };
}
