/**
 * The Locker contract: what every lock (a file lock on this machine, a lock object in the state
 * bucket through S3 conditional writes, and the lock a site chooses between them) must do, as
 * ports.ts promises it and as deploys, publishes and the audit log rely on it: one holder at a time
 * per name, LOCKED naming the holder after waitMs, the next one in on release, a holder that died or
 * hung taken over — and a holder taken over is told so at its next assertHeld, and never frees its
 * successor's lock. One suite, run by each locker's test file, with holders in other processes
 * (lock-holder.ts), so the lockers cannot drift apart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ErrorCode, FrontendOpsError } from '../../../src/errors.ts';
import type { Locker, LockOptions } from '../../../src/ports.ts';
import { type LockerSpec, type LockHolderProcess, startLockHolder } from './lock-holder.ts';

export interface LockerFixture {
  locker: Locker;
  /** The same backend, as another process of this machine opens it. */
  holderSpec: LockerSpec;
  /**
   * The clock `locker` reads the time from, when it is given one (the S3 lock's `now`): a holder's
   * ttl then passes when the test moves it on, not in real time. The file lock's staleness is read by
   * proper-lockfile from the real clock: without one, the test waits the ttl out.
   */
  clock?: TestClock;
  cleanup(): Promise<void>;
}

/** A clock for a locker: the real time plus what the test moved it on by. */
export interface TestClock {
  now(): number;
  advance(ms: number): void;
}

export function testClock(): TestClock {
  let ahead = 0;
  return {
    now: () => Date.now() + ahead,
    advance: (ms) => {
      ahead += ms;
    },
  };
}

/** Long enough that no lock in these tests goes stale by itself, unless a test means it to. */
const TTL = 60_000;
/**
 * Short, for the holder a test lets go stale: the takeover waits this long. The file lock goes stale
 * after no less than 2 s (lock-file.ts), so a shorter ttl would not make its takeover sooner.
 */
const SHORT_TTL = 2_000;

export function lockerContract(name: string, setup: () => Promise<LockerFixture>): void {
  describe(`Locker contract: ${name}`, () => {
    let fixture: LockerFixture;
    let locker: Locker;
    const holders: LockHolderProcess[] = [];
    beforeAll(async () => {
      fixture = await setup();
      locker = fixture.locker;
    });
    afterAll(async () => {
      await Promise.all(holders.map((h) => h.kill()));
      await fixture?.cleanup();
    });

    // Every test locks names of its own, so a failing test cannot hold up the next.
    let tests = 0;
    const lockName = () => `contract-${++tests}-${process.pid}`;
    const options = (owner: string, extra: Partial<LockOptions> = {}): LockOptions => ({
      owner,
      ttlMs: TTL,
      waitMs: 0,
      ...extra,
    });
    /**
     * The holder in another process: one for the whole suite (a process start costs about 0.4 s of
     * CPU), another only once a test has killed it. Each test locks names of its own, and the
     * holder's next acquire replaces what it held.
     */
    let current: LockHolderProcess | undefined;
    const holder = async () => {
      if (current?.alive()) return current;
      current = await startLockHolder(fixture.holderSpec);
      holders.push(current);
      return current;
    };

    it('takes a free lock at once; the held lock names its owner', async () => {
      const held = await locker.acquire(lockName(), options('alice'));
      expect(held.owner).toBe('alice');
      await held.release();
    });

    it('has one holder at a time: another acquire is LOCKED, naming the holder and what is locked', async () => {
      const name = lockName();
      const held = await locker.acquire(
        name,
        options('alice on laptop (pid 1)', { label: 'Deploying to prod' }),
      );
      const refused = await refusal(
        locker.acquire(name, options('bob', { label: 'Deploying to prod' })),
        'LOCKED',
      );
      expect(refused.message).toContain('Deploying to prod');
      expect(refused.message).toContain('alice on laptop (pid 1)');
      // Without a label, the lock's name says what is locked.
      const unlabelled = await refusal(locker.acquire(name, options('bob')), 'LOCKED');
      expect(unlabelled.message).toContain(name);
      await held.release();
    });

    it('lets different names be held at once, even names a file name or key cannot spell', async () => {
      const name = lockName();
      const long = `${name}-${'x'.repeat(150)}`;
      const names = [`${name}-a`, `${name}-b`, `${name}/c`, `${name}_c`, `${name} c`, `${long}1`, `${long}2`];
      const held = [];
      for (const each of names) held.push(await locker.acquire(each, options(`owner of ${each}`)));
      for (const each of names) await refusal(locker.acquire(each, options('bob')), 'LOCKED');
      await Promise.all(held.map((h) => h.release()));
    });

    it('lets the next one in on release; releasing again changes nothing', async () => {
      const name = lockName();
      const first = await locker.acquire(name, options('alice'));
      await first.release();
      const second = await locker.acquire(name, options('bob'));
      await first.release(); // late, and a second time: bob keeps the lock
      const refused = await refusal(locker.acquire(name, options('carol')), 'LOCKED');
      expect(refused.message).toContain('bob');
      await second.release();
      await second.release();
      await (await locker.acquire(name, options('carol'))).release();
    });

    it('gives the lock to a waiting acquire when the holder releases within waitMs', async () => {
      const name = lockName();
      const alice = await locker.acquire(name, options('alice', { label: 'Deploying to prod' }));
      let released = false;
      // Bob is told once, as his wait begins: who holds the lock, and for how long he waits.
      const notices: string[] = [];
      let toldWaiting!: () => void;
      const told = new Promise<void>((resolve) => {
        toldWaiting = resolve;
      });
      const onWait = (notice: string) => {
        notices.push(notice);
        toldWaiting();
      };
      const waiting = locker
        .acquire(name, options('bob', { waitMs: 30_000, label: 'Deploying to prod', onWait }))
        .then((held) => {
          expect(released).toBe(true);
          return held;
        });
      await told;
      // Still alice's while bob waits; carol, who does not wait, is not told she waits.
      const carol: string[] = [];
      const refused = await refusal(
        locker.acquire(name, options('carol', { onWait: (notice) => carol.push(notice) })),
        'LOCKED',
      );
      expect(refused.message).toContain('alice');
      expect(carol).toEqual([]);
      released = true;
      await alice.release();
      const bob = await waiting;
      expect(bob.owner).toBe('bob');
      expect(notices).toHaveLength(1);
      expect(notices[0]).toMatch(
        /^Deploying to prod is locked by alice \(since [^)]+\); waiting up to (29|30)s for it\.$/,
      );
      expect((await refusal(locker.acquire(name, options('carol')), 'LOCKED')).message).toContain('bob');
      await bob.release();
    });

    it('waits waitMs for a lock that stays held, then is LOCKED', async () => {
      const name = lockName();
      const alice = await locker.acquire(name, options('alice'));
      const started = Date.now();
      // Long enough for two tries after the first at least (at 50 and 150 ms: backoff.ts).
      const waitMs = 300;
      const refused = await refusal(locker.acquire(name, options('bob', { waitMs })), 'LOCKED');
      expect(Date.now() - started).toBeGreaterThanOrEqual(waitMs);
      expect(refused.message).toContain('alice');
      await alice.release();
    });

    it('tells a holder its lock is its own while nobody took it, and no longer once released', async () => {
      const name = lockName();
      const held = await locker.acquire(name, options('alice', { label: 'Deploying to prod' }));
      await expect(held.assertHeld()).resolves.toBeUndefined();
      // A holder in another process, too, and one holder does not disturb another's lock.
      const other = await holder();
      await other.acquire(`${name}-other`, options('another deploy'));
      expect(await other.check()).toEqual({ ok: true });
      await expect(held.assertHeld()).resolves.toBeUndefined();
      await held.release();
      const released = await refusal(held.assertHeld(), 'LOCKED');
      expect(released.message).toContain('Deploying to prod lost its lock');
      expect(await other.release()).toEqual({ ok: true });
    });

    it('takes over from a holder that stopped renewing once its ttl passed; its late release frees nothing', async () => {
      const name = lockName();
      const other = await holder();
      await other.acquire(name, options('a hung deploy', { ttlMs: SHORT_TTL }));
      other.pause();
      try {
        // Alive, so nothing but time frees it: not yet.
        expect(
          (await refusal(locker.acquire(name, options('bob', { ttlMs: SHORT_TTL })), 'LOCKED')).message,
        ).toContain('a hung deploy');
        // Its ttl passes: on the locker's clock when it has one, else in real time while bob waits.
        fixture.clock?.advance(SHORT_TTL);
        const bob = await locker.acquire(name, options('bob', { ttlMs: SHORT_TTL, waitMs: 30_000 }));
        expect(bob.owner).toBe('bob');
        // The hung deploy wakes up: before its next change it asks whether the lock is still its own,
        // and is told it is not, so it changes nothing more while bob's deploy runs.
        other.resume();
        if (fixture.clock) await other.advance(SHORT_TTL);
        const told = await other.check();
        expect(told).toMatchObject({ ok: false, code: 'LOCKED' });
        expect(told.message).toContain(`${name} lost its lock`);
        expect(told.message).toContain('run the command again');
        // It finishes: its process carries on, and bob keeps the lock.
        const late = await other.release();
        expect(late.message ?? '').not.toMatch(/^EXITED/);
        const refused = await refusal(locker.acquire(name, options('carol', { ttlMs: SHORT_TTL })), 'LOCKED');
        expect(refused.message).toContain('bob');
        await bob.release();
      } catch (error) {
        // Left as the failure found it: not handed to the next test.
        other.resume();
        await other.kill();
        throw error;
      }
    });

    it('knows a holder in another process, and takes over at once when that process is killed', async () => {
      const name = lockName();
      const other = await holder();
      await other.acquire(name, options('another deploy'));
      expect((await refusal(locker.acquire(name, options('bob')), 'LOCKED')).message).toContain(
        'another deploy',
      );
      await other.kill();
      const bob = await locker.acquire(name, options('bob'));
      expect(bob.owner).toBe('bob');
      await bob.release();
    });
  });
}

async function refusal(promise: Promise<unknown>, code: ErrorCode): Promise<FrontendOpsError> {
  const error = await promise.then(
    async (held) => {
      await (held as { release?: () => Promise<void> })?.release?.();
      return held;
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FrontendOpsError);
  expect((error as FrontendOpsError).code).toBe(code);
  return error as FrontendOpsError;
}
