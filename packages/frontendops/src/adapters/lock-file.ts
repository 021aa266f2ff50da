/**
 * Locker on the local file system (proper-lockfile), for S3 endpoints that ignore conditional
 * writes (the embedded server). It coordinates the processes of one machine only. A holder that
 * died (kill -9) on this host is detected by its pid and taken over at once; one on another host
 * goes stale after ttlMs without heartbeats.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import type { HeldLock, Locker } from '../ports.ts';
import { diedOnThisHost, type LockHolder, lockedError, waitBeforeRetry } from './lock-holder.ts';

export function createFileLocker(dir: string): Locker {
  return {
    async acquire(name, { owner, ttlMs, waitMs }) {
      await mkdir(dir, { recursive: true });
      const file = join(dir, `${name.replace(/[^A-Za-z0-9._-]/g, '_')}.json`);
      await writeFile(file, '', { flag: 'a' });
      const deadline = Date.now() + waitMs;
      for (let attempt = 0; ; attempt++) {
        try {
          const release = await lockfile.lock(file, {
            stale: Math.max(2000, ttlMs),
            update: Math.max(1000, ttlMs / 3),
            realpath: false,
          });
          const holder: LockHolder = {
            owner,
            host: hostname(),
            pid: process.pid,
            acquiredAt: new Date().toISOString(),
          };
          await writeFile(file, JSON.stringify(holder));
          return { owner, release: () => release() } satisfies HeldLock;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw error;
          const holder = await readHolder(file);
          if (holder && diedOnThisHost(holder) && attempt < 3) {
            // The holder was killed: its lock directory (proper-lockfile's `<file>.lock`) is ours to remove.
            await rm(`${file}.lock`, { recursive: true, force: true });
            continue;
          }
          if (Date.now() >= deadline) throw lockedError(name, holder, waitMs);
          await waitBeforeRetry(attempt);
        }
      }
    },
  };
}

async function readHolder(file: string): Promise<LockHolder | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as LockHolder;
  } catch {
    return null;
  }
}
