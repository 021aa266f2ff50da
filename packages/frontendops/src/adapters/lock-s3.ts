/**
 * Locker in the state bucket through S3 conditional writes (If-None-Match: * to take a free lock,
 * If-Match: <etag> to take over an expired one or renew ours), as Terraform's S3 backend does.
 * Any number of operators and agents on any machine coordinate through it.
 */
import { hostname } from 'node:os';
import { waitBeforeRetry } from '../backoff.ts';
import { isFrontendOpsError } from '../errors.ts';
import type { HeldLock, Locker, ObjectStore } from '../ports.ts';
import { diedOnThisHost, type LockHolder, lockedError, lockFileName } from './lock-holder.ts';

interface LockBody extends LockHolder {
  expiresAt: string;
}

export function createS3Locker(store: ObjectStore, prefix: string, now: () => number = Date.now): Locker {
  return {
    async acquire(name, { owner, ttlMs, waitMs, label }) {
      const key = `${prefix}locks/${lockFileName(name)}.json`;
      const deadline = now() + waitMs;
      const body = (): LockBody => ({
        owner,
        host: hostname(),
        pid: process.pid,
        acquiredAt: new Date(now()).toISOString(),
        expiresAt: new Date(now() + ttlMs).toISOString(),
      });
      // Most of the time the lock is free: it is created at once, and read only once a create was
      // refused (one round trip fewer before every change, and before every approval's use).
      let refused = false;
      let waits = 0;
      for (;;) {
        const existing = refused ? await store.get(key) : null;
        try {
          let etag: string;
          if (!existing) {
            ({ etag } = await store.put(key, JSON.stringify(body()), {}, { ifNoneMatch: '*' }));
          } else {
            const holder = JSON.parse(existing.body.toString('utf8')) as LockBody;
            const expired = Date.parse(holder.expiresAt) <= now();
            const deadHere = diedOnThisHost(holder);
            if (!expired && !deadHere) {
              if (now() >= deadline) throw lockedError(label ?? name, holder, waitMs);
              await waitBeforeRetry(waits++);
              continue;
            }
            ({ etag } = await store.put(key, JSON.stringify(body()), {}, { ifMatch: existing.etag }));
          }
          return heldLock(store, key, owner, etag, body, ttlMs);
        } catch (error) {
          if (!isFrontendOpsError(error, 'PRECONDITION_FAILED')) throw error;
          // Held, or lost a race for it: look.
          refused = true;
        }
      }
    },
  };
}

function heldLock(
  store: ObjectStore,
  key: string,
  owner: string,
  etag: string,
  body: () => LockBody,
  ttlMs: number,
): HeldLock {
  let current = etag;
  const heartbeat = setInterval(async () => {
    try {
      ({ etag: current } = await store.put(key, JSON.stringify(body()), {}, { ifMatch: current }));
    } catch {
      clearInterval(heartbeat); // taken over: the owner finds out at its next conditional write
    }
  }, ttlMs / 3);
  heartbeat.unref();
  return {
    owner,
    async release() {
      clearInterval(heartbeat);
      const latest = await store.head(key);
      if (latest?.etag === current) await store.delete([key]);
    },
  };
}
