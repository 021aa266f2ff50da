/**
 * Locker on the local file system (proper-lockfile), for S3 endpoints that ignore conditional
 * writes (the embedded server). It coordinates the processes of one machine only — every process of
 * it, whoever runs it: the directory is machine-wide (see lockRoot in stacks/open.ts), and the
 * directories this locker creates are world-writable with the sticky bit (mode 1777, as /tmp), their
 * lock files readable and writable by all, so the deploys of several users meet. Because such a
 * directory is shared, nothing in it is followed through a symlink. A holder that died (kill -9) on
 * this host is detected by its pid and taken over at once, one killed before it wrote its name after
 * a few seconds (NAMELESS_GRACE_MS); one on another host goes stale after ttlMs without heartbeats.
 * A holder that was taken over (it hung past ttlMs) is told at its next assertHeld, which it calls
 * before each change: proper-lockfile found its lock directory changed or could not renew it in
 * time, or the holder file names another holder. Until then its process carries on, and its release
 * leaves the new holder's lock alone.
 */
import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, lstat, mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import lockfile from 'proper-lockfile';
import { waitBeforeRetry } from '../backoff.ts';
import { FrontendOpsError } from '../errors.ts';
import type { HeldLock, Locker } from '../ports.ts';
import {
  diedOnThisHost,
  type LockHolder,
  lockedError,
  lockFileName,
  lostLockError,
  processSpace,
  waitingNotice,
} from './lock-holder.ts';

export function createFileLocker(dir: string): Locker {
  return {
    async acquire(name, { owner, ttlMs, waitMs, label, onWait }) {
      await sharedDirectory(dir);
      const file = join(dir, `${lockFileName(name)}.json`);
      await writeLockFile(file, '', 'a');
      const deadline = Date.now() + waitMs;
      let takeovers = 0; // a lock taken over that comes straight back is not taken over forever
      let told = false; // the wait is said once, as it begins (after a takeover too)
      for (let attempt = 0; ; attempt++) {
        try {
          let takenOver = false;
          const release = await lockfile.lock(file, {
            stale: Math.max(2000, ttlMs),
            update: Math.max(1000, ttlMs / 3),
            realpath: false,
            // proper-lockfile's default throws from a timer, which would end the whole process.
            onCompromised: () => {
              takenOver = true;
            },
          });
          const token = randomUUID();
          const holder: FileLockHolder = {
            owner,
            host: hostname(),
            pid: process.pid,
            space: processSpace(),
            acquiredAt: new Date().toISOString(),
            token,
          };
          await writeLockFile(file, JSON.stringify(holder), 'w');
          let released: Promise<void> | undefined;
          const releaseOnce = async () => {
            // Taken over, whether proper-lockfile's heartbeat noticed yet or not: the lock is another's.
            if (takenOver || (await readHolder(file))?.token !== token) return;
            // Nobody is named while the lock goes: a holder file left naming us, once our process has
            // ended, would read as a dead holder and get the next holder's fresh lock removed.
            await writeLockFile(file, '', 'w');
            await release().catch((error: NodeJS.ErrnoException) => {
              if (error.code !== 'ERELEASED' && error.code !== 'ENOTACQUIRED') throw error;
            });
          };
          const assertHeld = async () => {
            const lost = (reason: string) => lostLockError(label ?? name, reason);
            if (released) throw lost('it was released');
            if (takenOver) throw lost('it was not renewed in time, or another holder took it over');
            // proper-lockfile notices a takeover only at its next update: the holder file tells at once.
            if ((await readHolder(file))?.token !== token) throw lost('it was taken over by another holder');
          };
          return { owner, assertHeld, release: () => (released ??= releaseOnce()) } satisfies HeldLock;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw error;
          const holder = await readHolder(file);
          if (holder && diedOnThisHost(holder) && takeovers++ < 3) {
            // The holder was killed: its lock directory (proper-lockfile's `<file>.lock`) is ours to remove.
            await rm(`${file}.lock`, { recursive: true, force: true });
            continue;
          }
          if (!holder && (await untouchedFor(`${file}.lock`)) > NAMELESS_GRACE_MS && takeovers++ < 3) {
            // Nobody named: a process killed between taking the lock and naming itself (or while
            // releasing it). A live one names itself within milliseconds, and a holder's lock
            // directory is touched every `update`; this one is neither, so it is not left to block
            // every deploy for its whole ttl.
            await rm(`${file}.lock`, { recursive: true, force: true });
            continue;
          }
          if (Date.now() >= deadline) throw lockedError(label ?? name, holder && named(holder), waitMs);
          if (!told) {
            told = true;
            onWait?.(waitingNotice(label ?? name, holder && named(holder), deadline - Date.now()));
          }
          await waitBeforeRetry(attempt);
        }
      }
    },
  };
}

/**
 * Creates `dir` and its missing parents, each shared (mode 1777); refuses a directory that is a
 * symlink or that this user cannot write, saying what to do.
 */
async function sharedDirectory(dir: string): Promise<void> {
  let first: string | undefined;
  try {
    first = await mkdir(dir, { recursive: true, mode: 0o1777 });
  } catch (error) {
    throw unusable(dir, error);
  }
  // mkdir's mode passes through the umask: set it on every directory created here.
  for (let created = first ? dir : undefined; created; ) {
    await chmod(created, 0o1777).catch(() => undefined);
    created = created === first ? undefined : dirname(created);
  }
  // The lock directory and the shared root above it: someone else's symlink would redirect our writes.
  for (const path of [dirname(dir), dir]) {
    const info = await lstat(path);
    if (!info.isDirectory()) throw unusable(path, new Error('it is a symlink or not a directory'));
  }
}

/** Writes a lock file without following a symlink (O_NOFOLLOW), readable and writable by every user. */
async function writeLockFile(file: string, text: string, mode: 'a' | 'w'): Promise<void> {
  const flags =
    constants.O_WRONLY |
    constants.O_CREAT |
    (mode === 'a' ? constants.O_APPEND : constants.O_TRUNC) |
    (constants.O_NOFOLLOW ?? 0);
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(file, flags, 0o666);
  } catch (error) {
    throw unusable(dirname(file), error);
  }
  try {
    await handle.chmod(0o666).catch(() => undefined); // another user's file keeps its owner's mode
    await handle.writeFile(text);
  } finally {
    await handle.close();
  }
}

function unusable(dir: string, error: unknown): FrontendOpsError {
  const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  return new FrontendOpsError(
    'UPSTREAM',
    `The deploy lock directory ${dir} cannot be used (${reason}). It is shared by every user of this machine: ` +
      'it must be a real directory (no symlink) that every deployer can write, like /tmp (mode 1777). ' +
      `Ask its owner to run \`chmod 1777 ${dir}\`, or point FRONTENDOPS_LOCK_DIR at a directory every deployer on this machine can write.`,
    { cause: error },
  );
}

/**
 * How long a lock directory may stand with no holder named before it is taken over: far longer than a
 * live process takes to name itself after taking the lock, far shorter than a deploy lock's ttl.
 */
const NAMELESS_GRACE_MS = 5_000;

/** Milliseconds since `path` was last modified; 0 when it is gone (released meanwhile: try again). */
async function untouchedFor(path: string): Promise<number> {
  try {
    return Date.now() - (await stat(path)).mtimeMs;
  } catch {
    return 0;
  }
}

/** The holder file: who holds the lock, and a token only the holder knows, to tell its lock from a successor's. */
interface FileLockHolder extends LockHolder {
  token: string;
}

async function readHolder(file: string): Promise<FileLockHolder | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as FileLockHolder;
  } catch {
    return null;
  }
}

/** What a LOCKED error may tell about the holder (not its token). */
const named = ({ owner, host, pid, acquiredAt }: FileLockHolder): LockHolder => ({
  owner,
  host,
  pid,
  acquiredAt,
});
