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
import { FrontendOpsError } from '../errors.ts';
import type { HeldLock, Locker } from '../ports.ts';

interface Holder {
  owner: string;
  host: string;
  pid: number;
  acquiredAt: string;
}

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
          const holder: Holder = {
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
          if (holder && holder.host === hostname() && !isAlive(holder.pid) && attempt < 3) {
            // The holder was killed: its lock directory (proper-lockfile's `<file>.lock`) is ours to remove.
            await rm(`${file}.lock`, { recursive: true, force: true });
            continue;
          }
          if (Date.now() >= deadline) throw lockedError(name, holder, waitMs);
          await delay(Math.min(1000, 50 * 2 ** Math.min(attempt, 5)));
        }
      }
    },
  };
}

export function lockedError(
  name: string,
  holder: { owner: string; acquiredAt: string } | null,
  waitMs: number,
) {
  const who = holder ? `${holder.owner} (since ${holder.acquiredAt})` : 'another process';
  return new FrontendOpsError(
    'LOCKED',
    `${name} is locked by ${who}; waited ${Math.round(waitMs / 1000)}s. One deploy per environment runs at a time: wait for it to finish and run the command again, or pass --wait <seconds> to wait longer.`,
    { details: { holder } },
  );
}

async function readHolder(file: string): Promise<Holder | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Holder;
  } catch {
    return null;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
