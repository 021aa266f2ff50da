/**
 * Locker in the state bucket through S3 conditional writes (If-None-Match: * to take a free lock,
 * If-Match: <etag> to take over an expired one or renew ours), as Terraform's S3 backend does.
 * Any number of operators and agents on any machine coordinate through it.
 *
 * The holder renews its lock every ttl/3. A renewal that fails (a 500, a timeout) is tried again
 * after ttl/12 and renewing goes on: one bad request does not lose the lock. A renewal refused
 * because the lock object changed means another holder overwrote it: renewing stops. Either way the
 * holder finds out at its next assertHeld, from what it knows without a request: taken over, or not
 * renewed for three quarters of its ttl (near enough to expiry that another may take it any moment).
 */
import { hostname } from 'node:os';
import { waitBeforeRetry } from '../backoff.ts';
import { FrontendOpsError, isFrontendOpsError } from '../errors.ts';
import type { HeldLock, Locker, ObjectStore } from '../ports.ts';
import { CLOCK_SKEW_MS } from '../state/approval-evidence.ts';
import { LOCKS } from '../state/names.ts';
import {
  diedOnThisHost,
  type LockHolder,
  lockedError,
  lockFileName,
  lostLockError,
  processSpace,
  waitingNotice,
} from './lock-holder.ts';

interface LockBody extends LockHolder {
  expiresAt: string;
}

export function createS3Locker(store: ObjectStore, prefix: string, now: () => number = Date.now): Locker {
  return {
    async acquire(name, { owner, ttlMs, waitMs, label, onWait }) {
      const file = `${LOCKS}${lockFileName(name)}.json`;
      const key = `${prefix}${file}`;
      const deadline = now() + waitMs;
      // The lock body written at `at` by a holder that took it at `since`: it expires ttlMs later.
      const body = (at: number, since = at): LockBody => ({
        owner,
        host: hostname(),
        pid: process.pid,
        space: processSpace(),
        acquiredAt: new Date(since).toISOString(),
        expiresAt: new Date(at + ttlMs).toISOString(),
      });
      // Most of the time the lock is free: it is created at once, and read only once a create was
      // refused (one round trip fewer before every change, and before every approval's use).
      let refused = false;
      let waits = 0;
      // What this acquire last wrote, and when: found in place after a refusal, the write landed and
      // its answer was lost (the SDK's retry refused), so the lock is ours, not another holder's.
      let written: { text: string; at: number } | null = null;
      for (;;) {
        const existing = refused ? await store.get(key) : null;
        if (existing && written && existing.body.toString('utf8') === written.text) {
          return heldLock({
            store,
            key,
            label: label ?? name,
            owner,
            etag: existing.etag,
            at: written.at,
            body,
            ttlMs,
            now,
          });
        }
        const at = now();
        try {
          let etag: string;
          if (!existing) {
            written = { text: JSON.stringify(body(at)), at };
            ({ etag } = await store.put(key, written.text, {}, { ifNoneMatch: '*' }));
          } else {
            const holder = lockHolderOf(existing.body.toString('utf8'), label ?? name, file, ttlMs, now());
            const expired = Date.parse(holder.expiresAt) <= now();
            const deadHere = diedOnThisHost(holder);
            if (!expired && !deadHere) {
              if (now() >= deadline) throw lockedError(label ?? name, holder, waitMs);
              if (waits === 0) onWait?.(waitingNotice(label ?? name, holder, deadline - now()));
              await waitBeforeRetry(waits++);
              continue;
            }
            written = { text: JSON.stringify(body(at)), at };
            ({ etag } = await store.put(key, written.text, {}, { ifMatch: existing.etag }));
          }
          return heldLock({ store, key, label: label ?? name, owner, etag, at, body, ttlMs, now });
        } catch (error) {
          if (!isFrontendOpsError(error, 'PRECONDITION_FAILED')) throw error;
          // Held, or lost a race for it: look.
          refused = true;
        }
      }
    },
  };
}

/**
 * The lock object another holder wrote, or TAMPERED where no holder wrote it: whoever writes the
 * state bucket could otherwise block every change for good with one that never expires (no JSON, no
 * expiry, or one past any lease: a holder writes its expiry ttlMs ahead of its clock, which may run
 * CLOCK_SKEW_MS ahead of ours). It is left as it is: the operator checks no change runs, and deletes it.
 */
function lockHolderOf(text: string, label: string, file: string, ttlMs: number, at: number): LockBody {
  let holder: Partial<LockBody> | null;
  try {
    holder = JSON.parse(text) as Partial<LockBody> | null;
  } catch {
    return tamperedLock(label, file, 'it is not JSON');
  }
  const expires = typeof holder?.expiresAt === 'string' ? Date.parse(holder.expiresAt) : Number.NaN;
  if (
    typeof holder !== 'object' ||
    holder === null ||
    typeof holder.owner !== 'string' ||
    typeof holder.acquiredAt !== 'string' ||
    Number.isNaN(expires)
  )
    return tamperedLock(label, file, 'it names no owner, start or expiry a holder writes');
  if (expires > at + ttlMs + CLOCK_SKEW_MS)
    return tamperedLock(
      label,
      file,
      `it expires at ${new Date(expires).toISOString()}, further ahead than any holder's lease of ${Math.round(ttlMs / 1000)} s (with ${CLOCK_SKEW_MS / 60_000} minutes for its clock)`,
    );
  return holder as LockBody;
}

function tamperedLock(label: string, file: string, why: string): never {
  throw new FrontendOpsError(
    'TAMPERED',
    `${label} is held by a lock object no FrontendOps holder wrote: ${why}, so it would never free itself. ` +
      `It was written around FrontendOps, in the state bucket. Check that no change of this stack is running, then delete ${file} under the stack's state prefix and run the command again.`,
  );
}

/**
 * How much of its ttl may pass without a successful renewal before the holder gives the lock up.
 * Not all of it: another holder takes the lock once it has expired by its own clock, which may run a
 * little ahead of ours, and a change begun just before the expiry would still be running after it.
 */
const LOST_AFTER = 0.75;

interface Held {
  store: ObjectStore;
  key: string;
  /** What the lock guards, for the message when it is lost. */
  label: string;
  owner: string;
  /** The lock object as the acquire wrote it, at `at` (by `now`). */
  etag: string;
  at: number;
  body: (at: number, since: number) => LockBody;
  ttlMs: number;
  now: () => number;
}

function heldLock({ store, key, label, owner, etag, at, body, ttlMs, now }: Held): HeldLock {
  let current = etag;
  // When the lock object last written by us was made: it expires ttlMs after that.
  let renewedAt = at;
  let lastError: unknown;
  let takenOver = false;
  let released = false;
  let timer: NodeJS.Timeout | undefined;
  let renewing: Promise<void> | undefined;

  // A chain of timeouts, not an interval: the next renewal is planned once the last one is answered,
  // sooner when it failed, and never once the lock was released or taken over.
  const renewAfter = (delay: number) => {
    if (released || takenOver) return;
    timer = setTimeout(() => {
      renewing = renew().finally(() => {
        renewing = undefined;
      });
    }, delay);
    timer.unref(); // a lock never keeps a process alive that has nothing else to do
  };
  const renew = async () => {
    const writtenAt = now();
    try {
      ({ etag: current } = await store.put(
        key,
        JSON.stringify(body(writtenAt, at)),
        {},
        { ifMatch: current },
      ));
      renewedAt = writtenAt;
      lastError = undefined;
      renewAfter(ttlMs / 3);
    } catch (error) {
      if (isFrontendOpsError(error, 'PRECONDITION_FAILED')) {
        // The object is no longer the one we wrote: another holder took the lock over.
        takenOver = true;
        return;
      }
      // Most likely passing (a 500, a timeout): try again well before the lock could expire.
      lastError = error;
      renewAfter(ttlMs / 12);
    }
  };
  renewAfter(ttlMs / 3);

  return {
    owner,
    async assertHeld() {
      if (released) throw lostLockError(label, 'it was released');
      if (takenOver) throw lostLockError(label, 'it was taken over by another holder');
      const age = now() - renewedAt;
      if (age <= ttlMs * LOST_AFTER) return;
      const seconds = Math.round(age / 1000);
      throw lostLockError(
        label,
        lastError === undefined
          ? `it was not renewed for ${seconds} s`
          : `its renewal has failed for ${seconds} s (${inBrief(lastError)})`,
      );
    },
    async release() {
      released = true;
      clearTimeout(timer);
      // A renewal under way would change the etag after we looked: let it finish first.
      await renewing;
      const latest = await store.head(key);
      if (latest?.etag === current) await store.delete([key]); // never another holder's lock
    },
  };
}

/**
 * A renewal's error in a few words: what failed and the HTTP status, not the whole message, which
 * names the bucket and key: a LOCKED message may reach an MCP client, and names no bucket.
 */
function inBrief(error: unknown): string {
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof Error) {
    const status = isFrontendOpsError(error) ? error.details?.status : undefined;
    const what = (cause as NodeJS.ErrnoException).code ?? cause.name;
    return typeof status === 'number' ? `${what}, HTTP ${status}` : what;
  }
  const message = error instanceof Error ? error.message : String(error);
  return message.length > 80 ? `${message.slice(0, 79)}…` : message;
}
